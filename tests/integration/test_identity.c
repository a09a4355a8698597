/*
 * The handler on Cosmos DB by managed identity, against the rig's identity
 * endpoint, which issues JWT-shaped tokens of real size (2-4 KB) and whose
 * data plane refuses expired, foreign and cut tokens: a 4 KB token arrives
 * whole; a token is refreshed before it expires; a failed refresh keeps the
 * valid token; and `handler init`, which Cosmos DB does not let an Entra token
 * create containers with, says what is missing instead.
 *
 * These tests set their own environment and change the rig's identity
 * settings, so they run once, in the key-mode run of this executable.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "../e2e/write_side.h"

static void on_cosmos(void)
{
    setenv("ES_TEST_STORE", "cosmos", 1);
    if (cosmosrig_identity_mode())
        cr_skip_test("runs once, in the key-mode run");
    cr_assert_eq(cosmosrig_msi_config("{\"ttlSeconds\":null,\"tokenBytes\":null,"
                                      "\"fail\":null}"),
                 0);
}

TestSuite(identity, .init = on_cosmos);

/* The managed-identity environment for database db (strings live in `buf`). */
struct mi_env {
    char endpoint[300], msi[300], db[96];
    const char *list[8];
};

static void mi_env_for(const char *db, struct mi_env *e)
{
    snprintf(e->endpoint, sizeof(e->endpoint), "CosmosDB__accountEndpoint=%s/",
             cosmosrig_endpoint());
    snprintf(e->msi, sizeof(e->msi), "IDENTITY_ENDPOINT=%s/__rig/msi/token",
             cosmosrig_endpoint());
    snprintf(e->db, sizeof(e->db), "COSMOS_DATABASE=%s", db);
    const char *list[] = {e->endpoint,
                          e->msi,
                          "IDENTITY_HEADER=" COSMOSRIG_IDENTITY_HEADER,
                          "CosmosDB__credential=managedidentity",
                          "CosmosDB__clientId=" COSMOSRIG_IDENTITY_CLIENT_ID,
                          e->db,
                          NULL};
    memcpy(e->list, list, sizeof(list));
}

static struct hostdrv *start_mi(const char *db)
{
    static struct mi_env e;
    mi_env_for(db, &e);
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = e.list};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0);
    return d;
}

static int add(struct hostdrv_conn *c, const char *list, const char *task)
{
    char path[96], body[96];
    snprintf(path, sizeof(path), "/api/todolists/%s/items", list);
    snprintf(body, sizeof(body), "{\"task\":\"%s\"}", task);
    return ws_status(c, "POST", path, body);
}

Test(identity, a_4_kb_token_reaches_cosmos_whole)
{
    cr_assert_eq(cosmosrig_init_db("mi-4k"), 0);
    cr_assert_eq(cosmosrig_msi_config("{\"tokenBytes\":4096}"), 0);
    long long refused = cosmosrig_stat("aadRefused.invalid");
    struct hostdrv *d = start_mi("mi-4k");
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "big-token", "Big token");
    cr_expect_eq(add(c, "big-token", "one"), 201);
    /* "type=aad&ver=1.0&sig=" URL-encoded is 31 bytes, then the token as it is. */
    cr_expect_geq(cosmosrig_stat("maxAuthorizationBytes"), 31 + 4096,
                  "the Authorization header carried the whole token");
    cr_expect_eq(cosmosrig_stat("aadRefused.invalid"), refused, "no token was refused");
    hostdrv_conn_free(c);
    ws_stop(d);
}

Test(identity, a_token_is_refreshed_before_it_expires_and_a_failed_refresh_keeps_it,
     .timeout = 120)
{
    cr_assert_eq(cosmosrig_init_db("mi-refresh"), 0);
    /* 12 s tokens: refreshed from 6 s on, sent until 11 s. */
    cr_assert_eq(cosmosrig_msi_ttl(12), 0);
    long long issued = cosmosrig_stat("tokensIssued");
    long long expired = cosmosrig_stat("aadRefused.expired");
    struct hostdrv *d = start_mi("mi-refresh");
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "refresh", "Refresh");
    cr_expect_eq(cosmosrig_stat("tokensIssued"), issued + 1, "%lld then %lld", issued,
                 cosmosrig_stat("tokensIssued"));

    es_time_sleep_ms(7000);
    cr_expect_eq(add(c, "refresh", "after the refresh time"), 201);
    cr_expect_eq(cosmosrig_stat("tokensIssued"), issued + 2,
                 "a new token was fetched while the old one was still valid");
    cr_expect_eq(cosmosrig_stat("aadRefused.expired"), expired,
                 "no request ever went out with an expired token");

    /* The endpoint fails from now on: past the refresh time, the valid token serves. */
    cr_assert_eq(cosmosrig_msi_fail(500, 1000), 0);
    long long faults = cosmosrig_stat("identityFaults");
    es_time_sleep_ms(7000);
    cr_expect_eq(add(c, "refresh", "while the endpoint fails"), 201,
                 "a failed refresh keeps the token that is still valid");
    cr_expect_gt(cosmosrig_stat("identityFaults"), faults, "a refresh was tried");
    cr_expect_eq(cosmosrig_stat("tokensIssued"), issued + 2);

    /* Once it has expired too, commands say the store is unavailable, and nothing is
     * sent with the dead token. */
    es_time_sleep_ms(5000);
    struct hostdrv_reply r;
    const char *h[] = {JSON_CT, NULL};
    cr_expect_eq(ws_send(c, "POST", "/api/todolists/refresh/items", h,
                         "{\"task\":\"no token\"}", &r),
                 503);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "store_unavailable");
    hostdrv_reply_release(&r);
    cr_expect_eq(cosmosrig_stat("aadRefused.expired"), expired);

    /* Healed: the next command fetches a token and works. */
    cr_assert_eq(cosmosrig_msi_fail(0, 0), 0);
    cr_expect_eq(add(c, "refresh", "healed"), 201);
    cr_expect_eq(cosmosrig_stat("tokensIssued"), issued + 3);
    json_t *all = ws_events(c, "refresh");
    cr_expect_eq(json_array_size(all), 4, "nothing lost, nothing doubled");
    json_decref(all);
    hostdrv_conn_free(c);
    ws_stop(d);
}

/* Runs `handler init` with env; its exit status, its output in *out (malloc'd). */
static int run_init(const char *const *env, char **out)
{
    char cmd[4096] = "env";
    for (const char *const *e = env; *e != NULL; e++) {
        size_t n = strlen(cmd);
        snprintf(cmd + n, sizeof(cmd) - n, " '%s'", *e);
    }
    size_t n = strlen(cmd);
    snprintf(cmd + n, sizeof(cmd) - n, " %s/handler init 2>&1", ES_APP_DIR);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char *text = calloc(1, 65536);
    size_t len = fread(text, 1, 65535, p);
    text[len] = '\0';
    *out = text;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(identity, init_with_a_managed_identity_names_what_is_missing)
{
    struct mi_env e;
    mi_env_for("mi-init", &e);
    char *out = NULL;
    cr_expect_eq(run_init(e.list, &out), 1, "%s", out);
    cr_expect(strstr(out, "dbs/mi-init") != NULL, "names the database: %s", out);
    cr_expect(strstr(out, "managed identity cannot create") != NULL, "%s", out);
    cr_expect(strstr(out, "infra/") != NULL, "points to the templates: %s", out);
    free(out);
    cr_expect_eq(cosmosrig_stat("aadRefused.controlPlane"), 0,
                 "nothing was attempted that Cosmos refuses an Entra token");

    cr_assert_eq(cosmosrig_init_db("mi-init"), 0, "created with the key");
    cr_expect_eq(run_init(e.list, &out), 0, "%s", out);
    cr_expect(strstr(out, "exist") != NULL, "%s", out);
    free(out);
}

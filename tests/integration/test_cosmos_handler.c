/*
 * The handler on Cosmos DB through faults: throttling, exhausted retries, a
 * reply lost after the write was applied (and one that cannot even be read
 * back), dropped connections, a wrong key,
 * a managed identity - and what each command costs in round trips.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "../e2e/write_side.h"

/* This suite always runs on Cosmos. */
static void on_cosmos(void)
{
    setenv("ES_TEST_STORE", "cosmos", 1);
    if (cosmosrig_endpoint() != NULL)
        cosmosrig_faults("[]");
}

TestSuite(cosmos_handler, .init = on_cosmos);

/* A rule for the event-append batches only. */
static char *batch_rule(const char *mode, int status, int count, int retry_after_ms)
{
    static char rule[512];
    char extra[96] = "";
    if (status != 0)
        snprintf(extra, sizeof(extra), ",\"status\":%d,\"retryAfterMs\":%d", status,
                 retry_after_ms);
    snprintf(rule, sizeof(rule),
             "[{\"method\":\"POST\",\"path\":\"/"
             "docs$\",\"header\":{\"x-ms-cosmos-is-batch-request\":"
             "\"True\"},\"mode\":\"%s\",\"count\":%d%s}]",
             mode, count, extra);
    return rule;
}

static int add_task(struct hostdrv_conn *c, const char *list, const char *task,
                    const char *key, struct hostdrv_reply *r)
{
    char path[128], body[128], key_header[160];
    snprintf(path, sizeof(path), "/api/todolists/%s/items", list);
    snprintf(body, sizeof(body), "{\"task\":\"%s\"}", task);
    snprintf(key_header, sizeof(key_header), "Idempotency-Key: %s", key ? key : "");
    const char *h[] = {JSON_CT, key ? key_header : NULL, NULL};
    return ws_send(c, "POST", path, h, body, r);
}

static size_t events_of(struct hostdrv_conn *c, const char *list)
{
    json_t *all = ws_events(c, list);
    size_t n = ws_check_gap_free(all);
    json_decref(all);
    return n;
}

/* The number before `what` in a command's log line ("3 store round trip(s)"). */
static long figure(const struct hostdrv_reply *r, const char *what)
{
    const char *log = json_string_value(json_array_get(r->result.logs, 0));
    const char *p = log ? strstr(log, what) : NULL;
    if (p == NULL)
        return -1;
    while (p > log && p[-1] == ' ')
        p--;
    while (p > log && p[-1] >= '0' && p[-1] <= '9')
        p--;
    return strtol(p, NULL, 10);
}

Test(cosmos_handler, a_command_succeeds_through_a_run_of_429s)
{
    struct hostdrv *d = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "thr", "Throttled");
    cr_assert_eq(cosmosrig_faults(batch_rule("respond", 429, 4, 30)), 0);
    struct hostdrv_reply r;
    cr_expect_eq(add_task(c, "thr", "a", NULL, &r), 201);
    cr_expect_eq(figure(&r, "retried"), 4, "%s",
                 json_string_value(json_array_get(r.result.logs, 0)));
    hostdrv_reply_release(&r);
    cr_expect_eq(events_of(c, "thr"), 2);
    hostdrv_conn_free(c);
    ws_stop(d);
}

Test(cosmos_handler, exhausted_retries_answer_503_and_append_nothing)
{
    const char *env[] = {"COSMOS_MAX_RETRIES=2", NULL};
    struct hostdrv *d = ws_start(env);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "busy", "Busy");
    cr_assert_eq(cosmosrig_faults(batch_rule("respond", 429, 50, 10)), 0);
    struct hostdrv_reply r;
    cr_expect_eq(add_task(c, "busy", "a", NULL, &r), 503);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "store_unavailable");
    cr_expect_not_null(hostdrv_reply_header(&r, "Retry-After"));
    hostdrv_reply_release(&r);
    cosmosrig_faults("[]");
    cr_expect_eq(events_of(c, "busy"), 1, "no partial append");
    cr_expect_eq(add_task(c, "busy", "a", NULL, &r), 201, "and the store works again");
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    ws_stop(d);
}

Test(cosmos_handler, a_reply_lost_after_the_write_neither_duplicates_nor_fails)
{
    struct hostdrv *d = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "lost", "Lost");
    cr_assert_eq(cosmosrig_faults(batch_rule("afterForward", 503, 1, 0)), 0);
    struct hostdrv_reply r;
    cr_expect_eq(add_task(c, "lost", "a", NULL, &r), 201, "the append happened: say so");
    hostdrv_reply_release(&r);
    cr_expect_eq(events_of(c, "lost"), 2, "exactly once");

    /* With a key, a client retry after a lost answer gets the receipt. */
    cr_assert_eq(cosmosrig_faults(batch_rule("afterForward", 503, 1, 0)), 0);
    struct hostdrv_reply first, again;
    cr_expect_eq(add_task(c, "lost", "b", "k-lost", &first), 201);
    cr_expect_eq(add_task(c, "lost", "b", "k-lost", &again), 201);
    cr_expect_str_eq(again.result.http_body, first.result.http_body);
    hostdrv_reply_release(&first);
    hostdrv_reply_release(&again);
    cr_expect_eq(events_of(c, "lost"), 3);
    hostdrv_conn_free(c);
    ws_stop(d);
}

/*
 * The append was applied, its reply was lost, and reading it back failed too:
 * the handler cannot know, so it must not say "nothing was appended" (a client
 * would send the command again, and a create without an id would make a second
 * list). It answers 503 saying the command may have been applied; the same
 * Idempotency-Key then gets the original answer. Found by the soak.
 */
Test(cosmos_handler, a_lost_reply_that_cannot_be_read_back_is_not_called_unapplied)
{
    const char *env[] = {"COSMOS_MAX_RETRIES=2", NULL};
    struct hostdrv *d = ws_start(env);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "unsure", "Unsure");
    /* The append's reply is lost; the read-back (a batch with one Read) is throttled out.
     */
    char lost[512], rules[1024];
    snprintf(lost, sizeof(lost), "%s", batch_rule("afterForward", 503, 1, 0));
    const char *throttled = batch_rule("respond", 429, 3, 10);
    snprintf(rules, sizeof(rules), "%.*s,%s", (int)strlen(lost) - 1, lost, throttled + 1);
    cr_assert_eq(cosmosrig_faults(rules), 0, "%s", rules);
    struct hostdrv_reply r;
    cr_expect_eq(add_task(c, "unsure", "a", "k-unsure", &r), 503);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "store_unavailable");
    const char *msg = ws_str(r.client_json, "message");
    cr_expect(msg != NULL && strstr(msg, "may have been applied") != NULL,
              "the answer says the outcome is unknown: %s", msg ? msg : "(none)");
    cr_expect_not_null(hostdrv_reply_header(&r, "Retry-After"));
    hostdrv_reply_release(&r);
    cosmosrig_faults("[]");
    ws_settle(); /* its reply was lost, and with it the session token of the write */
    cr_expect_eq(events_of(c, "unsure"), 2, "the append did happen");
    cr_expect_eq(add_task(c, "unsure", "a", "k-unsure", &r), 201,
                 "the same key gets the original answer");
    cr_expect_eq(json_integer_value(json_object_get(r.client_json, "version")), 2);
    hostdrv_reply_release(&r);
    cr_expect_eq(events_of(c, "unsure"), 2, "and nothing twice");
    hostdrv_conn_free(c);
    ws_stop(d);
}

Test(cosmos_handler, dropped_connections_are_retried_safely)
{
    struct hostdrv *d = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "drop", "Drop");
    /* A dropped append was never executed: the store reads back, finds nothing, resends.
     */
    cr_assert_eq(cosmosrig_faults(batch_rule("drop", 0, 1, 0)), 0);
    struct hostdrv_reply r;
    cr_expect_eq(add_task(c, "drop", "a", NULL, &r), 201);
    hostdrv_reply_release(&r);
    /* Dropped reads are simply retried. */
    cr_assert_eq(cosmosrig_faults("[{\"method\":\"GET\",\"mode\":\"drop\",\"count\":2}]"),
                 0);
    cr_expect_eq(events_of(c, "drop"), 2);
    hostdrv_conn_free(c);
    ws_stop(d);
}

/*
 * SIGTERM while the start-up check is still retrying (here a run of 429s, retried
 * every millisecond): the handler exits 0 at once, without a crash. Its exit
 * handlers once tore down OpenSSL under the check's thread, which then crashed
 * signing its next try (the sanitizer build shows it every time).
 */
Test(cosmos_handler, sigterm_during_the_start_up_check_exits_0)
{
    cr_assert_eq(cosmosrig_init_db("checkexit"), 0);
    struct cosmosrig_env ce;
    cosmosrig_env_for("checkexit", &ce);
    const char *extra[COSMOSRIG_ENV_MAX + 2];
    size_t k = 0;
    for (const char *const *e = ce.list; *e != NULL; e++)
        extra[k++] = *e;
    extra[k++] = "COSMOS_MAX_RETRIES=100";
    extra[k] = NULL;
    const int delays_ms[] = {0, 20, 50};
    for (size_t i = 0; i < sizeof(delays_ms) / sizeof(delays_ms[0]); i++) {
        cr_assert_eq(
            cosmosrig_faults("[{\"method\":\"GET\",\"path\":\"/colls/events$\","
                             "\"status\":429,\"retryAfterMs\":1,\"count\":100000}]"),
            0);
        struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = extra};
        struct hostdrv *d = NULL;
        cr_assert_eq(hostdrv_start(&o, &d), 0);
        es_time_sleep_ms(delays_ms[i]);
        int64_t t0 = es_time_mono_ms();
        cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0, "exit 0 after %d ms",
                     delays_ms[i]);
        cr_expect_lt(es_time_mono_ms() - t0, 5000, "the check does not hold up the exit");
        char *err = hostdrv_read_output(d, true);
        cr_expect(strstr(err, "Sanitizer") == NULL && strstr(err, "SEGV") == NULL,
                  "no crash on the way out (after %d ms): %s", delays_ms[i], err);
        free(err);
        hostdrv_free(d);
    }
    cosmosrig_faults("[]");
}

Test(cosmos_handler, a_wrong_key_is_a_clear_error_and_never_logged)
{
    /* Point at the rig, with a key it does not know. */
    char conn[512];
    snprintf(conn, sizeof(conn),
             "CosmosDB=AccountEndpoint=%s/;AccountKey=d3Jvbmcta2V5LXdyb25nLWtleQ==;",
             cosmosrig_endpoint());
    cr_assert_eq(cosmosrig_init_db("wrongkey"), 0);
    const char *extra[] = {conn, "COSMOS_DATABASE=wrongkey", NULL};
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = extra};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "a wrong key does not stop start-up");
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct hostdrv_reply r;
    cr_expect_eq(ws_send(c, "POST", "/api/todolists", (const char *[]){JSON_CT, NULL},
                         "{\"name\":\"x\"}", &r),
                 503);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "store_unavailable");
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
    char *err = hostdrv_read_output(d, true);
    cr_expect(strstr(err, "refused the credentials") != NULL, "%s", err);
    cr_expect(strstr(err, "d3Jvbmcta2V5") == NULL, "the key never appears in a log");
    char *out = hostdrv_read_output(d, false);
    cr_expect(strstr(out, "d3Jvbmcta2V5") == NULL);
    free(out);
    free(err);
    hostdrv_free(d);
}

Test(cosmos_handler, a_managed_identity_gets_and_reuses_its_token)
{
    cr_assert_eq(cosmosrig_init_db("identity"), 0);
    char endpoint[300], msi[300];
    snprintf(endpoint, sizeof(endpoint), "CosmosDB__accountEndpoint=%s/",
             cosmosrig_endpoint());
    snprintf(msi, sizeof(msi), "IDENTITY_ENDPOINT=%s/__rig/msi/token",
             cosmosrig_endpoint());
    const char *env[] = {endpoint,
                         msi,
                         "IDENTITY_HEADER=" COSMOSRIG_IDENTITY_HEADER,
                         "CosmosDB__clientId=" COSMOSRIG_IDENTITY_CLIENT_ID,
                         "COSMOS_DATABASE=identity",
                         NULL};
    json_t *before = cosmosrig_stats();
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = env};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "mi", "Identity");
    for (int i = 0; i < 5; i++) {
        char task[16];
        snprintf(task, sizeof(task), "t%d", i);
        free(ws_add(c, "mi", task));
    }
    cr_expect_eq(events_of(c, "mi"), 6);
    json_t *after = cosmosrig_stats();
    json_int_t issued = json_integer_value(json_object_get(after, "tokensIssued")) -
                        json_integer_value(json_object_get(before, "tokensIssued"));
    cr_expect_eq(issued, 1, "one token for the process's whole life (%lld fetched)",
                 (long long)issued);
    json_decref(before);
    json_decref(after);
    hostdrv_conn_free(c);
    ws_stop(d);
}

/* Round trips of one command on a list of `events` events, cold (new process) and warm.
 */
static void measure(const char *shared, const char *list, long *cold, long *warm,
                    double *ru)
{
    ws_settle(); /* a steady state: the writer's snapshot on every replica */
    struct hostdrv *d = ws_start_with(shared, NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct hostdrv_reply r;
    char path[128];
    snprintf(path, sizeof(path), "/api/todolists/%s", list);
    cr_assert_eq(ws_send(c, "PATCH", path, (const char *[]){JSON_CT, NULL},
                         "{\"name\":\"cold\"}", &r),
                 200);
    *cold = figure(&r, "store round trip");
    cr_log_info("cold: %s", json_string_value(json_array_get(r.result.logs, 0)));
    hostdrv_reply_release(&r);
    cr_assert_eq(ws_send(c, "PATCH", path, (const char *[]){JSON_CT, NULL},
                         "{\"name\":\"warm\"}", &r),
                 200);
    *warm = figure(&r, "store round trip");
    const char *log = json_string_value(json_array_get(r.result.logs, 0));
    const char *ru_at = log ? strstr(log, " RU") : NULL;
    *ru = 0;
    if (ru_at != NULL) {
        const char *p = ru_at;
        while (p > log && p[-1] != ' ')
            p--;
        *ru = strtod(p, NULL);
    }
    cr_log_info("warm: %s", log);
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    ws_stop(d);
}

Test(cosmos_handler, round_trips_per_command_stay_flat_with_stream_length, .timeout = 300)
{
    /* A list of 10 events and one of 10,001, written by one handler. */
    struct hostdrv *d = ws_start_with("lengths", NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "short", "Short");
    for (int i = 0; i < 9; i++) {
        char task[16];
        snprintf(task, sizeof(task), "t%d", i);
        free(ws_add(c, "short", task));
    }
    ws_make_long_list(c, "long");
    hostdrv_conn_free(c);
    ws_stop(d);
    /* And one written with no snapshots at all (by another tool, say). */
    const char *no_snapshots[] = {"SNAPSHOT_EVERY=0", NULL};
    d = ws_start_with("lengths", no_snapshots);
    c = hostdrv_conn_new(d);
    ws_make_long_list(c, "bare");
    hostdrv_conn_free(c);
    ws_stop(d);

    long cold10, warm10, cold10k, warm10k, cold_bare, warm_bare;
    double ru10, ru10k, ru_bare;
    measure("lengths", "short", &cold10, &warm10, &ru10);
    measure("lengths", "long", &cold10k, &warm10k, &ru10k);
    measure("lengths", "bare", &cold_bare, &warm_bare, &ru_bare);
    printf("ROUND TRIPS: 10001 events without a snapshot: cold %ld, warm %ld\n",
           cold_bare, warm_bare);
    cr_expect_leq(cold_bare, 4, "the service sizes the pages of the stream read");
    cr_expect_eq(warm_bare, 1);
    cr_log_info("round trips per command: 10 events cold %ld warm %ld (%.1f RU warm); "
                "10,001 events cold %ld warm %ld (%.1f RU warm)",
                cold10, warm10, ru10, cold10k, warm10k, ru10k);
    printf(
        "ROUND TRIPS: length 10: cold %ld, warm %ld; length 10001: cold %ld, warm %ld\n",
        cold10, warm10, cold10k, warm10k);
    cr_expect_eq(warm10, 1);
    cr_expect_eq(warm10k, 1);
    cr_expect_leq(cold10, 3);
    cr_expect_leq(cold10k, 3);
}

Test(cosmos_handler, a_failing_projector_asks_for_retries_then_dead_letters)
{
    char shared[] = "proj-fail";
    struct hostdrv *d = ws_start_with(shared, NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "pf", "Projected");
    free(ws_add(c, "pf", "a"));
    /* The events as the change feed delivers them. */
    json_t *events = ws_events(c, "pf");
    json_t *docs = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        char id[64];
        snprintf(id, sizeof(id), "todolist-pf:%lld",
                 (long long)json_integer_value(json_object_get(e, "version")));
        json_t *doc = json_pack(
            "{s:s, s:s, s:s, s:O, s:O, s:O, s:O, s:i}", "id", id, "kind", "event",
            "streamId", "todolist-pf", "version", json_object_get(e, "version"), "type",
            json_object_get(e, "type"), "data", json_object_get(e, "data"), "meta",
            json_object_get(e, "meta"), "schema", 1);
        json_array_append_new(docs, doc);
    }
    /* The views container answers 503 to every write (the views are new: creates). */
    cr_assert_eq(cosmosrig_faults("[{\"method\":\"POST\",\"path\":\"/colls/views/docs$\","
                                  "\"mode\":\"respond\",\"status\":503,\"count\":1000}]"),
                 0);
    for (int attempt = 0; attempt <= 5; attempt++) {
        struct fn_retry retry = {
            .present = true, .retry_count = attempt, .max_retry_count = 5};
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_trigger(c, "Projector", "documents", docs, 2, &retry, &r),
                     0);
        if (attempt < 5)
            cr_expect_eq(r.status, 500, "attempt %d: a non-2xx so that the host retries",
                         attempt);
        else
            cr_expect_eq(r.status, 200, "the last attempt completes the batch");
        hostdrv_reply_release(&r);
    }
    cosmosrig_faults("[]");
    struct hostdrv_reply r;
    cr_assert_eq(ws_send(c, "GET", "/api/deadletters", NULL, NULL, &r), 200);
    json_t *dead = json_object_get(r.client_json, "deadLetters");
    cr_expect_eq(json_array_size(dead), 2, "one dead letter per event");
    json_t *first = json_array_get(dead, 0);
    cr_expect_str_eq(ws_str(first, "streamId"), "todolist-pf");
    cr_expect_eq(json_integer_value(json_object_get(first, "attempts")), 6);
    cr_expect(strstr(ws_str(first, "error"), "503") != NULL, "%s",
              ws_str(first, "error"));
    hostdrv_reply_release(&r);
    json_decref(docs);
    json_decref(events);
    hostdrv_conn_free(c);
    ws_stop(d);
}

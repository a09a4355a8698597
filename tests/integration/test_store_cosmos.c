/*
 * The shared store suite against the Cosmos DB store, on the local rig with
 * signatures checked. Each test gets its own database.
 */
#include <unistd.h>

#include "app.h"
#include "cosmos/client.h"
#include "store/store_cosmos.h"
#include "../support/cosmosrig.h"
#include "../unit/store/store_suite.h"

COSMOSRIG_START_BEFORE_ALL_TESTS
COSMOSRIG_STOP_AFTER_ALL_TESTS

static struct es_config cfg;

static struct es_store *suite_open(void)
{
    cr_assert_not_null(
        cosmosrig_endpoint(),
        "the Cosmos rig is not running: run 'npm ci' in tests/support/cosmos-rig "
        "(make test does)");
    static int n;
    char db[64];
    snprintf(db, sizeof(db), "suite-%d-%d", (int)getpid(), n++);
    struct es_store *s = NULL;
    cr_assert_eq(cosmosrig_store_open(db, &cfg, &s), 0);
    return s;
}

static void suite_close(struct es_store *s)
{
    es_store_close(s);
    es_config_release(&cfg);
}

/*
 * A views container made by an earlier version (partition key /id) cannot
 * hold a list's two views in one partition: start-up names it, and a
 * rebuild refuses it as a target, both saying how to move.
 */
Test(store, a_views_container_partitioned_by_id_is_named_with_the_way_out)
{
    struct cosmos_opts o;
    cosmos_opts_defaults(&o);
    o.endpoint = cosmosrig_endpoint();
    o.key = COSMOSRIG_KEY; /* an identity could not create it */
    struct cosmos_client *c = cosmos_client_new(&o, NULL);
    cr_assert_not_null(c);
    char link[300];
    snprintf(link, sizeof(link), "dbs/%s", cfg.cosmos_database);
    const char *body = "{\"id\":\"views-old\",\"partitionKey\":{\"paths\":[\"/id\"],"
                       "\"kind\":\"Hash\",\"version\":2}}";
    struct cosmos_request req = {.method = "POST",
                                 .resource_type = "colls",
                                 .resource_link = link,
                                 .feed = true,
                                 .body = body,
                                 .body_len = strlen(body),
                                 .idempotent = true};
    struct cosmos_response r;
    cr_assert_eq(cosmos_execute(c, &req, &r, NULL, NULL), ES_OK);
    cr_assert_eq(r.status, 201);
    cosmos_response_release(&r);
    cosmos_client_free(c);

    struct es_error err = {0};
    cr_expect_eq(es_store_cosmos_check(store, &err), ES_OK, "%s", err.message);
    struct es_config old_cfg = cfg;
    old_cfg.views_container = "views-old";
    struct es_store *old = NULL;
    cr_assert_eq(es_store_cosmos_open(&old_cfg, &old, NULL), ES_OK);
    bool created = true;
    cr_expect_eq(es_store_cosmos_views_ready(old, &created, &err), ES_EINVAL);
    cr_expect_not(created);
    cr_expect(strstr(err.message, "partition key /id") != NULL &&
                  strstr(err.message, "handler rebuild --into") != NULL,
              "%s", err.message);
    es_error_clear(&err);
    cr_expect_eq(es_store_cosmos_check(old, &err), ES_EINVAL);
    cr_expect(strstr(err.message, "views-old") != NULL, "%s", err.message);
    es_store_close(old);
}

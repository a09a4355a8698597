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

/* Appends events 1..per to each of the streams todolist-{prefix}0..{n-1}, one at a time.
 */
static void fill(const char *prefix, int n, int from, int per)
{
    for (int v = from; v < from + per; v++)
        for (int i = 0; i < n; i++) {
            char stream[64];
            snprintf(stream, sizeof(stream), "todolist-%s%d", prefix, i);
            cr_assert_eq(append_n(stream, v, 1, NULL, NULL, NULL), ES_OK);
        }
}

/*
 * seen holds want ids, each stream's versions in order from version first: so
 * none twice, none missed.
 */
static void expect_once_in_order(const json_t *seen, size_t want, long long first)
{
    cr_expect_eq(json_array_size(seen), want);
    json_t *last = json_object();
    size_t i;
    json_t *id;
    json_array_foreach(seen, i, id)
    {
        const char *text = json_string_value(id);
        char stream[64];
        snprintf(stream, sizeof(stream), "%.*s", (int)strcspn(text, ":"), text);
        long long v = strtoll(strchr(text, ':') + 1, NULL, 10);
        const json_t *had = json_object_get(last, stream);
        long long before = had != NULL ? (long long)json_integer_value(had) : first - 1;
        cr_expect_eq(v, before + 1, "%s follows version %lld", text, before);
        json_object_set_new(last, stream, json_integer(v));
    }
    json_decref(last);
}

/* The id of the range the scan is reading, by its cursor. */
static const char *range_at(const char *cursor, char *buf, size_t size)
{
    json_t *c = json_loads(cursor, 0, NULL);
    cr_assert_not_null(c);
    json_t *r = json_array_get(json_object_get(c, "ranges"),
                               (size_t)json_integer_value(json_object_get(c, "i")));
    cr_assert_not_null(r, "%s", cursor);
    snprintf(buf, size, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(c);
    return buf;
}

/*
 * A big container has several partition key ranges, and the service splits
 * them as it grows: the scan reads every range, follows a split met while it
 * reads (410, substatus 1002) onto the children from the parent's etag, and
 * a later scan from the end finds what was appended since in any range.
 */
Test(store, a_scan_reads_every_range_and_follows_a_split_met_on_the_way)
{
    fill("r", 40, 0, 2);
    json_t *ranges = NULL;
    cr_assert_eq(cosmosrig_split(cfg.cosmos_database, cfg.events_container, "0", &ranges),
                 0, "the rig splits ranges");
    cr_assert_eq(json_array_size(ranges), 2);
    json_decref(ranges);

    char *cursor = NULL;
    json_t *seen = json_array();
    for (int page = 0; page < 3; page++) {
        struct es_event_page p = {0};
        size_t skipped = 0;
        cr_assert_eq(store->ops->events_scan(store, &cursor, 5, &p, &skipped, NULL, NULL),
                     ES_OK);
        cr_assert_gt(p.n, 0);
        page_ids(&p, seen);
        es_event_page_release(&p);
    }
    /* The range being read splits under the scan. */
    char id[72];
    cr_assert_eq(cosmosrig_split(cfg.cosmos_database, cfg.events_container,
                                 range_at(cursor, id, sizeof(id)), NULL),
                 0);
    json_t *rest = scan_all(&cursor, 5);
    json_array_extend(seen, rest);
    json_decref(rest);
    expect_once_in_order(seen, 80, 1);
    json_decref(seen);

    /* Later, from the same cursor: only what came since, whichever range holds it. */
    fill("r", 40, 2, 1);
    seen = scan_all(&cursor, 7);
    expect_once_in_order(seen, 40, 3);
    json_decref(seen);
    free(cursor);
}

/* A cursor written by earlier versions ({"ranges": [ids], "i", "etag"}) reads on. */
Test(store, a_scan_cursor_of_an_earlier_version_is_read)
{
    fill("v", 5, 0, 2);
    char *cursor = strdup("{\"ranges\":[\"0\"],\"i\":0,\"etag\":null}");
    json_t *seen = scan_all(&cursor, 4);
    expect_once_in_order(seen, 10, 1);
    json_decref(seen);
    json_t *now = json_loads(cursor, 0, NULL);
    cr_expect(json_is_object(json_array_get(json_object_get(now, "ranges"), 0)) &&
                  json_object_get(now, "etag") == NULL,
              "written in the current form: %s", cursor);
    json_decref(now);
    fill("v", 5, 2, 1);
    seen = scan_all(&cursor, 4);
    expect_once_in_order(seen, 5, 3);
    json_decref(seen);
    free(cursor);
    const char *bad[] = {"{\"ranges\":[],\"i\":0}", "{\"ranges\":[\"0\"],\"i\":1}",
                         "{\"ranges\":[{\"id\":\"\",\"etag\":null}],\"i\":0}",
                         "{\"ranges\":[{\"id\":\"0\",\"etag\":5}],\"i\":0}",
                         "{\"ranges\":[\"0\"],\"i\":0,\"etag\":[]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *c = strdup(bad[i]);
        struct es_event_page p = {0};
        size_t skipped = 0;
        cr_expect_eq(store->ops->events_scan(store, &c, 10, &p, &skipped, NULL, NULL),
                     ES_EINVAL, "%s", bad[i]);
        free(c);
    }
}

/* More ranges than one listing page (100) holds: the listing is followed to its end. */
Test(store, a_scan_lists_the_ranges_page_after_page)
{
    for (int id = 0; id < 100; id++) { /* breadth first: range j splits into 2j+1, 2j+2 */
        char range[16];
        snprintf(range, sizeof(range), "%d", id);
        cr_assert_eq(
            cosmosrig_split(cfg.cosmos_database, cfg.events_container, range, NULL), 0);
    }
    fill("m", 60, 0, 1);
    char *cursor = NULL;
    json_t *seen = scan_all(&cursor, 1000);
    expect_once_in_order(seen, 60, 1);
    json_decref(seen);
    json_t *c = json_loads(cursor, 0, NULL);
    cr_expect_eq(json_array_size(json_object_get(c, "ranges")), 101,
                 "a listing page holds 100: the second was read");
    json_decref(c);
    free(cursor);
}

/*
 * The 410s the scan does not follow: one with another substatus (a split
 * still completing, 1007) stops it for a rerun, and a "gone" range that no
 * listed range names as a parent is an error; neither moves the cursor.
 */
Test(store, a_scan_stops_on_a_410_it_cannot_follow_and_keeps_its_cursor)
{
    fill("g", 4, 0, 1);
    const char *gone[] = {"1007", "1002"};
    const enum es_status want[] = {ES_EUNAVAILABLE, ES_EIO};
    const char *says[] = {"substatus 1007", "no listed range names it as a parent"};
    for (size_t i = 0; i < 2; i++) {
        char rule[256];
        snprintf(rule, sizeof(rule),
                 "[{\"method\":\"GET\",\"path\":\"/colls/events/docs$\",\"count\":1,"
                 "\"mode\":\"respond\",\"status\":410,\"subStatus\":%s}]",
                 gone[i]);
        cr_assert_eq(cosmosrig_faults(rule), 0);
        char *cursor = strdup("{\"ranges\":[{\"id\":\"0\",\"etag\":null}],\"i\":0}");
        struct es_event_page p = {0};
        size_t skipped = 0;
        struct es_error err = {0};
        cr_expect_eq(
            store->ops->events_scan(store, &cursor, 10, &p, &skipped, NULL, &err),
            want[i], "410/%s: %s", gone[i], err.message);
        cr_expect(strstr(err.message, says[i]) != NULL, "%s", err.message);
        cr_expect_str_eq(cursor, "{\"ranges\":[{\"id\":\"0\",\"etag\":null}],\"i\":0}");
        cr_expect_eq(p.n, 0);
        free(cursor);
    }
    cr_assert_eq(cosmosrig_faults("[]"), 0);
    char *cursor = NULL;
    json_t *seen = scan_all(&cursor, 10);
    expect_once_in_order(seen, 4, 1);
    json_decref(seen);
    free(cursor);
}

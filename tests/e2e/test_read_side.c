/*
 * The read side through the host protocol: a random workload, then the
 * change feed delivered to the Projector exactly as the host delivers it
 * (documents JSON-encoded twice, in batches of up to 100, with a
 * RetryContext) - normally, every batch twice, with streams interleaved in
 * another order, and with batches dropped as the host drops a batch that
 * failed. Each time the views must equal the folds of the event store. Runs
 * on SQLite and, with ES_TEST_STORE=cosmos, on Cosmos DB.
 */
#include <pthread.h>

#include "../support/feed.h"
#include "read_side.h"
#include "write_side.h"

enum mode { NORMAL, TWICE, REORDERED, DROPPED };

struct delivery {
    struct hostdrv *h;
    struct hostdrv_conn *c;
    struct feed *feed;
    struct rs_model *m;
    enum mode mode;
    int batches, dropped;
};

static void deliver(struct delivery *d, json_t *batch)
{
    struct fn_retry retry = {.present = true, .retry_count = 0, .max_retry_count = 5};
    for (int k = 0; k < (d->mode == TWICE ? 2 : 1); k++) {
        struct hostdrv_reply r;
        cr_assert_eq(
            hostdrv_trigger(d->c, "Projector", "documents", batch, 2, &retry, &r), 0);
        if (r.status != 200) {
            char *err = hostdrv_read_output(d->h, true);
            size_t n = strlen(err);
            cr_log_error("handler stderr (tail): %s", n > 2000 ? err + n - 2000 : err);
            free(err);
        }
        cr_assert_eq(r.status, 200, "the projector answers %ld: %s", r.status, r.body);
        cr_assert(r.result.ok, "%s", r.result.failure);
        hostdrv_reply_release(&r);
        d->batches++;
    }
}

static bool has_delete(json_t *batch)
{
    size_t i;
    json_t *doc;
    json_array_foreach(batch, i, doc)
    {
        const char *t = json_string_value(json_object_get(doc, "type"));
        if (t != NULL && strcmp(t, "TodoListDeleted") == 0)
            return true;
    }
    return false;
}

/*
 * Regroups documents into batches that keep each stream's order but
 * interleave the streams in another, random order.
 */
static void deliver_reordered(struct delivery *d, json_t *docs)
{
    json_t *queues = json_object();
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        const char *s = json_string_value(json_object_get(doc, "streamId"));
        if (json_object_get(queues, s) == NULL)
            json_object_set_new(queues, s, json_array());
        json_array_append(json_object_get(queues, s), doc);
    }
    json_t *batch = json_array();
    while (json_object_size(queues) > 0) {
        size_t pick = rs_rand(d->m, (unsigned)json_object_size(queues));
        void *it = json_object_iter(queues);
        while (pick-- > 0)
            it = json_object_iter_next(queues, it);
        const char *key = json_object_iter_key(it);
        json_t *q = json_object_iter_value(it);
        size_t take = 1 + rs_rand(d->m, 3);
        while (take-- > 0 && json_array_size(q) > 0) {
            json_array_append(batch, json_array_get(q, 0));
            json_array_remove(q, 0);
        }
        if (json_array_size(q) == 0)
            json_object_del(queues, key);
        if (json_array_size(batch) >= 1 + rs_rand(d->m, 100)) {
            deliver(d, batch);
            json_array_clear(batch);
        }
    }
    if (json_array_size(batch) > 0)
        deliver(d, batch);
    json_decref(batch);
    json_decref(queues);
}

/* Reads the feed to its end (reactions append more as it goes). */
static void drain(struct delivery *d)
{
    for (int idle = 0; idle < 2;) {
        json_t *batch = feed_next(d->feed, d->mode == REORDERED ? 300 : 100);
        cr_assert_not_null(batch, "the change feed could not be read");
        if (json_array_size(batch) == 0) {
            idle++;
        } else if (d->mode == REORDERED) {
            idle = 0;
            deliver_reordered(d, batch);
        } else if (d->mode == DROPPED && rs_rand(d->m, 5) == 0 && !has_delete(batch)) {
            /* The host skipped it after a failure. A delete is never dropped here: with
             * no event after it, its stream could not be repaired (a documented limit).
             */
            idle = 0;
            d->dropped++;
        } else {
            idle = 0;
            deliver(d, batch);
        }
        json_decref(batch);
    }
}

/* Delivery of shared store `shared`'s feed to handler h, batch by batch, as it comes. */
static struct delivery normal_delivery(struct hostdrv *h, struct hostdrv_conn *c,
                                       const char *shared)
{
    char name[256];
    ws_store_name(shared, name, sizeof(name));
    struct delivery d = {.h = h,
                         .c = c,
                         .mode = NORMAL,
                         .feed = ws_on_cosmos() ? feed_open_cosmos(name)
                                                : feed_open_sqlite(name)};
    cr_assert_not_null(d.feed);
    return d;
}

/*
 * What the views say of each list, in a form two runs of one workload share
 * (item ids are generated anew in each): name and version, and the items as
 * "task|status" in order of task. Deleted lists are null.
 */
static json_t *views_of(struct rs_api *api, const struct rs_model *m)
{
    json_t *all = json_object();
    for (int l = 0; l < m->n_lists; l++) {
        char path[96];
        snprintf(path, sizeof(path), "/api/todolists/%s", m->lists[l]);
        json_t *view = NULL;
        if (rs_send(api, "GET", path, NULL, &view) != 200) {
            json_object_set_new(all, m->lists[l], json_null());
            json_decref(view);
            continue;
        }
        json_t *items = json_array();
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(view, "items"), i, it)
        {
            char line[160];
            snprintf(line, sizeof(line), "%s|%s", ws_str(it, "task"),
                     ws_str(it, "status"));
            json_array_append_new(items, json_string(line));
        }
        /* Items moved in from several lists at once arrive in either order. */
        json_t *sorted = json_array();
        while (json_array_size(items) > 0) {
            size_t best = 0;
            for (size_t k = 1; k < json_array_size(items); k++)
                if (strcmp(json_string_value(json_array_get(items, k)),
                           json_string_value(json_array_get(items, best))) < 0)
                    best = k;
            json_array_append(sorted, json_array_get(items, best));
            json_array_remove(items, best);
        }
        json_decref(items);
        json_object_set_new(all, m->lists[l],
                            json_pack("{s:O, s:O, s:o}", "name",
                                      json_object_get(view, "name"), "version",
                                      json_object_get(view, "version"), "items", sorted));
        json_decref(view);
    }
    return all;
}

/*
 * Runs the seeded workload, delivers the feed in the given mode and checks the
 * views against the folds; with views_out, also returns views_of the result.
 */
static void run_mode_with(enum mode mode, unsigned seed, const char *const *env,
                          json_t **views_out)
{
    static int runs;
    char shared[32], name[256];
    snprintf(shared, sizeof(shared), "read-%d-%d", (int)mode, runs++);
    struct hostdrv *h = ws_start_with(shared, env);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    static struct rs_model m;
    rs_workload(&api, &m, seed, 24, 2000, "rl");
    ws_store_name(shared, name, sizeof(name));
    struct delivery d = {.h = h,
                         .c = c,
                         .m = &m,
                         .mode = mode,
                         .feed = ws_on_cosmos() ? feed_open_cosmos(name)
                                                : feed_open_sqlite(name)};
    cr_assert_not_null(d.feed);
    drain(&d);
    if (mode == DROPPED) {
        /* Every live list gets a later event, which repairs whatever was skipped. */
        d.mode = NORMAL;
        for (int l = 0; l < m.n_lists; l++) {
            char path[96];
            snprintf(path, sizeof(path), "/api/todolists/%s", m.lists[l]);
            rs_send(&api, "PATCH", path, "{\"name\":\"after the gap\"}", NULL);
        }
        drain(&d);
    }
    cr_log_info("mode %d: %d batches delivered, %d dropped, %d moves", (int)mode,
                d.batches, d.dropped, m.moves);
    cr_expect_gt(m.moves, 50, "the workload moved items");
    if (mode == DROPPED)
        cr_expect_gt(d.dropped, 0);
    rs_check(&api, &m);
    if (views_out != NULL)
        *views_out = views_of(&api, &m);
    feed_close(d.feed);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store(shared);
}

static void run_mode(enum mode mode, unsigned seed)
{
    run_mode_with(mode, seed, NULL, NULL);
}

/* The streams of a batch are projected at once (PROJECTOR_PARALLELISM): same views. */
Test(read_side, views_are_the_same_projected_one_stream_at_a_time_or_sixteen,
     .timeout = 600)
{
    const char *one[] = {"PROJECTOR_PARALLELISM=1", NULL};
    const char *sixteen[] = {"PROJECTOR_PARALLELISM=16", NULL};
    json_t *serial = NULL, *parallel = NULL;
    run_mode_with(REORDERED, 5, one, &serial);
    run_mode_with(REORDERED, 5, sixteen, &parallel);
    cr_assert_eq(json_object_size(serial), json_object_size(parallel));
    const char *list;
    json_t *view;
    json_object_foreach(serial, list, view)
    {
        json_t *other = json_object_get(parallel, list);
        if (!json_equal(view, other)) {
            char *a = json_dumps(view, JSON_COMPACT),
                 *b = json_dumps(other, JSON_COMPACT);
            cr_expect_fail("list %s: one at a time %s, sixteen %s", list, a, b);
            free(a);
            free(b);
        }
    }
    json_decref(serial);
    json_decref(parallel);
}

Test(read_side, views_equal_the_folds_when_delivered_normally, .timeout = 600)
{
    run_mode(NORMAL, 1);
}

Test(read_side, views_equal_the_folds_when_every_batch_comes_twice, .timeout = 600)
{
    run_mode(TWICE, 2);
}

Test(read_side, views_equal_the_folds_when_streams_are_interleaved_otherwise,
     .timeout = 600)
{
    run_mode(REORDERED, 3);
}

Test(read_side, views_equal_the_folds_after_skipped_batches_are_repaired, .timeout = 600)
{
    run_mode(DROPPED, 4);
}

Test(read_side, queries_check_their_input)
{
    struct hostdrv *h = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    cr_expect_eq(rs_send(&api, "GET", "/api/todolists/nobody", NULL, NULL), 404);
    cr_expect_eq(rs_send(&api, "GET", "/api/todolists/bad%20id", NULL, NULL), 400);
    const char *bad[] = {"limit=0", "limit=501", "limit=x", "continuation=%21%21",
                         "continuation=Zm9v"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[96];
        snprintf(path, sizeof(path), "/api/todolists?%s", bad[i]);
        json_t *j = NULL;
        cr_expect_eq(rs_send(&api, "GET", path, NULL, &j), 400, "%s", bad[i]);
        cr_expect_str_eq(json_string_value(json_object_get(j, "error")), "invalid_field");
        json_decref(j);
    }
    json_t *j = NULL;
    cr_expect_eq(rs_send(&api, "GET", "/api/todolists", NULL, &j), 200);
    cr_expect_eq(json_array_size(json_object_get(j, "lists")), 0);
    cr_expect(json_is_null(json_object_get(j, "continuation")));
    json_decref(j);
    cr_expect_eq(rs_send(&api, "GET", "/api/deadletters?limit=5", NULL, &j), 200);
    cr_expect(json_is_array(json_object_get(j, "deadLetters")));
    json_decref(j);
    hostdrv_conn_free(c);
    ws_stop(h);
}

/*
 * A trigger envelope has its own cap (a batch, encoded twice, outgrows an HTTP
 * envelope), and a batch over it is dead-lettered with the ids of its events,
 * never skipped without a trace.
 */
Test(read_side, an_oversize_batch_is_dead_lettered_with_its_event_ids)
{
    const char *extra[] = {"MAX_ENVELOPE_BYTES=2048", "MAX_TRIGGER_ENVELOPE_BYTES=65536",
                           NULL};
    char name[256];
    struct hostdrv *h = ws_start_with("oversize", extra);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    cr_assert_eq(rs_send(&api, "POST", "/api/todolists",
                         "{\"id\":\"big\",\"name\":\"Big\"}", NULL),
                 201);
    for (int i = 0; i < 40; i++) {
        char body[160];
        snprintf(body, sizeof(body), "{\"task\":\"a task of some length, number %02d\"}",
                 i);
        cr_assert_eq(rs_send(&api, "POST", "/api/todolists/big/items", body, NULL), 201);
    }
    ws_store_name("oversize", name, sizeof(name));
    struct feed *feed = ws_on_cosmos() ? feed_open_cosmos(name) : feed_open_sqlite(name);
    cr_assert_not_null(feed);
    json_t *batch = feed_next(feed, 100);
    cr_assert_gt(json_array_size(batch), 40);
    struct fn_retry retry = {.present = true, .retry_count = 0, .max_retry_count = 5};
    struct hostdrv_reply r;

    /* Over MAX_ENVELOPE_BYTES, under the trigger's own cap: projected as usual. */
    cr_assert_eq(hostdrv_trigger(c, "Projector", "documents", batch, 2, &retry, &r), 0);
    cr_expect_eq(r.status, 200, "%s", r.body);
    hostdrv_reply_release(&r);
    json_t *view = NULL;
    cr_expect_eq(rs_send(&api, "GET", "/api/todolists/big", NULL, &view), 200);
    cr_expect_eq(json_array_size(json_object_get(view, "items")), 40);
    json_decref(view);
    hostdrv_conn_free(c);
    ws_stop(h);

    /* Over the trigger's cap: read, not kept, and dead-lettered on the first attempt. */
    const char *small[] = {"MAX_TRIGGER_ENVELOPE_BYTES=4096", NULL};
    h = ws_start_with("oversize", small);
    c = hostdrv_conn_new(h);
    api.ctx = c;
    cr_assert_eq(hostdrv_trigger(c, "Projector", "documents", batch, 2, &retry, &r), 0);
    cr_expect_eq(r.status, 200, "the batch completes: %s", r.body);
    hostdrv_reply_release(&r);
    json_t *dead = NULL;
    cr_assert_eq(rs_send(&api, "GET", "/api/deadletters", NULL, &dead), 200);
    json_t *letters = json_object_get(dead, "deadLetters");
    cr_assert_eq(json_array_size(letters), 1, "one dead letter for the refused batch");
    json_t *letter = json_array_get(letters, 0);
    cr_expect_str_eq(json_string_value(json_object_get(letter, "streamId")),
                     "_undecodable");
    cr_expect(strstr(json_string_value(json_object_get(letter, "error")),
                     "MAX_TRIGGER_ENVELOPE_BYTES") != NULL);
    json_t *ids = json_object_get(json_object_get(letter, "payload"), "documentIds");
    cr_expect_eq(json_array_size(ids), 41, "the create and the 40 adds: %zu",
                 json_array_size(ids));
    cr_expect_str_eq(json_string_value(json_array_get(ids, 0)), "todolist-big:1");
    json_decref(dead);
    json_decref(batch);
    feed_close(feed);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("oversize");
}

/* Items of a list's view, or -1 when it cannot be read. */
static long view_items(struct rs_api *api, const char *list)
{
    char path[96];
    snprintf(path, sizeof(path), "/api/todolists/%s", list);
    json_t *v = NULL;
    long n = rs_send(api, "GET", path, NULL, &v) == 200
                 ? (long)json_array_size(json_object_get(v, "items"))
                 : -1;
    json_decref(v);
    return n;
}

/* Sends a command with an Idempotency-Key; its status. */
static int keyed(struct hostdrv_conn *c, const char *method, const char *path,
                 const char *key, const char *body)
{
    char header[160];
    snprintf(header, sizeof(header), "Idempotency-Key: %s", key);
    const char *h[] = {JSON_CT, header, NULL};
    struct hostdrv_reply r;
    int st = ws_send(c, method, path, h, body, &r);
    hostdrv_reply_release(&r);
    return st;
}

/*
 * A client's Idempotency-Key can never be a reaction's: the reactor's own keys
 * are out of the API's reach. Both ways a key could once pre-empt the move
 * reactor (and lose the item) leave the item moved, in exactly one list.
 */
Test(read_side, a_client_key_cannot_pre_empt_the_move_reactor)
{
    struct hostdrv *h = ws_start_with("keys", NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    for (int i = 3; i <= 4; i++) {
        char body[96];
        snprintf(body, sizeof(body), "{\"id\":\"src%d\",\"name\":\"Source\"}", i);
        cr_assert_eq(rs_send(&api, "POST", "/api/todolists", body, NULL), 201);
        snprintf(body, sizeof(body), "{\"id\":\"dst%d\",\"name\":\"Target\"}", i);
        cr_assert_eq(rs_send(&api, "POST", "/api/todolists", body, NULL), 201);
    }
    json_t *added = NULL;
    cr_assert_eq(
        rs_send(&api, "POST", "/api/todolists/src3/items", "{\"task\":\"Milk\"}", &added),
        201);
    char item3[80], item4[80], path[160];
    snprintf(item3, sizeof(item3), "%s",
             json_string_value(json_object_get(added, "itemId")));
    json_decref(added);
    cr_assert_eq(
        rs_send(&api, "POST", "/api/todolists/src4/items", "{\"task\":\"Tea\"}", &added),
        201);
    snprintf(item4, sizeof(item4), "%s",
             json_string_value(json_object_get(added, "itemId")));
    json_decref(added);

    /* The old revert key of this move (todolist-src3 version 3), sent by the client. */
    snprintf(path, sizeof(path), "/api/todolists/src3/items/%s/move", item3);
    cr_expect_eq(
        keyed(c, "POST", path, "revert:todolist-src3:3", "{\"toListId\":\"dst3\"}"), 202);
    /* The old move-in key of the next move, used first on the target by the client. */
    cr_expect_eq(keyed(c, "PATCH", "/api/todolists/dst4", "movein:todolist-src4:3",
                       "{\"name\":\"Renamed\"}"),
                 200);
    snprintf(path, sizeof(path), "/api/todolists/src4/items/%s/move", item4);
    cr_expect_eq(rs_send(&api, "POST", path, "{\"toListId\":\"dst4\"}", NULL), 202);
    /* The reactor's own key syntax is out of a client's reach. */
    cr_expect_eq(keyed(c, "PATCH", "/api/todolists/dst4", "$movein:todolist-src4:3",
                       "{\"name\":\"x\"}"),
                 400);

    struct delivery d = normal_delivery(h, c, "keys");
    drain(&d);
    cr_expect_eq(view_items(&api, "src3"), 0);
    cr_expect_eq(view_items(&api, "dst3"), 1, "the item moved in");
    cr_expect_eq(view_items(&api, "src4"), 0);
    cr_expect_eq(view_items(&api, "dst4"), 1, "the item moved in");
    json_t *dead = NULL;
    cr_expect_eq(rs_send(&api, "GET", "/api/deadletters", NULL, &dead), 200);
    cr_expect_eq(json_array_size(json_object_get(dead, "deadLetters")), 0);
    json_decref(dead);
    feed_close(d.feed);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("keys");
}

/* GET /api/projection: what this instance's Projector has done, and how far behind. */
Test(read_side, the_projection_endpoint_reports_batches_events_and_lag)
{
    struct hostdrv *h = ws_start_with("projection", NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    json_t *j = NULL;
    cr_assert_eq(rs_send(&api, "GET", "/api/projection", NULL, &j), 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "batches")), 0);
    cr_expect(json_is_null(json_object_get(j, "lagMs")), "no lag before any batch");
    cr_expect(json_is_null(json_object_get(j, "lastEvent")));
    json_decref(j);
    ws_create(c, "watched", "Watched");
    free(ws_add(c, "watched", "milk"));
    struct delivery d = normal_delivery(h, c, "projection");
    drain(&d);
    cr_assert_eq(rs_send(&api, "GET", "/api/projection", NULL, &j), 200);
    cr_expect_geq(json_integer_value(json_object_get(j, "batches")), 1);
    cr_expect_eq(json_integer_value(json_object_get(j, "events")), 2);
    cr_expect_eq(json_integer_value(json_object_get(j, "failedBatches")), 0);
    cr_expect_gt(json_real_value(json_object_get(j, "eventsPerSecond")), 0.0);
    json_int_t lag = json_integer_value(json_object_get(j, "lagMs"));
    cr_expect(lag >= 0 && lag < 60000, "lag %lld ms", (long long)lag);
    cr_expect(json_is_integer(json_object_get(j, "lagP99Ms")));
    cr_expect_str_eq(ws_str(json_object_get(j, "lastEvent"), "id"), "todolist-watched:2");
    cr_expect_not_null(ws_str(json_object_get(j, "lastEvent"), "occurredAt"));
    json_decref(j);
    feed_close(d.feed);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("projection");
}

/* GET path on a connection of its own, from another thread. */
struct pending_get {
    struct hostdrv *h;
    const char *path;
    int status;
    json_t *body;
    char etag[32];
};

static void *get_in_thread(void *arg)
{
    struct pending_get *g = arg;
    struct hostdrv_conn *c = hostdrv_conn_new(g->h);
    struct hostdrv_reply r;
    g->status = hostdrv_call(c, "GET", g->path, NULL, NULL, &r) == 0 && r.result.ok
                    ? r.result.http_status
                    : -1;
    g->body = json_incref(r.client_json);
    const char *tag = hostdrv_reply_header(&r, "ETag");
    snprintf(g->etag, sizeof(g->etag), "%s", tag != NULL ? tag : "");
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    return NULL;
}

/*
 * Read-your-writes: ?minVersion=N answers once the view reflects version N,
 * waiting for the Projector meanwhile; behind after READ_WAIT_MS; 404 at once
 * for a version nobody wrote, an unknown list or a deleted one.
 */
Test(read_side, min_version_reads_your_own_writes, .timeout = 120)
{
    const char *env[] = {"READ_WAIT_MS=400", NULL};
    struct hostdrv *h = ws_start_with("rywrites", env);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    ws_create(c, "ryw", "Read your writes");
    free(ws_add(c, "ryw", "milk"));
    ws_create(c, "gone", "Gone");
    cr_assert_eq(ws_status(c, "DELETE", "/api/todolists/gone", NULL), 200);

    const char *bad[] = {"0", "-1", "x", "1.5", "+2", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[96];
        snprintf(path, sizeof(path), "/api/todolists/ryw?minVersion=%s", bad[i]);
        json_t *j = NULL;
        cr_expect_eq(rs_send(&api, "GET", path, NULL, &j), 400, "minVersion=%s", bad[i]);
        cr_expect_str_eq(ws_str(j, "error"), "invalid_field");
        json_decref(j);
    }
    /* Nothing projected yet: behind, at version 0, with Retry-After. */
    struct hostdrv_reply r;
    cr_assert_eq(ws_send(c, "GET", "/api/todolists/ryw?minVersion=2", NULL, NULL, &r),
                 503);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "view_behind");
    cr_expect_eq(json_integer_value(json_object_get(r.client_json, "version")), 0);
    cr_expect_str_eq(hostdrv_reply_header(&r, "Retry-After"), "1");
    hostdrv_reply_release(&r);
    /* Never written, never created: 404 without waiting. */
    json_t *j = NULL;
    cr_expect_eq(rs_send(&api, "GET", "/api/todolists/ryw?minVersion=3", NULL, &j), 404);
    cr_expect_str_eq(ws_str(j, "error"), "not_found");
    json_decref(j);
    cr_expect_eq(rs_send(&api, "GET", "/api/todolists/nobody?minVersion=1", NULL, NULL),
                 404);
    cr_expect_eq(rs_send(&api, "GET",
                         "/api/todolists/ryw?minVersion=99999999999999999999999", NULL,
                         NULL),
                 404);

    /* A read that waits, and the Projector runs meanwhile: it sees version 2. */
    const char *wait_env[] = {"READ_WAIT_MS=10000", NULL};
    struct hostdrv *h2 = ws_start_with("rywrites", wait_env);
    struct pending_get g = {.h = h2, .path = "/api/todolists/ryw?minVersion=2"};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, get_in_thread, &g), 0);
    struct delivery d = normal_delivery(h, c, "rywrites");
    drain(&d);
    pthread_join(t, NULL);
    cr_expect_eq(g.status, 200);
    cr_expect_eq(json_integer_value(json_object_get(g.body, "version")), 2);
    cr_expect_eq(json_array_size(json_object_get(g.body, "items")), 1);
    cr_expect_str_eq(g.etag, "\"2\"");
    json_decref(g.body);

    /* Reached: at once, with the ETag; a deleted list is 404 at once. */
    cr_assert_eq(ws_send(c, "GET", "/api/todolists/ryw?minVersion=1", NULL, NULL, &r),
                 200);
    cr_expect_str_eq(hostdrv_reply_header(&r, "ETag"), "\"2\"");
    hostdrv_reply_release(&r);
    cr_expect_eq(rs_send(&api, "GET", "/api/todolists/gone?minVersion=1", NULL, NULL),
                 404);
    cr_expect_eq(rs_send(&api, "GET", "/api/todolists/gone?minVersion=2", NULL, NULL),
                 404);

    feed_close(d.feed);
    ws_stop(h2);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("rywrites");
}

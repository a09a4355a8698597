/*
 * The Publisher through the host protocol: Cosmos DB trigger batches in, as
 * the host sends them (documents JSON-encoded twice, with a RetryContext),
 * and Outputs.integrationEvents out, read as the host reads a reply. Batches
 * written here by hand have exact expected arrays; batches read from the
 * change feed of a real workload show the same for what the handler stores
 * (receipts and snapshots included, moves settled by the Projector). Runs on
 * SQLite and, with ES_TEST_STORE=cosmos, on Cosmos DB.
 */
#include "../support/feed.h"
#include "read_side.h"
#include "write_side.h"

static const struct fn_retry first_try = {
    .present = true, .retry_count = 0, .max_retry_count = 5};

#define META(corr, cause)                                                                \
    "{\"occurredAt\": \"2026-11-28T19:30:00.123Z\", \"correlationId\": \"" corr          \
    "\", \"causationId\": " cause ", \"idempotencyKey\": null}"

/* An event document as the change feed delivers it. */
static json_t *event_doc(const char *stream, int version, const char *type,
                         const char *data, const char *meta)
{
    char id[128];
    snprintf(id, sizeof(id), "%s:%d", stream, version);
    json_t *d = json_loads(data, 0, NULL), *m = json_loads(meta, 0, NULL);
    cr_assert(d != NULL && m != NULL, "%s / %s", data, meta);
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:o, s:o, s:i, s:i}", "id", id, "kind",
                  "event", "streamId", stream, "version", version, "type", type, "schema",
                  1, "data", d, "meta", m, "_lsn", version, "_ts", 1764358200);
    cr_assert_not_null(doc);
    return doc;
}

static json_t *other_doc(const char *kind, const char *stream, const char *id)
{
    return json_pack("{s:s, s:s, s:s, s:{}}", "id", id, "kind", kind, "streamId", stream,
                     "state");
}

/* Sends batch to the Publisher; asserts success; its integrationEvents (new ref). */
static json_t *publish(struct hostdrv_conn *c, const json_t *batch)
{
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_trigger(c, "Publisher", "documents", batch, 2, &first_try, &r),
                 0);
    cr_assert_eq(r.status, 200, "the publisher answers %ld: %s", r.status, r.body);
    cr_assert(r.result.ok, "%s", r.result.failure);
    json_t *out = json_incref(json_object_get(r.result.outputs, "integrationEvents"));
    cr_assert(json_is_array(out), "Outputs.integrationEvents is an array: %s", r.body);
    hostdrv_reply_release(&r);
    return out;
}

static void expect_json(json_t *got, const char *want_text)
{
    json_error_t e;
    json_t *want = json_loads(want_text, 0, &e);
    cr_assert_not_null(want, "%s: %s", e.text, want_text);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
    char *w = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
    cr_expect(json_equal(got, want), "got\n%s\nwant\n%s", g, w);
    free(g);
    free(w);
    json_decref(want);
}

#define CE(stream, list, v, type)                                                        \
    "\"specversion\": \"1.0\", \"id\": \"" stream ":" v "\", \"source\": "               \
    "\"/todolists/" list "\", \"type\": \"" type "\", \"time\": "                        \
    "\"2026-11-28T19:30:00.123Z\", \"datacontenttype\": \"application/json\", "          \
    "\"sequence\": \"" v "\", \"correlationid\": \"c1\""

/* Two lists' events interleaved, with a receipt and a snapshot among them. */
static json_t *normal_batch(void)
{
    json_t *b = json_array();
    json_array_append_new(b, event_doc("todolist-L2", 1, "TodoListCreated",
                                       "{\"name\": \"Work\"}", META("c1", "null")));
    json_array_append_new(b, event_doc("todolist-L1", 1, "TodoListCreated",
                                       "{\"name\": \"Home\"}", META("c1", "null")));
    json_array_append_new(b, other_doc("receipt", "todolist-L1", "todolist-L1:$r:k1"));
    json_array_append_new(
        b, event_doc("todolist-L1", 2, "ItemAdded",
                     "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"To Do\"}",
                     META("c1", "null")));
    json_array_append_new(b,
                          other_doc("snapshot", "todolist-L1", "todolist-L1:snapshot"));
    json_array_append_new(b, event_doc("todolist-L1", 3, "ItemStatusChanged",
                                       "{\"itemId\": \"i1\", \"status\": \"Done\"}",
                                       META("c1", "null")));
    return b;
}

static const char *normal_expected = "[{" CE(
    "todolist-L1", "L1", "1",
    "todo.TodoListCreated.v1") ", \"data\": {\"listId\": "
                               "\"L1\", \"name\": "
                               "\"Home\"}},"
                               " {" CE("todolist-L1", "L1", "2",
                                       "todo.ItemAdded.v1") ", \"subject\": \"i1\", "
                                                            "\"data\": {\"listId\": "
                                                            "\"L1\", \"itemId\": \"i1\", "
                                                            "\"task\": \"Milk\", "
                                                            "\"status\": \"To Do\"}},"
                                                            " {" CE(
                                                                "todolist-L1", "L1", "3",
                                                                "todo.ItemStatusChanged."
                                                                "v1") ", \"subject\": "
                                                                      "\"i1\", \"data\": "
                                                                      "{\"listId\": "
                                                                      "\"L1\", "
                                                                      "\"itemId\": "
                                                                      "\"i1\", "
                                                                      "\"status\": "
                                                                      "\"Done\"}},"
                                                                      " {" CE(
                                                                          "todolist-L2",
                                                                          "L2", "1",
                                                                          "todo."
                                                                          "TodoListCreate"
                                                                          "d.v1") ", "
                                                                                  "\"data"
                                                                                  "\": "
                                                                                  "{\"lis"
                                                                                  "tId\":"
                                                                                  " "
                                                                                  "\"L2\""
                                                                                  ", "
                                                                                  "\"name"
                                                                                  "\": "
                                                                                  "\"Work"
                                                                                  "\"}}]";

Test(publisher, a_batch_becomes_its_cloudevents_in_stream_order)
{
    struct hostdrv *h = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    json_t *batch = normal_batch();
    json_t *out = publish(c, batch);
    expect_json(out, normal_expected);
    json_decref(out);
    json_decref(batch);
    hostdrv_conn_free(c);
    ws_stop(h);
}

Test(publisher, a_redelivered_batch_is_published_again_with_the_same_ids)
{
    struct hostdrv *h = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    json_t *batch = normal_batch();
    json_t *first = publish(c, batch);
    json_t *again = publish(c, batch);
    expect_json(again, normal_expected);
    cr_expect(json_equal(first, again), "a redelivery carries the same CloudEvents");
    json_decref(first);
    json_decref(again);
    /* A version delivered twice in one batch is published once. */
    json_array_extend(batch, batch);
    json_t *doubled = publish(c, batch);
    expect_json(doubled, normal_expected);
    json_decref(doubled);
    json_decref(batch);
    hostdrv_conn_free(c);
    ws_stop(h);
}

Test(publisher, receipts_and_snapshots_alone_publish_nothing)
{
    struct hostdrv *h = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    json_t *batch = json_array();
    json_array_append_new(batch, other_doc("receipt", "todolist-L1", "todolist-L1:$r:k"));
    json_array_append_new(batch,
                          other_doc("snapshot", "todolist-L1", "todolist-L1:snapshot"));
    json_t *out = publish(c, batch);
    expect_json(out, "[]");
    json_decref(out);
    json_decref(batch);
    hostdrv_conn_free(c);
    ws_stop(h);
}

/*
 * A move that settles (out of L0, into L1) is one todo.ItemMoved.v1 from L1;
 * a move that is reverted (out of L0 to a missing list, back into L0) is
 * nothing.
 */
Test(publisher, a_move_is_published_once_when_it_settles_and_never_when_reverted)
{
    struct hostdrv *h = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    const char *item = "\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"Done\"";
    const char *item2 = "\"itemId\": \"i2\", \"task\": \"Tea\", \"status\": \"To Do\"";
    char data[256];
    json_t *b = json_array();
    snprintf(data, sizeof(data), "{%s, \"toListId\": \"L1\"}", item);
    json_array_append_new(
        b, event_doc("todolist-L0", 4, "ItemMovedOut", data, META("c1", "null")));
    snprintf(data, sizeof(data), "{%s, \"fromListId\": \"L0\"}", item);
    json_array_append_new(b, event_doc("todolist-L1", 2, "ItemMovedIn", data,
                                       META("c1", "\"todolist-L0:4\"")));
    snprintf(data, sizeof(data), "{%s, \"toListId\": \"gone\"}", item2);
    json_array_append_new(
        b, event_doc("todolist-L0", 5, "ItemMovedOut", data, META("c1", "null")));
    snprintf(data, sizeof(data),
             "{%s, \"toListId\": \"gone\", \"reason\": \"not_found\"}", item2);
    json_array_append_new(b, event_doc("todolist-L0", 6, "ItemMoveReverted", data,
                                       META("c1", "\"todolist-L0:5\"")));
    json_t *out = publish(c, b);
    expect_json(out,
                "[{" CE("todolist-L1", "L1", "2",
                        "todo.ItemMoved.v1") ", \"subject\": \"i1\", \"causationid\": "
                                             "\"todolist-L0:4\", \"data\": "
                                             "{\"itemId\": \"i1\", \"task\": "
                                             "\"Milk\", \"status\": \"Done\", "
                                             "\"fromListId\": \"L0\", \"toListId\": "
                                             "\"L1\"}}]");
    json_decref(out);
    json_decref(b);
    hostdrv_conn_free(c);
    ws_stop(h);
}

/*
 * A type without a public mapping is left out; an event whose public fields
 * are not what the API writes is dead-lettered at once, and the rest of the
 * batch is published; a document that is not an event at all is skipped (the
 * Projector dead-letters it).
 */
Test(publisher, unmapped_types_are_left_out_and_malformed_events_dead_lettered)
{
    struct hostdrv *h = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    json_t *b = json_array();
    json_array_append_new(b, event_doc("todolist-L1", 1, "TodoListCreated",
                                       "{\"name\": \"Home\"}", META("c1", "null")));
    json_array_append_new(b, event_doc("todolist-L1", 2, "ItemsArchived",
                                       "{\"count\": 3}", META("c1", "null")));
    json_array_append_new(b, event_doc("todolist-L1", 3, "ItemAdded",
                                       "{\"task\": \"Milk\", \"status\": \"To Do\"}",
                                       META("c1", "null")));
    json_array_append_new(b,
                          json_pack("{s:s, s:s}", "kind", "event", "type", "ItemAdded"));
    json_t *out = publish(c, b);
    expect_json(out,
                "[{" CE("todolist-L1", "L1", "1",
                        "todo.TodoListCreated.v1") ", \"data\": {\"listId\": \"L1\", "
                                                   "\"name\": \"Home\"}}]");
    json_decref(out);
    struct hostdrv_reply r;
    cr_assert_eq(ws_send(c, "GET", "/api/deadletters", NULL, NULL, &r), 200);
    json_t *letters = json_object_get(r.client_json, "deadLetters");
    cr_assert_eq(json_array_size(letters), 1, "one dead letter: %s", r.body);
    json_t *dl = json_array_get(letters, 0);
    cr_expect_str_eq(ws_str(dl, "id"), "todolist-L1:3:publish:dead");
    cr_expect_str_eq(ws_str(dl, "streamId"), "todolist-L1");
    cr_expect_str_eq(ws_str(dl, "subscriber"), "Publisher");
    cr_expect(strstr(ws_str(dl, "error"), "itemId") != NULL, "%s", ws_str(dl, "error"));
    cr_expect_eq(
        json_integer_value(json_object_get(json_object_get(dl, "event"), "version")), 3);
    hostdrv_reply_release(&r);
    json_decref(b);
    hostdrv_conn_free(c);
    ws_stop(h);
}

/* Sends every batch of the feed to function (until it runs dry twice). */
static json_t *deliver_feed(struct hostdrv_conn *c, struct feed *f, const char *function,
                            json_t *all_docs)
{
    json_t *published = json_array();
    for (int idle = 0; idle < 2;) {
        json_t *batch = feed_next(f, 100);
        cr_assert_not_null(batch);
        if (json_array_size(batch) == 0) {
            idle++;
            usleep(100 * 1000);
        } else {
            idle = 0;
            if (all_docs != NULL)
                json_array_extend(all_docs, batch);
            struct hostdrv_reply r;
            cr_assert_eq(
                hostdrv_trigger(c, function, "documents", batch, 2, &first_try, &r), 0);
            cr_assert_eq(r.status, 200, "%s answers %ld: %s", function, r.status, r.body);
            json_array_extend(published,
                              json_object_get(r.result.outputs, "integrationEvents"));
            hostdrv_reply_release(&r);
        }
        json_decref(batch);
    }
    return published;
}

/*
 * What the handler really stores: a workload with keyed commands (receipts,
 * on Cosmos DB), snapshots every 2 events, a move that settles and one that is reverted,
 * all settled by the Projector, then the whole change feed to the Publisher.
 * Every public event is published once, in its stream's order, with the
 * stored event's id; the moves give exactly one todo.ItemMoved.v1.
 */
Test(publisher, a_stored_workload_publishes_each_public_event_once, .timeout = 120)
{
    const char *extra[] = {"SNAPSHOT_EVERY=2", NULL};
    struct hostdrv *h = ws_start_with("publish", extra);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    ws_create(c, "src", "Source");
    ws_create(c, "dst", "Target");
    char *a = ws_add(c, "src", "Milk");
    char *b = ws_add(c, "src", "Tea");
    const char *hk[] = {JSON_CT, "Idempotency-Key: rename-1", NULL};
    struct hostdrv_reply r;
    cr_assert_eq(ws_send(c, "PATCH", "/api/todolists/src", hk, "{\"name\":\"Src\"}", &r),
                 200);
    hostdrv_reply_release(&r);
    char path[160];
    snprintf(path, sizeof(path), "/api/todolists/src/items/%s/move", a);
    cr_assert_eq(rs_send(&api, "POST", path, "{\"toListId\":\"dst\"}", NULL), 202);
    snprintf(path, sizeof(path), "/api/todolists/src/items/%s/move", b);
    cr_assert_eq(rs_send(&api, "POST", path, "{\"toListId\":\"nowhere\"}", NULL), 202);

    char name[256];
    ws_store_name("publish", name, sizeof(name));
    struct feed *pf = ws_on_cosmos() ? feed_open_cosmos(name) : feed_open_sqlite(name);
    cr_assert_not_null(pf);
    /* The Projector settles the moves (its reactions append more to the feed). */
    json_t *ignored = deliver_feed(c, pf, "Projector", NULL);
    json_decref(ignored);
    feed_close(pf);
    ws_settle();

    struct feed *f = ws_on_cosmos() ? feed_open_cosmos(name) : feed_open_sqlite(name);
    cr_assert_not_null(f);
    json_t *docs = json_array();
    json_t *out = deliver_feed(c, f, "Publisher", docs);
    size_t receipts = 0, snapshots = 0, i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        receipts += strcmp(ws_str(d, "kind"), "receipt") == 0;
        snapshots += strcmp(ws_str(d, "kind"), "snapshot") == 0;
    }
    /* Cosmos DB's feed carries the receipts and snapshots of the events container;
     * the embedded store's carries events only (the batches above mix them in). */
    if (ws_on_cosmos()) {
        cr_expect_gt(receipts, 0, "the feed holds receipts");
        cr_expect_gt(snapshots, 0, "the feed holds snapshots");
    }

    /* The expected types per list, in stream order. */
    const char *src[] = {"todo.TodoListCreated.v1", "todo.ItemAdded.v1",
                         "todo.ItemAdded.v1", "todo.TodoListRenamed.v1", NULL};
    const char *dst[] = {"todo.TodoListCreated.v1", "todo.ItemMoved.v1", NULL};
    const char *const *want[] = {src, dst};
    const char *lists[] = {"/todolists/src", "/todolists/dst"};
    size_t total = 0;
    for (int l = 0; l < 2; l++) {
        size_t k = 0;
        long last = 0;
        json_t *ce;
        json_array_foreach(out, i, ce)
        {
            if (strcmp(ws_str(ce, "source"), lists[l]) != 0)
                continue;
            cr_expect_not_null(want[l][k], "%s: more events than expected", lists[l]);
            if (want[l][k] == NULL)
                break;
            cr_expect_str_eq(ws_str(ce, "type"), want[l][k], "%s #%zu", lists[l], k);
            long seq = strtol(ws_str(ce, "sequence"), NULL, 10);
            cr_expect_gt(seq, last, "%s: in stream order", lists[l]);
            last = seq;
            char id[96];
            snprintf(id, sizeof(id), "todolist-%s:%ld", lists[l] + strlen("/todolists/"),
                     seq);
            cr_expect_str_eq(ws_str(ce, "id"), id);
            k++;
        }
        cr_expect_null(want[l][k], "%s: %zu events published", lists[l], k);
        total += k;
    }
    cr_expect_eq(json_array_size(out), total, "nothing from another source");
    json_t *moved = NULL;
    json_array_foreach(out, i, d)
    {
        if (strcmp(ws_str(d, "type"), "todo.ItemMoved.v1") == 0)
            moved = d;
    }
    cr_assert_not_null(moved);
    json_t *data = json_object_get(moved, "data");
    cr_expect_str_eq(ws_str(moved, "subject"), a);
    cr_expect_str_eq(ws_str(data, "fromListId"), "src");
    cr_expect_str_eq(ws_str(data, "toListId"), "dst");
    cr_expect_str_eq(ws_str(data, "task"), "Milk");
    cr_expect_not_null(json_object_get(moved, "causationid"),
                       "the reaction's cause is the move out");
    json_decref(out);
    json_decref(docs);
    feed_close(f);
    free(a);
    free(b);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("publish");
}

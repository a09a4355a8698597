/*
 * Session consistency, as Cosmos DB gives it, on the rig with lagging
 * replicas (1 s): a read without this process's session token, or another
 * process's read, misses the last second of writes, while a transactional
 * batch - served by the partition's primary - sees everything
 * (tests/support/cosmos-rig/README.md, "Session tokens and replica lag").
 *
 * Each test first shows what a replica read returns in that situation (the
 * read the store used to rely on), then that the store or the handler gets
 * it right: reads its own writes, settles lost replies and conflicts at the
 * primary, and never answers a wrong refusal.
 */
#include <unistd.h>

#include "app.h"
#include "store/store_cosmos.h"
#include "../e2e/write_side.h"

#define LAG_MS 1000

static void lag_on(void)
{
    cr_assert(ws_on_cosmos(), "runs on the Cosmos rig (ES_TEST_STORE=cosmos)");
    cr_assert_eq(cosmosrig_config("{\"replicaLagMs\":1000}"), 0);
}

/* Waits until every replica has every write. */
static void settle(void)
{
    usleep((LAG_MS + 100) * 1000);
}

static void lag_off(void)
{
    cosmosrig_config("{\"replicaLagMs\":null}");
    cosmosrig_faults("[]");
}

TestSuite(consistency, .init = lag_on, .fini = lag_off, .timeout = 120);

/* ---- the store, as two processes would hold it ---- */

static struct es_config cfgs[2];

/* A store on database db, with a client (and so a session) of its own. */
static struct es_store *open_store(const char *db, int which)
{
    struct es_store *s = NULL;
    cr_assert_eq(cosmosrig_store_open(db, &cfgs[which], &s), 0);
    return s;
}

static void close_store(struct es_store *s, int which)
{
    es_store_close(s);
    es_config_release(&cfgs[which]);
}

/* Appends one event at expected, with a receipt when key is not NULL. */
static enum es_status append_one(struct es_store *s, const char *stream, int64_t expected,
                                 const char *event_id, const char *key,
                                 enum es_conflict *conflict)
{
    json_t *data = json_pack("{s:I}", "i", (json_int_t)expected + 1);
    json_t *meta = json_pack("{s:s}", "eventId", event_id);
    struct es_new_event ev = {"E", 1, data, meta};
    struct es_receipt receipt = {.key = (char *)key,
                                 .status = 201,
                                 .body = (char *)"{}",
                                 .version = expected + 1,
                                 .request_hash = (char *)"h",
                                 .created_at = (char *)"2026-12-06T00:00:00Z"};
    struct es_append a = {stream, expected, &ev, 1, key != NULL ? &receipt : NULL, NULL};
    enum es_conflict c = ES_CONFLICT_NONE;
    struct es_error err = {0};
    enum es_status st = s->ops->append(s, &a, &c, NULL, &err);
    if (conflict != NULL)
        *conflict = c;
    json_decref(meta);
    json_decref(data);
    return st;
}

static size_t stream_length(struct es_store *s, const char *stream)
{
    struct es_event_page p;
    struct es_error err = {0};
    cr_assert_eq(s->ops->read_stream(s, stream, 1, 1000, &p, NULL, &err), ES_OK, "%s",
                 err.message);
    size_t n = p.n;
    es_event_page_release(&p);
    return n;
}

static void new_db(char *db, size_t len, const char *name)
{
    snprintf(db, len, "%s-%d", name, (int)getpid());
}

Test(consistency, a_process_reads_its_own_writes_and_a_replica_lags_for_others)
{
    char db[64];
    new_db(db, sizeof(db), "own");
    struct es_store *a = open_store(db, 0), *b = open_store(db, 1);
    cr_assert_eq(append_one(a, "todolist-x", 0, "e1", NULL, NULL), ES_OK);
    cr_assert_eq(append_one(a, "todolist-x", 1, "e2", NULL, NULL), ES_OK);
    cr_expect_eq(stream_length(a, "todolist-x"), 2, "the writer sees its writes at once");
    cr_expect_eq(stream_length(b, "todolist-x"), 0,
                 "another process's replica read does not, yet: the rig's lag is real");
    struct es_error err = {0};
    cr_expect_eq(b->ops->has_version(b, "todolist-x", 2, NULL, &err), ES_OK,
                 "the primary knows version 2: %s", err.message);
    cr_expect_eq(b->ops->has_version(b, "todolist-x", 3, NULL, &err), ES_ENOTFOUND);
    cr_expect_eq(stream_length(b, "todolist-x"), 2,
                 "after asking the primary, its session token shows the rest");
    close_store(b, 1);
    close_store(a, 0);
}

Test(consistency, a_receipt_is_found_at_once_by_another_process)
{
    char db[64];
    new_db(db, sizeof(db), "receipt");
    struct es_store *a = open_store(db, 0), *b = open_store(db, 1);
    cr_assert_eq(append_one(a, "todolist-r", 0, "e1", "key-1", NULL), ES_OK);
    struct es_receipt r = {0};
    struct es_error err = {0};
    cr_expect_eq(b->ops->read_receipt(b, "todolist-r", "key-1", &r, NULL, &err), ES_OK,
                 "%s", err.message);
    es_receipt_release(&r);
    close_store(b, 1);
    close_store(a, 0);
}

/* libcurl sends a POST again by itself when a reused connection dies before the reply. */
Test(consistency, an_append_sent_twice_is_settled_as_one)
{
    char db[64];
    new_db(db, sizeof(db), "twice");
    struct es_store *a = open_store(db, 0), *b = open_store(db, 1);
    cr_assert_eq(append_one(a, "todolist-t", 0, "e1", NULL, NULL), ES_OK);
    enum es_conflict c;
    cr_expect_eq(append_one(b, "todolist-t", 0, "e1", NULL, &c), ES_OK,
                 "the same event at the same version: our own earlier try");
    cr_expect_eq(append_one(b, "todolist-t", 0, "e1-other", NULL, &c), ES_ECONFLICT,
                 "another event at that version: a real conflict");
    cr_expect_eq(c, ES_CONFLICT_VERSION);
    close_store(b, 1);
    close_store(a, 0);
}

Test(consistency, a_lost_reply_is_read_back_at_the_primary)
{
    char db[64];
    new_db(db, sizeof(db), "lost");
    struct es_store *a = open_store(db, 0);
    cr_assert_eq(append_one(a, "todolist-l", 0, "e1", NULL, NULL), ES_OK);
    /* The batch is applied, its reply lost: no session token comes back for it. */
    cr_assert_eq(cosmosrig_faults("[{\"method\":\"POST\",\"path\":\"/docs$\",\"header\":{"
                                  "\"x-ms-cosmos-is-batch-request\":\"True\"},\"mode\":"
                                  "\"afterForward\",\"status\":503,\"count\":1}]"),
                 0);
    cr_expect_eq(append_one(a, "todolist-l", 1, "e2", NULL, NULL), ES_OK,
                 "applied, and known to be");
    struct es_store *b = open_store(db, 1);
    cr_expect_eq(stream_length(b, "todolist-l"), 0,
                 "a read without the write's session token misses it (and would have "
                 "sent it again)");
    cr_expect_eq(stream_length(a, "todolist-l"), 2, "stored once");
    settle();
    cr_expect_eq(stream_length(b, "todolist-l"), 2, "stored once, as every replica says");
    close_store(b, 1);
    close_store(a, 0);
}

/* ---- the handler, as two instances of the function app ---- */

Test(consistency, another_instance_never_answers_a_wrong_refusal)
{
    struct hostdrv *h[2] = {ws_start_with("instances", NULL),
                            ws_start_with("instances", NULL)};
    struct hostdrv_conn *c0 = hostdrv_conn_new(h[0]), *c1 = hostdrv_conn_new(h[1]);
    ws_create(c0, "fresh", "Fresh");
    /* A replica read would say the list does not exist (404). */
    char *item = ws_add(c1, "fresh", "milk");
    cr_expect_not_null(item, "instance 1 adds to the list instance 0 just created");
    /* Instance 0 holds the list in its cache, at version 1: stale. */
    char path[128], body[64];
    snprintf(path, sizeof(path), "/api/todolists/fresh/items/%s", item ? item : "x");
    snprintf(body, sizeof(body), "{\"status\":\"Done\"}");
    cr_expect_eq(ws_status(c0, "PATCH", path, body), 200,
                 "instance 0 updates the item instance 1 added (not 404)");
    const char *hk[] = {JSON_CT, "If-Match: \"3\"", NULL};
    struct hostdrv_reply r;
    cr_expect_eq(ws_send(c1, "PATCH", "/api/todolists/fresh", hk, "{\"name\":\"N\"}", &r),
                 200, "If-Match names the latest version, which instance 1 had not seen");
    hostdrv_reply_release(&r);
    const char *plain[] = {JSON_CT, NULL};
    cr_expect_eq(
        ws_send(c0, "PATCH", "/api/todolists/fresh", plain, "{\"name\":\"N\"}", &r), 200,
        "a rename to the name the list has now: a no-op");
    cr_expect_eq(json_integer_value(json_object_get(r.client_json, "version")), 4,
                 "answered on the latest version, not on instance 0's cached 3");
    hostdrv_reply_release(&r);
    free(item);
    hostdrv_conn_free(c1);
    hostdrv_conn_free(c0);
    ws_stop(h[1]);
    ws_stop(h[0]);
}

Test(consistency, an_idempotency_key_is_honoured_across_instances)
{
    struct hostdrv *h[2] = {ws_start_with("keys", NULL), ws_start_with("keys", NULL)};
    struct hostdrv_conn *c0 = hostdrv_conn_new(h[0]), *c1 = hostdrv_conn_new(h[1]);
    ws_create(c0, "keyed", "Keyed");
    const char *hk[] = {JSON_CT, "Idempotency-Key: add-milk-1", NULL};
    struct hostdrv_reply first, again;
    cr_assert_eq(ws_send(c0, "POST", "/api/todolists/keyed/items", hk,
                         "{\"task\":\"milk\"}", &first),
                 201);
    cr_expect_eq(ws_send(c1, "POST", "/api/todolists/keyed/items", hk,
                         "{\"task\":\"milk\"}", &again),
                 201, "the stored answer, not task_exists and not 500");
    cr_expect_str_eq(again.result.http_body, first.result.http_body);
    hostdrv_reply_release(&again);
    hostdrv_reply_release(&first);
    settle();
    json_t *all = ws_events(c1, "keyed");
    cr_expect_eq(ws_check_gap_free(all), 2, "applied once");
    json_decref(all);
    hostdrv_conn_free(c1);
    hostdrv_conn_free(c0);
    ws_stop(h[1]);
    ws_stop(h[0]);
}

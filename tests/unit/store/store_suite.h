/*
 * store_suite.h - the contract of struct es_store, as one Criterion suite that
 * every back end runs unchanged. The including file defines
 *   static struct es_store *suite_open(void);   a fresh, empty store
 *   static void suite_close(struct es_store *s);
 * and includes this header once.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static struct es_store *suite_open(void);
static void suite_close(struct es_store *s);

static struct es_store *store;

static void setup(void)
{
    store = suite_open();
    cr_assert_not_null(store, "the store under test opens");
}

static void teardown(void)
{
    suite_close(store);
}

TestSuite(store, .init = setup, .fini = teardown);

/* Each append's meta names it, as the engine's eventId does: appends differ by it. */
static json_t *meta(void)
{
    static int appends;
    char id[32];
    snprintf(id, sizeof(id), "append-%d", ++appends);
    return json_pack("{s:s, s:s, s:n, s:s}", "occurredAt", "2026-11-28T19:30:00.123Z",
                     "correlationId", "corr-1", "causationId", "eventId", id);
}

/* Appends n events "E<i>" {"i": i} at expected; returns the status. */
static enum es_status append_n(const char *stream, int64_t expected, int n,
                               const struct es_receipt *receipt,
                               const struct es_snapshot *snapshot,
                               enum es_conflict *conflict)
{
    struct es_new_event *events = calloc((size_t)n, sizeof(*events));
    json_t **datas = calloc((size_t)n, sizeof(*datas));
    json_t *m = meta();
    char types[64][16];
    for (int i = 0; i < n; i++) {
        datas[i] = json_pack("{s:I}", "i", (json_int_t)(expected + 1 + i));
        snprintf(types[i % 64], sizeof(types[0]), "E%d", i % 64);
        events[i] = (struct es_new_event){types[i % 64], 1, datas[i], m};
    }
    struct es_append a = {stream, expected, events, (size_t)n, receipt, snapshot};
    enum es_conflict c = ES_CONFLICT_NONE;
    struct es_io io = {0};
    enum es_status st = store->ops->append(store, &a, &c, &io, NULL);
    if (conflict != NULL)
        *conflict = c;
    cr_expect_geq(io.round_trips, 1, "an append counts its round trips");
    for (int i = 0; i < n; i++)
        json_decref(datas[i]);
    free(datas);
    free(events);
    json_decref(m);
    return st;
}

static size_t stream_length(const char *stream)
{
    struct es_event_page p;
    cr_assert_eq(store->ops->read_stream(store, stream, 1, 100000, &p, NULL, NULL),
                 ES_OK);
    size_t n = p.n;
    for (size_t i = 0; i < p.n; i++)
        cr_expect_eq(p.events[i].version, (int64_t)i + 1, "versions are gap-free");
    es_event_page_release(&p);
    return n;
}

Test(store, appended_events_read_back_in_order)
{
    cr_assert_eq(append_n("todolist-a", 0, 3, NULL, NULL, NULL), ES_OK);
    struct es_event_page p;
    struct es_io io = {0};
    cr_assert_eq(store->ops->read_stream(store, "todolist-a", 1, 10, &p, &io, NULL),
                 ES_OK);
    cr_assert_eq(p.n, 3);
    cr_expect_eq(io.events_read, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_expect_str_eq(p.events[i].stream_id, "todolist-a");
        cr_expect_eq(p.events[i].version, (int64_t)i + 1);
        cr_expect_eq(p.events[i].schema, 1);
        cr_expect_eq(json_integer_value(json_object_get(p.events[i].data, "i")),
                     (json_int_t)i + 1);
        cr_expect_str_eq(
            json_string_value(json_object_get(p.events[i].meta, "correlationId")),
            "corr-1");
        cr_expect(json_is_null(json_object_get(p.events[i].meta, "causationId")));
    }
    cr_expect_str_eq(p.events[0].type, "E0");
    es_event_page_release(&p);
}

Test(store, a_taken_version_is_a_conflict_and_writes_nothing)
{
    cr_assert_eq(append_n("todolist-b", 0, 3, NULL, NULL, NULL), ES_OK);
    enum es_conflict c;
    cr_expect_eq(append_n("todolist-b", 0, 1, NULL, NULL, &c), ES_ECONFLICT);
    cr_expect_eq(c, ES_CONFLICT_VERSION);
    /* Three events from version 2: version 2 and 3 collide; 4 must not be written either.
     */
    cr_expect_eq(append_n("todolist-b", 1, 3, NULL, NULL, &c), ES_ECONFLICT);
    cr_expect_eq(c, ES_CONFLICT_VERSION);
    cr_expect_eq(stream_length("todolist-b"), 3, "a failed append leaves nothing behind");
    cr_expect_eq(append_n("todolist-b", 3, 2, NULL, NULL, NULL), ES_OK);
    cr_expect_eq(stream_length("todolist-b"), 5);
}

Test(store, an_expected_version_past_the_end_is_a_conflict)
{
    cr_assert_eq(append_n("todolist-c", 0, 1, NULL, NULL, NULL), ES_OK);
    enum es_conflict c;
    cr_expect_eq(append_n("todolist-c", 5, 1, NULL, NULL, &c), ES_ECONFLICT,
                 "versions stay gap-free");
    cr_expect_eq(c, ES_CONFLICT_VERSION);
    cr_expect_eq(stream_length("todolist-c"), 1);
}

Test(store, streams_are_independent)
{
    cr_assert_eq(append_n("todolist-d1", 0, 2, NULL, NULL, NULL), ES_OK);
    cr_assert_eq(append_n("todolist-d2", 0, 1, NULL, NULL, NULL), ES_OK);
    cr_expect_eq(stream_length("todolist-d1"), 2);
    cr_expect_eq(stream_length("todolist-d2"), 1);
    cr_expect_eq(stream_length("todolist-none"), 0, "an unknown stream reads empty");
}

Test(store, reads_are_paged)
{
    for (int i = 0; i < 5; i++)
        cr_assert_eq(append_n("todolist-p", i * 50, 50, NULL, NULL, NULL), ES_OK);
    struct es_event_page p;
    cr_assert_eq(store->ops->read_stream(store, "todolist-p", 101, 100, &p, NULL, NULL),
                 ES_OK);
    cr_expect_eq(p.n, 100);
    cr_expect_eq(p.events[0].version, 101);
    cr_expect_eq(p.events[99].version, 200);
    es_event_page_release(&p);
    cr_assert_eq(store->ops->read_stream(store, "todolist-p", 201, 100, &p, NULL, NULL),
                 ES_OK);
    cr_expect_eq(p.n, 50);
    es_event_page_release(&p);
    cr_assert_eq(store->ops->read_stream(store, "todolist-p", 251, 100, &p, NULL, NULL),
                 ES_OK);
    cr_expect_eq(p.n, 0);
    es_event_page_release(&p);
}

static struct es_receipt receipt(const char *key, const char *hash)
{
    struct es_receipt r = {.key = (char *)key,
                           .status = 201,
                           .body = "{\"id\":\"r\"}",
                           .version = 2,
                           .location = "/api/todolists/r",
                           .request_hash = (char *)hash,
                           .created_at = "2026-11-28T19:30:00.123Z"};
    return r;
}

Test(store, a_receipt_is_stored_with_its_events_and_collides_when_repeated)
{
    struct es_receipt r = receipt("key-1", "abc");
    cr_assert_eq(append_n("todolist-r", 0, 2, &r, NULL, NULL), ES_OK);
    struct es_receipt got;
    cr_assert_eq(store->ops->read_receipt(store, "todolist-r", "key-1", &got, NULL, NULL),
                 ES_OK);
    cr_expect_str_eq(got.key, "key-1");
    cr_expect_eq(got.status, 201);
    cr_expect_str_eq(got.body, "{\"id\":\"r\"}");
    cr_expect_eq(got.version, 2);
    cr_expect_str_eq(got.location, "/api/todolists/r");
    cr_expect_str_eq(got.request_hash, "abc");
    es_receipt_release(&got);

    enum es_conflict c;
    cr_expect_eq(append_n("todolist-r", 2, 1, &r, NULL, &c), ES_ECONFLICT);
    cr_expect_eq(c, ES_CONFLICT_RECEIPT, "the receipt tells a repeated command");
    cr_expect_eq(stream_length("todolist-r"), 2, "and its events are not written");
    cr_expect_eq(store->ops->read_receipt(store, "todolist-r", "key-2", &got, NULL, NULL),
                 ES_ENOTFOUND);
    cr_expect_eq(append_n("todolist-r2", 0, 1, &r, NULL, NULL), ES_OK,
                 "the same key on another stream is another command");
}

Test(store, a_version_conflict_does_not_store_the_receipt)
{
    cr_assert_eq(append_n("todolist-rv", 0, 1, NULL, NULL, NULL), ES_OK);
    struct es_receipt r = receipt("key-v", "h");
    enum es_conflict c;
    cr_expect_eq(append_n("todolist-rv", 0, 1, &r, NULL, &c), ES_ECONFLICT);
    cr_expect_eq(c, ES_CONFLICT_VERSION);
    struct es_receipt got;
    cr_expect_eq(
        store->ops->read_receipt(store, "todolist-rv", "key-v", &got, NULL, NULL),
        ES_ENOTFOUND, "the failed append left no receipt");
}

Test(store, snapshots_are_written_with_events_and_replaced)
{
    struct es_snapshot none;
    cr_expect_eq(store->ops->read_snapshot(store, "todolist-s", &none, NULL, NULL),
                 ES_ENOTFOUND);
    json_t *state = json_pack("{s:i}", "count", 3);
    struct es_snapshot snap = {.version = 3, .schema = 1, .state = state};
    cr_assert_eq(append_n("todolist-s", 0, 3, NULL, &snap, NULL), ES_OK);
    struct es_snapshot got;
    cr_assert_eq(store->ops->read_snapshot(store, "todolist-s", &got, NULL, NULL), ES_OK);
    cr_expect_eq(got.version, 3);
    cr_expect_eq(got.schema, 1);
    cr_expect(json_equal(got.state, state));
    es_snapshot_release(&got);
    json_object_set_new(state, "count", json_integer(5));
    snap.version = 5;
    cr_assert_eq(append_n("todolist-s", 3, 2, NULL, &snap, NULL), ES_OK);
    cr_assert_eq(store->ops->read_snapshot(store, "todolist-s", &got, NULL, NULL), ES_OK);
    cr_expect_eq(got.version, 5);
    cr_expect_eq(json_integer_value(json_object_get(got.state, "count")), 5);
    es_snapshot_release(&got);
    /* A conflicting append must not replace the snapshot either. */
    snap.version = 99;
    cr_expect_eq(append_n("todolist-s", 1, 1, NULL, &snap, NULL), ES_ECONFLICT);
    cr_assert_eq(store->ops->read_snapshot(store, "todolist-s", &got, NULL, NULL), ES_OK);
    cr_expect_eq(got.version, 5);
    es_snapshot_release(&got);
    json_decref(state);
}

struct racer {
    int id;
    int appended;
};

/* Read the version, append one event, retry on conflict: the command loop in miniature.
 */
static void *race(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < 10; i++) {
        for (;;) {
            size_t v = 0;
            struct es_event_page p;
            if (store->ops->read_stream(store, "todolist-race", 1, 100000, &p, NULL,
                                        NULL) != ES_OK)
                return NULL;
            v = p.n;
            es_event_page_release(&p);
            enum es_conflict c;
            enum es_status st = append_n("todolist-race", (int64_t)v, 1, NULL, NULL, &c);
            if (st == ES_OK) {
                r->appended++;
                break;
            }
            if (st != ES_ECONFLICT)
                return NULL;
        }
    }
    return NULL;
}

Test(store, concurrent_writers_never_share_a_version)
{
    enum { N = 8 };
    pthread_t t[N];
    struct racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){.id = i};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        total += r[i].appended;
    }
    cr_expect_eq(total, N * 10);
    cr_expect_eq(stream_length("todolist-race"), (size_t)N * 10);
}

static json_t *view(const char *id, const char *kind, int version)
{
    return json_pack("{s:s, s:s, s:i}", "id", id, "view", kind, "version", version);
}

Test(store, views_are_replaced_only_under_their_etag)
{
    json_t *doc;
    char *etag;
    cr_expect_eq(store->ops->view_get(store, "todolist:1", &doc, &etag, NULL, NULL),
                 ES_ENOTFOUND);
    json_t *v1 = view("todolist:1", "todolist", 1);
    char *e1 = NULL;
    cr_assert_eq(store->ops->view_put(store, v1, NULL, &e1, NULL, NULL), ES_OK);
    cr_expect_eq(store->ops->view_put(store, v1, NULL, NULL, NULL, NULL), ES_ECONFLICT,
                 "create refuses an existing view");
    cr_assert_eq(store->ops->view_get(store, "todolist:1", &doc, &etag, NULL, NULL),
                 ES_OK);
    cr_expect(json_equal(doc, v1));
    cr_expect_str_eq(etag, e1);
    json_decref(doc);
    free(etag);
    json_t *v2 = view("todolist:1", "todolist", 2);
    char *e2 = NULL;
    cr_assert_eq(store->ops->view_put(store, v2, e1, &e2, NULL, NULL), ES_OK);
    cr_expect_str_neq(e1, e2, "a write changes the etag");
    cr_expect_eq(store->ops->view_put(store, v1, e1, NULL, NULL, NULL), ES_EPRECONDITION,
                 "a stale etag is refused");
    cr_assert_eq(store->ops->view_get(store, "todolist:1", &doc, &etag, NULL, NULL),
                 ES_OK);
    cr_expect_eq(json_integer_value(json_object_get(doc, "version")), 2);
    json_decref(doc);
    free(etag);
    free(e1);
    free(e2);
    json_decref(v1);
    json_decref(v2);
}

/* views_put of two views; the etags it gave back into etags (when it wrote). */
static enum es_status put_two(json_t *a, const char *if_a, json_t *b, const char *if_b,
                              size_t *refused, char **etags)
{
    struct es_view_write w[2] = {{a, if_a, NULL, 0}, {b, if_b, NULL, 0}};
    enum es_status st = store->ops->views_put(store, w, 2, refused, NULL, NULL);
    etags[0] = w[0].etag;
    etags[1] = w[1].etag;
    if (st != ES_OK)
        cr_expect(w[0].etag == NULL && w[1].etag == NULL, "no etag without a write");
    for (int i = 0; st == ES_OK && i < 2; i++) {
        /* As stored: Cosmos DB's copy also holds its partition key. */
        size_t json = json_dumpb(w[i].doc, NULL, 0, JSON_COMPACT);
        cr_expect(w[i].bytes >= json && w[i].bytes < json + 64,
                  "view %d: %zu bytes, as JSON %zu", i, w[i].bytes, json);
    }
    return st;
}

static int64_t stored_version(const char *id, const char *etag)
{
    json_t *doc = NULL;
    char *got = NULL;
    if (store->ops->view_get(store, id, &doc, &got, NULL, NULL) != ES_OK)
        return -1;
    cr_expect_null(json_object_get(doc, "partitionKey"), "no store field is read back");
    if (etag != NULL)
        cr_expect_str_eq(got, etag, "%s: the etag views_put gave", id);
    int64_t v = (int64_t)json_integer_value(json_object_get(doc, "version"));
    json_decref(doc);
    free(got);
    return v;
}

Test(store, a_partitions_views_are_written_together_or_not_at_all)
{
    json_t *l1 = view("todolist:p", "todolist", 1), *s1 = view("summary:p", "summary", 1);
    json_t *l2 = view("todolist:p", "todolist", 2), *s2 = view("summary:p", "summary", 2);
    char *e1[2], *e2[2], *e3[2];
    size_t refused = 9;
    cr_assert_eq(put_two(l1, NULL, s1, NULL, &refused, e1), ES_OK);
    cr_expect_eq(stored_version("todolist:p", e1[0]), 1);
    cr_expect_eq(stored_version("summary:p", e1[1]), 1);

    cr_expect_eq(put_two(l2, e1[0], s2, "\"stale\"", &refused, e2), ES_EPRECONDITION);
    cr_expect_eq(refused, 1, "the second write was refused");
    cr_expect_eq(stored_version("todolist:p", e1[0]), 1, "and the first not made");

    cr_expect_eq(put_two(l2, e1[0], s1, NULL, &refused, e2), ES_ECONFLICT);
    cr_expect_eq(refused, 1, "a create of a view that exists");
    cr_expect_eq(stored_version("todolist:p", e1[0]), 1);

    json_t *missing = view("summary:p", "summary", 2);
    cr_expect_eq(store->ops->view_put(store, missing, "\"1\"", NULL, NULL, NULL),
                 ES_EPRECONDITION, "a view that is there, under another etag");
    json_t *nowhere = view("summary:none", "summary", 2);
    cr_expect_eq(store->ops->view_put(store, nowhere, e1[1], NULL, NULL, NULL),
                 ES_ENOTFOUND, "a replace of a view that is not there");
    json_t *l_none = view("todolist:none", "todolist", 1);
    cr_expect_eq(put_two(l_none, NULL, nowhere, e1[1], &refused, e2), ES_ENOTFOUND);
    cr_expect_eq(refused, 1);
    cr_expect_eq(stored_version("todolist:none", NULL), -1, "nor its sibling's create");
    json_decref(missing), json_decref(nowhere), json_decref(l_none);

    json_t *gone = view("summary:q", "summary", 1);
    cr_expect_neq(put_two(l2, e1[0], gone, NULL, &refused, e2), ES_OK,
                  "views of two partitions are not written at once");
    cr_expect_eq(stored_version("summary:q", NULL), -1);
    cr_expect_eq(stored_version("todolist:p", e1[0]), 1);

    cr_assert_eq(put_two(l2, e1[0], s2, e1[1], &refused, e3), ES_OK);
    cr_expect_eq(stored_version("todolist:p", e3[0]), 2);
    cr_expect_eq(stored_version("summary:p", e3[1]), 2);
    cr_expect_str_neq(e3[0], e1[0], "a write changes the etag");
    for (int i = 0; i < 2; i++) {
        free(e1[i]);
        free(e3[i]);
    }
    json_decref(l1), json_decref(s1), json_decref(l2), json_decref(s2), json_decref(gone);
}

Test(store, views_too_big_for_one_batch_are_refused_as_such)
{
    /* Each fits in a document; together they pass what one batch carries. */
    size_t pad = ES_STORE_BATCH_MAX_BYTES / 2 + 1000;
    char *text = malloc(pad + 1);
    memset(text, 'x', pad);
    text[pad] = '\0';
    json_t *a = view("todolist:big", "todolist", 1),
           *b = view("summary:big", "summary", 1);
    json_object_set_new(a, "pad", json_string(text));
    json_object_set_new(b, "pad", json_string(text));
    free(text);
    char *e[2];
    size_t refused;
    cr_expect_eq(put_two(a, NULL, b, NULL, &refused, e), ES_ETOOBIG);
    cr_expect_eq(stored_version("todolist:big", NULL), -1, "nothing written");
    cr_assert_eq(store->ops->view_put(store, a, NULL, NULL, NULL, NULL), ES_OK,
                 "one by one they fit");
    cr_assert_eq(store->ops->view_put(store, b, NULL, NULL, NULL, NULL), ES_OK);
    json_decref(a);
    json_decref(b);
}

Test(store, views_are_listed_by_kind_in_pages)
{
    for (int i = 0; i < 7; i++) {
        char id[32];
        snprintf(id, sizeof(id), "summary:%02d", i);
        json_t *v = view(id, "summary", 1);
        cr_assert_eq(store->ops->view_put(store, v, NULL, NULL, NULL, NULL), ES_OK);
        json_decref(v);
    }
    json_t *other = view("todolist:x", "todolist", 1);
    cr_assert_eq(store->ops->view_put(store, other, NULL, NULL, NULL, NULL), ES_OK);
    json_decref(other);
    char *cont = NULL;
    size_t seen = 0;
    int pages = 0;
    do {
        json_t *docs = NULL;
        char *next = NULL;
        cr_assert_eq(
            store->ops->view_query(store, "summary", cont, 3, &docs, &next, NULL, NULL),
            ES_OK);
        seen += json_array_size(docs);
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d)
        {
            cr_expect_str_eq(json_string_value(json_object_get(d, "view")), "summary");
        }
        json_decref(docs);
        free(cont);
        cont = next;
        pages++;
    } while (cont != NULL && pages < 10);
    cr_expect_eq(seen, 7);
    cr_expect_eq(pages, 3);
}

Test(store, dead_letters_are_kept_and_listed)
{
    for (int i = 0; i < 3; i++) {
        char id[64];
        snprintf(id, sizeof(id), "todolist-z:%d:dead", i + 1);
        json_t *d = json_pack("{s:s, s:s, s:s, s:i}", "id", id, "streamId", "todolist-z",
                              "error", "boom", "attempts", 6);
        cr_assert_eq(store->ops->deadletter_put(store, d, NULL, NULL), ES_OK);
        cr_assert_eq(store->ops->deadletter_put(store, d, NULL, NULL), ES_OK,
                     "idempotent");
        json_decref(d);
    }
    json_t *docs = NULL;
    char *next = NULL;
    cr_assert_eq(store->ops->deadletter_query(store, NULL, 10, &docs, &next, NULL, NULL),
                 ES_OK);
    cr_expect_eq(json_array_size(docs), 3);
    cr_expect_null(next);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(docs, 0), "error")),
                     "boom");
    json_decref(docs);
}

Test(store, a_dead_letter_is_read_and_deleted_by_its_id)
{
    json_t *d = json_pack("{s:s, s:s, s:s, s:i}", "id", "todolist-y:4:dead", "streamId",
                          "todolist-y", "error", "boom", "attempts", 2);
    cr_assert_eq(store->ops->deadletter_put(store, d, NULL, NULL), ES_OK);
    json_t *other = json_pack("{s:s, s:s, s:s, s:i}", "id", "todolist-y:5:dead",
                              "streamId", "todolist-y", "error", "bang", "attempts", 1);
    cr_assert_eq(store->ops->deadletter_put(store, other, NULL, NULL), ES_OK);
    json_t *got = NULL;
    cr_assert_eq(store->ops->deadletter_get(store, "todolist-y:4:dead", &got, NULL, NULL),
                 ES_OK);
    cr_expect(json_equal(got, d), "read back as written, without system fields");
    json_decref(got);
    got = NULL;
    cr_expect_eq(store->ops->deadletter_get(store, "todolist-y:9:dead", &got, NULL, NULL),
                 ES_ENOTFOUND);
    cr_expect_eq(store->ops->deadletter_get(store, "no-colon", &got, NULL, NULL),
                 ES_ENOTFOUND);
    cr_expect_null(got);
    cr_assert_eq(store->ops->deadletter_delete(store, "todolist-y:4:dead", NULL, NULL),
                 ES_OK);
    cr_expect_eq(store->ops->deadletter_delete(store, "todolist-y:4:dead", NULL, NULL),
                 ES_ENOTFOUND, "gone");
    cr_expect_eq(store->ops->deadletter_get(store, "todolist-y:4:dead", &got, NULL, NULL),
                 ES_ENOTFOUND);
    cr_expect_eq(store->ops->deadletter_get(store, "todolist-y:5:dead", &got, NULL, NULL),
                 ES_OK, "the other one stays");
    json_decref(got);
    json_decref(d);
    json_decref(other);
}

/* Appends "stream:version" of each event of p to seen. */
static void page_ids(const struct es_event_page *p, json_t *seen)
{
    for (size_t i = 0; i < p->n; i++) {
        char id[ES_DOC_ID_MAX];
        cr_assert_eq(
            es_event_id(p->events[i].stream_id, p->events[i].version, id, sizeof(id)),
            ES_OK);
        json_array_append_new(seen, json_string(id));
    }
}

/* Scans to the end from cursor (updated), collecting "stream:version" in order. */
static json_t *scan_all(char **cursor, size_t max)
{
    json_t *seen = json_array();
    for (int pages = 0; pages < 1000; pages++) {
        struct es_event_page p = {0};
        size_t skipped = 99;
        cr_assert_eq(
            store->ops->events_scan(store, cursor, max, &p, &skipped, NULL, NULL), ES_OK);
        cr_expect_eq(skipped, 0, "snapshots and receipts are not events, not malformed");
        /* Cosmos DB keeps one transactional batch's documents on one page. */
        cr_expect_leq(p.n, max + 5);
        page_ids(&p, seen);
        size_t n = p.n;
        es_event_page_release(&p);
        if (n == 0)
            return seen;
        cr_assert_not_null(*cursor, "a page leaves a cursor");
    }
    cr_assert_fail("the scan never ended");
    return seen;
}

Test(store, a_scan_reads_every_event_once_with_each_stream_in_order_and_goes_on_later)
{
    struct es_snapshot snap = {3, 1, json_pack("{s:i}", "n", 3)};
    struct es_receipt r = receipt("key-s", "hash");
    cr_assert_eq(append_n("todolist-s1", 0, 3, &r, &snap, NULL), ES_OK);
    cr_assert_eq(append_n("todolist-s2", 0, 2, NULL, NULL, NULL), ES_OK);
    cr_assert_eq(append_n("todolist-s1", 3, 2, NULL, NULL, NULL), ES_OK);
    json_decref(snap.state);
    int64_t n = -1;
    cr_assert_eq(store->ops->events_count(store, &n, NULL, NULL), ES_OK);
    cr_expect_eq(n, 7);
    char *cursor = NULL;
    json_t *seen = scan_all(&cursor, 2);
    cr_assert_eq(json_array_size(seen), 7, "every event once");
    int64_t last[2] = {0, 0};
    size_t i;
    json_t *id;
    json_array_foreach(seen, i, id)
    {
        const char *text = json_string_value(id);
        int k = strncmp(text, "todolist-s1:", 12) == 0 ? 0 : 1;
        long long v = strtoll(strchr(text, ':') + 1, NULL, 10);
        cr_expect_eq(v, last[k] + 1, "%s follows version %lld", text, (long long)last[k]);
        last[k] = v;
    }
    json_decref(seen);
    /* The same cursor later finds only what was appended since. */
    cr_assert_eq(append_n("todolist-s3", 0, 1, NULL, NULL, NULL), ES_OK);
    seen = scan_all(&cursor, 100);
    cr_expect_eq(json_array_size(seen), 1);
    cr_expect_str_eq(json_string_value(json_array_get(seen, 0)), "todolist-s3:1");
    json_decref(seen);
    free(cursor);
    char *bad = strdup("not a cursor {");
    struct es_event_page p = {0};
    size_t skipped = 0;
    cr_expect_eq(store->ops->events_scan(store, &bad, 10, &p, &skipped, NULL, NULL),
                 ES_EINVAL);
    free(bad);
}

Test(store, the_change_feed_follows_the_global_order)
{
    if (store->ops->feed_read == NULL)
        cr_skip_test("this store has no change feed of its own");
    cr_assert_eq(append_n("todolist-f1", 0, 2, NULL, NULL, NULL), ES_OK);
    cr_assert_eq(append_n("todolist-f2", 0, 1, NULL, NULL, NULL), ES_OK);
    cr_assert_eq(append_n("todolist-f1", 2, 1, NULL, NULL, NULL), ES_OK);
    struct es_event_page p;
    cr_assert_eq(store->ops->feed_read(store, 0, 3, &p, NULL, NULL), ES_OK);
    cr_assert_eq(p.n, 3);
    cr_expect_str_eq(p.events[2].stream_id, "todolist-f2");
    cr_expect_lt(p.events[0].seq, p.events[1].seq);
    int64_t last = p.events[2].seq;
    es_event_page_release(&p);
    cr_assert_eq(store->ops->feed_read(store, last, 10, &p, NULL, NULL), ES_OK);
    cr_assert_eq(p.n, 1);
    cr_expect_str_eq(p.events[0].stream_id, "todolist-f1");
    cr_expect_eq(p.events[0].version, 3);
    es_event_page_release(&p);

    int64_t seq = -1;
    cr_assert_eq(store->ops->checkpoint_get(store, "projector", &seq, NULL, NULL), ES_OK);
    cr_expect_eq(seq, 0, "a checkpoint never written reads 0");
    cr_assert_eq(store->ops->checkpoint_put(store, "projector", last, NULL, NULL), ES_OK);
    cr_assert_eq(store->ops->checkpoint_get(store, "projector", &seq, NULL, NULL), ES_OK);
    cr_expect_eq(seq, last);
}

Test(store, a_view_may_change_its_kind_and_leaves_the_old_listing)
{
    json_t *v = view("summary:k", "summary", 1);
    char *e1 = NULL, *e2 = NULL;
    cr_assert_eq(store->ops->view_put(store, v, NULL, &e1, NULL, NULL), ES_OK);
    json_object_set_new(v, "view", json_string("summary-deleted"));
    cr_assert_eq(store->ops->view_put(store, v, e1, &e2, NULL, NULL), ES_OK,
                 "a replace under the right etag may change the kind");
    json_t *docs = NULL;
    char *next = NULL;
    cr_assert_eq(
        store->ops->view_query(store, "summary", NULL, 10, &docs, &next, NULL, NULL),
        ES_OK);
    cr_expect_eq(json_array_size(docs), 0);
    json_decref(docs);
    cr_assert_eq(store->ops->view_query(store, "summary-deleted", NULL, 10, &docs, &next,
                                        NULL, NULL),
                 ES_OK);
    cr_expect_eq(json_array_size(docs), 1);
    json_decref(docs);
    free(e1);
    free(e2);
    json_decref(v);
}

Test(store, a_continuation_from_elsewhere_is_refused)
{
    json_t *docs = NULL;
    char *next = NULL;
    cr_expect_neq(store->ops->view_query(store, "summary", "garbage!", 10, &docs, &next,
                                         NULL, NULL),
                  ES_OK);
    cr_expect_neq(
        store->ops->deadletter_query(store, "garbage!", 10, &docs, &next, NULL, NULL),
        ES_OK);
}

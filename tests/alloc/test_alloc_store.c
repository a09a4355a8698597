/*
 * The SQLite store's operations, with every allocation failing in turn:
 * appends (with a receipt and a snapshot, and one that conflicts), pages of
 * events and of the change feed, snapshots, receipts, views (created,
 * replaced, refused, paged), checkpoints and dead letters. A write that fails
 * leaves the store as it was; a read that fails returns nothing, and one that
 * answers returns every row (sweep.h says what else is checked).
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "store/store.h"
#include "alloc_fail.h"
#include "scenario.h"
#include "sweep.h"

/* A run's state is its store alone (struct scenario_db). */
static void *open_run(void)
{
    struct scenario_db *db = calloc(1, sizeof(*db));
    cr_assert_not_null(db);
    scenario_db_open(db, "store", NULL);
    return db;
}

static void close_run(void *state)
{
    scenario_db_close(state);
    free(state);
}

/* ---- answers, built with counting paused ---- */

static char *text_of(enum es_status st, const char *what, json_t *v)
{
    return sweep_text(st, what, v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static char *page_text(enum es_status st, const struct es_event_page *p)
{
    alloc_fail_pause();
    json_t *arr = st == ES_OK ? scenario_page_json(p) : json_array();
    alloc_fail_resume();
    return text_of(st, "page", arr);
}

/* ---- the steps ---- */

/* The types of an append's events, in turn. */
static const char *const types[] = {"ItemAdded", "TaskRenamed", "ItemAdded"};

static enum es_status append(struct es_store *s, int64_t expected, int n, bool keyed,
                             char **out)
{
    struct scenario_write w = {.stream = "s-1",
                               .expected = expected,
                               .n = (size_t)n,
                               .types = types,
                               .keyed = keyed};
    alloc_fail_pause();
    for (int i = 0; i < n; i++)
        w.data[i] = json_pack("{s:I, s:s}", "n", (json_int_t)(expected + i + 1), "text",
                              "a value long enough to make the parser grow its buffer");
    w.state = json_pack("{s:I, s:[s, s]}", "n", (json_int_t)(expected + n), "items",
                        "first item of the state", "second one");
    alloc_fail_resume();
    enum es_conflict conflict;
    enum es_status st = scenario_append(s, &w, &conflict);
    if (scenario_answer(st))
        *out = text_of(st,
                       conflict == ES_CONFLICT_VERSION   ? "version"
                       : conflict == ES_CONFLICT_RECEIPT ? "receipt"
                                                         : "none",
                       NULL);
    return scenario_answer(st) ? ES_OK : st;
}

static enum es_status read_page(struct es_store *s, bool feed, int64_t from, size_t max,
                                char **out)
{
    struct es_event_page p = {0};
    enum es_status st = feed ? s->ops->feed_read(s, from, max, &p, NULL, NULL)
                             : s->ops->read_stream(s, "s-1", from, max, &p, NULL, NULL);
    if (scenario_answer(st))
        *out = page_text(st, &p);
    es_event_page_release(&p);
    return scenario_answer(st) ? ES_OK : st;
}

static enum es_status put_view(struct es_store *s, const char *id, const char *if_match,
                               char **out)
{
    alloc_fail_pause();
    json_t *doc =
        json_pack("{s:s, s:s, s:I, s:[{s:s, s:s}]}", "id", id, "view", "k", "version",
                  (json_int_t)(if_match != NULL ? 2 : 1), "items", "task",
                  "a task long enough to grow the serialiser's buffer", "status", "Done");
    alloc_fail_resume();
    char *etag = NULL;
    enum es_status st = scenario_view_put(s, doc, if_match, &etag);
    if (scenario_answer(st))
        *out = text_of(st, etag != NULL ? etag : "-", NULL);
    free(etag);
    return scenario_answer(st) ? ES_OK : st;
}

static enum es_status query(struct es_store *s, bool dead, const char *cont, char **out)
{
    json_t *docs = NULL;
    char *next = NULL;
    enum es_status st =
        dead ? s->ops->deadletter_query(s, cont, 10, &docs, &next, NULL, NULL)
             : s->ops->view_query(s, "k", cont, 2, &docs, &next, NULL, NULL);
    if (scenario_answer(st))
        *out = text_of(st, next != NULL ? next : "last", json_incref(docs));
    json_decref(docs);
    free(next);
    return scenario_answer(st) ? ES_OK : st;
}

static enum es_status step(void *state, size_t i, char **out)
{
    struct es_store *s = ((struct scenario_db *)state)->store;
    enum es_status st;
    switch (i) {
    case 0:
        return append(s, 0, 3, true, out);
    case 1:
        return append(s, 3, 2, false, out);
    case 2:
        return append(s, 3, 1, false, out); /* version 4 is taken */
    case 3:
        return read_page(s, false, 1, 10, out);
    case 4:
        return read_page(s, false, 4, 1, out);
    case 5:
        return read_page(s, true, 0, 10, out);
    case 6: {
        struct es_snapshot snap = {0};
        st = s->ops->read_snapshot(s, "s-1", &snap, NULL, NULL);
        if (scenario_answer(st)) {
            alloc_fail_pause();
            json_t *v = json_pack("{s:I, s:i, s:O?}", "version", (json_int_t)snap.version,
                                  "schema", snap.schema, "state", snap.state);
            alloc_fail_resume();
            *out = text_of(st, "snapshot", v);
        }
        es_snapshot_release(&snap);
        return scenario_answer(st) ? ES_OK : st;
    }
    case 7:
    case 8: {
        struct es_receipt r = {0};
        st = s->ops->read_receipt(s, "s-1", i == 7 ? "key-1" : "key-2", &r, NULL, NULL);
        if (scenario_answer(st)) {
            alloc_fail_pause();
            json_t *v = st != ES_OK ? NULL
                                    : json_pack("{s:s, s:i, s:s, s:I, s:s?, s:s, s:s}",
                                                "key", r.key, "status", r.status, "body",
                                                r.body, "version", (json_int_t)r.version,
                                                "location", r.location, "hash",
                                                r.request_hash, "at", r.created_at);
            alloc_fail_resume();
            *out = text_of(st, "receipt", v);
        }
        es_receipt_release(&r);
        return scenario_answer(st) ? ES_OK : st;
    }
    case 9:
        return put_view(s, "v:1", NULL, out);
    case 10:
        return put_view(s, "v:2", NULL, out);
    case 11:
        return put_view(s, "v:3", NULL, out);
    case 12:
        return put_view(s, "v:1", NULL, out); /* exists: a conflict */
    case 13: {
        json_t *doc = NULL;
        char *etag = NULL;
        st = s->ops->view_get(s, "v:1", &doc, &etag, NULL, NULL);
        if (scenario_answer(st))
            *out = text_of(st, etag != NULL ? etag : "-", json_incref(doc));
        json_decref(doc);
        free(etag);
        return scenario_answer(st) ? ES_OK : st;
    }
    case 14:
        return put_view(s, "v:1", "1", out);
    case 15:
        return put_view(s, "v:1", "1", out); /* the etag moved on: 412 */
    case 16:
        return query(s, false, NULL, out);
    case 17:
        return query(s, false, "after:v:2", out);
    case 18:
        if ((st = s->ops->checkpoint_put(s, "pump", 4, NULL, NULL)) == ES_OK)
            *out = text_of(st, "checkpoint", NULL);
        return st;
    case 19: {
        int64_t seq = -1;
        if ((st = s->ops->checkpoint_get(s, "pump", &seq, NULL, NULL)) == ES_OK) {
            alloc_fail_pause();
            json_t *v = json_integer((json_int_t)seq);
            alloc_fail_resume();
            *out = text_of(st, "checkpoint", v);
        }
        return st;
    }
    case 20: {
        alloc_fail_pause();
        json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "id", "s-1:2:dead", "streamId",
                                "s-1", "error", "a reason long enough to need some room",
                                "failedAt", "2026-01-01T00:00:00.000Z");
        alloc_fail_resume();
        st = s->ops->deadletter_put(s, doc, NULL, NULL);
        alloc_fail_pause();
        json_decref(doc);
        alloc_fail_resume();
        if (st == ES_OK)
            *out = text_of(st, "dead letter", NULL);
        return st;
    }
    default:
        return query(s, true, NULL, out);
    }
}

static const struct sweep_scenario store_scenario = {
    .name = "sqlite store",
    .n_steps = 22,
    .open = open_run,
    .close = close_run,
    .step = step,
    .dump = scenario_db_dump,
};

Test(alloc, sqlite_store_operations_are_whole_or_fail_cleanly, .init = sweep_setup,
     .fini = sweep_teardown, .timeout = 300)
{
    sweep_test(&store_scenario);
}

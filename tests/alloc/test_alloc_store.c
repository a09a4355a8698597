/*
 * The SQLite store's operations, with every allocation failing in turn:
 * appends (with a receipt and a snapshot, and one that conflicts), pages of
 * events and of the change feed, snapshots, receipts, views (created,
 * replaced, refused, paged), checkpoints and dead letters. A write that fails
 * leaves the store as it was; a read that fails returns nothing, and one that
 * answers returns every row (sweep.h says what else is checked).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "alloc_fail.h"
#include "sweep.h"

struct store_run {
    char path[256];
    struct es_store *store;
};

static const char *dir;

static void *open_run(void)
{
    static int n;
    struct store_run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    snprintf(r->path, sizeof(r->path), "%s/store-%d.db", dir, n++);
    cr_assert_eq(es_store_sqlite_open(r->path, &r->store, NULL), ES_OK);
    return r;
}

static void close_run(void *state)
{
    struct store_run *r = state;
    es_store_close(r->store);
    char p[300];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", r->path, suffix[i]);
        unlink(p);
    }
    free(r);
}

static char *dump(void *state)
{
    return sweep_dump_sqlite(((struct store_run *)state)->path);
}

/* ---- answers, built with counting paused ---- */

static char *text_of(enum es_status st, const char *what, json_t *v)
{
    alloc_fail_pause();
    char *body = v != NULL ? es_json_dumps(v, NULL) : NULL;
    size_t n = 64 + strlen(what) + (body != NULL ? strlen(body) : 0);
    char *text = malloc(n);
    cr_assert(text != NULL && (v == NULL || body != NULL));
    snprintf(text, n, "%s %s %s", es_status_name(st), what, body != NULL ? body : "-");
    free(body);
    json_decref(v);
    alloc_fail_resume();
    return text;
}

static char *page_text(enum es_status st, const struct es_event_page *p)
{
    alloc_fail_pause();
    json_t *arr = json_array();
    for (size_t i = 0; st == ES_OK && i < p->n; i++) {
        const struct es_event *e = &p->events[i];
        json_array_append_new(arr, json_pack("{s:I, s:s, s:I, s:s, s:i, s:O, s:O}", "seq",
                                             (json_int_t)e->seq, "stream", e->stream_id,
                                             "version", (json_int_t)e->version, "type",
                                             e->type, "schema", e->schema, "data",
                                             e->data, "meta", e->meta));
    }
    alloc_fail_resume();
    return text_of(st, "page", arr);
}

/* The statuses that are answers of the store, not failures. */
static bool answer(enum es_status st)
{
    return st == ES_OK || st == ES_ECONFLICT || st == ES_ENOTFOUND ||
           st == ES_EPRECONDITION;
}

/* ---- the steps ---- */

static enum es_status append(struct es_store *s, int64_t expected, int n, bool keyed,
                             char **out)
{
    alloc_fail_pause();
    json_t *data[3],
        *meta = json_pack("{s:s, s:n}", "correlationId", "corr-1", "causationId");
    struct es_new_event ev[3];
    for (int i = 0; i < n; i++) {
        data[i] = json_pack("{s:I, s:s}", "n", (json_int_t)(expected + i + 1), "text",
                            "a value long enough to make the parser grow its buffer");
        ev[i] =
            (struct es_new_event){i % 2 ? "TaskRenamed" : "ItemAdded", 1, data[i], meta};
    }
    json_t *state = json_pack("{s:I, s:[s, s]}", "n", (json_int_t)(expected + n), "items",
                              "first item of the state", "second one");
    alloc_fail_resume();
    struct es_receipt receipt = {.key = "key-1",
                                 .status = 201,
                                 .body = "{\"id\":\"1\",\"version\":3,\"events\":[]}",
                                 .version = expected + n,
                                 .location = "/api/things/1",
                                 .request_hash = "9f86d081884c7d659a2feaa0c55ad015",
                                 .created_at = "2026-01-01T00:00:00.000Z"};
    struct es_snapshot snap = {.version = expected + n, .schema = 1, .state = state};
    struct es_append a = {
        "s-1", expected, ev, (size_t)n, keyed ? &receipt : NULL, keyed ? &snap : NULL};
    enum es_conflict conflict = ES_CONFLICT_NONE;
    enum es_status st = s->ops->append(s, &a, &conflict, NULL, NULL);
    alloc_fail_pause();
    for (int i = 0; i < n; i++)
        json_decref(data[i]);
    json_decref(meta);
    json_decref(state);
    alloc_fail_resume();
    if (answer(st))
        *out = text_of(st,
                       conflict == ES_CONFLICT_VERSION   ? "version"
                       : conflict == ES_CONFLICT_RECEIPT ? "receipt"
                                                         : "none",
                       NULL);
    return answer(st) ? ES_OK : st;
}

static enum es_status read_page(struct es_store *s, bool feed, int64_t from, size_t max,
                                char **out)
{
    struct es_event_page p = {0};
    enum es_status st = feed ? s->ops->feed_read(s, from, max, &p, NULL, NULL)
                             : s->ops->read_stream(s, "s-1", from, max, &p, NULL, NULL);
    if (answer(st))
        *out = page_text(st, &p);
    es_event_page_release(&p);
    return answer(st) ? ES_OK : st;
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
    enum es_status st = s->ops->view_put(s, doc, if_match, &etag, NULL, NULL);
    if (answer(st))
        *out = text_of(st, etag != NULL ? etag : "-", NULL);
    free(etag);
    alloc_fail_pause();
    json_decref(doc);
    alloc_fail_resume();
    return answer(st) ? ES_OK : st;
}

static enum es_status query(struct es_store *s, bool dead, const char *cont, char **out)
{
    json_t *docs = NULL;
    char *next = NULL;
    enum es_status st =
        dead ? s->ops->deadletter_query(s, cont, 10, &docs, &next, NULL, NULL)
             : s->ops->view_query(s, "k", cont, 2, &docs, &next, NULL, NULL);
    if (answer(st))
        *out = text_of(st, next != NULL ? next : "last", json_incref(docs));
    json_decref(docs);
    free(next);
    return answer(st) ? ES_OK : st;
}

static enum es_status step(void *state, size_t i, char **out)
{
    struct es_store *s = ((struct store_run *)state)->store;
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
        if (answer(st)) {
            alloc_fail_pause();
            json_t *v = json_pack("{s:I, s:i, s:O?}", "version", (json_int_t)snap.version,
                                  "schema", snap.schema, "state", snap.state);
            alloc_fail_resume();
            *out = text_of(st, "snapshot", v);
        }
        es_snapshot_release(&snap);
        return answer(st) ? ES_OK : st;
    }
    case 7:
    case 8: {
        struct es_receipt r = {0};
        st = s->ops->read_receipt(s, "s-1", i == 7 ? "key-1" : "key-2", &r, NULL, NULL);
        if (answer(st)) {
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
        return answer(st) ? ES_OK : st;
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
        if (answer(st))
            *out = text_of(st, etag != NULL ? etag : "-", json_incref(doc));
        json_decref(doc);
        free(etag);
        return answer(st) ? ES_OK : st;
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
    .dump = dump,
};

static void setup(void)
{
    es_log_set_level(ES_LOG_OFF);
    dir = sweep_dir();
}

static void teardown(void)
{
    rmdir(dir);
}

Test(alloc, sqlite_store_operations_are_whole_or_fail_cleanly, .init = setup,
     .fini = teardown, .timeout = 300)
{
    struct sweep_stats stats;
    sweep_run(&store_scenario, &stats);
    cr_expect_gt(stats.failed, 0, "no allocation failure reached a failure path");
}

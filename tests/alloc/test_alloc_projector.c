/*
 * The projector on the SQLite store, with every allocation failing in turn:
 * a change-feed batch over two lists (one already partly projected), with a
 * duplicate, a hole the store fills, and a move whose reaction runs a command
 * on the other list; then the batch the reaction caused; then the first batch
 * again, as the host redelivers it. A failed batch may have finished some
 * streams and not others, but every view must be the fold of its stream up
 * to the version it records, and a move is never settled twice; the batch
 * sent again must end where a run without failures ends (sweep.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain/todo_views.h"
#include "es/redrive.h"
#include "functions/readside.h"
#include "alloc_fail.h"
#include "scenario.h"
#include "sweep.h"

struct projector_run {
    struct scenario_db db; /* first: scenario_db_dump */
    struct es_engine *engine;
    struct fn_services svc;
    json_t *batch; /* the first batch, as the change feed delivers it */
};

static char baseline[256];

/* The engine the move's reaction runs its command with. */
static struct es_engine *new_engine(struct es_store *store)
{
    return scenario_engine_new(store, 10);
}

/* ---- the stored lists ---- */

#define MOVED_TASK "Bread and butter for the whole week"

struct stored {
    const char *stream, *type, *data;
};

static const struct stored history[] = {
    {"todolist-a", "TodoListCreated", "{\"name\":\"Groceries for the weekend\"}"},
    {"todolist-a", "ItemAdded",
     "{\"itemId\":\"x1\",\"task\":\"Milk\",\"status\":\"To Do\"}"},
    {"todolist-a", "ItemAdded",
     "{\"itemId\":\"x2\",\"task\":\"" MOVED_TASK "\",\"status\":\"To Do\"}"},
    {"todolist-a", "ItemStatusChanged", "{\"itemId\":\"x1\",\"status\":\"Done\"}"},
    {"todolist-a", "ItemMovedOut",
     "{\"itemId\":\"x2\",\"task\":\"" MOVED_TASK "\",\"status\":\"To Do\",\"toListId\":"
     "\"b\"}"},
    {"todolist-a", "TodoListRenamed", "{\"name\":\"Food\"}"},
    {"todolist-b", "TodoListCreated", "{\"name\":\"Other things\"}"},
    {"todolist-b", "ItemAdded",
     "{\"itemId\":\"y1\",\"task\":\"Eggs\",\"status\":\"To Do\"}"},
};

static void append_history(struct es_store *s)
{
    json_t *meta = json_pack("{s:s, s:n}", "correlationId", "corr-1", "causationId");
    int64_t version[2] = {0, 0};
    for (size_t i = 0; i < sizeof(history) / sizeof(history[0]); i++) {
        int k = strcmp(history[i].stream, "todolist-a") == 0 ? 0 : 1;
        json_t *data = json_loads(history[i].data, 0, NULL);
        cr_assert_not_null(data);
        struct es_new_event e = {history[i].type, 1, data, meta};
        struct es_append a = {history[i].stream, version[k]++, &e, 1, NULL, NULL};
        enum es_conflict c;
        cr_assert_eq(s->ops->append(s, &a, &c, NULL, NULL), ES_OK);
        json_decref(data);
    }
    json_decref(meta);
}

/* The change-feed documents of stream versions from..to, in order. */
static void add_docs(struct es_store *s, json_t *docs, const char *stream, int64_t from,
                     int64_t to)
{
    struct es_event_page p;
    cr_assert_eq(
        s->ops->read_stream(s, stream, from, (size_t)(to - from + 1), &p, NULL, NULL),
        ES_OK);
    for (size_t i = 0; i < p.n; i++)
        cr_assert_eq(json_array_append_new(docs, es_event_to_doc(&p.events[i])), 0);
    es_event_page_release(&p);
}

static enum es_status project(struct projector_run *r, const json_t *docs)
{
    struct es_projector_opts o = readside_opts(&r->svc);
    struct es_batch_report rep;
    struct es_error err = {0};
    return es_project_batch(&o, docs, false, 0, &rep, &err);
}

/* The first batch: a duplicate (a:3), a hole (a:4, read from the store), streams
 * interleaved, and a:1-2 that the list view has already folded. */
static json_t *first_batch(struct es_store *s)
{
    json_t *docs = json_array();
    add_docs(s, docs, "todolist-b", 2, 2);
    add_docs(s, docs, "todolist-a", 1, 3);
    add_docs(s, docs, "todolist-a", 3, 3);
    add_docs(s, docs, "todolist-b", 1, 1);
    add_docs(s, docs, "todolist-a", 5, 6);
    return docs;
}

/* A store at path with both lists, and a's list view at version 2 (left open in r). */
static void baseline_open(const char *path, struct projector_run *r)
{
    memset(r, 0, sizeof(*r));
    cr_assert_eq(es_store_sqlite_open(path, &r->db.store, NULL), ES_OK);
    r->engine = new_engine(r->db.store);
    r->svc.store = r->db.store;
    r->svc.engine = r->engine;
    append_history(r->db.store);
    struct es_projector_opts o = readside_opts(&r->svc);
    o.n_projections = 1; /* only the list view, so the summary starts from nothing */
    o.n_reactors = 0;
    json_t *docs = json_array();
    add_docs(r->db.store, docs, "todolist-a", 1, 2);
    struct es_batch_report rep;
    cr_assert_eq(es_project_batch(&o, docs, false, 0, &rep, NULL), ES_OK);
    json_decref(docs);
}

static void baseline_close(struct projector_run *r)
{
    es_engine_free(r->engine);
    es_store_close(r->db.store); /* the last connection: the WAL is folded in */
}

/* The store every run starts from. */
static void make_baseline(void)
{
    snprintf(baseline, sizeof(baseline), "%s/baseline.db", sweep_dir());
    struct projector_run r;
    baseline_open(baseline, &r);
    baseline_close(&r);
}

static void *open_run(void)
{
    struct projector_run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    scenario_db_open(&r->db, "projector", baseline);
    r->engine = new_engine(r->db.store);
    cr_assert_not_null(r->engine);
    r->svc.store = r->db.store;
    r->svc.engine = r->engine;
    r->batch = first_batch(r->db.store);
    return r;
}

static void close_run(void *state)
{
    struct projector_run *r = state;
    json_decref(r->batch);
    es_engine_free(r->engine);
    scenario_db_close(&r->db);
    free(r);
}

static enum es_status step(void *state, size_t i, char **answer)
{
    struct projector_run *r = state;
    json_t *docs = r->batch;
    if (i == 1) {
        /* What the move's reaction appended to b, as the feed delivers it next. */
        alloc_fail_pause();
        docs = json_array();
        add_docs(r->db.store, docs, "todolist-b", 3, 3);
        alloc_fail_resume();
    }
    enum es_status st = project(r, docs);
    alloc_fail_pause();
    if (docs != r->batch)
        json_decref(docs);
    if (st == ES_OK)
        *answer = strdup("done");
    alloc_fail_resume();
    return st;
}

/* ---- the check: every view is the fold of its stream up to its version ---- */

static json_t *fold(struct es_store *s, const char *list_id, bool summary, int64_t upto,
                    const char **why)
{
    json_t *v = summary ? todo_summary_view_new(list_id) : todo_list_view_new(list_id);
    char stream[128];
    snprintf(stream, sizeof(stream), "todolist-%s", list_id);
    struct es_event_page p = {0};
    if (upto > 0 &&
        s->ops->read_stream(s, stream, 1, (size_t)upto, &p, NULL, NULL) != ES_OK)
        *why = "cannot read a stream to check a view";
    for (size_t i = 0; *why == NULL && i < p.n; i++) {
        enum es_status st =
            summary ? todo_summary_view_apply(v, p.events[i].type, p.events[i].data)
                    : todo_list_view_apply(v, p.events[i].type, p.events[i].data);
        if (st != ES_OK)
            *why = "an event does not fold";
    }
    if (*why == NULL && (int64_t)p.n != upto)
        *why = "a view records a version its stream does not have";
    es_event_page_release(&p);
    json_object_set_new(v, "version", json_integer((json_int_t)upto));
    return v;
}

static const char *check(void *state)
{
    struct projector_run *r = state;
    struct es_store *s = r->db.store;
    static char why[512];
    const char *kinds[] = {TODO_LIST_VIEW, TODO_SUMMARY_VIEW};
    for (int k = 0; k < 2; k++) {
        json_t *docs = NULL;
        char *next = NULL;
        cr_assert_eq(s->ops->view_query(s, kinds[k], NULL, 100, &docs, &next, NULL, NULL),
                     ES_OK);
        size_t i;
        json_t *doc;
        json_array_foreach(docs, i, doc)
        {
            const char *list = json_string_value(json_object_get(doc, "listId"));
            int64_t version = json_integer_value(json_object_get(doc, "version"));
            const char *bad = NULL;
            json_t *want = fold(s, list, k == 1, version, &bad);
            if (bad == NULL && !json_equal(doc, want))
                bad = "a view is not the fold of its stream up to its version";
            json_decref(want);
            if (bad != NULL) {
                snprintf(why, sizeof(why), "%s: %s", bad,
                         json_string_value(json_object_get(doc, "id")));
                json_decref(docs);
                free(next);
                return why;
            }
        }
        json_decref(docs);
        free(next);
    }
    struct es_event_page p = {0};
    cr_assert_eq(s->ops->read_stream(s, "todolist-b", 1, 100, &p, NULL, NULL), ES_OK);
    int moved_in = 0;
    for (size_t i = 0; i < p.n; i++)
        moved_in += strcmp(p.events[i].type, "ItemMovedIn") == 0;
    es_event_page_release(&p);
    return moved_in > 1 ? "the move was settled twice" : NULL;
}

static const struct sweep_scenario projector_scenario = {
    .name = "projector",
    .n_steps = 3,
    .open = open_run,
    .close = close_run,
    .step = step,
    .dump = scenario_db_dump,
    .check = check,
    .partial_steps = 0x7, /* every step is a batch */
};

static void setup(void)
{
    sweep_setup();
    make_baseline();
}

static void teardown(void)
{
    unlink(baseline);
    sweep_teardown();
}

Test(alloc, projector_batches_leave_every_view_the_fold_of_its_version, .init = setup,
     .fini = teardown, .timeout = 300)
{
    sweep_test(&projector_scenario);
}

/* ---- redriving dead letters ---- */

/*
 * The same store with a's events 3-6 dead-lettered (the move among them): one
 * redrive of the move (a's views fill the hole from the store, the reaction
 * moves the item into b), then a redrive of all the others. A redrive that
 * failed for want of memory leaves its dead letter; run again, it ends where
 * a run without failures ends.
 */
static char dead_baseline[256];

static void make_dead_baseline(void)
{
    snprintf(dead_baseline, sizeof(dead_baseline), "%s/dead.db", sweep_dir());
    struct projector_run r;
    baseline_open(dead_baseline, &r);
    json_t *docs = json_array();
    add_docs(r.db.store, docs, "todolist-a", 3, 6);
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        char id[64];
        snprintf(id, sizeof(id), "todolist-a:%d:dead", (int)i + 3);
        json_t *d = json_pack("{s:s, s:s, s:O, s:s, s:i, s:s}", "id", id, "streamId",
                              "todolist-a", "event", doc, "error", "an outage",
                              "attempts", 6, "failedAt", "2026-11-28T19:30:00.123Z");
        cr_assert_eq(r.db.store->ops->deadletter_put(r.db.store, d, NULL, NULL), ES_OK);
        json_decref(d);
    }
    json_decref(docs);
    baseline_close(&r);
}

static void *open_dead_run(void)
{
    struct projector_run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    scenario_db_open(&r->db, "redrive", dead_baseline);
    r->engine = new_engine(r->db.store);
    cr_assert_not_null(r->engine);
    r->svc.store = r->db.store;
    r->svc.engine = r->engine;
    return r;
}

static enum es_status redrive_step(void *state, size_t i, char **answer)
{
    struct projector_run *r = state;
    struct es_projector_opts o = readside_opts(&r->svc);
    struct es_error err = {0};
    enum es_status st;
    size_t redriven = 0, failed = 0;
    if (i == 0) {
        struct es_redrive_result res;
        st = es_redrive(&o, "todolist-a:5:dead", &res, &err);
        redriven = st == ES_OK;
    } else {
        struct es_redrive_page page;
        st = es_redrive_all(&o, NULL, 10, &page, &err);
        if (st == ES_OK) {
            redriven = page.redriven;
            failed = json_array_size(page.failed);
            es_redrive_page_release(&page);
        }
    }
    alloc_fail_pause();
    char text[64];
    snprintf(text, sizeof(text), "redriven %zu, failed %zu", redriven, failed);
    if (st == ES_OK)
        *answer = strdup(text);
    alloc_fail_resume();
    return st;
}

static const struct sweep_scenario redrive_scenario = {
    .name = "redrive",
    .n_steps = 2,
    .open = open_dead_run,
    .close = close_run,
    .step = redrive_step,
    .dump = scenario_db_dump,
    .check = check,
    .partial_steps = 0x3, /* views, then reactions, then the dead letters, each whole */
};

static void dead_setup(void)
{
    sweep_setup();
    make_dead_baseline();
}

static void dead_teardown(void)
{
    unlink(dead_baseline);
    sweep_teardown();
}

Test(alloc, redrives_leave_every_view_the_fold_of_its_version_and_move_once,
     .init = dead_setup, .fini = dead_teardown, .timeout = 300)
{
    sweep_test(&redrive_scenario);
}

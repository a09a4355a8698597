/*
 * Rebuilding views on the SQLite store with a toy projection (a count of
 * events per stream and the versions seen): the rebuilt views are the
 * Projector's, byte for byte, whatever the cache size, and an interrupted run
 * resumes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "es/rebuild.h"
#include "util/jsonutil.h"
#include "tmpstore.h"

static struct tmpstore tmp;
static const char *path; /* the store's file */
static struct es_store *store, *target;

static const struct es_projection *const projections[] = {&counter};

static const struct es_projection *const both[] = {&counter, &twin};

static void setup(void)
{
    store = tmpstore_open(&tmp, "rebuild");
    path = tmp.path;
    bool existed = true;
    cr_assert_eq(
        es_store_sqlite_open_views(path, "views_rebuild", &target, &existed, NULL),
        ES_OK);
    cr_assert(!existed);
    counter_poisoned = false;
}

static void teardown(void)
{
    es_store_close(target);
    tmpstore_remove(&tmp);
}

TestSuite(rebuild, .init = setup, .fini = teardown);

/* Appends one event of type to stream after version `after`, with data {"name": name}. */
static void append_one(const char *stream, int64_t after, const char *type,
                       const char *name)
{
    json_t *m = json_object(), *data = json_pack("{s:s}", "name", name);
    struct es_new_event e = {type, 1, data, m};
    struct es_append a = {stream, after, &e, 1, NULL, NULL};
    enum es_conflict c;
    cr_assert_eq(store->ops->append(store, &a, &c, NULL, NULL), ES_OK);
    json_decref(m);
    json_decref(data);
}

/* Streams s-0..s-(n-1), events interleaved round-robin, `per` each. */
static void workload(int streams, int per)
{
    for (int v = 1; v <= per; v++)
        for (int s = 0; s < streams; s++) {
            char stream[16];
            snprintf(stream, sizeof(stream), "s-%d", s);
            append_one(stream, v - 1, v % 2 ? "E" : "Rename", v % 3 ? "x" : "y");
        }
}

/* The Projector's views (of projections[0..n)) of every event, in feed batches of 7. */
static void project_with(const struct es_projection *const *projs, size_t n)
{
    struct es_projector_opts o = {store, NULL, projs, n, NULL, 0, 1, NULL};
    for (int64_t after = 0;;) {
        struct es_event_page p;
        cr_assert_eq(store->ops->feed_read(store, after, 7, &p, NULL, NULL), ES_OK);
        if (p.n == 0) {
            es_event_page_release(&p);
            return;
        }
        json_t *docs = json_array();
        for (size_t i = 0; i < p.n; i++)
            json_array_append_new(docs, es_event_to_doc(&p.events[i]));
        after = p.events[p.n - 1].seq;
        es_event_page_release(&p);
        struct es_batch_report rep;
        cr_assert_eq(es_project_batch(&o, docs, false, 0, &rep, NULL), ES_OK);
        json_decref(docs);
    }
}

static void project_incrementally(void)
{
    project_with(projections, 1);
}

/* Every view of kind in s as id -> its JSON text. */
static json_t *texts(struct es_store *s, const char *kind)
{
    json_t *docs = NULL;
    char *next = NULL;
    cr_assert_eq(s->ops->view_query(s, kind, NULL, 1000, &docs, &next, NULL, NULL),
                 ES_OK);
    json_t *out = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        char *text = es_json_dumps(d, NULL);
        json_object_set_new(out, json_string_value(json_object_get(d, "id")),
                            json_string(text));
        free(text);
    }
    json_decref(docs);
    free(next);
    return out;
}

static void expect_same_kind(struct es_store *rebuilt, const char *kind)
{
    json_t *a = texts(store, kind), *b = texts(rebuilt, kind);
    cr_expect_gt(json_object_size(a), 0);
    cr_expect_eq(json_object_size(a), json_object_size(b));
    const char *id;
    json_t *v;
    json_object_foreach(a, id, v)
    {
        const char *other = json_string_value(json_object_get(b, id));
        cr_expect(other != NULL && strcmp(json_string_value(v), other) == 0,
                  "%s: projector %s, rebuild %s", id, json_string_value(v),
                  other ? other : "(none)");
    }
    json_decref(a);
    json_decref(b);
}

static void expect_same_views(void)
{
    expect_same_kind(target, "count");
}

static struct es_rebuild_opts opts(size_t cache)
{
    struct es_rebuild_opts o = {.source = store,
                                .target = target,
                                .projections = projections,
                                .n_projections = 1,
                                .target_new = true,
                                .cache_views = cache,
                                .page_events = 5};
    return o;
}

Test(rebuild, views_are_the_projectors_byte_for_byte)
{
    workload(6, 9);
    project_incrementally();
    struct es_rebuild_opts o = opts(0);
    struct es_rebuild_progress p;
    struct es_error err = {0};
    cr_assert_eq(es_rebuild(&o, &p, &err), ES_OK, "%s", err.message);
    cr_expect(p.done);
    cr_expect(!p.resumed);
    cr_expect_eq(p.events, 54);
    cr_expect_eq(p.total, 54);
    cr_expect_eq(p.streams, 6);
    cr_expect_eq(p.views_written, 6, "one write per view");
    cr_expect_eq(p.views_read, 0, "a new target is not read");
    es_rebuild_progress_release(&p);
    expect_same_views();
}

Test(rebuild, a_cache_of_one_view_spills_and_reads_back_to_the_same_views)
{
    workload(5, 8);
    project_incrementally();
    struct es_rebuild_opts o = opts(1);
    struct es_rebuild_progress p;
    cr_assert_eq(es_rebuild(&o, &p, NULL), ES_OK);
    cr_expect(p.done);
    cr_expect_gt(p.views_read, 0, "views met again are read back");
    cr_expect_gt(p.views_written, 5);
    es_rebuild_progress_release(&p);
    expect_same_views();
}

static int ticks_left;

static bool stop_after(void *ctx, const struct es_rebuild_progress *p)
{
    (void)ctx;
    (void)p;
    return ticks_left-- > 0;
}

Test(rebuild, an_interrupted_run_is_resumed_by_the_next)
{
    workload(4, 10);
    project_incrementally();
    struct es_rebuild_opts o = opts(2);
    o.tick = stop_after;
    ticks_left = 3; /* the start, then two pages */
    struct es_rebuild_progress p;
    cr_assert_eq(es_rebuild(&o, &p, NULL), ES_OK);
    cr_expect(!p.done, "stopped");
    cr_expect_eq(p.events, 15);
    es_rebuild_progress_release(&p);
    json_t *rec = NULL;
    char *etag = NULL;
    cr_assert_eq(target->ops->view_get(target, "_rebuild", &rec, &etag, NULL, NULL),
                 ES_OK);
    cr_expect_eq(json_integer_value(json_object_get(rec, "events")), 15);
    cr_expect(json_is_false(json_object_get(rec, "done")));
    json_decref(rec);
    free(etag);

    ticks_left = 1000;
    o.target_new = false;
    cr_assert_eq(es_rebuild(&o, &p, NULL), ES_OK);
    cr_expect(p.resumed);
    cr_expect_eq(p.events_before, 15);
    cr_expect_eq(p.events, 25, "the rest only");
    cr_expect(p.done);
    es_rebuild_progress_release(&p);
    expect_same_views();

    /* Finished, then more events: a rerun folds only those. */
    append_one("s-0", 10, "Rename", "late");
    project_incrementally();
    cr_assert_eq(es_rebuild(&o, &p, NULL), ES_OK);
    cr_expect_eq(p.events, 1);
    es_rebuild_progress_release(&p);
    expect_same_views();
}

Test(rebuild, a_fold_that_fails_stops_the_rebuild_naming_the_view)
{
    workload(2, 2);
    counter_poisoned = true;
    struct es_rebuild_opts o = opts(0);
    struct es_rebuild_progress p;
    struct es_error err = {0};
    cr_expect_eq(es_rebuild(&o, &p, &err), ES_EFIELD);
    cr_expect(strstr(err.message, "count:0") != NULL, "%s", err.message);
    cr_expect(!p.done);
    es_rebuild_progress_release(&p);
}

Test(rebuild, a_malformed_progress_record_is_refused)
{
    json_t *rec = json_pack("{s:s, s:s, s:i, s:s}", "id", "_rebuild", "view", "_rebuild",
                            "cursor", 5, "events", "many");
    cr_assert_eq(target->ops->view_put(target, rec, NULL, NULL, NULL, NULL), ES_OK);
    json_decref(rec);
    struct es_rebuild_opts o = opts(0);
    struct es_rebuild_progress p;
    struct es_error err = {0};
    cr_expect_eq(es_rebuild(&o, &p, &err), ES_EIO);
    cr_expect(strstr(err.message, "_rebuild") != NULL, "%s", err.message);
    es_rebuild_progress_release(&p);
}

/* The views of both projections, rebuilt at parallelism `par` into table. */
static void rebuild_both(const char *table, unsigned par, struct es_rebuild_progress *p)
{
    struct es_store *t = NULL;
    bool existed = true;
    cr_assert_eq(es_store_sqlite_open_views(path, table, &t, &existed, NULL), ES_OK);
    struct es_rebuild_opts o = opts(0);
    o.target = t;
    o.projections = both;
    o.n_projections = 2;
    o.parallelism = par;
    struct es_error err = {0};
    cr_assert_eq(es_rebuild(&o, p, &err), ES_OK, "%s", err.message);
    expect_same_kind(t, "count");
    expect_same_kind(t, "twin");
    es_store_close(t);
}

Test(rebuild, a_streams_views_share_one_request_at_any_parallelism)
{
    workload(6, 5);
    project_with(both, 2);
    unsigned pars[] = {1, 4, 64};
    const char *tables[] = {"views_one", "views_four", "views_many"};
    for (size_t i = 0; i < sizeof(pars) / sizeof(pars[0]); i++) {
        struct es_rebuild_progress p;
        rebuild_both(tables[i], pars[i], &p);
        cr_expect(p.done);
        cr_expect_eq(p.views_written, 12, "parallelism %u", pars[i]);
        cr_expect_eq(p.view_requests, 6, "parallelism %u: one per stream", pars[i]);
        es_rebuild_progress_release(&p);
    }
}

Test(rebuild, views_too_big_to_share_a_request_are_written_one_by_one)
{
    workload(3, 2);
    append_one("s-1", 2, "Big", "big");
    project_with(both, 2);
    struct es_rebuild_progress p;
    rebuild_both("views_big", 8, &p);
    cr_expect_eq(p.views_written, 6);
    /* s-0 and s-2: one each; s-1: the refused pair, then its two views. */
    cr_expect_eq(p.view_requests, 2 + 3);
    es_rebuild_progress_release(&p);
}

Test(rebuild, a_refused_write_stops_a_parallel_flush_naming_the_view)
{
    workload(8, 3);
    json_t *there = count_initial("5");
    cr_assert_eq(target->ops->view_put(target, there, NULL, NULL, NULL, NULL), ES_OK);
    json_decref(there);
    struct es_rebuild_opts o = opts(0);
    o.parallelism = 4; /* the target is taken as new: count:5 is created, and exists */
    struct es_rebuild_progress p;
    struct es_error err = {0};
    cr_expect_eq(es_rebuild(&o, &p, &err), ES_ECONFLICT);
    cr_expect(strstr(err.message, "count:5") != NULL, "%s", err.message);
    cr_expect(!p.done);
    cr_expect_lt(p.views_written, 8);
    es_rebuild_progress_release(&p);
    json_t *rec = NULL;
    char *etag = NULL;
    cr_expect_eq(target->ops->view_get(target, "_rebuild", &rec, &etag, NULL, NULL),
                 ES_ENOTFOUND, "no progress is recorded past a failed write");
    json_decref(rec);
    free(etag);
}

/*
 * The projector runner on the SQLite store with a toy projection (a count of
 * events per stream and the list of versions seen) and a toy reactor.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "es/cache.h"
#include "es/projector.h"
#include "tmpstore.h"

static struct tmpstore tmp;
static struct es_store *store;
static int reacted[100];
static bool reactor_fails;
static unsigned parallelism = 1;    /* streams projected at once */
static struct es_cache *view_cache; /* NULL: every batch reads its views */

static enum es_status react(const struct es_react_env *env, const struct es_event *ev,
                            struct es_error *err)
{
    (void)env;
    if (reactor_fails)
        return es_error_set(err, ES_EUNAVAILABLE, "reactor down");
    if (ev->version < 100)
        reacted[ev->version]++;
    return ES_OK;
}

static const struct es_reactor reactor = {"r", "s-", react};
static const struct es_projection *const projections[] = {&counter};
static const struct es_projection *const with_twin[] = {&counter, &twin};
static const struct es_projection *const *active; /* projections or with_twin */
static size_t n_active;
static const struct es_reactor *const reactors[] = {&reactor};

static struct es_projector_opts opts(void)
{
    struct es_projector_opts o = {store,    NULL, active,      n_active,
                                  reactors, 1,    parallelism, view_cache};
    return o;
}

static void setup(void)
{
    store = tmpstore_open(&tmp, "projector");
    memset(reacted, 0, sizeof(reacted));
    reactor_fails = false;
    active = projections;
    n_active = 1;
}

static void teardown(void)
{
    tmpstore_remove(&tmp);
}

TestSuite(projector, .init = setup, .fini = teardown);

/* Appends events of the given types after version from - 1. */
static void append_types(const char *stream, int from, const char *const *types, int n)
{
    json_t *m = json_object();
    for (int i = 0; i < n; i++) {
        json_t *data = json_pack("{s:i}", "v", from + i);
        struct es_new_event e = {types[i], 1, data, m};
        struct es_append a = {stream, from + i - 1, &e, 1, NULL, NULL};
        enum es_conflict c;
        cr_assert_eq(store->ops->append(store, &a, &c, NULL, NULL), ES_OK);
        json_decref(data);
    }
    json_decref(m);
}

/* Appends events v1..n of stream (type "E", or "Poison" at version poison). */
static void append(const char *stream, int n, int poison)
{
    json_t *m = json_object();
    for (int v = 1; v <= n; v++) {
        json_t *data = json_pack("{s:i}", "v", v);
        struct es_new_event e = {v == poison ? "Poison" : "E", 1, data, m};
        struct es_append a = {stream, v - 1, &e, 1, NULL, NULL};
        enum es_conflict c;
        cr_assert_eq(store->ops->append(store, &a, &c, NULL, NULL), ES_OK);
        json_decref(data);
    }
    json_decref(m);
}

/* The documents of stream versions [from, to] as the change feed delivers them. */
static json_t *docs(const char *stream, int from, int to)
{
    struct es_event_page p;
    cr_assert_eq(store->ops->read_stream(store, stream, from, (size_t)(to - from + 1), &p,
                                         NULL, NULL),
                 ES_OK);
    json_t *arr = json_array();
    for (size_t i = 0; i < p.n; i++)
        json_array_append_new(arr, es_event_to_doc(&p.events[i]));
    es_event_page_release(&p);
    return arr;
}

static json_t *view(const char *id)
{
    json_t *doc = NULL;
    char *etag = NULL;
    if (store->ops->view_get(store, id, &doc, &etag, NULL, NULL) != ES_OK)
        return NULL;
    free(etag);
    return doc;
}

static struct es_batch_report run(json_t *batch, bool last, enum es_status want)
{
    struct es_projector_opts o = opts();
    struct es_batch_report r;
    struct es_error err = {0};
    cr_expect_eq(es_project_batch(&o, batch, last, 0, &r, &err), want, "%s", err.message);
    json_decref(batch);
    return r;
}

Test(projector, folds_a_batch_and_records_the_version)
{
    append("s-a", 3, 0);
    struct es_batch_report r = run(docs("s-a", 1, 3), false, ES_OK);
    cr_expect_eq(r.events, 3);
    cr_expect_eq(r.views_written, 1, "one write per view per batch");
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), 3);
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 3);
    json_decref(v);
    cr_expect_eq(reacted[1] + reacted[2] + reacted[3], 3);
}

Test(projector, redelivered_and_older_events_are_skipped)
{
    append("s-a", 3, 0);
    run(docs("s-a", 1, 3), false, ES_OK);
    struct es_batch_report r = run(docs("s-a", 2, 3), false, ES_OK);
    cr_expect_eq(r.views_written, 0, "nothing new: no write");
    json_t *batch = docs("s-a", 1, 3);
    json_t *copy = json_deep_copy(batch);
    json_array_extend(batch, copy); /* duplicates inside one batch */
    json_decref(copy);
    r = run(batch, false, ES_OK);
    cr_expect_eq(r.views_written, 0);
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), 3);
    json_decref(v);
}

Test(projector, a_gap_is_filled_from_the_store_for_views_and_reactors)
{
    append("s-a", 5, 0);
    run(docs("s-a", 1, 1), false, ES_OK);
    memset(reacted, 0, sizeof(reacted));
    struct es_batch_report r =
        run(docs("s-a", 5, 5), false, ES_OK); /* 2..4 were skipped */
    cr_expect_eq(r.gap_events, 3);
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), 5);
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 5);
    json_t *seen = json_object_get(v, "seen");
    for (size_t i = 0; i < 5; i++)
        cr_expect_eq(json_integer_value(json_array_get(seen, i)), (json_int_t)i + 1,
                     "in order");
    json_decref(v);
    cr_expect(reacted[2] && reacted[3] && reacted[4] && reacted[5],
              "the reactors saw the gap events too");
}

Test(projector, streams_are_grouped_and_sorted_within_a_batch)
{
    append("s-a", 2, 0);
    append("s-b", 2, 0);
    json_t *batch = json_array();
    json_t *a = docs("s-a", 1, 2), *b = docs("s-b", 1, 2);
    json_array_append(batch, json_array_get(b, 1));
    json_array_append(batch, json_array_get(a, 1));
    json_array_append(batch, json_array_get(a, 0));
    json_array_append(batch, json_array_get(b, 0));
    json_array_append_new(batch, json_pack("{s:s, s:s, s:s}", "id", "s-a:snapshot",
                                           "kind", "snapshot", "streamId", "s-a"));
    json_decref(a);
    json_decref(b);
    struct es_batch_report r = run(batch, false, ES_OK);
    cr_expect_eq(r.streams, 2);
    cr_expect_eq(r.events, 4, "the snapshot document is ignored");
    cr_expect_eq(r.views_written, 2);
}

/*
 * A store whose first view writes are refused with 412 for the view at
 * refuse_at of the request, as if another projector had written it first;
 * nothing of the request is written, as in a transactional batch.
 */
static int fail_puts;
static size_t refuse_at;
static int put_requests; /* views_put calls */
static size_t put_sizes; /* views in them */
static const struct es_store_ops *real_ops;
static enum es_status flaky_puts(struct es_store *s, struct es_view_write *w, size_t n,
                                 size_t *refused, struct es_io *io, struct es_error *err)
{
    put_requests++;
    put_sizes += n;
    if (fail_puts > 0 && refuse_at < n) {
        fail_puts--;
        /* The other writer's update: the view moved on meanwhile. */
        json_t *theirs = json_deep_copy(w[refuse_at].doc);
        json_object_set_new(theirs, "n", json_integer(100));
        json_object_set_new(theirs, "version", json_integer(1));
        cr_assert_eq(real_ops->view_put(s, theirs, w[refuse_at].if_match, NULL, io, NULL),
                     ES_OK);
        json_decref(theirs);
        *refused = refuse_at;
        return es_error_set(err, ES_EPRECONDITION, "etag changed");
    }
    return real_ops->views_put(s, w, n, refused, io, err);
}

static struct es_store_ops flaky_ops;
static void use_flaky_store(int fails, size_t at)
{
    real_ops = store->ops;
    flaky_ops = *store->ops;
    flaky_ops.views_put = flaky_puts;
    store->ops = &flaky_ops;
    fail_puts = fails;
    refuse_at = at;
    put_requests = 0;
    put_sizes = 0;
}

static void expect_count(const char *id, int n, int version, const char *why)
{
    json_t *v = view(id);
    cr_assert_not_null(v, "%s exists", id);
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), n, "%s: n (%s)", id, why);
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), version,
                 "%s: version", id);
    json_decref(v);
}

Test(projector, a_412_re_reads_the_view_and_re_applies)
{
    append("s-a", 3, 0);
    use_flaky_store(1, 0);
    struct es_batch_report r = run(docs("s-a", 1, 3), false, ES_OK);
    store->ops = real_ops;
    cr_expect_eq(r.view_retries, 1);
    cr_expect_eq(r.views_written, 1);
    expect_count("count:a", 102, 3,
                 "the other writer's version 1 kept; versions 2 and 3 applied on top");
}

Test(projector, a_streams_views_are_written_in_one_request)
{
    active = with_twin;
    n_active = 2;
    append("s-a", 3, 0);
    use_flaky_store(0, 0);
    struct es_batch_report r = run(docs("s-a", 1, 3), false, ES_OK);
    store->ops = real_ops;
    cr_expect_eq(r.views_written, 2);
    cr_expect_eq(put_requests, 1, "both views in one write");
    cr_expect_eq(put_sizes, 2);
    expect_count("count:a", 3, 3, "folded once");
    expect_count("twin:a", 3, 3, "folded once");
}

Test(projector, a_refused_view_is_read_again_and_its_sibling_is_not_folded_twice)
{
    active = with_twin;
    n_active = 2;
    append("s-a", 3, 0);
    use_flaky_store(1, 1);
    struct es_batch_report r = run(docs("s-a", 1, 3), false, ES_OK);
    store->ops = real_ops;
    cr_expect_eq(r.view_retries, 1);
    cr_expect_eq(r.views_written, 2);
    cr_expect_eq(put_requests, 2, "the refused write, then both views again");
    expect_count("count:a", 3, 3, "written on the second request, folded once");
    expect_count("twin:a", 102, 3, "the other writer's version 1, then 2 and 3");
}

Test(projector, views_too_big_for_one_request_are_written_one_by_one)
{
    active = with_twin;
    n_active = 2;
    const char *types[] = {"Big"};
    append_types("s-a", 1, types, 1);
    use_flaky_store(0, 0);
    struct es_batch_report r = run(docs("s-a", 1, 1), false, ES_OK);
    store->ops = real_ops;
    cr_expect_eq(r.views_written, 2);
    cr_expect_eq(put_requests, 3, "both at once, refused as too big; then one each");
    expect_count("count:a", 1, 1, "written alone");
    expect_count("twin:a", 1, 1, "written alone");
}

Test(projector, a_failing_stream_fails_the_batch_until_the_last_attempt)
{
    append("s-ok", 2, 0);
    append("s-bad", 3, 2);
    json_t *batch = docs("s-ok", 1, 2);
    json_t *bad = docs("s-bad", 1, 3);
    json_array_extend(batch, bad);
    json_decref(bad);
    json_t *again = json_deep_copy(batch);
    struct es_batch_report r = run(batch, false, ES_EUNAVAILABLE);
    cr_expect_eq(r.failed_streams, 1);
    cr_expect_eq(r.dead_lettered, 0, "attempts remain: the host will retry");
    json_t *ok = view("count:ok");
    cr_expect_eq(json_integer_value(json_object_get(ok, "version")), 2,
                 "the healthy stream was applied anyway");
    json_decref(ok);
    r = run(again, true, ES_OK);
    cr_expect_eq(r.dead_lettered, 3, "one dead letter per event of the failing stream");
    json_t *dl = NULL;
    char *next = NULL;
    cr_assert_eq(store->ops->deadletter_query(store, NULL, 10, &dl, &next, NULL, NULL),
                 ES_OK);
    cr_expect_eq(json_array_size(dl), 3);
    json_t *first = json_array_get(dl, 0);
    cr_expect_str_eq(json_string_value(json_object_get(first, "id")), "s-bad:1:dead");
    cr_expect_str_eq(json_string_value(json_object_get(first, "streamId")), "s-bad");
    cr_expect(strstr(json_string_value(json_object_get(first, "error")), "Poison") !=
              NULL);
    cr_expect_eq(json_integer_value(json_object_get(first, "attempts")), 1);
    cr_expect_not_null(json_object_get(first, "event"));
    cr_expect_not_null(json_object_get(first, "failedAt"));
    json_decref(dl);
    free(next);
}

Test(projector, a_failing_reactor_fails_the_batch_too)
{
    append("s-a", 1, 0);
    reactor_fails = true;
    struct es_batch_report r = run(docs("s-a", 1, 1), false, ES_EUNAVAILABLE);
    cr_expect_eq(r.failed_streams, 1);
    reactor_fails = false;
    r = run(docs("s-a", 1, 1), false, ES_OK);
    cr_expect_eq(reacted[1], 1, "the retried batch reaches the reactor");
}

Test(projector, undecodable_payloads_and_documents_are_dead_lettered_at_once)
{
    struct es_batch_report r = run(json_string("garbage"), false, ES_OK);
    cr_expect_eq(r.dead_lettered, 1);
    r = run(
        json_pack("[{s:s, s:s, s:s}]", "id", "s-x:1", "kind", "event", "streamId", "s-x"),
        false, ES_OK);
    cr_expect_eq(r.dead_lettered, 1, "an event without version or data");
    json_t *dl = NULL;
    char *next = NULL;
    cr_assert_eq(store->ops->deadletter_query(store, NULL, 10, &dl, &next, NULL, NULL),
                 ES_OK);
    cr_expect_eq(json_array_size(dl), 2);
    int undecodable = 0;
    size_t i;
    json_t *d;
    json_array_foreach(dl, i, d)
    {
        undecodable += strcmp(json_string_value(json_object_get(d, "streamId")),
                              "_undecodable") == 0;
    }
    cr_expect_eq(undecodable, 1);
    json_decref(dl);
    free(next);
}

/* ---- the change feed is input like any other ---- */

static json_t *deadletters(void)
{
    json_t *docs = NULL;
    char *next = NULL;
    cr_assert_eq(store->ops->deadletter_query(store, NULL, 100, &docs, &next, NULL, NULL),
                 ES_OK);
    free(next);
    return docs;
}

Test(projector, a_version_no_json_reader_keeps_exact_is_dead_lettered_not_allocated)
{
    append("s-a", 2, 0);
    json_t *batch = docs("s-a", 1, 2);
    json_object_set_new(json_array_get(batch, 1), "version",
                        json_integer((json_int_t)1 << 62));
    struct es_batch_report r = run(batch, false, ES_OK);
    cr_expect_eq(r.dead_lettered, 1, "the forged document, at once");
    cr_expect_eq(r.gap_events, 0, "no gap read was sized by it");
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 1);
    json_decref(v);
    json_t *dead = deadletters();
    cr_expect(strstr(json_string_value(json_object_get(json_array_get(dead, 0), "error")),
                     "2^53") != NULL);
    json_decref(dead);
}

Test(projector, an_event_past_the_end_of_its_stream_is_never_applied)
{
    append("s-a", 2, 0);
    run(docs("s-a", 1, 2), false, ES_OK);
    memset(reacted, 0, sizeof(reacted));
    /* Version 50 of a stream of 2: the versions between were never stored. */
    json_t *batch = docs("s-a", 2, 2);
    json_object_set_new(json_array_get(batch, 0), "version", json_integer(50));
    json_object_set_new(json_array_get(batch, 0), "id", json_string("s-a:50"));
    struct es_batch_report r = run(json_incref(batch), false, ES_EUNAVAILABLE);
    cr_expect_eq(r.failed_streams, 1, "a short read fails the stream");
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 2, "unchanged");
    json_decref(v);
    cr_expect_eq(reacted[2] + reacted[3], 0, "no reaction either");
    /* On the last attempt it is dead-lettered, not skipped. */
    r = run(batch, true, ES_OK);
    cr_expect_eq(r.dead_lettered, 1);
}

Test(projector, a_hole_inside_a_batch_is_filled_from_the_store)
{
    append("s-a", 6, 0);
    json_t *batch = docs("s-a", 1, 6);
    json_array_remove(batch, 3); /* version 4 missing */
    struct es_batch_report r = run(batch, false, ES_OK);
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), 6);
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 6);
    json_decref(v);
    cr_expect_gt(r.gap_events, 0);
    for (int i = 1; i <= 6; i++)
        cr_expect_eq(reacted[i], 1, "version %d reacted to once", i);
}

static char seen_type[64];

static enum es_status note_type(const struct es_react_env *env, const struct es_event *ev,
                                struct es_error *err)
{
    (void)env;
    (void)err;
    snprintf(seen_type, sizeof(seen_type), "%s", ev->type);
    return ES_OK;
}

/* A redelivered version the views passed is reacted to as stored, never as delivered. */
Test(projector, reactions_to_passed_versions_see_the_stored_event)
{
    append("s-a", 3, 0);
    run(docs("s-a", 1, 3), false, ES_OK);
    json_t *batch = docs("s-a", 2, 2);
    json_object_set_new(json_array_get(batch, 0), "type", json_string("Forged"));
    static const struct es_reactor noter = {"n", "s-", note_type};
    static const struct es_reactor *const only[] = {&noter};
    struct es_projector_opts o = opts();
    o.reactors = only;
    struct es_batch_report r;
    struct es_error err = {0};
    cr_assert_eq(es_project_batch(&o, batch, false, 0, &r, &err), ES_OK, "%s",
                 err.message);
    cr_expect_str_eq(seen_type, "E");
    json_decref(batch);
}

/* The store takes no document over its limit; no retry makes the view fit. */
Test(projector, a_view_past_the_document_limit_is_dead_lettered_and_never_wedges)
{
    const char *const types[] = {"E", "Big", "Big", "E"};
    append_types("s-big", 1, types, 4);
    struct es_batch_report r = run(docs("s-big", 1, 2), false, ES_OK);
    cr_expect_eq(r.dead_lettered, 0);
    r = run(docs("s-big", 3, 3), false, ES_OK);
    cr_expect_eq(r.dead_lettered, 1, "not retried: dead-lettered on the first attempt");
    cr_expect(strstr(r.first_error, "at most") != NULL, "%s", r.first_error);
    json_t *v = view("count:big");
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 2,
                 "the view stays as it was");
    json_decref(v);
    r = run(docs("s-big", 4, 4), false, ES_OK);
    cr_expect_eq(r.dead_lettered, 1, "the next event of the stream goes the same way");
    cr_expect_eq(r.gap_events, 1, "after trying version 3 once more, from the store");
    v = view("count:big");
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 2);
    json_decref(v);
    json_t *dead = NULL;
    char *next = NULL;
    cr_assert_eq(store->ops->deadletter_query(store, NULL, 10, &dead, &next, NULL, NULL),
                 ES_OK);
    cr_expect_eq(json_array_size(dead), 2);
    json_decref(dead);
    free(next);
}

/* ---- the view cache ---- */

/* The round trips a batch of stream versions [from, to] costs. */
static unsigned batch_trips(const char *stream, int from, int to)
{
    return run(docs(stream, from, to), false, ES_OK).io.round_trips;
}

Test(projector, with_the_cache_a_streams_next_batch_writes_without_reading)
{
    view_cache = es_cache_new(8);
    append("s-a", 6, 0);
    unsigned first = batch_trips("s-a", 1, 2);
    unsigned second = batch_trips("s-a", 3, 4);
    cr_expect_eq(first, 2, "read (none there yet), then create");
    cr_expect_eq(second, 1, "the write alone, on the remembered etag");
    es_cache_free(view_cache);
    view_cache = NULL;
    cr_expect_eq(batch_trips("s-a", 5, 6), 2, "without the cache: read, then write");
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), 6);
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 6);
    json_decref(v);
}

Test(projector, a_view_changed_behind_the_cache_is_read_again)
{
    view_cache = es_cache_new(8);
    append("s-a", 4, 0);
    run(docs("s-a", 1, 2), false, ES_OK);
    /* Another writer (an instance that held the lease meanwhile) moves it to 3. */
    json_t *doc = NULL;
    char *etag = NULL;
    cr_assert_eq(store->ops->view_get(store, "count:a", &doc, &etag, NULL, NULL), ES_OK);
    json_object_set_new(doc, "n", json_integer(3));
    json_array_append_new(json_object_get(doc, "seen"), json_integer(3));
    json_object_set_new(doc, "version", json_integer(3));
    json_object_set_new(doc, "other", json_true());
    cr_assert_eq(store->ops->view_put(store, doc, etag, NULL, NULL, NULL), ES_OK);
    json_decref(doc);
    free(etag);
    struct es_batch_report r = run(docs("s-a", 3, 4), false, ES_OK);
    cr_expect_eq(r.view_retries, 1, "the remembered etag failed: read again");
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), 4,
                 "3 was not applied twice");
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 4);
    cr_expect(json_is_true(json_object_get(v, "other")), "built on the other write");
    json_decref(v);
    es_cache_free(view_cache);
    view_cache = NULL;
}

Test(projector, nothing_is_remembered_of_a_failed_batch)
{
    view_cache = es_cache_new(8);
    append("s-a", 3, 3);
    run(docs("s-a", 1, 2), false, ES_OK);
    /* Version 3 cannot be folded: the view in memory may hold part of the batch. */
    run(docs("s-a", 3, 3), false, ES_EUNAVAILABLE);
    void *got = NULL;
    int64_t version = 0;
    cr_expect_not(es_cache_take(view_cache, "count:a", &got, &version),
                  "a failed stream's view is not kept");
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 2);
    json_decref(v);
    es_cache_free(view_cache);
    view_cache = NULL;
}

/* Sets view id back to doc (as stored earlier), as an operator's hand could. */
static void set_back(const char *id, const json_t *doc)
{
    json_t *now = NULL;
    char *etag = NULL;
    cr_assert_eq(store->ops->view_get(store, id, &now, &etag, NULL, NULL), ES_OK);
    cr_assert_eq(store->ops->view_put(store, doc, etag, NULL, NULL, NULL), ES_OK);
    json_decref(now);
    free(etag);
}

Test(projector, a_redelivery_checks_a_remembered_view_against_the_store)
{
    view_cache = es_cache_new(8);
    append("s-a", 3, 0);
    run(docs("s-a", 1, 1), false, ES_OK);
    json_t *v1 = view("count:a");
    run(docs("s-a", 2, 3), false, ES_OK);
    set_back("count:a", v1); /* views deleted or replaced by hand: back to 1 */
    /* All of it again (checkpoints reset): nothing is new to the remembered view. */
    struct es_batch_report r = run(docs("s-a", 1, 3), false, ES_OK);
    cr_expect_eq(r.views_written, 1, "read from the store, and brought up to date");
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 3);
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), 3);
    json_decref(v);
    json_decref(v1);
    es_cache_free(view_cache);
    view_cache = NULL;
}

Test(projector, a_view_set_back_behind_new_events_is_retried_from_the_store)
{
    view_cache = es_cache_new(8);
    append("s-a", 4, 0);
    run(docs("s-a", 1, 1), false, ES_OK);
    json_t *v1 = view("count:a");
    run(docs("s-a", 2, 3), false, ES_OK);
    set_back("count:a", v1);
    /* Version 4 is new: its write on the remembered etag fails, and the view read
     * again is behind the events held (2 and 3 are not in this batch). */
    json_t *again = docs("s-a", 4, 4);
    struct es_batch_report r = run(json_deep_copy(again), false, ES_EUNAVAILABLE);
    cr_expect_eq(r.failed_streams, 1);
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 1, "nothing written");
    json_decref(v);
    /* The host's retry: nothing remembered now, the gap is read from the store. */
    r = run(again, false, ES_OK);
    cr_expect_eq(r.gap_events, 2);
    v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "version")), 4);
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), 4);
    json_decref(v);
    json_decref(v1);
    es_cache_free(view_cache);
    view_cache = NULL;
}

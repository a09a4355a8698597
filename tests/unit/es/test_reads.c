/*
 * The query side's reads on the SQLite store, above all the read-your-writes
 * wait of es_read_view_min: at once when the view is there, never for a
 * version that was not written, until the deadline when the view lags, and
 * no longer than it takes the view to catch up.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es/reads.h"
#include "util/timeutil.h"
#include "tmpstore.h"

static struct tmpstore tmp;
static struct es_store *store;
static struct es_engine *engine;
static const struct es_aggregate agg = {.stream_prefix = "t-"};

static void setup(void)
{
    store = tmpstore_open(&tmp, "reads");
    struct es_engine_opts o = {store, 16, 0, 3, 0, 0};
    engine = es_engine_new(&o);
    cr_assert_not_null(engine);
}

static void teardown(void)
{
    es_engine_free(engine);
    tmpstore_remove(&tmp);
}

TestSuite(reads, .init = setup, .fini = teardown, .timeout = 30);

/* Appends n events to stream t-<id> after version `after`. */
static void append(const char *id, int64_t after, size_t n)
{
    char stream[64];
    snprintf(stream, sizeof(stream), "t-%s", id);
    json_t *data = json_object(), *meta = json_object();
    struct es_new_event evs[8];
    cr_assert(n <= 8);
    for (size_t i = 0; i < n; i++)
        evs[i] = (struct es_new_event){"Tick", 1, data, meta};
    struct es_append a = {stream, after, evs, n, NULL, NULL};
    enum es_conflict c = ES_CONFLICT_NONE;
    cr_assert_eq(store->ops->append(store, &a, &c, NULL, NULL), ES_OK);
    json_decref(data);
    json_decref(meta);
}

/* Writes view v:<id> at version, replacing what is there. */
static void put_view(const char *id, int64_t version, bool deleted)
{
    char vid[64];
    snprintf(vid, sizeof(vid), "v:%s", id);
    json_t *doc = json_pack("{s:s, s:s, s:I, s:b}", "id", vid, "view", "v", "version",
                            (json_int_t)version, "deleted", deleted);
    json_t *old = NULL;
    char *etag = NULL;
    enum es_status st = store->ops->view_get(store, vid, &old, &etag, NULL, NULL);
    cr_assert(st == ES_OK || st == ES_ENOTFOUND);
    cr_assert_eq(store->ops->view_put(store, doc, etag, NULL, NULL, NULL), ES_OK);
    json_decref(old);
    free(etag);
    json_decref(doc);
}

static bool deleted(const json_t *view)
{
    return json_is_true(json_object_get(view, "deleted"));
}

static json_int_t version_of(const json_t *doc)
{
    return json_integer_value(json_object_get(doc, "version"));
}

Test(reads, stream_and_view_under_their_prefixes)
{
    append("a", 0, 3);
    put_view("a", 3, false);
    struct es_event_page page = {0};
    cr_assert_eq(es_read_stream(engine, &agg, "a", 2, 10, &page, NULL, NULL), ES_OK);
    cr_assert_eq(page.n, 2);
    cr_expect_str_eq(page.events[0].stream_id, "t-a");
    cr_expect_eq(page.events[0].version, 2);
    es_event_page_release(&page);
    json_t *doc = NULL;
    cr_assert_eq(es_read_view(engine, "v:", "a", &doc, NULL, NULL), ES_OK);
    cr_expect_eq(version_of(doc), 3);
    json_decref(doc);
    cr_expect_eq(es_read_view(engine, "v:", "nope", &doc, NULL, NULL), ES_ENOTFOUND);
}

Test(reads, a_view_at_or_past_the_version_answers_at_once)
{
    append("a", 0, 3);
    put_view("a", 3, false);
    json_t *doc = NULL;
    struct es_error err = {0};
    int64_t t0 = es_time_mono_ms();
    cr_assert_eq(
        es_read_view_min(engine, &agg, "v:", "a", 2, 5000, deleted, &doc, NULL, &err),
        ES_OK);
    cr_expect_eq(version_of(doc), 3);
    cr_expect_lt(es_time_mono_ms() - t0, 4000);
    json_decref(doc);
}

Test(reads, a_version_never_written_is_not_found_without_waiting)
{
    append("a", 0, 2);
    put_view("a", 2, false);
    json_t *doc = NULL;
    struct es_error err = {0};
    int64_t t0 = es_time_mono_ms();
    cr_expect_eq(
        es_read_view_min(engine, &agg, "v:", "a", 3, 5000, deleted, &doc, NULL, &err),
        ES_ENOTFOUND);
    json_decref(doc);
    doc = NULL;
    /* An unknown stream, and no view either. */
    cr_expect_eq(
        es_read_view_min(engine, &agg, "v:", "zz", 1, 5000, deleted, &doc, NULL, NULL),
        ES_ENOTFOUND);
    cr_expect_null(doc);
    cr_expect_lt(es_time_mono_ms() - t0, 4000, "it waited for a version nobody wrote");
}

Test(reads, a_lagging_view_is_behind_after_the_wait_with_its_version)
{
    append("a", 0, 4);
    put_view("a", 2, false);
    json_t *doc = NULL;
    struct es_error err = {0};
    int64_t t0 = es_time_mono_ms();
    cr_assert_eq(
        es_read_view_min(engine, &agg, "v:", "a", 4, 300, deleted, &doc, NULL, &err),
        ES_EVIEW_BEHIND);
    cr_expect_geq(es_time_mono_ms() - t0, 300);
    cr_expect_eq(version_of(doc), 2, "the last view read comes back");
    cr_expect_eq(err.code, ES_EVIEW_BEHIND);
    cr_expect_not_null(strstr(err.message, "version 2"), "%s", err.message);
    json_decref(doc);
}

Test(reads, a_stream_written_but_not_yet_projected_is_behind_at_version_zero)
{
    append("a", 0, 1);
    json_t *doc = NULL;
    cr_assert_eq(
        es_read_view_min(engine, &agg, "v:", "a", 1, 50, deleted, &doc, NULL, NULL),
        ES_EVIEW_BEHIND);
    cr_expect_null(doc);
}

Test(reads, a_final_view_ends_the_wait)
{
    append("a", 0, 3);
    put_view("a", 2, true);
    json_t *doc = NULL;
    int64_t t0 = es_time_mono_ms();
    cr_assert_eq(
        es_read_view_min(engine, &agg, "v:", "a", 3, 5000, deleted, &doc, NULL, NULL),
        ES_OK);
    cr_expect(deleted(doc));
    cr_expect_lt(es_time_mono_ms() - t0, 4000);
    json_decref(doc);
}

static void *catch_up(void *arg)
{
    (void)arg;
    es_time_sleep_ms(150);
    put_view("a", 5, false);
    return NULL;
}

Test(reads, the_wait_ends_when_the_view_catches_up)
{
    append("a", 0, 5);
    put_view("a", 1, false);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, catch_up, NULL), 0);
    json_t *doc = NULL;
    int64_t t0 = es_time_mono_ms();
    enum es_status st =
        es_read_view_min(engine, &agg, "v:", "a", 5, 8000, deleted, &doc, NULL, NULL);
    int64_t took = es_time_mono_ms() - t0;
    pthread_join(t, NULL);
    cr_assert_eq(st, ES_OK);
    cr_expect_eq(version_of(doc), 5);
    cr_expect_geq(took, 150);
    cr_expect_lt(took, 7000, "it waited out the deadline instead of seeing the view");
    json_decref(doc);
}

/*
 * engine_limits.h - the engine against the store's limits (store.h: 100
 * operations and 2 MiB per append, 2 MiB per document), with an aggregate
 * whose state grows without bound: a set of named blobs.
 *
 * Included by a test file that defines `store` (the store under test) and
 * the suite `engine` with a fixture opening it: tests/unit/es/test_engine.c
 * (SQLite) and tests/integration/test_limits.c (Cosmos DB on the rig). Both
 * must answer alike.
 */
#ifndef ES_TEST_ENGINE_LIMITS_H
#define ES_TEST_ENGINE_LIMITS_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "es/engine.h"

static void *blobs_new(void)
{
    return json_object();
}

static void blobs_free(void *s)
{
    json_decref(s);
}

static void *blobs_clone(const void *s)
{
    return json_deep_copy(s);
}

static enum es_status blobs_evolve(void *s, const char *type, int schema,
                                   const json_t *data)
{
    (void)schema;
    (void)type;
    const char *name = json_string_value(json_object_get(data, "name"));
    json_t *blob = json_object_get(data, "blob");
    if (name == NULL || !json_is_string(blob))
        return ES_EFIELD;
    return json_object_set(s, name, blob) == 0 ? ES_OK : ES_ENOMEM;
}

static json_t *blobs_encode(const void *s)
{
    return json_deep_copy(s);
}

static void *blobs_decode(const json_t *j)
{
    return json_is_object(j) ? json_deep_copy(j) : NULL;
}

static const struct es_aggregate blobs = {
    "blobs-",     1,           1, blobs_new, blobs_free, blobs_clone, blobs_evolve,
    blobs_encode, blobs_decode};

/* decide: `count` events, each a blob of `bytes` named "<prefix><i>". */
struct blob_cmd {
    const char *prefix;
    int count;
    size_t bytes;
};

static enum es_status decide_blobs(void *ctx, const void *state, int64_t version,
                                   struct es_decision *d)
{
    (void)state;
    (void)version;
    const struct blob_cmd *b = ctx;
    char *text = malloc(b->bytes + 1);
    if (text == NULL)
        return ES_ENOMEM;
    memset(text, 'b', b->bytes);
    text[b->bytes] = '\0';
    d->events = json_array();
    for (int i = 0; i < b->count; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s%d", b->prefix, i);
        json_array_append_new(d->events,
                              json_pack("{s:s, s:{s:s, s:s}}", "type", "BlobAdded",
                                        "data", "name", name, "blob", text));
    }
    free(text);
    return ES_OK;
}

static struct es_outcome blob_run(struct es_engine *e, const char *id, struct blob_cmd *b)
{
    struct es_command c = {.aggregate = &blobs,
                           .aggregate_id = id,
                           .decide = decide_blobs,
                           .decide_ctx = b,
                           .render = api_render_success,
                           .request_hash = "h",
                           .correlation_id = "corr"};
    struct es_outcome o;
    struct es_error err = {0};
    cr_assert_eq(es_engine_execute(e, &c, &o, &err), ES_OK, "%s", err.message);
    return o;
}

static int64_t blob_snapshot_version(const char *stream)
{
    struct es_snapshot s;
    enum es_status st = store->ops->read_snapshot(store, stream, &s, NULL, NULL);
    if (st == ES_ENOTFOUND)
        return 0;
    cr_assert_eq(st, ES_OK);
    int64_t v = s.version;
    es_snapshot_release(&s);
    return v;
}

#define BLOB_600K 600000

/* A snapshot only saves reads: one that would not fit is left out, and nothing fails. */
Test(engine, a_snapshot_past_the_limits_is_left_out_and_the_stream_keeps_working)
{
    struct es_engine_opts opts = {store, 100, 1,
                                  3,     0,   0}; /* a snapshot on every append */
    struct es_engine *e = es_engine_new(&opts);
    for (int i = 0; i < 4; i++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "n%d-", i);
        struct blob_cmd b = {prefix, 1, BLOB_600K};
        struct es_outcome o = blob_run(e, "grow", &b);
        cr_expect_eq(o.status, 200, "append %d: %s", i + 1, o.message);
        cr_expect_eq(o.version, i + 1);
        es_outcome_release(&o);
    }
    cr_expect_eq(blob_snapshot_version("blobs-grow"), 2,
                 "1.8 MB of snapshot and 600 KB of event pass the 2 MiB of one append");
    es_engine_free(e);

    /* A cold engine loads what the snapshot has and the events after it. */
    e = es_engine_new(&opts);
    struct blob_cmd small = {"small-", 1, 10};
    struct es_outcome o = blob_run(e, "grow", &small);
    cr_expect_eq(o.status, 200, "%s", o.message);
    cr_expect_eq(o.version, 5);
    cr_expect_str_eq(o.loaded_from, "snapshot");
    es_outcome_release(&o);
    es_engine_free(e);
}

Test(engine, events_past_the_limits_of_one_append_are_413_and_append_nothing)
{
    struct es_engine_opts opts = {store, 100, 100, 3, 0, 0};
    struct es_engine *e = es_engine_new(&opts);
    struct blob_cmd many = {"m-", ES_STORE_BATCH_MAX_OPS + 1, 10};
    struct es_outcome o = blob_run(e, "limits", &many);
    cr_expect_eq(o.status, 413, "101 events in one append");
    cr_expect_eq(o.refusal, ES_ETOOBIG);
    es_outcome_release(&o);
    struct blob_cmd huge = {"h-", 1, ES_STORE_DOC_MAX_BYTES};
    o = blob_run(e, "limits", &huge);
    cr_expect_eq(o.status, 413, "one event over 2 MiB");
    cr_expect(strstr(o.message, "at most") != NULL, "%s", o.message);
    es_outcome_release(&o);
    struct blob_cmd four = {"t-", 4, BLOB_600K};
    o = blob_run(e, "limits", &four);
    cr_expect_eq(o.status, 413, "four of 600 KB pass 2 MiB together");
    es_outcome_release(&o);
    struct es_event_page p;
    cr_assert_eq(store->ops->read_stream(store, "blobs-limits", 1, 10, &p, NULL, NULL),
                 ES_OK);
    cr_expect_eq(p.n, 0, "nothing was appended");
    es_event_page_release(&p);
    struct blob_cmd fits = {"f-", ES_STORE_BATCH_MAX_OPS, 10};
    o = blob_run(e, "limits", &fits);
    cr_expect_eq(o.status, 200, "100 events on a new stream fit: %s", o.message);
    es_outcome_release(&o);
    es_engine_free(e);
}

#endif

/*
 * The command loop against the SQLite store, with a tiny aggregate of its own
 * (a set of tags) - which also shows that the engine takes any aggregate.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "es/engine.h"
#include "tmpstore.h"

/* ---- the tag-set aggregate: state is a JSON object of tag -> true ---- */

static void *tags_new(void)
{
    return json_object();
}

static void tags_free(void *s)
{
    json_decref(s);
}

static void *tags_clone(const void *s)
{
    return json_deep_copy(s);
}

static enum es_status tags_evolve(void *s, const char *type, int schema,
                                  const json_t *data)
{
    (void)schema;
    const char *tag = json_string_value(json_object_get(data, "tag"));
    if (tag == NULL)
        return ES_EFIELD;
    if (strcmp(type, "TagAdded") == 0)
        json_object_set_new(s, tag, json_true());
    else if (strcmp(type, "TagRemoved") == 0)
        json_object_del(s, tag);
    return ES_OK;
}

static json_t *tags_encode(const void *s)
{
    return json_deep_copy(s);
}

static void *tags_decode(const json_t *j)
{
    return json_is_object(j) ? json_deep_copy(j) : NULL;
}

static const struct es_aggregate tags = {"tags-",     1,           1,
                                         tags_new,    tags_free,   tags_clone,
                                         tags_evolve, tags_encode, tags_decode};

/* decide: add ctx->tag (409 when present), or add `many` tags at once. */
struct add {
    const char *tag;
    int many;
    int calls;
    struct es_store *sabotage; /* append behind the engine's back on every call */
};

static enum es_status decide_add(void *ctx, const void *state, int64_t version,
                                 struct es_decision *d)
{
    struct add *a = ctx;
    a->calls++;
    if (a->sabotage != NULL) {
        json_t *data = json_pack("{s:s}", "tag", "intruder"), *m = json_object();
        struct es_new_event ev = {"TagAdded", 1, data, m};
        struct es_append ap = {"tags-t", version, &ev, 1, NULL, NULL};
        enum es_conflict c;
        cr_assert_eq(a->sabotage->ops->append(a->sabotage, &ap, &c, NULL, NULL), ES_OK);
        json_decref(data);
        json_decref(m);
    }
    d->events = json_array();
    if (a->many > 0) {
        for (int i = 0; i < a->many; i++) {
            char tag[64];
            snprintf(tag, sizeof(tag), "t%lld-%d", (long long)version, i);
            json_array_append_new(d->events, json_pack("{s:s, s:{s:s}}", "type",
                                                       "TagAdded", "data", "tag", tag));
        }
        return ES_OK;
    }
    if (json_object_get(state, a->tag) != NULL) {
        d->refusal = ES_ETASK_EXISTS;
        snprintf(d->message, sizeof(d->message), "tag '%s' exists", a->tag);
        return ES_OK;
    }
    json_array_append_new(d->events, json_pack("{s:s, s:{s:s}}", "type", "TagAdded",
                                               "data", "tag", a->tag));
    d->success_status = 201;
    d->extra = json_pack("{s:s}", "tag", a->tag);
    return ES_OK;
}

/* ---- fixture ---- */

static struct tmpstore tmp;
static struct es_store *store;

static struct es_engine *engine_with(int snapshot_every, int max_attempts)
{
    struct es_engine_opts o = {store, 100, snapshot_every, max_attempts, 0, 0};
    return es_engine_new(&o);
}

static void setup(void)
{
    store = tmpstore_open(&tmp, "engine");
}

static void teardown(void)
{
    tmpstore_remove(&tmp);
}

TestSuite(engine, .init = setup, .fini = teardown);

#include "engine_limits.h"

static struct es_command command(const char *id, struct add *a)
{
    struct es_command c = {.aggregate = &tags,
                           .aggregate_id = id,
                           .decide = decide_add,
                           .decide_ctx = a,
                           .render = api_render_success,
                           .request_hash = "h",
                           .correlation_id = "corr"};
    return c;
}

static struct es_outcome run(struct es_engine *e, struct es_command *c)
{
    struct es_outcome o;
    struct es_error err = {0};
    cr_assert_eq(es_engine_execute(e, c, &o, &err), ES_OK, "%s", err.message);
    return o;
}

static size_t length(const char *stream)
{
    struct es_event_page p;
    cr_assert_eq(store->ops->read_stream(store, stream, 1, 100000, &p, NULL, NULL),
                 ES_OK);
    size_t n = p.n;
    es_event_page_release(&p);
    return n;
}

/* ---- tests ---- */

Test(engine, a_command_appends_and_answers_with_the_new_version)
{
    struct es_engine *e = engine_with(100, 10);
    struct add a = {.tag = "red"};
    struct es_command c = command("t", &a);
    struct es_outcome o = run(e, &c);
    cr_expect_eq(o.status, 201);
    cr_expect_eq(o.version, 1);
    cr_expect_eq(o.appended, 1);
    cr_expect_str_eq(o.loaded_from, "events");
    json_t *body = json_loads(o.body, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(body, "id")), "t");
    cr_expect_eq(json_integer_value(json_object_get(body, "version")), 1);
    cr_expect_str_eq(json_string_value(json_object_get(body, "tag")), "red");
    json_t *ev = json_array_get(json_object_get(body, "events"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(ev, "type")), "TagAdded");
    cr_expect_eq(json_integer_value(json_object_get(ev, "version")), 1);
    json_decref(body);
    es_outcome_release(&o);

    a.tag = "blue";
    o = run(e, &c);
    cr_expect_str_eq(o.loaded_from, "cache");
    cr_expect_eq(o.io.round_trips, 1, "a warm command costs one round trip: the append");
    cr_expect_eq(o.version, 2);
    es_outcome_release(&o);
    es_engine_free(e);
}

Test(engine, event_metadata_records_time_correlation_causation_and_key)
{
    struct es_engine *e = engine_with(100, 10);
    struct add a = {.tag = "x"};
    struct es_command c = command("t", &a);
    c.causation_id = "todolist-a:7";
    c.idempotency_key = "key-9";
    struct es_outcome o = run(e, &c);
    es_outcome_release(&o);
    struct es_event_page p;
    cr_assert_eq(store->ops->read_stream(store, "tags-t", 1, 10, &p, NULL, NULL), ES_OK);
    json_t *m = p.events[0].meta;
    cr_expect_str_eq(json_string_value(json_object_get(m, "correlationId")), "corr");
    cr_expect_str_eq(json_string_value(json_object_get(m, "causationId")),
                     "todolist-a:7");
    cr_expect_str_eq(json_string_value(json_object_get(m, "idempotencyKey")), "key-9");
    const char *at = json_string_value(json_object_get(m, "occurredAt"));
    cr_expect(at != NULL && strlen(at) == 24 && at[23] == 'Z' && at[19] == '.', "%s", at);
    es_event_page_release(&p);
    es_engine_free(e);
}

Test(engine, a_cold_load_starts_from_the_snapshot)
{
    struct es_engine *e = engine_with(10, 10);
    for (int i = 0; i < 25; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "tag%d", i);
        struct add a = {.tag = tag};
        struct es_command c = command("t", &a);
        struct es_outcome o = run(e, &c);
        es_outcome_release(&o);
    }
    es_engine_free(e);
    e = engine_with(10, 10);
    struct add a = {.tag = "last"};
    struct es_command c = command("t", &a);
    struct es_outcome o = run(e, &c);
    cr_expect_str_eq(o.loaded_from, "snapshot");
    cr_expect_eq(o.io.events_read, 5, "the snapshot at 20 plus five events");
    cr_expect_eq(o.version, 26);
    es_outcome_release(&o);
    es_engine_free(e);
}

Test(engine, ten_thousand_events_load_from_snapshot_and_tail)
{
    struct es_engine *e = engine_with(100, 10);
    for (int i = 0; i < 200; i++) {
        struct add a = {.many = 50};
        struct es_command c = command("t", &a);
        struct es_outcome o = run(e, &c);
        cr_assert_eq(o.status, 200);
        es_outcome_release(&o);
    }
    es_engine_free(e);
    cr_assert_eq(length("tags-t"), 10000);
    e = engine_with(100, 10);
    struct add a = {.tag = "cold"};
    struct es_command c = command("t", &a);
    struct es_outcome o = run(e, &c);
    cr_expect_eq(o.version, 10001);
    cr_expect_str_eq(o.loaded_from, "snapshot");
    cr_expect_lt(o.io.events_read, 100, "read %u events, not 10,000", o.io.events_read);
    cr_expect_leq(o.io.round_trips, 3, "snapshot, tail, append: %u", o.io.round_trips);
    es_outcome_release(&o);
    es_engine_free(e);
}

Test(engine, if_match_guards_the_version)
{
    struct es_engine *e = engine_with(100, 10);
    struct add a = {.tag = "a"};
    struct es_command c = command("t", &a);
    c.has_if_match = true;
    c.if_match_any = true;
    struct es_outcome o = run(e, &c);
    cr_expect_eq(o.status, 412, "If-Match: * needs the stream to exist");
    es_outcome_release(&o);
    c.if_match_any = false;
    c.if_match = 0;
    o = run(e, &c);
    cr_expect_eq(o.status, 201);
    es_outcome_release(&o);
    a.tag = "b";
    o = run(e, &c);
    cr_expect_eq(o.status, 412);
    cr_expect_eq(o.version, 1, "a 412 names the current version");
    cr_expect_eq(o.refusal, ES_EPRECONDITION);
    cr_expect_null(o.body, "a refusal is rendered by the command's glue, not the engine");
    es_outcome_release(&o);
    c.if_match = 1;
    o = run(e, &c);
    cr_expect_eq(o.status, 201);
    es_outcome_release(&o);
    cr_expect_eq(length("tags-t"), 2);
    es_engine_free(e);
}

Test(engine, a_repeated_idempotency_key_gets_the_first_answer)
{
    struct es_engine *e = engine_with(100, 10);
    struct add a = {.tag = "a"};
    struct es_command c = command("t", &a);
    c.idempotency_key = "k1";
    struct es_outcome first = run(e, &c);
    cr_assert_eq(first.status, 201);
    struct es_outcome again = run(e, &c);
    cr_expect_eq(again.status, 201, "not 409: the receipt answers");
    cr_expect(again.replayed);
    cr_expect_str_eq(again.body, first.body);
    cr_expect_eq(again.version, first.version);
    cr_expect_eq(again.appended, 0);
    es_outcome_release(&again);
    /* A cold engine meets the receipt on the append instead. */
    struct es_engine *cold = engine_with(100, 10);
    struct add other = {.tag = "other"};
    struct es_command c2 = command("t", &other);
    c2.idempotency_key = "k1";
    struct es_outcome o = run(cold, &c2);
    cr_expect(o.replayed);
    cr_expect_str_eq(o.body, first.body);
    es_outcome_release(&o);
    c2.request_hash = "different";
    o = run(cold, &c2);
    cr_expect_eq(o.status, 422);
    cr_expect_eq(o.refusal, ES_EKEY_REUSE);
    es_outcome_release(&o);
    cr_expect_eq(length("tags-t"), 1, "appended once");
    es_outcome_release(&first);
    es_engine_free(cold);
    es_engine_free(e);
}

Test(engine, a_conflict_with_another_writer_is_resolved_by_catching_up)
{
    struct es_engine *a_engine = engine_with(100, 10), *b_engine = engine_with(100, 10);
    struct add a = {.tag = "a"};
    struct es_command c = command("t", &a);
    struct es_outcome o = run(a_engine, &c);
    es_outcome_release(&o);
    struct add b = {.tag = "b"};
    struct es_command cb = command("t", &b);
    o = run(b_engine, &cb);
    cr_expect_eq(o.version, 2);
    es_outcome_release(&o);
    a.tag = "c";
    o = run(a_engine, &c);
    cr_expect_eq(o.status, 201);
    cr_expect_eq(o.version, 3);
    cr_expect_eq(o.attempts, 2, "the first append met b's event");
    es_outcome_release(&o);
    es_engine_free(a_engine);
    es_engine_free(b_engine);
}

Test(engine, a_refusal_from_a_stale_cache_is_checked_against_the_store)
{
    struct es_engine *a_engine = engine_with(100, 10);
    struct add a = {.tag = "x"};
    struct es_command c = command("t", &a);
    struct es_outcome o = run(a_engine, &c);
    es_outcome_release(&o);
    /* Another writer removes the tag. */
    json_t *data = json_pack("{s:s}", "tag", "x"), *m = json_object();
    struct es_new_event ev = {"TagRemoved", 1, data, m};
    struct es_append ap = {"tags-t", 1, &ev, 1, NULL, NULL};
    enum es_conflict conflict;
    cr_assert_eq(store->ops->append(store, &ap, &conflict, NULL, NULL), ES_OK);
    json_decref(data);
    json_decref(m);
    o = run(a_engine, &c);
    cr_expect_eq(o.status, 201,
                 "the cached state said 'exists', the store says otherwise");
    cr_expect_eq(o.version, 3);
    es_outcome_release(&o);
    o = run(a_engine, &c);
    cr_expect_eq(o.status, 409, "a real refusal stays a refusal");
    es_outcome_release(&o);
    es_engine_free(a_engine);
}

Test(engine, endless_conflicts_end_in_409_after_the_attempt_budget)
{
    struct es_engine *e = engine_with(100, 4);
    struct add a = {.tag = "mine", .sabotage = store};
    struct es_command c = command("t", &a);
    struct es_outcome o = run(e, &c);
    cr_expect_eq(o.status, 409);
    cr_expect_eq(o.attempts, 4);
    cr_expect_eq(o.refusal, ES_ECONFLICT);
    es_outcome_release(&o);
    es_engine_free(e);
}

/* A store whose appends fail as an unreachable store would. */
static enum es_status down_append(struct es_store *s, const struct es_append *a,
                                  enum es_conflict *conflict, struct es_io *io,
                                  struct es_error *err)
{
    (void)s, (void)a, (void)io;
    *conflict = ES_CONFLICT_NONE;
    return es_error_set(err, ES_EUNAVAILABLE, "store down");
}

/* Reads go to the real store (the ops take the real store's pointer). */
static enum es_status fwd_read_stream(struct es_store *s, const char *id, int64_t from,
                                      size_t max, struct es_event_page *out,
                                      struct es_io *io, struct es_error *err)
{
    (void)s;
    return store->ops->read_stream(store, id, from, max, out, io, err);
}

static enum es_status fwd_read_snapshot(struct es_store *s, const char *id,
                                        struct es_snapshot *out, struct es_io *io,
                                        struct es_error *err)
{
    (void)s;
    return store->ops->read_snapshot(store, id, out, io, err);
}

Test(engine, an_unavailable_store_is_reported_not_answered)
{
    struct es_store_ops ops = {.name = "down",
                               .append = down_append,
                               .read_stream = fwd_read_stream,
                               .read_snapshot = fwd_read_snapshot};
    struct es_store down = {&ops};
    struct es_engine_opts opts = {&down, 10, 100, 3, 0, 0};
    struct es_engine *e = es_engine_new(&opts);
    struct add a = {.tag = "x"};
    struct es_command c = command("t", &a);
    struct es_outcome o;
    struct es_error err = {0};
    cr_expect_eq(es_engine_execute(e, &c, &o, &err), ES_EUNAVAILABLE);
    cr_expect_null(o.body);
    es_outcome_release(&o);
    cr_expect_eq(length("tags-t"), 0);
    es_engine_free(e);
}

struct worker {
    struct es_engine *e;
    int id, ok;
};

static void *add_tags(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 10; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "w%d-%d", w->id, i);
        struct add a = {.tag = tag};
        struct es_command c = command("t", &a);
        struct es_outcome o;
        if (es_engine_execute(w->e, &c, &o, NULL) == ES_OK && o.status == 201)
            w->ok++;
        es_outcome_release(&o);
    }
    return NULL;
}

Test(engine, concurrent_commands_on_one_stream_all_succeed)
{
    struct es_engine *e = engine_with(100, 10);
    enum { N = 16 };
    pthread_t t[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.e = e, .id = i};
        pthread_create(&t[i], NULL, add_tags, &w[i]);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
    }
    cr_expect_eq(ok, N * 10);
    cr_expect_eq(length("tags-t"), (size_t)N * 10);
    es_engine_free(e);
}

/* ---- a list never waits for an unrelated one ---- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_moved = PTHREAD_COND_INITIALIZER;
static bool gate_open, slow_inside;

/* Appends to "tags-slow" wait inside the store until the gate opens. */
static enum es_status gated_append(struct es_store *s, const struct es_append *a,
                                   enum es_conflict *conflict, struct es_io *io,
                                   struct es_error *err)
{
    (void)s;
    if (strcmp(a->stream_id, "tags-slow") == 0) {
        pthread_mutex_lock(&gate_lock);
        slow_inside = true;
        pthread_cond_broadcast(&gate_moved);
        while (!gate_open)
            pthread_cond_wait(&gate_moved, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
    }
    return store->ops->append(store, a, conflict, io, err);
}

static enum es_status fwd_has_version(struct es_store *s, const char *id, int64_t v,
                                      struct es_io *io, struct es_error *err)
{
    (void)s;
    return store->ops->has_version(store, id, v, io, err);
}

struct slow_run {
    struct es_engine *e;
    int status;
};

static void *run_slow(void *arg)
{
    struct slow_run *r = arg;
    struct add a = {.tag = "slow"};
    struct es_command c = command("slow", &a);
    struct es_outcome o = run(r->e, &c);
    r->status = o.status;
    es_outcome_release(&o);
    return NULL;
}

/* No timing: were "fast" to wait for "slow", the test would hang until its timeout. */
Test(engine, a_command_never_waits_for_one_on_another_stream, .timeout = 30)
{
    struct es_store_ops ops = {.name = "gated",
                               .append = gated_append,
                               .read_stream = fwd_read_stream,
                               .read_snapshot = fwd_read_snapshot,
                               .has_version = fwd_has_version};
    struct es_store gated = {&ops};
    struct es_engine_opts opts = {&gated, 10, 100, 3, 0, 0};
    struct es_engine *e = es_engine_new(&opts);
    gate_open = slow_inside = false;
    struct slow_run slow = {.e = e};
    pthread_t th;
    pthread_create(&th, NULL, run_slow, &slow);
    pthread_mutex_lock(&gate_lock);
    while (!slow_inside)
        pthread_cond_wait(&gate_moved, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    /* "slow" is inside its append, holding its stream; "fast168" goes ahead (the two
     * streams shared a mutex under the 256 striped locks this engine used to have). */
    struct add a = {.tag = "fast"};
    struct es_command c = command("fast168", &a);
    struct es_outcome o = run(e, &c);
    cr_expect_eq(o.status, 201);
    es_outcome_release(&o);
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_moved);
    pthread_mutex_unlock(&gate_lock);
    pthread_join(th, NULL);
    cr_expect_eq(slow.status, 201);
    es_engine_free(e);
}

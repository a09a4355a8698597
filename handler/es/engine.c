/*
 * engine.c - the command loop (see engine.h for the contract).
 *
 * Receipt document (stored with the events of the command it answers):
 *   id "{streamId}:cmd:{idempotencyKey}", kind "receipt", streamId, key,
 *   status, body (the answer's JSON text), version (its ETag), location,
 *   requestHash (hex SHA-256 of method, path and body), createdAt.
 * Snapshot document: id "{streamId}:snapshot", kind "snapshot", streamId,
 *   version, schema (the aggregate's snapshot_schema), state.
 * Changing either: add fields freely; receipts are read back as they were
 * written, so a renamed field needs a fallback for the old name.
 */
#include "engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ids.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"
#include "cache.h"

#define STRIPES   256
#define READ_PAGE 1000

struct es_engine {
    struct es_store *store;
    struct es_cache *cache;
    int snapshot_every;
    int max_attempts;
    void (*on_append)(void *ctx);
    void *on_append_ctx;
    pthread_mutex_t stripes[STRIPES];
};

void es_engine_on_append(struct es_engine *e, void (*hook)(void *ctx), void *ctx)
{
    e->on_append = hook;
    e->on_append_ctx = ctx;
}

struct es_engine *es_engine_new(const struct es_engine_opts *opts)
{
    struct es_engine *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->store = opts->store;
    e->cache = es_cache_new(opts->cache_streams);
    e->snapshot_every = opts->snapshot_every;
    e->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 1;
    if (e->cache == NULL) {
        free(e);
        return NULL;
    }
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&e->stripes[i], NULL);
    return e;
}

void es_engine_free(struct es_engine *e)
{
    if (e == NULL)
        return;
    es_cache_free(e->cache);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&e->stripes[i]);
    free(e);
}

struct es_store *es_engine_store(struct es_engine *e)
{
    return e->store;
}

void es_outcome_release(struct es_outcome *o)
{
    free(o->body);
    free(o->location);
    memset(o, 0, sizeof(*o));
}

static pthread_mutex_t *stripe(struct es_engine *e, const char *stream_id)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = stream_id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return &e->stripes[h % STRIPES];
}

/* ---- loading ---- */

/* Folds the events after *version into state. *n_out counts them. */
static enum es_status catch_up(struct es_engine *e, const struct es_aggregate *agg,
                               const char *stream_id, void *state, int64_t *version,
                               size_t *n_out, struct es_io *io, struct es_error *err)
{
    size_t total = 0;
    for (;;) {
        struct es_event_page page;
        enum es_status st = e->store->ops->read_stream(e->store, stream_id, *version + 1,
                                                       READ_PAGE, &page, io, err);
        if (st != ES_OK)
            return st;
        for (size_t i = 0; i < page.n; i++) {
            const struct es_event *ev = &page.events[i];
            st = agg->evolve(state, ev->type, ev->schema, ev->data);
            if (st == ES_ENOMEM) {
                es_event_page_release(&page);
                return st;
            }
            if (st != ES_OK)
                es_log_warn("stream '%s' version %lld: event '%s' skipped: %s", stream_id,
                            (long long)ev->version, ev->type, es_status_message(st));
            *version = ev->version;
        }
        total += page.n;
        size_t n = page.n;
        es_event_page_release(&page);
        if (n < READ_PAGE)
            break;
    }
    if (n_out != NULL)
        *n_out = total;
    return ES_OK;
}

/* State from the snapshot (when its schema is current) plus the events after it. */
static enum es_status load_from_store(struct es_engine *e, const struct es_aggregate *agg,
                                      const char *stream_id, void **state_out,
                                      int64_t *version_out, const char **from,
                                      struct es_io *io, struct es_error *err)
{
    struct es_snapshot snap;
    void *state = NULL;
    int64_t version = 0;
    enum es_status st = e->store->ops->read_snapshot(e->store, stream_id, &snap, io, err);
    if (st == ES_OK) {
        if (snap.schema == agg->snapshot_schema &&
            (state = agg->state_decode(snap.state)) != NULL)
            version = snap.version;
        es_snapshot_release(&snap);
    } else if (st != ES_ENOTFOUND) {
        return st;
    }
    *from = state != NULL ? "snapshot" : "events";
    if (state == NULL && (state = agg->state_new()) == NULL)
        return ES_ENOMEM;
    st = catch_up(e, agg, stream_id, state, &version, NULL, io, err);
    if (st != ES_OK) {
        agg->state_free(state);
        return st;
    }
    *state_out = state;
    *version_out = version;
    return ES_OK;
}

static enum es_status stream_id_of(const struct es_aggregate *agg, const char *id,
                                   char *out, size_t len)
{
    return es_fmt(out, len, "%s%s", agg->stream_prefix, id);
}

static void cache_copy(struct es_engine *e, const struct es_aggregate *agg,
                       const char *stream_id, const void *state, int64_t version)
{
    void *copy = agg->state_clone(state);
    if (copy != NULL)
        es_cache_put(e->cache, stream_id, copy, version, agg->state_free);
}

/* ---- answers ---- */

static enum es_status set_body(struct es_outcome *out, int status, json_t *body_new)
{
    free(out->body);
    out->body = body_new != NULL ? es_json_dumps(body_new, &out->body_len) : NULL;
    json_decref(body_new);
    out->status = status;
    return out->body != NULL ? ES_OK : ES_ENOMEM;
}

static enum es_status answer_error(struct es_outcome *out, int status, const char *code,
                                   const char *message)
{
    out->version = -1;
    return set_body(out, status,
                    json_pack("{s:s, s:s}", "error", code, "message", message));
}

/* The success body: {"id", "version", "events": [{"type", "version"}...]} + extra. */
static json_t *success_body(const char *id, int64_t version, const json_t *events,
                            const json_t *extra)
{
    json_t *list = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        json_array_append_new(
            list, json_pack("{s:O, s:I}", "type", json_object_get(ev, "type"), "version",
                            (json_int_t)(version - (int64_t)json_array_size(events) + 1 +
                                         (int64_t)i)));
    }
    json_t *body = json_pack("{s:s, s:I, s:o}", "id", id, "version", (json_int_t)version,
                             "events", list);
    if (body != NULL && json_is_object(extra))
        json_object_update(body, (json_t *)extra);
    return body;
}

/*
 * Answers from the stored receipt of cmd's key: the original answer, or 422
 * when the key came with another request. ES_ENOTFOUND when there is none.
 */
static enum es_status answer_receipt(struct es_engine *e, const struct es_command *cmd,
                                     const char *stream_id, struct es_outcome *out,
                                     struct es_error *err)
{
    struct es_receipt r;
    enum es_status st = e->store->ops->read_receipt(
        e->store, stream_id, cmd->idempotency_key, &r, &out->io, err);
    if (st != ES_OK)
        return st;
    if (strcmp(r.request_hash, cmd->request_hash) != 0) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "Idempotency-Key '%s' was already used for a different request",
                 cmd->idempotency_key);
        st = answer_error(out, 422, "idempotency_key_reuse", msg);
    } else {
        free(out->body);
        out->body = r.body;
        out->body_len = strlen(r.body);
        r.body = NULL;
        out->status = r.status;
        out->version = r.version;
        free(out->location);
        out->location = r.location;
        r.location = NULL;
        out->replayed = true;
    }
    es_receipt_release(&r);
    return st;
}

/* ---- the loop ---- */

struct attempt {
    struct es_engine *e;
    const struct es_command *cmd;
    char stream_id[256];
    void *state;
    int64_t version;
    bool fresh; /* state was read from the store during this command */
};

static json_t *event_meta(const struct es_command *cmd, const char *now)
{
    json_t *meta = json_pack("{s:s, s:s?, s:s?}", "occurredAt", now, "correlationId",
                             cmd->correlation_id, "causationId", cmd->causation_id);
    if (meta != NULL && json_object_get(meta, "causationId") == NULL)
        json_object_set_new(meta, "causationId", json_null());
    if (meta != NULL && cmd->idempotency_key != NULL)
        json_object_set_new(meta, "idempotencyKey", json_string(cmd->idempotency_key));
    return meta;
}

/*
 * Appends the decision's events. ES_OK (appended; out answered), ES_ECONFLICT
 * with *conflict set, or a store error.
 */
static enum es_status try_append(struct attempt *a, struct es_decision *d,
                                 enum es_conflict *conflict, struct es_outcome *out,
                                 struct es_error *err)
{
    const struct es_command *cmd = a->cmd;
    const struct es_aggregate *agg = cmd->aggregate;
    size_t n = json_array_size(d->events);
    int64_t new_version = a->version + (int64_t)n;
    char now[40];
    es_time_rfc3339_ms(es_time_now_ms(), now, sizeof(now));
    json_t *meta = event_meta(cmd, now);
    struct es_new_event *events = calloc(n, sizeof(*events));
    void *next = agg->state_clone(a->state);
    json_t *body = success_body(cmd->aggregate_id, new_version, d->events, d->extra);
    char *body_text = body != NULL ? es_json_dumps(body, NULL) : NULL;
    json_t *snap_state = NULL;
    enum es_status st = ES_ENOMEM;
    if (meta == NULL || events == NULL || next == NULL || body_text == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_array_get(d->events, i);
        events[i] =
            (struct es_new_event){json_string_value(json_object_get(ev, "type")),
                                  agg->event_schema, json_object_get(ev, "data"), meta};
        if ((st = agg->evolve(next, events[i].type, agg->event_schema, events[i].data)) ==
            ES_ENOMEM)
            goto out;
    }
    struct es_snapshot snap = {.version = new_version, .schema = agg->snapshot_schema};
    bool snapshot_due = a->e->snapshot_every > 0 && new_version / a->e->snapshot_every >
                                                        a->version / a->e->snapshot_every;
    if (snapshot_due && (snap.state = snap_state = agg->state_encode(next)) == NULL) {
        st = ES_ENOMEM;
        goto out;
    }
    struct es_receipt receipt = {
        .key = (char *)cmd->idempotency_key,
        .status = d->success_status ? d->success_status : 200,
        .body = body_text,
        .version = new_version,
        .location = (char *)d->location,
        .request_hash = (char *)cmd->request_hash,
        .created_at = now,
    };
    struct es_append ap = {
        .stream_id = a->stream_id,
        .expected_version = a->version,
        .events = events,
        .n_events = n,
        .receipt = cmd->idempotency_key != NULL ? &receipt : NULL,
        .snapshot = snapshot_due ? &snap : NULL,
    };
    st = a->e->store->ops->append(a->e->store, &ap, conflict, &out->io, err);
    if (st != ES_OK)
        goto out;
    es_cache_put(a->e->cache, a->stream_id, next, new_version, agg->state_free);
    next = NULL;
    out->status = receipt.status;
    free(out->body);
    out->body = body_text;
    out->body_len = strlen(body_text);
    body_text = NULL;
    out->version = new_version;
    out->appended = (int64_t)n;
    if (d->location != NULL && (out->location = strdup(d->location)) == NULL)
        st = ES_ENOMEM;
out:
    if (next != NULL)
        agg->state_free(next);
    json_decref(snap_state);
    json_decref(body);
    free(body_text);
    free(events);
    json_decref(meta);
    return st;
}

/* The answer when nothing is appended: a refusal, a 412, or a no-op success. */
static enum es_status answer_without_append(struct attempt *a, struct es_decision *d,
                                            bool precondition_failed,
                                            struct es_outcome *out)
{
    if (precondition_failed) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "If-Match names version %lld but the list is at version %lld",
                 (long long)a->cmd->if_match, (long long)a->version);
        enum es_status st = answer_error(out, 412, "precondition_failed", msg);
        out->version = a->version;
        return st;
    }
    if (d->reject_status != 0)
        return answer_error(out, d->reject_status, d->reject_code, d->reject_message);
    /* Nothing was appended, so nothing was created or accepted for later: a plain 200. */
    out->version = a->version;
    return set_body(out, 200,
                    success_body(a->cmd->aggregate_id, a->version, d->events, d->extra));
}

static void decision_release(struct es_decision *d)
{
    json_decref(d->events);
    json_decref(d->extra);
    memset(d, 0, sizeof(*d));
}

static bool if_match_fails(const struct es_command *cmd, int64_t version)
{
    if (!cmd->has_if_match)
        return false;
    return cmd->if_match_any ? version == 0 : cmd->if_match != version;
}

/* One decide; returns true when the loop should decide again (after a catch-up). */
static enum es_status round_trip(struct attempt *a, struct es_outcome *out, bool *again,
                                 struct es_error *err)
{
    const struct es_command *cmd = a->cmd;
    struct es_decision d = {0};
    *again = false;
    enum es_status st = cmd->decide(cmd->decide_ctx, a->state, a->version, &d);
    if (st != ES_OK)
        goto out;
    bool refusal_first = d.reject_status == 404 || d.reject_status == 410;
    bool precondition = !refusal_first && if_match_fails(cmd, a->version);
    if (refusal_first || precondition || d.reject_status != 0 ||
        json_array_size(d.events) == 0) {
        if (!a->fresh) {
            size_t n = 0;
            st = catch_up(a->e, cmd->aggregate, a->stream_id, a->state, &a->version, &n,
                          &out->io, err);
            a->fresh = true;
            if (st == ES_OK && n > 0) {
                *again = true;
                goto out;
            }
            if (st != ES_OK)
                goto out;
        }
        if (cmd->idempotency_key != NULL) {
            st = answer_receipt(a->e, cmd, a->stream_id, out, err);
            if (st != ES_ENOTFOUND)
                goto out;
        }
        st = answer_without_append(a, &d, precondition, out);
        goto out;
    }
    out->attempts++;
    enum es_conflict conflict = ES_CONFLICT_NONE;
    struct es_error append_err = {0};
    st = try_append(a, &d, &conflict, out, &append_err);
    if (st == ES_ECONFLICT && conflict == ES_CONFLICT_RECEIPT) {
        st = answer_receipt(a->e, cmd, a->stream_id, out, err);
    } else if (st == ES_ECONFLICT) {
        size_t n = 0;
        st = catch_up(a->e, cmd->aggregate, a->stream_id, a->state, &a->version, &n,
                      &out->io, err);
        a->fresh = true;
        if (st == ES_OK) {
            *again = true;
            int64_t cap = 1 << (out->attempts < 6 ? out->attempts : 6);
            es_time_sleep_ms((int64_t)es_random_below((uint64_t)cap));
        }
    } else if (st != ES_OK) {
        es_error_set(err, st, "%s", append_err.message);
    }
out:
    decision_release(&d);
    return st;
}

enum es_status es_engine_execute(struct es_engine *e, const struct es_command *cmd,
                                 struct es_outcome *out, struct es_error *err)
{
    memset(out, 0, sizeof(*out));
    out->version = -1;
    struct attempt a = {.e = e, .cmd = cmd};
    if (stream_id_of(cmd->aggregate, cmd->aggregate_id, a.stream_id,
                     sizeof(a.stream_id)) != ES_OK)
        return es_error_set(err, ES_EINVAL, "aggregate id '%.80s...' is too long",
                            cmd->aggregate_id);
    pthread_mutex_t *lock = stripe(e, a.stream_id);
    pthread_mutex_lock(lock);

    enum es_status st = ES_OK;
    if (es_cache_get(e->cache, a.stream_id, cmd->aggregate->state_clone, &a.state,
                     &a.version)) {
        out->loaded_from = "cache";
    } else {
        st = load_from_store(e, cmd->aggregate, a.stream_id, &a.state, &a.version,
                             &out->loaded_from, &out->io, err);
        a.fresh = true;
    }
    bool again = st == ES_OK;
    while (again && out->attempts < (unsigned)e->max_attempts)
        st = round_trip(&a, out, &again, err);
    if (st == ES_OK && again) {
        char msg[200];
        snprintf(msg, sizeof(msg), "the list kept changing: gave up after %u attempts",
                 out->attempts);
        st = answer_error(out, 409, "conflict", msg);
    }
    if (st == ES_OK && a.fresh && out->appended == 0)
        cache_copy(e, cmd->aggregate, a.stream_id, a.state, a.version);
    pthread_mutex_unlock(lock);
    if (a.state != NULL)
        cmd->aggregate->state_free(a.state);
    if (st == ES_OK && out->appended > 0 && e->on_append != NULL)
        e->on_append(e->on_append_ctx);
    if (st != ES_OK) {
        free(out->body);
        out->body = NULL;
    }
    return st;
}

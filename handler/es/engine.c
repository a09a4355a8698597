/*
 * engine.c - the command loop (see engine.h for the contract).
 *
 * Receipt document (stored with the events of the command it answers):
 *   id "{streamId}:cmd:{idempotencyKey}", kind "receipt", streamId, key,
 *   status, body (the answer as the command's renderer wrote it), version (its
 *   ETag), location,
 *   requestHash (hex SHA-256 of method, path and body), createdAt.
 * Snapshot document: id "{streamId}:snapshot", kind "snapshot", streamId,
 *   version, schema (the aggregate's snapshot_schema), state.
 * Changing either: add fields freely; receipts are read back as they were
 * written, so a renamed field needs a fallback for the old name.
 */
#include "engine.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ids.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"
#include "cache.h"
#include "streamlock.h"

#define READ_PAGE 10000 /* events per store read while loading a stream */

struct es_engine {
    struct es_store *store;
    struct es_cache *cache;
    struct es_cache *views; /* the projector's, or NULL */
    int snapshot_every;
    int max_attempts;
    void (*on_append)(void *ctx);
    void *on_append_ctx;
    struct es_streamlocks *locks; /* one command per stream at a time */
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
    e->locks = es_streamlocks_new();
    if (opts->view_cache > 0 && (e->views = es_cache_new_sized(
                                     opts->view_cache, opts->view_cache_bytes)) == NULL) {
        es_engine_free(e);
        return NULL;
    }
    e->snapshot_every = opts->snapshot_every;
    e->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 1;
    if (e->cache == NULL || e->locks == NULL) {
        es_engine_free(e);
        return NULL;
    }
    return e;
}

void es_engine_free(struct es_engine *e)
{
    if (e == NULL)
        return;
    es_cache_free(e->cache);
    es_cache_free(e->views);
    es_streamlocks_free(e->locks);
    free(e);
}

struct es_store *es_engine_store(struct es_engine *e)
{
    return e->store;
}

struct es_cache *es_engine_view_cache(struct es_engine *e)
{
    return e->views;
}

void es_outcome_release(struct es_outcome *o)
{
    free(o->body);
    free(o->location);
    memset(o, 0, sizeof(*o));
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

/* ---- answers ---- */

static enum es_status refuse(struct es_outcome *out, enum es_status code, const char *fmt,
                             ...) __attribute__((format(printf, 3, 4)));

/* A refusal: its code, status and message; the command's glue renders it. */
static enum es_status refuse(struct es_outcome *out, enum es_status code, const char *fmt,
                             ...)
{
    free(out->body);
    out->body = NULL;
    out->body_len = 0;
    out->refusal = code;
    out->status = es_status_http(code);
    out->version = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    return ES_OK;
}

/* A success's body, by the command's renderer. */
static char *render(const struct es_command *cmd, int status, int64_t version,
                    const json_t *events, const json_t *extra, size_t *len)
{
    struct es_answer a = {.status = status,
                          .aggregate_id = cmd->aggregate_id,
                          .version = version,
                          .events = events,
                          .extra = extra};
    return cmd->render(cmd->render_ctx, &a, len);
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
        st = refuse(out, ES_EKEY_REUSE,
                    "Idempotency-Key '%s' was already used for a different request",
                    cmd->idempotency_key);
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
};

/*
 * Each event's meta: the command's (occurredAt, correlationId, causationId,
 * idempotencyKey) and an eventId of its own (a UUID), which tells this
 * append's events from any other's, whatever their content: the store
 * settles an unknown outcome by it. An array of n objects; NULL on ENOMEM.
 */
static json_t *event_metas(const json_t *meta, size_t n)
{
    json_t *metas = json_array();
    for (size_t i = 0; metas != NULL && i < n; i++) {
        char id[ES_UUID_STR_LEN + 1];
        json_t *m = es_json_deep_copy(meta);
        bool whole = m != NULL &&
                     json_object_set_new(m, "eventId", json_string(es_uuid4(id))) == 0;
        if (!whole)
            json_decref(m);
        /* json_array_append_new takes m even when it fails. */
        if (!whole || json_array_append_new(metas, m) != 0) {
            json_decref(metas);
            return NULL;
        }
    }
    return metas;
}

static json_t *event_meta(const struct es_command *cmd, const char *now)
{
    json_t *meta = json_pack("{s:s, s:s?, s:s?}", "occurredAt", now, "correlationId",
                             cmd->correlation_id, "causationId", cmd->causation_id);
    /* Metadata with a field missing would be stored for good: none at all instead. */
    if (meta != NULL && ((json_object_get(meta, "causationId") == NULL &&
                          json_object_set_new(meta, "causationId", json_null()) != 0) ||
                         (cmd->idempotency_key != NULL &&
                          json_object_set_new(meta, "idempotencyKey",
                                              json_string(cmd->idempotency_key)) != 0))) {
        json_decref(meta);
        return NULL;
    }
    return meta;
}

/*
 * Folds stored events into the command's own state. Should that fail (out of
 * memory), the state is dropped rather than cached half-folded: the next
 * command on the stream reads it again.
 */
static void fold_in_place(struct attempt *a, const struct es_new_event *events, size_t n)
{
    const struct es_aggregate *agg = a->cmd->aggregate;
    for (size_t i = 0; i < n; i++)
        if (agg->evolve(a->state, events[i].type, events[i].schema, events[i].data) ==
            ES_ENOMEM) {
            agg->state_free(a->state);
            a->state = NULL;
            return;
        }
}

/* ---- the store's limits ---- */

/* Bytes around each document in a batch: its id, kind, stream, version, ... */
#define DOC_OVERHEAD 512

/* The size of s as a JSON string, quotes and escapes included. */
static size_t json_string_size(const char *s)
{
    size_t n = 2;
    for (const unsigned char *p = (const unsigned char *)s; p != NULL && *p; p++)
        n += *p == '"' || *p == '\\' ? 2 : *p < 0x20 ? 6 : 1;
    return n;
}

/*
 * Holds an append to the store's limits (store.h), before anything is sent:
 * ES_ETOOBIG when its events and receipt alone pass them (the command is
 * refused), else ES_OK - with the snapshot left out when it is what would pass
 * them, since a snapshot only saves reads.
 */
static enum es_status fit_limits(struct es_append *ap, size_t *bytes_out)
{
    size_t ops = ap->n_events + (ap->receipt != NULL) + (ap->expected_version > 0);
    size_t bytes = 2 + (ap->expected_version > 0 ? DOC_OVERHEAD : 0);
    size_t part[3];
    for (size_t i = 0; i < ap->n_events; i++) {
        part[0] = es_json_size(ap->events[i].data);
        part[1] = es_json_size(ap->events[i].meta);
        if (part[0] == SIZE_MAX || part[1] == SIZE_MAX)
            return ES_ENOMEM;
        /* Each at most a request body's worth: no sum of them overflows. */
        bytes += part[0] + part[1] + DOC_OVERHEAD;
    }
    if (ap->receipt != NULL)
        bytes += json_string_size(ap->receipt->body) +
                 json_string_size(ap->receipt->location) + DOC_OVERHEAD;
    *bytes_out = bytes;
    if (ops > ES_STORE_BATCH_MAX_OPS || bytes > ES_STORE_BATCH_MAX_BYTES)
        return ES_ETOOBIG;
    if (ap->snapshot != NULL) {
        size_t snap = es_json_size(ap->snapshot->state);
        if (snap == SIZE_MAX)
            return ES_ENOMEM;
        snap += DOC_OVERHEAD;
        if (ops + 1 > ES_STORE_BATCH_MAX_OPS || snap > ES_STORE_DOC_MAX_BYTES ||
            bytes + snap > ES_STORE_BATCH_MAX_BYTES) {
            es_log_warn("stream '%s' version %lld: snapshot of %zu bytes left out: the "
                        "append would pass the store's limit of %d operations and %u "
                        "bytes",
                        ap->stream_id,
                        (long long)(ap->expected_version + (int64_t)ap->n_events), snap,
                        ES_STORE_BATCH_MAX_OPS, ES_STORE_BATCH_MAX_BYTES);
            ap->snapshot = NULL;
        }
    }
    return ES_OK;
}

/*
 * Appends the decision's events. ES_OK (appended, or refused as too large; out
 * answered), ES_ECONFLICT with *conflict set, or a store error.
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
    json_t *metas = meta != NULL ? event_metas(meta, n) : NULL;
    struct es_new_event *events = calloc(n, sizeof(*events));
    /* The state after the events is built ahead only for a snapshot; otherwise the
     * events are folded into the state itself once they are stored. */
    bool snapshot_due = a->e->snapshot_every > 0 && new_version / a->e->snapshot_every >
                                                        a->version / a->e->snapshot_every;
    void *next = snapshot_due ? agg->state_clone(a->state) : NULL;
    int status = d->success_status ? d->success_status : 200;
    size_t body_len = 0;
    char *body_text = render(cmd, status, new_version, d->events, d->extra, &body_len);
    /* Copied before the append: once it is stored, nothing may fail. */
    char *location = d->location != NULL ? strdup(d->location) : NULL;
    json_t *snap_state = NULL;
    enum es_status st = ES_ENOMEM;
    if (metas == NULL || events == NULL || (snapshot_due && next == NULL) ||
        body_text == NULL || (d->location != NULL && location == NULL))
        goto out;
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_array_get(d->events, i);
        events[i] = (struct es_new_event){json_string_value(json_object_get(ev, "type")),
                                          agg->event_schema, json_object_get(ev, "data"),
                                          json_array_get(metas, i)};
        if (next != NULL && (st = agg->evolve(next, events[i].type, agg->event_schema,
                                              events[i].data)) == ES_ENOMEM)
            goto out;
    }
    struct es_snapshot snap = {.version = new_version, .schema = agg->snapshot_schema};
    if (snapshot_due && (snap.state = snap_state = agg->state_encode(next)) == NULL) {
        st = ES_ENOMEM;
        goto out;
    }
    struct es_receipt receipt = {
        .key = (char *)cmd->idempotency_key,
        .status = status,
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
    size_t bytes = 0;
    if ((st = fit_limits(&ap, &bytes)) == ES_ENOMEM)
        goto out;
    if (st != ES_OK) {
        st = refuse(out, ES_ETOOBIG,
                    "the command would append %zu events of about %zu bytes in all; one "
                    "append takes at most %d documents and %u bytes",
                    n, bytes, ES_STORE_BATCH_MAX_OPS, ES_STORE_BATCH_MAX_BYTES);
        goto out;
    }
    st = a->e->store->ops->append(a->e->store, &ap, conflict, &out->io, err);
    if (st == ES_ETOOBIG && ap.snapshot != NULL) {
        es_log_warn("stream '%s': the store refused the append as too large; sending it "
                    "again without its snapshot",
                    a->stream_id);
        ap.snapshot = NULL;
        st = a->e->store->ops->append(a->e->store, &ap, conflict, &out->io, err);
    }
    if (st == ES_ETOOBIG) {
        st = refuse(out, ES_ETOOBIG,
                    "the command's events are larger than the store takes "
                    "in one append: %s",
                    err->message);
        goto out;
    }
    if (st != ES_OK)
        goto out;
    if (next != NULL) {
        agg->state_free(a->state);
        a->state = next;
        next = NULL;
    } else {
        fold_in_place(a, events, n);
    }
    a->version = new_version;
    out->status = status;
    out->refusal = ES_OK;
    free(out->body);
    out->body = body_text;
    out->body_len = body_len;
    body_text = NULL;
    out->version = new_version;
    out->appended = (int64_t)n;
    free(out->location);
    out->location = location;
    location = NULL;
out:
    free(location);
    if (next != NULL)
        agg->state_free(next);
    json_decref(snap_state);
    free(body_text);
    free(events);
    json_decref(metas);
    json_decref(meta);
    return st;
}

/* The answer when nothing is appended: a refusal, a 412, or a no-op success. */
static enum es_status answer_without_append(struct attempt *a, struct es_decision *d,
                                            bool precondition_failed,
                                            struct es_outcome *out)
{
    if (precondition_failed) {
        refuse(out, ES_EPRECONDITION,
               "If-Match names version %lld but the stream is at version %lld",
               (long long)a->cmd->if_match, (long long)a->version);
        out->version = a->version; /* the ETag names the current version */
        return ES_OK;
    }
    if (d->refusal != ES_OK)
        return refuse(out, d->refusal, "%s", d->message);
    /* Nothing was appended, so nothing was created or accepted for later: a plain 200. */
    free(out->body);
    out->status = 200;
    out->refusal = ES_OK;
    out->version = a->version;
    out->body = render(a->cmd, 200, a->version, d->events, d->extra, &out->body_len);
    return out->body != NULL ? ES_OK : ES_ENOMEM;
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
                                 int64_t *backoff_ms, struct es_error *err)
{
    const struct es_command *cmd = a->cmd;
    struct es_decision d = {0};
    *again = false;
    enum es_status st = cmd->decide(cmd->decide_ctx, a->state, a->version, &d);
    if (st != ES_OK)
        goto out;
    bool refusal_first = d.refusal == ES_ENOTFOUND || d.refusal == ES_EGONE;
    bool precondition = !refusal_first && if_match_fails(cmd, a->version);
    if (refusal_first || precondition || d.refusal != ES_OK ||
        json_array_size(d.events) == 0) {
        /*
         * Answer only on the latest state. What was read may lag (the cache, or a
         * replica that has not seen another process's append): ask the store
         * whether the stream holds a later version, and if so read it and decide
         * again.
         */
        st = a->e->store->ops->has_version(a->e->store, a->stream_id, a->version + 1,
                                           &out->io, err);
        if (st == ES_OK) {
            size_t n = 0;
            st = catch_up(a->e, cmd->aggregate, a->stream_id, a->state, &a->version, &n,
                          &out->io, err);
            if (st == ES_OK && n == 0)
                st = es_error_set(err, ES_EUNAVAILABLE,
                                  "stream '%s' holds version %lld, which could not be "
                                  "read yet",
                                  a->stream_id, (long long)a->version + 1);
            *again = st == ES_OK;
            goto out;
        }
        if (st != ES_ENOTFOUND)
            goto out;
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
        /* The key's command was applied (perhaps by this very request): its answer. */
        st = answer_receipt(a->e, cmd, a->stream_id, out, err);
        if (st != ES_OK && st != ES_ENOMEM)
            st = es_error_set(
                err, ES_EUNKNOWN,
                "the command with Idempotency-Key '%s' was applied, but its "
                "answer could not be read: %s",
                cmd->idempotency_key,
                st == ES_ENOTFOUND ? "its receipt is missing" : err->message);
    } else if (st == ES_ECONFLICT) {
        size_t n = 0;
        st = catch_up(a->e, cmd->aggregate, a->stream_id, a->state, &a->version, &n,
                      &out->io, err);
        if (st == ES_OK) {
            *again = true;
            int64_t cap = 1 << (out->attempts < 6 ? out->attempts : 6);
            *backoff_ms = (int64_t)es_random_below((uint64_t)cap);
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
    struct es_streamlock *held = NULL;
    enum es_status st = es_streamlock_take(e->locks, a.stream_id, &held);
    if (st != ES_OK)
        return es_error_set(err, st, "out of memory");
    /* Under the stream's lock the cached state is this command's alone: taken out,
     * worked on in place, put back. */
    if (es_cache_take(e->cache, a.stream_id, &a.state, &a.version)) {
        out->loaded_from = "cache";
    } else {
        st = load_from_store(e, cmd->aggregate, a.stream_id, &a.state, &a.version,
                             &out->loaded_from, &out->io, err);
    }
    bool again = st == ES_OK;
    while (again && out->attempts < (unsigned)e->max_attempts) {
        int64_t backoff_ms = 0;
        st = round_trip(&a, out, &again, &backoff_ms, err);
        if (st != ES_OK || !again || backoff_ms == 0)
            continue;
        /* Another writer won the version: wait a little, without holding the stream. */
        es_streamlock_give(e->locks, held);
        held = NULL;
        es_time_sleep_ms(backoff_ms);
        if ((st = es_streamlock_take(e->locks, a.stream_id, &held)) != ES_OK) {
            held = NULL;
            es_error_set(err, st, "out of memory");
            break;
        }
    }
    if (st == ES_OK && again)
        st = refuse(out, ES_ECONFLICT,
                    "the stream kept changing: gave up after %u attempts", out->attempts);
    /* A failure may have left the state half-folded: only a whole one goes back. */
    if (st == ES_OK && a.state != NULL) {
        es_cache_put(e->cache, a.stream_id, a.state, a.version,
                     cmd->aggregate->state_free);
        a.state = NULL;
    }
    if (held != NULL)
        es_streamlock_give(e->locks, held);
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

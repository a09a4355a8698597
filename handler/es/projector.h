/*
 * projector.h - the read side's runner: a batch of change-feed documents in,
 * views folded and reactions run.
 *
 * The change feed delivers at least once, in order only within a stream, and
 * the Functions trigger moves past a batch even when it failed. So for each
 * stream in a batch the runner:
 *   1. reads each view the stream feeds, with its etag and the stream version
 *      it reflects;
 *   2. fills a gap: when the first event delivered is past that version + 1,
 *      the missing events are read from the event store (a batch skipped after
 *      a failure is repaired by the stream's next event);
 *   3. applies to each view the events above its version, and writes it once,
 *      under If-Match; when another writer got there first (412), it reads
 *      the view again and re-applies;
 *   4. hands every event (gap-filled ones included) to the reactors, which
 *      run commands that are idempotent by key, so a redelivered event never
 *      acts twice.
 * A stream that fails does not stop the others. While the host will retry,
 * any failure fails the batch (the host sees a non-2xx and sends it again;
 * finished streams are skipped by version). On the last attempt the failing
 * streams' events go to the dead-letter store instead, one document per
 * event, and the batch completes. Documents that are not events (snapshots,
 * receipts) are ignored; malformed ones are dead-lettered at once, and so are
 * the events of a view that would pass the store's document limit (no retry
 * makes it fit): that view stays at the version it had, and every later event
 * of its stream is dead-lettered the same way, so the stream never wedges the
 * feed. The 2 MiB limit is far above what the to-do views can reach (1,000
 * items of at most 50 characters).
 *
 * Projections and reactors are registered, not coded here: the runner knows
 * no domain.
 */
#ifndef ES_ES_PROJECTOR_H
#define ES_ES_PROJECTOR_H

#include <jansson.h>
#include <stdbool.h>

#include "store/store.h"
#include "engine.h"

struct es_projection {
    const char *name;
    const char *stream_prefix; /* the streams it folds, e.g. "todolist-" */
    const char *view_prefix; /* view id = view_prefix + aggregate id, e.g. "todolist:" */
    /* A new view document (with "id" and "view") for an aggregate id. */
    json_t *(*initial)(const char *aggregate_id);
    /* Folds one event into the view (not its version: the runner keeps that). */
    enum es_status (*apply)(json_t *view, const struct es_event *ev) ES_MUST_CHECK;
};

/* What a reaction may use. */
struct es_react_env {
    struct es_engine *engine;
    struct es_store *store;
    const char *aggregate_id; /* the event's stream id without the reactor's prefix */
    struct es_io *io;         /* where the reaction's store costs are added */
};

struct es_reactor {
    const char *name;
    const char *stream_prefix; /* the streams it listens to */
    /*
     * Reacts to one event (it decides which types matter). Must be idempotent.
     * ES_OK when done (a refusal it handled is done), else a failure that makes
     * the batch retried, or dead-lettered on the last attempt.
     */
    enum es_status (*react)(const struct es_react_env *env, const struct es_event *ev,
                            struct es_error *err) ES_MUST_CHECK;
};

struct es_projector_opts {
    struct es_store *store;
    struct es_engine *engine;
    const struct es_projection *const *projections;
    size_t n_projections;
    const struct es_reactor *const *reactors;
    size_t n_reactors;
    /*
     * Streams of one batch projected at once (PROJECTOR_PARALLELISM); 0 or 1:
     * one after another. Each stream's events, its views' If-Match writes and
     * then its reactions keep their order whatever this is.
     */
    unsigned parallelism;
    /*
     * Views this projector last wrote, with their etags (es_engine_view_cache),
     * or NULL. A stream's next batch then writes its views with If-Match on the
     * remembered etag without reading them first: one round trip per view
     * instead of two. Another writer's change fails that If-Match (412), and
     * the view is read again as without the cache; nothing is remembered of a
     * stream whose batch failed.
     */
    struct es_cache *view_cache;
};

/* What a batch did, for the invocation's log. */
struct es_batch_report {
    unsigned documents; /* delivered */
    unsigned events;    /* of which events */
    unsigned streams;
    unsigned gap_events; /* read from the store to fill gaps */
    unsigned views_written;
    unsigned view_retries; /* re-reads after 412 */
    unsigned reactions;    /* reactor calls */
    unsigned failed_streams;
    unsigned dead_lettered; /* events written to the dead-letter store */
    struct es_io io;
    char first_error[256];
    int64_t duration_ms; /* the batch's time in the runner */
    int64_t newest_ms;   /* the newest occurredAt among its events; 0 when none */
    int64_t lag_ms;      /* the batch's end minus newest_ms; -1 when it had no event */
};

/*
 * The read side of this process, for operators (GET /api/projection): what
 * es_project_batch has seen since the process started.
 */
struct es_projection_stats {
    int64_t batches;        /* projected, failed ones included */
    int64_t failed_batches; /* answered "send it again" */
    int64_t events;         /* events delivered in them */
    int64_t dead_lettered;  /* events written to the dead-letter store */
    double events_per_s;    /* events per second over the last minute */
    int64_t last_batch_ms;  /* when the last batch ended (epoch ms); 0: none yet */
    int64_t lag_ms;         /* the last batch with events: its lag; -1: none yet */
    int64_t lag_p50_ms;     /* over the last 1,000 batches with events; -1: none */
    int64_t lag_p99_ms;
    char last_event_id[ES_DOC_ID_MAX]; /* the newest event of that batch, "" when none */
    int64_t last_event_ms;             /* its occurredAt */
};

void es_projection_stats_get(struct es_projection_stats *out);

/*
 * Projects one batch (`documents` is the decoded array, or anything else when
 * the payload could not be decoded - it is then dead-lettered whole under the
 * stream id "_undecodable"). last_attempt says the host will not send the
 * batch again; attempt is the 0-based attempt number, recorded in dead
 * letters. ES_OK when the batch is done (report says what happened), else the
 * failure to report to the host so that it retries.
 */
enum es_status es_project_batch(const struct es_projector_opts *p,
                                const json_t *documents, bool last_attempt,
                                int64_t attempt, struct es_batch_report *report,
                                struct es_error *err) ES_MUST_CHECK;

/*
 * Projects n events of one stream (n >= 1, in version order, distinct, as read
 * from the event store) as es_project_batch projects a stream of a delivery,
 * with the same idempotency: views folded above their versions (a gap filled
 * from the store), then every event to the reactors. Nothing is dead-lettered
 * and no statistics are noted: the caller (a redrive, es/redrive.h) decides.
 * report is added to, not reset.
 */
enum es_status es_project_stream(const struct es_projector_opts *p,
                                 const struct es_event *events, size_t n,
                                 struct es_batch_report *report,
                                 struct es_error *err) ES_MUST_CHECK;

#endif

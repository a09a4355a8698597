/*
 * engine.h - the command loop of an event-sourced aggregate.
 *
 *   1. load the state: from the cache, else snapshot + the events after it
 *   2. decide: the command's callback turns (state, version) into events or
 *      a rejection
 *   3. append the events at version + 1 ... in one atomic append, with the
 *      idempotency receipt and, every `snapshot_every` events, a snapshot
 *   4. on a version conflict: read the events appended meanwhile, fold them
 *      in and decide again (bounded attempts, jittered backoff); If-Match
 *      makes a stale version 412 instead
 * An answer that appends nothing (a rejection, a no-op, a 412) and was
 * decided on cached state is confirmed first by reading the stream's tail,
 * so a stale cache never produces a wrong refusal. A command with an
 * Idempotency-Key that meets its receipt - on the append, or before any
 * answer that appends nothing - gets the stored answer back (or 422 when
 * the key was used for a different request).
 *
 * Commands on one stream are serialised within the process by a lock per
 * stream, never held while backing off after a conflict: concurrent requests
 * to one aggregate queue instead of conflicting, and no aggregate waits for
 * an unrelated one. Conflicts remain possible, and handled, across processes.
 */
#ifndef ES_ES_ENGINE_H
#define ES_ES_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "aggregate.h"

struct es_engine;

struct es_engine_opts {
    struct es_store *store; /* borrowed */
    size_t cache_streams;   /* states kept in memory */
    int snapshot_every; /* write a snapshot each time the version crosses a multiple */
    int max_attempts;   /* appends tried per command before 409 conflict */
    size_t view_cache;  /* views the projector keeps with their etags; 0: none */
    size_t view_cache_bytes; /* and the memory they may take; 0: unbounded */
};

struct es_engine *es_engine_new(const struct es_engine_opts *opts);
void es_engine_free(struct es_engine *e);

/* What a command's decide callback returns. */
struct es_decision {
    json_t *events; /* array of {"type", "data"} to append (owned); empty = no-op */
    enum es_status refusal; /* ES_OK when accepted, else why not (util/status.h) */
    char message[256];      /* the refusal's message */
    int success_status;     /* 200 when 0 */
    json_t *extra;          /* fields for the success answer, e.g. itemId (owned) */
    const char *location;   /* Location of a created resource (copied) */
};

typedef enum es_status (*es_decide_fn)(void *ctx, const void *state, int64_t version,
                                       struct es_decision *d) ES_MUST_CHECK;

/* A success as the engine decided it, for the command's renderer (all borrowed). */
struct es_answer {
    int status;
    const char *aggregate_id;
    int64_t version;      /* the stream's version after the command */
    const json_t *events; /* the events it appended, [{"type", "data"}] (maybe none) */
    const json_t *extra;  /* the decision's extra fields, or NULL */
};

/*
 * Renders a success as the body its client gets, which an idempotency receipt
 * stores and replays: malloc'd text (*len its length), NULL on ENOMEM. The
 * engine renders nothing itself.
 */
typedef char *(*es_render_fn)(void *ctx, const struct es_answer *a, size_t *len);

struct es_command {
    const struct es_aggregate *aggregate;
    const char *aggregate_id; /* the id in the API, e.g. the list id */
    es_decide_fn decide;
    void *decide_ctx;
    es_render_fn render; /* the success body */
    void *render_ctx;
    bool has_if_match;           /* the client sent If-Match */
    bool if_match_any;           /* If-Match: * */
    int64_t if_match;            /* the version it names */
    const char *idempotency_key; /* NULL when none */
    const char *request_hash;    /* identifies the request behind the key */
    const char *correlation_id;
    const char *causation_id; /* NULL for commands from clients */
};

/* The answer to a command, and what it cost. */
struct es_outcome {
    int status;             /* for the client: the success's, or the refusal's */
    enum es_status refusal; /* ES_OK for a success (fresh or replayed), else its code */
    char message[256];      /* the refusal's message */
    char *body;             /* a success's rendered body (owned); NULL for a refusal */
    size_t body_len;
    int64_t version;         /* for the ETag; -1 when none applies */
    char *location;          /* owned, or NULL */
    bool replayed;           /* answered from an idempotency receipt */
    int64_t appended;        /* events appended by this command */
    unsigned attempts;       /* decide/append rounds */
    const char *loaded_from; /* "cache", "snapshot" or "events" */
    struct es_io io;         /* store round trips, events read, charge */
};

/*
 * Runs a command. ES_OK whenever there is an answer for the client (success,
 * refusal - ES_EPRECONDITION, ES_ECONFLICT, ES_EKEY_REUSE from the engine, the
 * decide callback's own - or a replayed receipt): see out->refusal and
 * out->status. Otherwise the store failed
 * (ES_EUNAVAILABLE: answer 503; other codes: 500) and nothing was appended -
 * except with ES_EUNKNOWN (answer 503 too), when the store could not tell
 * whether the append was applied. Release out with es_outcome_release.
 */
enum es_status es_engine_execute(struct es_engine *e, const struct es_command *cmd,
                                 struct es_outcome *out,
                                 struct es_error *err) ES_MUST_CHECK;

void es_outcome_release(struct es_outcome *o);

/*
 * Calls hook(ctx) after every successful append (outside the engine's locks),
 * e.g. to wake a change-feed reader. One hook; NULL removes it. The engine
 * reads it without a lock: set it before the threads that run commands
 * start, and clear it only after they have stopped.
 */
void es_engine_on_append(struct es_engine *e, void (*hook)(void *ctx), void *ctx);

/* The store the engine writes to. */
struct es_store *es_engine_store(struct es_engine *e);

/*
 * The projector's cache of the views it last wrote, with their etags (see
 * es_projector_opts.view_cache), kept here for the life of the process; NULL
 * when disabled.
 */
struct es_cache *es_engine_view_cache(struct es_engine *e);

#endif

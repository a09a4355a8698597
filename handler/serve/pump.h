/*
 * pump.h - the change feed of the embedded store, delivered to a trigger
 * function the way the Functions host delivers a Cosmos DB trigger, for
 * `handler serve`.
 *
 * A thread reads the events after its checkpoint in global order, in batches
 * of maxItemsPerInvocation, turns each into the document Cosmos DB would
 * deliver, builds the host's envelope (documents JSON-encoded twice, as
 * extension bundle v4 sends them, and a RetryContext when the function has a
 * retry policy) and invokes the function in-process through the same
 * dispatcher the host protocol uses. The checkpoint (stored in the same
 * SQLite file, durable) moves past a batch only when the invocation succeeds;
 * a failure is retried with the function.json policy's exponential backoff,
 * and after its last retry the batch is passed, as the host does. New
 * appends wake the pump at once; feedPollDelay bounds the wait otherwise.
 *
 * Several pumps may run over one store, each with its own checkpoint and
 * thread, so a slow function (or a slow receiver of its messages) never holds
 * up another's. A pump with a message sink plays the host's output binding
 * too: after an invocation succeeds, the value of its Outputs.<messages> (an
 * array) is handed to the sink, and a sink that fails fails the attempt, so
 * the batch is retried with the same backoff. When the last retry fails in
 * the sink, each of its messages is dead-lettered before the batch is passed:
 *   id "{message id}:{function}:dead", streamId (the stream of a message id
 *   "{streamId}:{version}", else "_{function}"), subscriber (the function),
 *   message, error, attempts, failedAt.
 */
#ifndef ES_HTTP_PUMP_H
#define ES_HTTP_PUMP_H

#include <stdbool.h>
#include <stdint.h>

#include "invoke/invoke.h"
#include "store/store.h"

/* Where a pump's messages go (the host's output binding, under `handler serve`). */
struct pump_sink {
    /* Sends a non-empty array of messages (borrowed); ES_OK when all were taken. */
    enum es_status (*send)(void *ctx, const json_t *messages, struct es_error *err);
    void *ctx;
};

struct pump_opts {
    struct es_store *store;
    const struct invoke_app *app;
    const char *function;   /* e.g. "Projector" */
    const char *binding;    /* its trigger binding, e.g. "documents" */
    size_t max_items;       /* maxItemsPerInvocation */
    int64_t poll_ms;        /* feedPollDelay */
    bool has_retry;         /* function.json has a retry policy */
    int64_t max_retries;    /* its maxRetryCount (-1: forever) */
    int64_t min_backoff_ms; /* minimumInterval */
    int64_t max_backoff_ms; /* maximumInterval */
    const char *checkpoint; /* the checkpoint's name; NULL: the function's name */
    const char *messages;   /* the output binding handed to sink; NULL: none */
    struct pump_sink sink;
};

struct pump;

/* Starts the pump thread. NULL with err filled when the store has no change feed. */
struct pump *pump_start(const struct pump_opts *opts, struct es_error *err);

/* Wakes the pump (an append happened). Safe from any thread; ctx is the pump. */
void pump_notify(void *ctx);

/* Lets the batch in flight finish, stops the thread and frees the pump. NULL is a no-op.
 */
void pump_stop(struct pump *p);

#endif

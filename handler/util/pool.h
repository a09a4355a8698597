/*
 * pool.h - a fixed set of worker threads draining one FIFO queue of tasks.
 *
 * The HTTP layer parses requests on a few I/O threads and hands each
 * invocation to this pool, so a function that waits on the store never holds
 * up the connections served by the same I/O thread. Shutdown drains: tasks
 * already queued still run, new submissions are refused.
 */
#ifndef ES_UTIL_POOL_H
#define ES_UTIL_POOL_H

#include <stddef.h>

#include "status.h"

struct es_pool;

typedef void (*es_pool_task_fn)(void *arg);

/* Starts n_threads workers (at least 1). Returns NULL on failure. */
struct es_pool *es_pool_new(unsigned n_threads);

/*
 * Queues fn(arg). ES_EUNAVAILABLE after es_pool_free began, ES_ENOMEM; on
 * failure fn is never called and arg stays the caller's.
 */
enum es_status es_pool_submit(struct es_pool *pool, es_pool_task_fn fn, void *arg);

/* Runs every queued task, joins the workers and frees the pool. NULL is a no-op. */
void es_pool_free(struct es_pool *pool);

#endif

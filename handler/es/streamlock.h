/*
 * streamlock.h - one stream at a time, per stream: commands on a stream
 * queue behind each other inside a process (so they do not conflict with
 * themselves), while commands on other streams never wait for them.
 *
 * An entry exists while someone holds or waits for its stream; the table
 * grows with the streams in use at once, not with the streams ever seen.
 * Hand-over is FIFO-fair enough for the purpose: a waiter is woken when the
 * holder leaves, and the first to take the lock has it.
 */
#ifndef ES_ES_STREAMLOCK_H
#define ES_ES_STREAMLOCK_H

#include <stddef.h>

#include "util/status.h"

struct es_streamlocks;
struct es_streamlock; /* a held stream */

struct es_streamlocks *es_streamlocks_new(void);

/* Frees the table; no stream may be held. */
void es_streamlocks_free(struct es_streamlocks *t);

/*
 * Waits until stream_id is free, then holds it: *out is the handle to give
 * back. ES_ENOMEM (nothing held).
 */
enum es_status es_streamlock_take(struct es_streamlocks *t, const char *stream_id,
                                  struct es_streamlock **out) ES_MUST_CHECK;

/* Gives the stream back (the next waiter, if any, takes it). */
void es_streamlock_give(struct es_streamlocks *t, struct es_streamlock *held);

/* Streams held or waited for now (for tests). */
size_t es_streamlocks_in_use(struct es_streamlocks *t);

#endif

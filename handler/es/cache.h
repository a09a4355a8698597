/*
 * cache.h - a bounded, thread-safe LRU of aggregate states by stream id (and
 * of the projector's views by view id).
 *
 * The cache owns what it holds; callers get deep copies (the aggregate's
 * clone), or take an entry out whole, so concurrent commands never share
 * mutable state. A stale entry is
 * harmless: an append from it fails on the version check and the engine
 * catches up. Entries only move forward: a put older than what is held is
 * dropped.
 */
#ifndef ES_ES_CACHE_H
#define ES_ES_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct es_cache;

struct es_cache *es_cache_new(size_t max_entries);

/*
 * A cache bounded also by the sum of its entries' costs (es_cache_put_sized;
 * 0: by count alone): the least recently used go first until both bounds
 * hold, and an entry that costs more than max_cost alone is not kept.
 */
struct es_cache *es_cache_new_sized(size_t max_entries, size_t max_cost);
void es_cache_free(struct es_cache *c);

/* A clone of the cached state and its version; false when absent (or clone failed). */
bool es_cache_get(struct es_cache *c, const char *stream_id, void *(*clone)(const void *),
                  void **state_out, int64_t *version_out);

/*
 * Takes the cached state out (the caller owns it; no copy) with its version;
 * false when absent. For a caller that alone works on the stream until it
 * puts the state back (the engine, under its per-stream lock).
 */
bool es_cache_take(struct es_cache *c, const char *stream_id, void **state_out,
                   int64_t *version_out);

/* Stores state (owned, even when dropped; freed with state_free) at version. */
void es_cache_put(struct es_cache *c, const char *stream_id, void *state, int64_t version,
                  void (*state_free)(void *));

/* es_cache_put of an entry that costs cost (bytes, say) against max_cost. */
void es_cache_put_sized(struct es_cache *c, const char *stream_id, void *state,
                        int64_t version, size_t cost, void (*state_free)(void *));

#endif

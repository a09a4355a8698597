/*
 * reads.h - what query functions read, through the engine rather than the
 * store's ops table: an aggregate's stream (strongly consistent: the event
 * store itself), a view document, a page of views of one kind, a page of dead
 * letters. Ids are the API's: the aggregate's stream prefix and a view's
 * prefix are added here, so no function spells a stored id.
 */
#ifndef ES_ES_READS_H
#define ES_ES_READS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "engine.h"

/*
 * Events from_version.. (at most max) of the aggregate's stream id. An
 * unknown stream gives an empty page. Release with es_event_page_release.
 */
enum es_status es_read_stream(struct es_engine *e, const struct es_aggregate *agg,
                              const char *id, int64_t from_version, size_t max,
                              struct es_event_page *out, struct es_io *io,
                              struct es_error *err) ES_MUST_CHECK;

/* The view document view_prefix + id (new reference); ES_ENOTFOUND when there is none. */
enum es_status es_read_view(struct es_engine *e, const char *view_prefix, const char *id,
                            json_t **doc, struct es_io *io,
                            struct es_error *err) ES_MUST_CHECK;

/* The most a read may wait for a view (READ_WAIT_MS is capped to it). */
#define ES_READ_WAIT_MAX_MS 10000

/*
 * Read-your-writes: the view view_prefix + id once it reflects version
 * min_version of the aggregate's stream (its "version" >= min_version), or is
 * final (settled(view) is true, e.g. a deleted list: no later version will
 * come). Polls the view with a backoff for up to wait_ms. *doc (new reference)
 * is the last view read, or NULL when there was none.
 *
 * ES_OK: reached or final. ES_ENOTFOUND: the stream has no event at
 * min_version (asked of the event store's latest state, once the view is found
 * behind), so waiting cannot help. ES_EVIEW_BEHIND: the wait ended first.
 */
enum es_status es_read_view_min(struct es_engine *e, const struct es_aggregate *agg,
                                const char *view_prefix, const char *id,
                                int64_t min_version, int64_t wait_ms,
                                bool (*settled)(const json_t *view), json_t **doc,
                                struct es_io *io, struct es_error *err) ES_MUST_CHECK;

/*
 * A page of the views whose "view" is kind, and the store's token for the next
 * page (malloc'd, NULL on the last). ES_EINVAL when continuation is not one the
 * store gave out.
 */
enum es_status es_read_views(struct es_engine *e, const char *kind,
                             const char *continuation, size_t limit, json_t **docs,
                             char **next, struct es_io *io,
                             struct es_error *err) ES_MUST_CHECK;

/* A page of dead letters, paged like es_read_views. */
enum es_status es_read_dead_letters(struct es_engine *e, const char *continuation,
                                    size_t limit, json_t **docs, char **next,
                                    struct es_io *io, struct es_error *err) ES_MUST_CHECK;

#endif

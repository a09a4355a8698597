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

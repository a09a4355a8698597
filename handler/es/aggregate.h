/*
 * aggregate.h - what the engine needs to know about an aggregate type. The
 * engine is generic; a domain plugs in by filling one of these (see
 * functions/todolist.c). A second aggregate type is a second struct: no
 * engine change.
 */
#ifndef ES_ES_AGGREGATE_H
#define ES_ES_AGGREGATE_H

#include <jansson.h>

#include "util/status.h"

struct es_aggregate {
    const char *stream_prefix; /* e.g. "todolist-": stream id = prefix + aggregate id */
    int event_schema;          /* schema stamped on the events this code writes */
    int snapshot_schema;       /* format of state_encode; other snapshots are ignored */
    void *(*state_new)(void);
    void (*state_free)(void *state);
    void *(*state_clone)(const void *state);
    /*
     * Applies one stored event (upcasting from `schema` when it is older).
     * A non-ES_OK result is logged and the event skipped, except ES_ENOMEM.
     */
    enum es_status (*evolve)(void *state, const char *type, int schema,
                             const json_t *data) ES_MUST_CHECK;
    json_t *(*state_encode)(const void *state);
    void *(*state_decode)(const json_t *json);
};

#endif

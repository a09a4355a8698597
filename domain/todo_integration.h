/*
 * todo_integration.h - the to-do lists' public contract: which stored events
 * other systems hear about, under which names, with which fields, as
 * CloudEvents 1.0 in structured mode. Pure: a stored event in, at most one
 * integration event out.
 *
 * The stored events (todo.h) are this service's private record; the
 * integration events are a promise to consumers. The mapping between them is
 * a table in todo_integration.c and may rename, merge or omit: an item move
 * is published once, when it settles, as todo.ItemMoved.v1 from the target
 * list's ItemMovedIn; ItemMovedOut and ItemMoveReverted publish nothing, and
 * no internal field (a revert's reason, idempotency keys) is ever copied.
 * Adding or changing an integration event is a change to that table and to
 * docs/integration-events.md, nothing else.
 *
 * A CloudEvent:
 *   specversion      "1.0"
 *   id               the stored event's id, "{streamId}:{version}": the same on
 *                    every redelivery, so consumers deduplicate by it
 *   source           "/todolists/{listId}", the list whose stream holds it
 *   type             "todo.<Name>.v<schema>"
 *   subject          the item id, for events about an item; absent otherwise
 *   time             the stored event's occurredAt (absent when it has none)
 *   datacontenttype  "application/json"
 *   sequence         the stream version, as a decimal string (orders the
 *                    events of one source)
 *   correlationid    meta.correlationId, when it is a string
 *   causationid      meta.causationId, when it is a string (absent when null)
 *   data             the public fields (docs/integration-events.md)
 */
#ifndef ES_DOMAIN_TODO_INTEGRATION_H
#define ES_DOMAIN_TODO_INTEGRATION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define TODO_INTEGRATION_TYPE_PREFIX  "todo."
#define TODO_CLOUDEVENT_SOURCE_PREFIX "/todolists/"

/* A stored event as the mapping reads it (all borrowed). */
struct todo_stored_event {
    const char *stream_id;
    int64_t version;
    const char *type;
    int schema;
    const json_t *data; /* object */
    const json_t *meta; /* object or NULL */
};

/*
 * The integration event a stored event publishes. *out is a new CloudEvent
 * object, or NULL when the event publishes nothing (a type without a public
 * mapping, or a stream that is not a to-do list's). ES_EFIELD when the event
 * has a public mapping but a field it needs is missing or is not what the API
 * writes, or its schema is one the mapping does not know (err says which; no
 * retry changes that); ES_ENOMEM. On failure *out is untouched.
 */
enum es_status todo_integration_event(const struct todo_stored_event *ev, json_t **out,
                                      struct es_error *err) ES_MUST_CHECK;

/* The number of stored types that publish, and the i-th public type name
 * ("todo.ItemAdded.v1"), for documentation checks; NULL past the end. */
size_t todo_integration_type_count(void);
const char *todo_integration_type_name(size_t i, char *buf, size_t len);

#endif

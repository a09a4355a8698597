/*
 * todolist.h - the to-do aggregate for the engine and the API: what the to-do
 * functions add to the runtime's command pipeline (handler/api/api.h), which
 * makes every check every command makes, in the documented order, and
 * answers. Success answers carry ETag: "<version>".
 */
#ifndef ES_FUNCTIONS_TODOLIST_H
#define ES_FUNCTIONS_TODOLIST_H

#include "api/api.h"
#include "domain/todo.h"
#include "es/aggregate.h"
#include "es/engine.h"
#include "invoke/fn.h"
#include "util/ids.h"

/* Namespace of ids derived from Idempotency-Keys (UUIDv5 of the key). */
#define TODOLIST_KEY_NAMESPACE "8b2d7f3c-6a41-4e0b-9c55-2f1e7d9a4c60"

extern const struct es_aggregate todolist_aggregate;

/* A required or optional text field (name, task): trimmed, 1-50 characters. */
bool todo_field_text(struct api_call *c, const char *name, bool required, char **out);

/* A status field: one of "To Do", "In Progress", "Done". */
bool todo_field_status(struct api_call *c, const char *name, bool required, bool *present,
                       enum todo_item_status *out);

/*
 * Runs a domain command through the engine and answers: success_status on
 * success (with Location for a created list and `extra` fields, stolen, in
 * the body), or the refusal.
 */
void todo_call_run(struct api_call *c, const struct todo_cmd *tc, int success_status,
                   json_t *extra);

/*
 * Runs a domain command without an HTTP request - a reaction on the read side.
 * key makes it idempotent (required), correlation and causation go into the
 * events' metadata. out is the engine's outcome (release it): out->refusal
 * says why a refused command was refused.
 */
enum es_status todo_execute(struct es_engine *engine, const char *list_id,
                            const struct todo_cmd *tc, const char *key,
                            const char *correlation, const char *causation,
                            struct es_outcome *out, struct es_error *err) ES_MUST_CHECK;

#endif

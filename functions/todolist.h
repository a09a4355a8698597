/*
 * todolist.h - what the to-do functions share: the aggregate plugged into the
 * engine, and the steps every command request goes through.
 *
 * A command request is checked in the documented order, and the first
 * failure answers: 413 payload_too_large, 415 unsupported_media_type,
 * invalid_json, invalid_field (route ids, If-Match, Idempotency-Key,
 * X-Correlation-Id, body fields), then the engine's 404, 410, 412 and the
 * domain's 409s. Success answers carry ETag: "<version>".
 */
#ifndef ES_FUNCTIONS_TODOLIST_H
#define ES_FUNCTIONS_TODOLIST_H

#include "domain/todo.h"
#include "es/aggregate.h"
#include "es/engine.h"
#include "util/ids.h"
#include "invoke/fn.h"

#define TODOLIST_STREAM_PREFIX "todolist-"

/* Namespace of ids derived from Idempotency-Keys (UUIDv5 of the key). */
#define TODOLIST_KEY_NAMESPACE "8b2d7f3c-6a41-4e0b-9c55-2f1e7d9a4c60"

extern const struct es_aggregate todolist_aggregate;

/* One command request on its way through the checks. */
struct todo_call {
    struct fn_ctx *ctx;
    const struct fn_http_request *req;
    struct fn_http_response *res;
    json_t *body;          /* the parsed JSON object, or NULL */
    const char *list_id;   /* the route's {id}, checked */
    struct es_command cmd; /* common parts filled by todo_call_begin */
    char request_hash[65];
    char correlation[257];
    char created_id[ES_ID_MAX_LEN + 1]; /* id chosen for a new list */
    char location[1024];                /* its URL path, from the request's */
};

/*
 * The checks shared by every command: body size, media type and JSON (when
 * the command takes a body), the route's {id} (unless route_id is NULL),
 * If-Match, Idempotency-Key and X-Correlation-Id. Returns false after
 * answering with the first failure; call todo_call_end in every case.
 */
bool todo_call_begin(struct todo_call *c, struct fn_ctx *ctx,
                     const struct fn_http_request *req, struct fn_http_response *res,
                     bool takes_body, const char *route_id);

/* A required or optional text field (name, task): trimmed, 1-50 characters. */
bool todo_field_text(struct todo_call *c, const char *name, bool required, char **out);

/* A status field: one of "To Do", "In Progress", "Done". */
bool todo_field_status(struct todo_call *c, const char *name, bool required,
                       bool *present, enum todo_item_status *out);

/* An id field (route parameter when from_route, else body field) matching the id rule. */
bool todo_field_id(struct todo_call *c, const char *name, bool from_route, bool required,
                   const char **out);

/*
 * Sets c->location to the request URL's path followed by "/<id>" (so a custom
 * routePrefix carries over). Returns false after answering 400 when the
 * request's path is too long to hold it.
 */
bool todo_location(struct todo_call *c, const char *id);

/* Answers 400 invalid_field with a message. Returns false, for `return todo_reject(...)`.
 */
bool todo_reject(struct todo_call *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Runs a domain command through the engine and answers: success_status on
 * success (with Location for a created list and `extra` fields, stolen, in
 * the body), or the refusal.
 */
void todo_call_run(struct todo_call *c, const struct todo_cmd *tc, int success_status,
                   json_t *extra);

void todo_call_end(struct todo_call *c);

/*
 * Runs a domain command without an HTTP request - a reaction on the read side.
 * key makes it idempotent (required), correlation and causation go into the
 * events' metadata. out is the engine's outcome (release it).
 */
enum es_status todo_execute(struct es_engine *engine, const char *list_id,
                            const struct todo_cmd *tc, const char *key,
                            const char *correlation, const char *causation,
                            struct es_outcome *out, struct es_error *err);

/*
 * A query parameter as an integer in [min, max], dflt when absent. Answers
 * 400 invalid_field and returns false when it is anything else.
 */
bool todo_query_int(const struct fn_http_request *req, struct fn_http_response *res,
                    const char *name, int64_t min, int64_t max, int64_t dflt,
                    int64_t *out);

/*
 * The paging parameters of the read routes: limit (1..max_limit, default
 * dflt_limit) and the opaque continuation, which must be one todo_reply_page
 * gave out for the same kind (the body's list key, e.g. "lists").
 * *continuation is malloc'd or NULL. Answers 400 and returns false when bad.
 */
bool todo_paging(const struct fn_http_request *req, struct fn_http_response *res,
                 const char *kind, int64_t dflt_limit, int64_t max_limit, int64_t *limit,
                 char **continuation);

/*
 * Replies 200 {"<key>": items, "continuation": <the client's form of the
 * store's next token, or null>}; steals items.
 */
void todo_reply_page(struct fn_http_response *res, const char *key, json_t *items,
                     const char *next_store_token);

/* Answers 503 store_unavailable (with Retry-After) or 500, and logs the cause. */
void todo_reply_store_error(struct fn_ctx *ctx, struct fn_http_response *res,
                            enum es_status st, const char *what,
                            const struct es_error *err);

#endif

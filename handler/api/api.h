/*
 * api.h - the HTTP face of the engine, for any aggregate's function glue.
 *
 * What every command route does, whatever the aggregate: the request checks
 * in the documented order (413, 411, 415, invalid_json, invalid_field for a
 * route id, If-Match, Idempotency-Key or X-Correlation-Id), the request hash
 * behind an Idempotency-Key, running the engine, and answering: successes by
 * api_render_success, which the engine also uses for the receipts it replays;
 * refusals by fn_reply_error, from util/status.h's table.
 * And the paging of the read routes: limit, and the continuation that only
 * this API gives out.
 *
 * A second aggregate reuses all of it unchanged: its glue supplies the
 * aggregate, its field checks and its decide callback.
 */
#ifndef ES_API_API_H
#define ES_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "es/engine.h"
#include "invoke/fn.h"
#include "util/ids.h"
#include "util/status.h"

/* ---- answers ---- */

/* A store failure: logged (with the function's name in what), then answered by its code.
 */
void api_reply_store_error(struct fn_ctx *ctx, struct fn_http_response *res,
                           enum es_status st, const char *what,
                           const struct es_error *err);

/*
 * The success body of every command: {"id", "version", "events": [{"type",
 * "version"}, ...]} plus the decision's extra fields. An es_render_fn (ctx unused).
 */
char *api_render_success(void *ctx, const struct es_answer *a, size_t *len);

/* ---- commands ---- */

/* One command request on its way through the checks. */
struct api_call {
    struct fn_ctx *ctx;
    const struct fn_http_request *req;
    struct fn_http_response *res;
    json_t *body;          /* the parsed JSON object, or NULL */
    const char *id;        /* the aggregate's id: the route's, or set by the glue */
    struct es_command cmd; /* filled by api_call_begin; decide by api_call_run */
    char request_hash[65];
    char correlation[257];
    char created_id[ES_ID_MAX_LEN + 1]; /* storage for an id the glue chooses */
    char location[1024];
};

/*
 * The checks shared by every command on aggregate: body size, withheld body,
 * media type and JSON object (when the command takes a body), the route id
 * `route_id` (unless NULL), If-Match, Idempotency-Key and X-Correlation-Id.
 * Returns false after answering with the first failure; call api_call_end in
 * every case.
 */
bool api_call_begin(struct api_call *c, struct fn_ctx *ctx,
                    const struct fn_http_request *req, struct fn_http_response *res,
                    const struct es_aggregate *aggregate, bool takes_body,
                    const char *route_id);

/* Answers 400 with code (an invalid_* code) and a message. Returns false. */
bool api_reject(struct api_call *c, enum es_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An id field (route parameter when from_route, else body field), by the id rule. */
bool api_field_id(struct api_call *c, const char *name, bool from_route, bool required,
                  const char **out);

/*
 * Sets c->location to the request URL's path followed by "/<id>" (so a custom
 * routePrefix carries over). Returns false after answering 400 when the path is
 * too long to hold it.
 */
bool api_location(struct api_call *c, const char *id);

/*
 * Runs the command through the engine with decide and answers: the rendered
 * success with ETag (and Location for a success that created something), the
 * refusal through fn_reply_error, or the store's failure; and logs one line
 * with what it cost (round trips, retries, events read, request charge).
 */
void api_call_run(struct api_call *c, es_decide_fn decide, void *decide_ctx);

void api_call_end(struct api_call *c);

/* ---- reads ---- */

/* A query parameter as an integer in [min, max], dflt when absent; else 400 and false. */
bool api_query_int(const struct fn_http_request *req, struct fn_http_response *res,
                   const char *name, int64_t min, int64_t max, int64_t dflt,
                   int64_t *out);

/*
 * The paging parameters of a read route whose page lists items under `kind`
 * (the body's key, e.g. "lists"): limit (1..max_limit, default dflt_limit) and
 * a continuation api_reply_page gave out for the same kind, as the store's
 * token in *continuation (malloc'd, or NULL). Answers 400 and returns false
 * when either is bad.
 */
bool api_paging(const struct fn_http_request *req, struct fn_http_response *res,
                const char *kind, int64_t dflt_limit, int64_t max_limit, int64_t *limit,
                char **continuation);

/*
 * Replies 200 {"<kind>": items, "continuation": <the client's form of the store's
 * next token, or null>}; steals items.
 */
void api_reply_page(struct fn_http_response *res, const char *kind, json_t *items,
                    const char *next_store_token);

/*
 * The client's form of a store token for a listing under `kind` (malloc'd), as
 * api_reply_page gives it out, for a page whose body is not {kind, continuation};
 * api_paging takes it back. NULL on ENOMEM.
 */
char *api_continuation(const char *kind, const char *store_token);

#endif

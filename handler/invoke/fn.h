/*
 * fn.h - what a function of this app is, independent of how it is invoked.
 *
 * A function is a C entry point registered under the name of its folder
 * (functions/<Name>/function.json). HTTP-triggered functions receive the
 * parsed request and fill a response; trigger functions receive their
 * decoded payload and report success or "retry this batch". The invoke layer
 * (handler/invoke) turns host envelopes into these calls and the results
 * back into host replies; functions never see the envelope, so the same code
 * serves `func start`, Azure, and `handler serve`.
 *
 * Adding a function: a folder under functions/ with its function.json and its
 * .c file, one entry in functions/registry.c. No runtime file changes.
 */
#ifndef ES_INVOKE_FN_H
#define ES_INVOKE_FN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/config.h"
#include "util/status.h"

/* The services' types are the engine's and the store's; the invoke layer only passes
 * them along. */
struct es_engine;
struct es_store;

/* Services shared by every invocation; owned by main, read-only for functions. */
struct fn_services {
    const struct es_config *cfg;
    const char *version;      /* the handler's version string */
    struct es_store *store;   /* the event store */
    struct es_engine *engine; /* the command loop over that store */
};

/* An HTTP request as the host describes it in Data.<trigger>. All borrowed. */
struct fn_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *url;    /* public URL with route prefix and query */
    json_t *query;      /* object: name -> string (repeated names comma-joined) */
    json_t *headers;    /* object: name -> array of strings */
    json_t *params;     /* object: route parameter -> string */
    json_t *identities; /* array of ClaimsIdentity objects, or NULL; use fn_identities */
    const char *identities_text; /* or its JSON text, parsed when asked for */
    size_t identities_len;
    const char *body; /* raw body text, NULL when the request had none */
    size_t body_len;
};

/* The reply of an HTTP function, sent to the client as Outputs.<res>. */
struct fn_http_response {
    int status;      /* HTTP status for the client */
    json_t *headers; /* owned object: name -> string; NULL for none */
    char *body;      /* owned text; NULL for an empty body */
    size_t body_len;
};

/* Metadata.RetryContext of a function with a retry policy (counts clamped to this). */
#define FN_RETRY_COUNT_MAX 1000000
struct fn_retry {
    bool present;            /* false when the function has no retry policy */
    int64_t retry_count;     /* 0 on the first attempt */
    int64_t max_retry_count; /* -1 for "forever" */
};

/* Per-invocation context. */
struct fn_ctx {
    const char *function_name;
    const char *invocation_id; /* X-Azure-Functions-InvocationId, or generated */
    const struct fn_services *svc;
    json_t *metadata;          /* envelope Metadata object, or NULL; use fn_metadata */
    const char *metadata_text; /* or its JSON text, parsed when asked for */
    size_t metadata_len;
    struct fn_retry retry;
    json_t *logs; /* array of strings: the reply's Logs */
};

enum fn_kind { FN_HTTP, FN_TRIGGER };

typedef void (*fn_http_fn)(struct fn_ctx *ctx, const struct fn_http_request *req,
                           struct fn_http_response *res);

/*
 * A trigger function gets Data.<trigger> with JSON-in-a-string unwrapped
 * (borrowed). ES_OK completes the batch; any other status asks the host to
 * retry it (the host sees a non-2xx reply).
 */
typedef enum es_status (*fn_trigger_fn)(struct fn_ctx *ctx,
                                        json_t *payload) ES_MUST_CHECK;

struct fn_def {
    const char *name; /* folder name = function name */
    enum fn_kind kind;
    const char *trigger_binding; /* Data key, e.g. "req" or "documents" */
    const char *output_binding;  /* HTTP output binding, e.g. "res" (FN_HTTP only) */
    fn_http_fn http;
    fn_trigger_fn trigger;
};

struct fn_table {
    const struct fn_def *const *defs;
    size_t n;
};

/* The function named name (case-insensitive, as function names are in Azure), or NULL. */
const struct fn_def *fn_table_find(const struct fn_table *t, const char *name);

/* ---- request helpers ---- */

/* First value of a header, matched ignoring case; NULL when absent. */
const char *fn_header(const struct fn_http_request *req, const char *name);

/*
 * The request's ClaimsIdentity objects (new reference), or NULL when there are
 * none or on ENOMEM.
 */
json_t *fn_identities(const struct fn_http_request *req);

/*
 * The envelope's Metadata object (new reference; an empty object when there
 * was none); NULL on ENOMEM.
 */
json_t *fn_metadata(const struct fn_ctx *ctx);

/* Query parameter value (exact name), NULL when absent. */
const char *fn_query(const struct fn_http_request *req, const char *name);

/* Route parameter value (exact name), NULL when absent. */
const char *fn_param(const struct fn_http_request *req, const char *name);

/* ---- response helpers ---- */

/* Sets a response header (the value is copied). */
enum es_status fn_set_header(struct fn_http_response *res, const char *name,
                             const char *value) ES_MUST_CHECK;

/*
 * Replies status with body serialised as JSON and Content-Type application/json.
 * Steals body (a new reference). On ENOMEM the reply becomes a bare 503.
 */
void fn_reply_json(struct fn_http_response *res, int status, json_t *body);

/*
 * The one renderer of refusals and failures: {"error": <the code's API name>,
 * "message": <formatted>} with the code's HTTP status, both from the table of
 * util/status.h, and Retry-After: 1 on a 503. Every error an API function
 * answers goes through here.
 */
void fn_reply_error(struct fn_http_response *res, enum es_status code, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

/*
 * The same, with more fields in the body beside "error" and "message" (for
 * example the view's "version" of a view_behind). Steals fields (a new
 * reference to an object, or NULL).
 */
void fn_reply_error_fields(struct fn_http_response *res, enum es_status code,
                           json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Frees what a response owns and zeroes it. */
void fn_http_response_release(struct fn_http_response *res);

/* Appends a line to the invocation's Logs (which the host records). */
void fn_log(struct fn_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

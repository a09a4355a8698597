/*
 * invoke.h - the Azure Functions custom-handler envelope, both ways.
 *
 * In: `POST /{FunctionName}` carries {"Data": {<binding>: value, ...},
 * "Metadata": {...}}. For an HTTP trigger Data.<req> holds Url, Method, Query
 * (object), Headers (name -> array of strings), Params, Identities and Body
 * (a string, absent when empty). Strings in Metadata are JSON-encoded twice
 * ("\"42\""); trigger payloads may arrive as JSON inside one or two strings.
 *
 * Out: 200 with Content-Type application/json and {"Outputs": {<res>:
 * {statusCode, headers, body}}, "Logs": [...], "ReturnValue": null}. A client
 * error travels in Outputs.<res>.statusCode; the host sees a non-2xx only
 * when a trigger batch must be retried or the envelope itself is unusable.
 *
 * The facts come from ../shared/reference/functions-protocol.md (sections 2
 * and 3) and the host captures it cites. This module also builds envelopes
 * (for `handler serve` and the test driver) and reads replies the way the
 * host does, so both directions are checked against the same rules.
 */
#ifndef ES_INVOKE_INVOKE_H
#define ES_INVOKE_INVOKE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "fn.h"
#include "util/status.h"

/* A parsed envelope. `root` owns everything; data and metadata are borrowed. */
struct invoke_envelope {
    json_t *root;
    json_t *data;     /* object (checked) */
    json_t *metadata; /* object; an empty one when the envelope had none */
};

/*
 * Parses an envelope. ES_EJSON when buf is not a JSON object, ES_EFIELD when
 * Data is missing or not an object, ES_ENOMEM; err says which. On success the
 * caller releases env with invoke_envelope_release.
 */
enum es_status invoke_envelope_parse(const char *buf, size_t len,
                                     struct invoke_envelope *env,
                                     struct es_error *err) ES_MUST_CHECK;

void invoke_envelope_release(struct invoke_envelope *env);

/*
 * Reads Data.<binding> as an HTTP request. Fields borrow from env. ES_EFIELD
 * when the binding is missing or a field has the wrong type (Method and Url
 * must be strings; Headers, Query and Params objects; Body a string or
 * absent); ES_ENOMEM. Tolerates the older encodings the reference lists: Query as a
 * JSON string, header values as plain strings.
 */
enum es_status invoke_http_request_parse(const struct invoke_envelope *env,
                                         const char *binding, struct fn_http_request *req,
                                         struct es_error *err) ES_MUST_CHECK;

/*
 * The fast reader of an HTTP trigger (fast.c): fills f->req straight from the
 * text, building only Method, Url, Query, Headers, Params and Body, and
 * keeping Identities and Metadata as text. It takes only envelopes it reads
 * exactly as the two functions above do and returns false for anything else
 * (use them then). On true, release f with invoke_fast_release; f->req and
 * the text spans borrow from f and from buf.
 */
struct invoke_fast {
    struct fn_http_request req;
    const char *metadata_text; /* the Metadata object's text in buf */
    size_t metadata_len;
    json_t *hold; /* owns what req points to */
};

bool invoke_http_fast(const char *buf, size_t len, const char *binding,
                      struct invoke_fast *f);

void invoke_fast_release(struct invoke_fast *f);

/*
 * Metadata.RetryContext; out->present is false when there is none. ES_ENOMEM
 * when a RetryContext sent as a string could not be decoded: read as absent it
 * would make a trigger's first attempt look like its last.
 */
enum es_status invoke_retry_parse(const json_t *metadata,
                                  struct fn_retry *out) ES_MUST_CHECK;

/*
 * A Metadata value with its JSON string encoding removed once ("\"42\"" ->
 * "42"); a value that is not a string is serialised. malloc'd; NULL when the
 * key is absent or on ENOMEM.
 */
char *invoke_meta_string(const json_t *metadata, const char *key);

/* ---- running a function ---- */

struct invoke_app {
    const struct fn_table *fns;
    const struct fn_services *svc;
};

/* What goes back to the host: a status and a JSON body (always JSON). */
struct invoke_reply {
    int host_status;
    char *body; /* malloc'd JSON text */
    size_t body_len;
};

/*
 * Runs function `name` on the envelope in buf and builds the reply. Never
 * fails: every problem becomes a reply (unknown function: 404; unusable
 * envelope: 400; trigger asking for a retry: 500; all with a JSON error
 * body). invocation_id may be NULL (one is generated).
 */
void invoke_dispatch(const struct invoke_app *app, const char *name,
                     const char *invocation_id, const char *buf, size_t len,
                     struct invoke_reply *out);

/*
 * Reading an envelope over its cap without keeping it (oversize.c): the scanner
 * notes the value of every "id" key shaped like an event id ("<stream>:<version>",
 * the stream [A-Za-z0-9_-]), at any depth of JSON-in-a-string, up to max_ids
 * distinct ones. NULL on ENOMEM.
 */
struct invoke_id_scan;
struct invoke_id_scan *invoke_id_scan_new(size_t max_ids);
void invoke_id_scan_feed(struct invoke_id_scan *s, const char *data, size_t len);
void invoke_id_scan_free(struct invoke_id_scan *s);

/*
 * The reply for an envelope of `bytes` over the cap max_bytes, whose body was
 * not kept. An HTTP function answers its client 413 payload_too_large (as a 200
 * to the host). A trigger function is run once, as on its last attempt, with
 * the payload {"error", "envelopeBytes", "limit", "documentIds": the ids the
 * scanner found (scan may be NULL)}, which it dead-letters: nothing is skipped
 * without a trace. A scanner that lost an id for want of memory gives the host
 * a 503 instead, so that it sends the envelope again. invocation_id may be NULL.
 */
void invoke_reply_oversize(const struct invoke_app *app, const char *name,
                           const char *invocation_id, size_t bytes, size_t max_bytes,
                           const struct invoke_id_scan *scan, struct invoke_reply *out);

/* A JSON error reply to the host itself: {"error": code, "message": message}. */
void invoke_reply_host_error(int host_status, const char *code, const char *message,
                             struct invoke_reply *out);

void invoke_reply_release(struct invoke_reply *r);

/* ---- building envelopes the way the host does (front and test driver) ---- */

struct invoke_header {
    const char *name;
    const char *value;
};

struct invoke_http_spec {
    const char *function_name;           /* Metadata.sys.MethodName */
    const char *binding;                 /* trigger binding name, e.g. "req" */
    const char *method;                  /* upper case */
    const char *url;                     /* full URL: scheme://host/path?query */
    const struct invoke_header *headers; /* in arrival order; names may repeat */
    size_t n_headers;
    json_t *params;   /* route values (borrowed), NULL for none */
    const char *body; /* NULL or body bytes */
    size_t body_len;
};

/*
 * Builds the envelope the host sends for an HTTP trigger: Data.<binding> with
 * Url, Method, Query (repeated names comma-joined), Headers (arrays, repeated
 * names grouped ignoring case), Params, anonymous Identities and Body (raw
 * text; base64 for application/octet-stream and multipart types; absent when
 * empty), and Metadata with the body's top-level properties, query values
 * (last wins, except `code`) and route values double-encoded, Query,
 * Headers (single strings) and sys. New reference; NULL on ENOMEM.
 */
json_t *invoke_http_envelope_new(const struct invoke_http_spec *spec);

/*
 * Builds a trigger envelope: Data.<binding> is `payload` serialised and then
 * wrapped in `string_levels` further JSON strings (2 = Cosmos bundle v4,
 * 1 = v3, 0 = as is), Metadata holds sys and, when retry->present, a
 * RetryContext. New reference; NULL on ENOMEM.
 */
json_t *invoke_trigger_envelope_new(const char *function_name, const char *binding,
                                    const json_t *payload, int string_levels,
                                    const struct fn_retry *retry);

/* ---- reading replies the way the host does (front and test driver) ---- */

struct invoke_host_result {
    bool ok;              /* the host would count the invocation as succeeded */
    char failure[256];    /* why not, when !ok */
    json_t *outputs;      /* Outputs object (owned) or NULL */
    json_t *logs;         /* Logs array (owned) or NULL */
    json_t *return_value; /* ReturnValue (owned) or NULL */
    bool has_http;        /* an HTTP response for the client was derived */
    int http_status;
    json_t *http_headers; /* owned object: name -> string */
    char *http_body;      /* owned */
    size_t http_body_len;
};

/*
 * Interprets a handler reply as the host would: it must be 2xx with a JSON
 * media type and a JSON object body; top-level keys match ignoring case,
 * Outputs keys exactly. When http_binding is given, Outputs.<http_binding>
 * (an object or a string holding one) becomes the client response:
 * statusCode as number or numeric string (default 200), headers as strings,
 * a string body verbatim and any other body as JSON text. Without it in
 * Outputs the client gets 200 with "{}" (or an empty body when Outputs is
 * null). A failed invocation gives the client a 500 with an empty body.
 * Returns ES_ENOMEM only; every protocol problem is reported via out->ok.
 */
enum es_status invoke_host_result_parse(int host_status, const char *content_type,
                                        const char *body, size_t len,
                                        const char *http_binding,
                                        struct invoke_host_result *out) ES_MUST_CHECK;

void invoke_host_result_release(struct invoke_host_result *r);

#endif

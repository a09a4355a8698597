/*
 * hostdrv.h - plays the Azure Functions host against the handler executable,
 * following ../shared/reference/functions-protocol.md to the letter:
 *
 *   - starts the handler with FUNCTIONS_CUSTOMHANDLER_PORT (and the legacy
 *     FUNCTIONS_HTTPWORKER_PORT), worker ids and FUNCTIONS_APP_ROOT_PATH,
 *     working directory = app root, and polls GET / every 25 ms (any HTTP
 *     answer = ready; 30 s budget) (section 1);
 *   - sends POST /{Function} with compact JSON, Content-Type
 *     application/json; charset=utf-8, X-Azure-Functions-InvocationId,
 *     X-Azure-Functions-HostVersion and the host's User-Agent, chunked by
 *     default (the host's HttpClient streams the envelope) or with
 *     Content-Length, over keep-alive connections (section 2.1);
 *   - builds envelopes as the host does (handler/invoke build.c: header
 *     arrays, double-encoded Metadata, Cosmos documents wrapped twice);
 *   - reads replies as the host does: 2xx, a JSON media type, top-level keys
 *     in any case, Outputs keys exactly (section 3).
 *
 * With ES_API_LOG_DIR set, every client response the driver receives (through
 * hostdrv_http and hostdrv_call, and every answer of `handler serve`) is
 * appended to <ES_API_LOG_DIR>/<test executable>-<pid>.jsonl, one JSON object
 * a line: face ("host", "serve" or "raw"), prefix (the route prefix), function
 * (host face), method, target (path and query as sent), status, headers
 * (name -> value) and body (text; {"notText": true} when it is not UTF-8).
 * tests/openapi/validate.js checks them all against docs/openapi.json.
 *
 * Each handler gets a fresh temporary folder; EVENT_STORE_PATH points into it
 * unless the caller sets it. Its stdout and stderr go to files there.
 */
#ifndef ES_HOSTDRV_H
#define ES_HOSTDRV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "invoke/invoke.h"

struct hostdrv;
struct hostdrv_conn;

struct hostdrv_opts {
    const char *app_dir;    /* staged app folder holding `handler` */
    const char *const *env; /* extra "NAME=value" entries, NULL-terminated; may be NULL */
    const char *const *args; /* extra arguments, NULL-terminated; may be NULL */
    bool serve;              /* run `handler serve --port <port>` instead of host mode */
    const char *chroot; /* run the handler inside this root (app_dir is then under it) */
};

/*
 * Starts the handler and waits until it answers GET /. 0, or -1 with a message on stderr.
 * The handler is killed if the thread that started it dies (a failed test), so start it
 * from a thread that outlives it.
 */
int hostdrv_start(const struct hostdrv_opts *opts, struct hostdrv **out);

int hostdrv_port(const struct hostdrv *d);

/* A loopback port nothing listens on now (the kernel's pick), or -1. */
int hostdrv_free_port(void);
pid_t hostdrv_pid(const struct hostdrv *d);
const char *hostdrv_tmpdir(const struct hostdrv *d);

/* Milliseconds from exec to the first answered GET /. */
int64_t hostdrv_ready_ms(const struct hostdrv *d);

/* The handler's stdout or stderr so far (malloc'd, NUL-terminated). */
char *hostdrv_read_output(const struct hostdrv *d, bool stderr_stream);

/*
 * Sends sig (SIGTERM, SIGINT) and waits up to timeout_ms for the exit.
 * Returns the exit status, 128+signal if killed by one, or -1 after a
 * timeout (the process is then killed). The handler's stderr is copied to
 * ours when it reports a sanitizer error.
 */
int hostdrv_stop(struct hostdrv *d, int sig, int timeout_ms);

/* Stops the handler if still running (SIGKILL) and removes its folder. */
void hostdrv_free(struct hostdrv *d);

/* A keep-alive connection; use one per thread. */
struct hostdrv_conn *hostdrv_conn_new(const struct hostdrv *d);
void hostdrv_conn_free(struct hostdrv_conn *c);

/* TCP connections this connection object has opened so far (1 when keep-alive held). */
long hostdrv_conn_connects(const struct hostdrv_conn *c);

enum hostdrv_framing { HOSTDRV_CHUNKED, HOSTDRV_CONTENT_LENGTH };

struct hostdrv_reply {
    long status; /* HTTP status of the handler's reply; 0 if none */
    char *content_type;
    char *body;
    size_t body_len;
    struct invoke_host_result result; /* as the host reads it */
    json_t *client_json; /* the client response body parsed as JSON, when it is JSON */
};

void hostdrv_reply_release(struct hostdrv_reply *r);

/*
 * POSTs raw bytes to /{function}. http_binding (e.g. "res", or NULL) is used
 * to read the reply as the host would. 0 when a reply arrived, -1 otherwise.
 */
int hostdrv_post(struct hostdrv_conn *c, const char *path, const char *body, size_t len,
                 enum hostdrv_framing framing, const char *http_binding,
                 struct hostdrv_reply *out);

/* A client request to an HTTP-triggered function, as the host would forward it. */
struct hostdrv_http {
    const char *function;       /* folder name */
    const char *method;         /* "GET", "POST", ... */
    const char *path_query;     /* public path with query, e.g. "/api/health?x=1" */
    const char *const *headers; /* "Name: value" entries, NULL-terminated; may be NULL */
    const char *body;           /* NULL for none */
    size_t body_len;            /* 0 means strlen(body) */
    json_t *params;             /* route values (borrowed), may be NULL */
};

/* Builds the host's envelope for req, invokes it (chunked) and reads the reply. */
int hostdrv_http(struct hostdrv_conn *c, const struct hostdrv_http *req,
                 struct hostdrv_reply *out);

/* Invokes a trigger function with payload wrapped in `string_levels` JSON strings. */
int hostdrv_trigger(struct hostdrv_conn *c, const char *function, const char *binding,
                    const json_t *payload, int string_levels,
                    const struct fn_retry *retry, struct hostdrv_reply *out);

/*
 * A client request as the host receives it: the function is found by matching
 * path_query against the app's function.json routes (prefix from host.json),
 * its route values become Params, and the envelope is invoked. The reply's
 * client response is in out->result (http_status, http_headers, http_body)
 * and out->client_json. -1 when no route matches or nothing came back.
 * headers are "Name: value" entries (NULL-terminated, may be NULL); body may be NULL.
 */
int hostdrv_call(struct hostdrv_conn *c, const char *method, const char *path_query,
                 const char *const *headers, const char *body, struct hostdrv_reply *out);

/* The client response header `name` of a reply read by hostdrv_call, or NULL. */
const char *hostdrv_reply_header(const struct hostdrv_reply *r, const char *name);

/* A client response for the log (see the top of this file). All borrowed. */
struct hostdrv_logged {
    const char *face, *prefix, *function, *method, *target;
    long status;
    json_t *headers; /* name -> string, or NULL */
    const char *body;
    size_t body_len;
};

/*
 * Appends l to this process's response log when ES_API_LOG_DIR is set: for
 * responses read without the driver (a test's own socket). Thread-safe.
 */
void hostdrv_log_response(const struct hostdrv_logged *l);

/* Plain HTTP request to the handler (no envelope), e.g. for `handler serve`. */
int hostdrv_request(struct hostdrv_conn *c, const char *method, const char *path,
                    const char *const *headers, const char *body, size_t len,
                    enum hostdrv_framing framing, struct hostdrv_reply *out);

#endif

/*
 * server.h - the HTTP/1.1 server under both faces of the handler (the host
 * protocol and the standalone front), over libmicrohttpd.
 *
 * Each connection has its own thread, which parses its requests (chunked and
 * keep-alive ones included) and runs them. A request is first shown to the
 * router's on_headers, which may answer at once (readiness pings, unknown
 * routes); otherwise its body is collected up to a hard cap and the router's
 * on_request runs on the same thread. An HTTP/1.1 connection carries one
 * request at a time, so a function waiting on the store stalls only its own
 * connection, and no request is handed between threads.
 *
 * Shutdown (http_server_drain) stops accepting connections, lets every
 * request already received finish and be answered, then closes the rest.
 */
#ifndef ES_HTTP_SERVER_H
#define ES_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

struct http_server;
struct MHD_Connection;

struct http_header {
    char *name;
    char *value;
};

/* One request and its response. Request fields are valid until the response is sent. */
struct http_exchange {
    /* request */
    const char *method;          /* "GET", "POST", ... */
    const char *target;          /* raw request target: path and query, undecoded */
    struct http_header *headers; /* in arrival order, once collected (see below) */
    size_t n_headers;
    const char *body; /* NULL when empty */
    size_t body_len;
    bool body_too_large;         /* the body passed the cap and was discarded */
    size_t body_cap;             /* the cap; on_headers may change it for this request */
    size_t body_seen;            /* bytes of body received, kept or not */
    void *route;                 /* router's per-request note, set in on_headers */
    struct MHD_Connection *conn; /* private to the server */

    /* response, filled by the router */
    int status;
    struct http_header *resp_headers;
    size_t n_resp_headers;
    char *resp_body; /* malloc'd, owned by the exchange */
    size_t resp_body_len;
    bool answered;     /* a response is ready */
    bool reply_failed; /* it could not be built: a bare 503, which takes no headers */
};

struct http_router {
    /*
     * Before the body is read. May answer (http_reply*), in which case any
     * body is read and discarded and the answer is sent.
     */
    void (*on_headers)(void *cls, struct http_exchange *x);
    /* With the whole body, on the connection's thread; must answer. */
    void (*on_request)(void *cls, struct http_exchange *x);
    /*
     * Optional: the bytes of a body past its cap, which the server does not keep,
     * in order from the first byte (what had been kept is handed over first).
     */
    void (*on_overflow)(void *cls, struct http_exchange *x, const char *data, size_t len);
    /* Optional: the exchange is over, answered or not; free what x->route holds. */
    void (*on_done)(void *cls, struct http_exchange *x);
    void *cls;
};

struct http_server_opts {
    const char *address;      /* IPv4 address to bind, e.g. "127.0.0.1" */
    int port;                 /* 0 picks a free port */
    unsigned max_connections; /* connections (and threads) served at once */
    size_t max_body_bytes;    /* bodies above this are discarded (body_too_large) */
    unsigned idle_timeout_s;  /* close idle connections after this; 0 never */
    /* Slow clients (watch.h); 0 disables each. The host face uses none of them. */
    unsigned max_connections_per_client; /* per client address */
    int64_t headers_timeout_ms;          /* a request's headers, once due */
    int64_t body_timeout_ms;             /* its body, once the headers are in */
};

/* Starts serving. NULL with err filled when the port cannot be bound, etc. */
struct http_server *http_server_start(const struct http_server_opts *opts,
                                      const struct http_router *router,
                                      struct es_error *err);

/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *s);

/*
 * Stops accepting, waits up to timeout_ms for every received request to be
 * answered, then stops. Returns the number of requests still in flight when
 * the time ran out (0 on a clean drain); the server must then not be freed
 * while they run (the process should exit).
 */
size_t http_server_drain(struct http_server *s, int64_t timeout_ms);

/* Frees a drained server. NULL is a no-op. */
void http_server_free(struct http_server *s);

/* Fills x->headers and x->n_headers with every request header (once). */
enum es_status http_exchange_collect_headers(struct http_exchange *x) ES_MUST_CHECK;

/* A request header, matched ignoring case; NULL when absent. */
const char *http_exchange_header(const struct http_exchange *x, const char *name);

/*
 * The replies. Each starts a new response, or adds to it, and never leaves a
 * half-built one: when memory runs out the exchange is answered with a bare
 * 503 (no body, no header, reply_failed set, later headers refused) and
 * ES_ENOMEM says so. The caller has then nothing to undo; it may log.
 */

/* Sets the response: status and a body (copied), with a Content-Type. */
enum es_status http_reply(struct http_exchange *x, int status, const char *content_type,
                          const char *body, size_t body_len) ES_MUST_CHECK;

/*
 * Sets the response, taking ownership of a malloc'd body (freed even on
 * failure). Headers added to an earlier response are dropped.
 */
enum es_status http_reply_own(struct http_exchange *x, int status,
                              const char *content_type, char *body,
                              size_t body_len) ES_MUST_CHECK;

/*
 * Replies {"error": <the code's API name>, "message": message} as application/json,
 * with the code's HTTP status (util/status.h): the answers the server and the
 * serve front give before any function runs use the API's vocabulary too.
 */
enum es_status http_reply_error(struct http_exchange *x, enum es_status code,
                                const char *message) ES_MUST_CHECK;

/* Adds a response header (copied); ES_ENOMEM also once the response has failed. */
enum es_status http_reply_header(struct http_exchange *x, const char *name,
                                 const char *value) ES_MUST_CHECK;

#endif

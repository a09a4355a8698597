/*
 * server.c - libmicrohttpd with one thread per connection.
 *
 * Life of a request (struct exchange, created by the URI-log callback and
 * freed by the completion callback, so MHD owns its lifetime):
 *   NEW      first access-handler call: headers are in; the router may answer,
 *            and may set this request's body cap
 *   BODY     upload chunks are appended (or, past the cap, shown to the router's
 *            on_overflow and dropped; after an early answer, dropped)
 *   READY    the body is complete; the router's on_request has run on the
 *            connection's thread and the response is queued
 * An early answer is queued once the body has been read, so the connection
 * stays usable for the next request (keep-alive).
 */
#include "server.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "util/buf.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "watch.h"

enum phase { PHASE_NEW, PHASE_BODY, PHASE_READY };

struct exchange {
    struct http_exchange x; /* first member: the router's view */
    struct http_server *server;
    enum phase phase;
    char *target; /* raw request target */
    char *method;
    struct es_buf body;
    bool close; /* the request's framing is in doubt: close after answering */
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_router router;
    size_t max_body_bytes;
    int port;
    atomic_size_t in_flight;  /* requests received and not yet answered */
    atomic_bool draining;     /* answers carry Connection: close */
    struct http_watch *watch; /* slow-client deadlines, or NULL */
};

/* ---- exchange helpers ---- */

static void free_headers(struct http_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

static void exchange_free(struct exchange *e)
{
    if (e == NULL)
        return;
    if (e->server->router.on_done != NULL)
        e->server->router.on_done(e->server->router.cls, &e->x);
    free_headers(e->x.headers, e->x.n_headers);
    free_headers(e->x.resp_headers, e->x.n_resp_headers);
    free(e->x.resp_body);
    es_buf_release(&e->body);
    free(e->target);
    free(e->method);
    free(e);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value);

/* What collect_header fills, and whether it ran out of memory. */
struct collect {
    struct http_exchange *x;
    bool failed;
};

enum es_status http_exchange_collect_headers(struct http_exchange *x)
{
    if (x->headers != NULL || x->conn == NULL)
        return ES_OK;
    struct collect c = {.x = x};
    MHD_get_connection_values(x->conn, MHD_HEADER_KIND, collect_header, &c);
    if (c.failed) {
        /* A header list with one missing (an Idempotency-Key, say) would be believed. */
        free_headers(x->headers, x->n_headers);
        x->headers = NULL;
        x->n_headers = 0;
        return ES_ENOMEM;
    }
    return ES_OK;
}

const char *http_exchange_header(const struct http_exchange *x, const char *name)
{
    if (x->headers == NULL && x->conn != NULL) {
        /* MHD matches header names ignoring case. */
        return MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, name);
    }
    for (size_t i = 0; i < x->n_headers; i++)
        if (strcasecmp(x->headers[i].name, name) == 0)
            return x->headers[i].value;
    return NULL;
}

/* Drops the response being built. */
static void drop_response(struct http_exchange *x)
{
    free_headers(x->resp_headers, x->n_resp_headers);
    x->resp_headers = NULL;
    x->n_resp_headers = 0;
    free(x->resp_body);
    x->resp_body = NULL;
    x->resp_body_len = 0;
}

/* The answer when the one asked for cannot be built: a bare 503. */
static enum es_status reply_failed(struct http_exchange *x)
{
    drop_response(x);
    x->status = 503;
    x->answered = true;
    x->reply_failed = true;
    return ES_ENOMEM;
}

enum es_status http_reply_header(struct http_exchange *x, const char *name,
                                 const char *value)
{
    if (x->reply_failed)
        return ES_ENOMEM;
    struct http_header *h =
        realloc(x->resp_headers, (x->n_resp_headers + 1) * sizeof(*x->resp_headers));
    if (h == NULL)
        return reply_failed(x);
    x->resp_headers = h;
    char *n = strdup(name), *v = strdup(value);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return reply_failed(x);
    }
    h[x->n_resp_headers].name = n;
    h[x->n_resp_headers].value = v;
    x->n_resp_headers++;
    return ES_OK;
}

enum es_status http_reply_own(struct http_exchange *x, int status,
                              const char *content_type, char *body, size_t body_len)
{
    drop_response(x);
    x->resp_body = body;
    x->resp_body_len = body != NULL ? body_len : 0;
    x->status = status;
    x->answered = true;
    x->reply_failed = false;
    if (content_type != NULL)
        return http_reply_header(x, "Content-Type", content_type);
    return ES_OK;
}

enum es_status http_reply(struct http_exchange *x, int status, const char *content_type,
                          const char *body, size_t body_len)
{
    char *copy = NULL;
    if (body_len > 0) {
        copy = malloc(body_len);
        if (copy == NULL)
            return reply_failed(x);
        memcpy(copy, body, body_len);
    }
    return http_reply_own(x, status, content_type, copy, body_len);
}

enum es_status http_reply_error(struct http_exchange *x, enum es_status code,
                                const char *message)
{
    int status = es_status_http(code);
    json_t *obj =
        json_pack("{s:s, s:s}", "error", es_status_name(code), "message", message);
    size_t len = 0;
    char *body = obj != NULL ? es_json_dumps(obj, &len) : NULL;
    json_decref(obj);
    if (body == NULL)
        return reply_failed(x);
    return http_reply_own(x, status, "application/json", body, len);
}

/* ---- MHD callbacks ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    struct exchange *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->server = s;
    e->target = strdup(uri);
    e->x.conn = conn;
    e->x.body_cap = s->max_body_bytes;
    es_buf_init(&e->body, s->max_body_bytes);
    atomic_fetch_add(&s->in_flight, 1);
    return e;
}

/* The watchdog's record of a connection (its socket context), or NULL. */
static struct http_watch_conn *watched(struct http_server *s, struct MHD_Connection *conn)
{
    if (s->watch == NULL)
        return NULL;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    if (s->watch == NULL)
        return;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context =
            info != NULL ? http_watch_add(s->watch, info->connect_fd) : NULL;
    } else {
        http_watch_remove(s->watch, *socket_context);
        *socket_context = NULL;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct http_server *s = cls;
    if (s->watch != NULL)
        http_watch_answered(s->watch, watched(s, conn));
    struct exchange *e = *req_cls;
    if (e == NULL)
        return;
    exchange_free(e);
    *req_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct collect *c = cls;
    struct http_exchange *x = c->x;
    struct http_header *h = realloc(x->headers, (x->n_headers + 1) * sizeof(*h));
    if (h == NULL) {
        c->failed = true;
        return MHD_NO;
    }
    x->headers = h;
    h[x->n_headers].name = strdup(key);
    h[x->n_headers].value = strdup(value != NULL ? value : "");
    if (h[x->n_headers].name == NULL || h[x->n_headers].value == NULL) {
        free(h[x->n_headers].name);
        free(h[x->n_headers].value);
        c->failed = true;
        return MHD_NO;
    }
    x->n_headers++;
    return MHD_YES;
}

/* The exchange's response as MHD's, every header in, or NULL. */
static struct MHD_Response *mhd_response(struct exchange *e)
{
    struct http_exchange *x = &e->x;
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        x->resp_body_len, x->resp_body, free);
    if (r == NULL)
        return NULL;
    x->resp_body = NULL; /* MHD frees it now */
    bool ok = true;
    for (size_t i = 0; ok && i < x->n_resp_headers; i++)
        ok = MHD_add_response_header(r, x->resp_headers[i].name,
                                     x->resp_headers[i].value) == MHD_YES;
    if (ok && (atomic_load(&e->server->draining) || e->close))
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    if (!ok) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

static enum MHD_Result send_response(struct exchange *e, struct MHD_Connection *conn)
{
    struct http_exchange *x = &e->x;
    struct MHD_Response *r = mhd_response(e);
    if (r == NULL) {
        /* Not a response with a header missing: a bare 503, else the connection goes. */
        drop_response(x);
        x->status = 503;
        if ((r = mhd_response(e)) == NULL)
            return MHD_NO;
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)x->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The whole body is in: run the router on this connection's thread and answer. */
static enum MHD_Result run_request(struct exchange *e, struct MHD_Connection *conn)
{
    struct http_exchange *x = &e->x;
    if (e->body.len > 0) {
        x->body = e->body.ptr;
        x->body_len = e->body.len;
    }
    if (e->server->watch != NULL)
        http_watch_body_in(e->server->watch, watched(e->server, conn));
    e->server->router.on_request(e->server->router.cls, x);
    if (!x->answered &&
        http_reply_error(x, ES_EINTERNAL, "the request was not answered") != ES_OK)
        es_log_warn("http: out of memory: a request nobody answered gets a bare 503");
    e->phase = PHASE_READY;
    return send_response(e, conn);
}

struct framing {
    const char *length; /* the first Content-Length */
    bool conflict;      /* another with a different value */
    bool chunked;       /* Transfer-Encoding present */
};

static enum MHD_Result note_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->length != NULL && strcmp(f->length, value != NULL ? value : "") != 0)
            f->conflict = true;
        else if (f->length == NULL)
            f->length = value != NULL ? value : "";
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->chunked = true;
    }
    return MHD_YES;
}

/*
 * A request whose body could be read two ways (two different Content-Length
 * values, or Content-Length beside Transfer-Encoding: RFC 9112 section 6.3)
 * is refused, and its connection closed after the answer: what follows on it
 * cannot be trusted to start a request.
 */
static bool framing_in_doubt(struct MHD_Connection *conn)
{
    struct framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, note_framing, &f);
    return f.conflict || (f.length != NULL && f.chunked);
}

static void check_declared_length(struct exchange *e, struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl == NULL)
        return;
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    if (end != cl && *end == '\0' && n > e->x.body_cap)
        e->x.body_too_large = true;
}

/* A body chunk: kept while under the cap, else shown to on_overflow and dropped. */
static void take_chunk(struct exchange *e, const char *data, size_t len)
{
    struct http_exchange *x = &e->x;
    const struct http_router *router = &e->server->router;
    x->body_seen += len;
    if (x->answered)
        return;
    if (!x->body_too_large && es_buf_add(&e->body, data, len) == ES_OK)
        return;
    if (!x->body_too_large) {
        /* Past the cap (or out of memory): keep reading, keep nothing. */
        x->body_too_large = true;
        if (router->on_overflow != NULL && e->body.len > 0)
            router->on_overflow(router->cls, x, e->body.ptr, e->body.len);
        es_buf_release(&e->body);
    }
    if (router->on_overflow != NULL)
        router->on_overflow(router->cls, x, data, len);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **req_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    struct exchange *e = *req_cls;
    if (e == NULL || e->target == NULL)
        return MHD_NO; /* out of memory when the request began */

    switch (e->phase) {
    case PHASE_NEW:
        e->method = strdup(method);
        if (e->method == NULL)
            return MHD_NO;
        e->x.method = e->method;
        e->x.target = e->target;
        e->phase = PHASE_BODY;
        if (e->server->watch != NULL)
            http_watch_headers_in(e->server->watch, watched(e->server, conn));
        if (framing_in_doubt(conn)) {
            e->close = true;
            if (http_reply_error(&e->x, ES_EREQUEST,
                                 "the body's length is given two ways (Content-Length "
                                 "twice, or with Transfer-Encoding)") != ES_OK)
                es_log_warn("http: out of memory: a request framed two ways gets a "
                            "bare 503");
            return MHD_YES;
        }
        e->server->router.on_headers(e->server->router.cls, &e->x);
        e->body.max = e->x.body_cap;
        check_declared_length(e, conn);
        return MHD_YES;
    case PHASE_BODY:
        if (*upload_data_size > 0) {
            take_chunk(e, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (e->x.answered) {
            if (e->server->watch != NULL)
                http_watch_body_in(e->server->watch, watched(e->server, conn));
            e->phase = PHASE_READY;
            return send_response(e, conn);
        }
        return run_request(e, conn);
    case PHASE_READY:
        return send_response(e, conn);
    }
    return MHD_NO;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    es_log_warn("http: %s", line);
}

/* ---- lifecycle ---- */

struct http_server *http_server_start(const struct http_server_opts *opts,
                                      const struct http_router *router,
                                      struct es_error *err)
{
    struct http_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        es_error_set(err, ES_ENOMEM, "cannot start the HTTP server: out of memory");
        return NULL;
    }
    s->router = *router;
    s->max_body_bytes = opts->max_body_bytes;
    if (opts->headers_timeout_ms > 0 || opts->body_timeout_ms > 0) {
        s->watch = http_watch_start(opts->headers_timeout_ms, opts->body_timeout_ms,
                                    (int64_t)opts->idle_timeout_s * 1000);
        if (s->watch == NULL) {
            es_error_set(err, ES_ENOMEM, "cannot start the HTTP server: out of memory");
            free(s);
            return NULL;
        }
    }
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->draining, false);

    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)opts->port)};
    if (inet_pton(AF_INET, opts->address, &addr.sin_addr) != 1) {
        es_error_set(err, ES_EINVAL, "cannot listen on '%s': not an IPv4 address",
                     opts->address);
        free(s);
        return NULL;
    }
    /*
     * A thread per connection: a request never waits behind another one's
     * function (a connection carries one request at a time), and nothing is
     * handed between threads. Turbo skips the shutdown() before close and
     * reads optimistically, which suits loopback peers.
     */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_TURBO;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)opts->port, NULL, NULL, on_access, s, MHD_OPTION_SOCK_ADDR,
        &addr, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, opts->idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, opts->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, opts->max_connections_per_client,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
    if (s->daemon == NULL) {
        es_error_set(err, ES_EIO, "cannot listen on %s:%d (is the port in use?)",
                     opts->address, opts->port);
        http_watch_stop(s->watch);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : opts->port;
    return s;
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

size_t http_server_drain(struct http_server *s, int64_t timeout_ms)
{
    atomic_store(&s->draining, true);
    MHD_socket listener = MHD_quiesce_daemon(s->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    int64_t deadline = es_time_mono_ms() + timeout_ms;
    /* in_flight also counts idle keep-alive connections' next request only once it
     * starts. */
    while (atomic_load(&s->in_flight) > 0 && es_time_mono_ms() < deadline)
        es_time_sleep_ms(5);
    size_t left = atomic_load(&s->in_flight);
    if (left > 0)
        return left;
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    return 0;
}

void http_server_free(struct http_server *s)
{
    if (s == NULL)
        return;
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    http_watch_stop(s->watch);
    free(s);
}

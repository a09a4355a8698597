/*
 * hostproto.c - routing the host's requests. Pings and refusals are answered
 * from the headers alone; invocations run once the envelope is in.
 */
#include "hostproto.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* The function name in "/Name" or "/Name?..." (borrowed into buf). */
static const char *function_name(const char *target, char *buf, size_t buf_len)
{
    if (target[0] != '/')
        return NULL;
    size_t n = strcspn(target + 1, "?#");
    if (n == 0 || n >= buf_len || memchr(target + 1, '/', n) != NULL)
        return NULL;
    memcpy(buf, target + 1, n);
    buf[n] = '\0';
    return buf;
}

/* A reply that could not be built went out as a bare 503 (server.h): noted here. */
static void replied(enum es_status st, const char *what)
{
    if (st != ES_OK)
        es_log_warn("host protocol: out of memory: %s answered with a bare 503", what);
}

static void reply_invoke(struct http_exchange *x, struct invoke_reply *r)
{
    replied(http_reply_own(x, r->host_status, "application/json", r->body, r->body_len),
            "an invocation");
    r->body = NULL;
}

/* Event ids noted while an oversize trigger envelope streams past. */
#define OVERSIZE_MAX_IDS 100000

static void on_headers(void *cls, struct http_exchange *x)
{
    struct hostproto *hp = cls;
    char name[256];
    size_t path_len = strcspn(x->target, "?#");
    if (path_len == 1 && x->target[0] == '/') {
        if (strcmp(x->method, "GET") == 0 || strcmp(x->method, "HEAD") == 0)
            replied(http_reply(x, 200, "application/json", "{\"status\":\"ready\"}", 18),
                    "a readiness probe");
        else
            replied(http_reply_error(x, ES_EMETHOD, "only GET is served at /"),
                    "a request to /");
        return;
    }
    const struct fn_def *def = function_name(x->target, name, sizeof(name)) != NULL
                                   ? fn_table_find(hp->app->fns, name)
                                   : NULL;
    if (def == NULL) {
        replied(http_reply_error(x, ES_ENOTFOUND, "no such function"),
                "an unknown function");
        return;
    }
    if (strcmp(x->method, "POST") != 0) {
        enum es_status st =
            http_reply_error(x, ES_EMETHOD, "invocations are POST requests");
        replied(st == ES_OK ? http_reply_header(x, "Allow", "POST") : st,
                "an invocation that is not a POST");
        return;
    }
    x->body_cap =
        def->kind == FN_HTTP ? hp->max_envelope_bytes : hp->max_trigger_envelope_bytes;
    if (def->kind != FN_HTTP && (x->route = invoke_id_scan_new(OVERSIZE_MAX_IDS)) == NULL)
        /* Used only past the cap, but then nothing else keeps the batch's ids. */
        replied(http_reply_error(x, ES_ENOMEM, "out of memory"), "a trigger invocation");
}

static void on_overflow(void *cls, struct http_exchange *x, const char *data, size_t len)
{
    (void)cls;
    if (x->route != NULL)
        invoke_id_scan_feed(x->route, data, len);
}

static void on_done(void *cls, struct http_exchange *x)
{
    (void)cls;
    invoke_id_scan_free(x->route);
    x->route = NULL;
}

static void on_request(void *cls, struct http_exchange *x)
{
    struct hostproto *hp = cls;
    char name[256];
    struct invoke_reply r;
    function_name(x->target, name, sizeof(name));
    const char *id = http_exchange_header(x, "X-Azure-Functions-InvocationId");
    if (x->body_too_large)
        invoke_reply_oversize(hp->app, name, id, x->body_seen, x->body_cap, x->route, &r);
    else
        invoke_dispatch(hp->app, name, id, x->body != NULL ? x->body : "", x->body_len,
                        &r);
    reply_invoke(x, &r);
}

struct http_router hostproto_router(struct hostproto *hp)
{
    struct http_router r = {.on_headers = on_headers,
                            .on_request = on_request,
                            .on_overflow = on_overflow,
                            .on_done = on_done,
                            .cls = hp};
    return r;
}

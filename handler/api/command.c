/*
 * command.c - a command request from the HTTP edge to the engine and back:
 * the checks every command makes, in the documented order, then the run.
 */
#include "api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

bool api_reject(struct api_call *c, enum es_status code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn_reply_error(c->res, code, "%s", msg);
    return false;
}

/*
 * "5", 5, W/"5" or *; false when malformed (W/ needs the quotes, as an entity
 * tag does). A version too large for any stream saturates, and so mismatches.
 */
static bool parse_if_match(const char *v, struct es_command *cmd)
{
    while (*v == ' ')
        v++;
    if (strcmp(v, "*") == 0) {
        cmd->if_match_any = true;
        return true;
    }
    bool weak = strncmp(v, "W/", 2) == 0;
    if (weak)
        v += 2;
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == ' ')
        n--;
    bool quoted = n >= 2 && v[0] == '"' && v[n - 1] == '"';
    const char *digits = quoted ? v + 1 : v;
    size_t len = quoted ? n - 2 : n;
    if (len == 0 || (weak && !quoted))
        return false;
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return false;
        int d = digits[i] - '0';
        value = value > (INT64_MAX - d) / 10 ? INT64_MAX : value * 10 + d;
    }
    cmd->if_match = value;
    return true;
}

static bool key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = k[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' ||
              ch == '-'))
            return false;
    }
    return true;
}

/* The path of a URL ("/api/things/1"): where it starts, and its length. */
static const char *url_path(const char *url, size_t *len)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? strchr(p + 3, '/') : url;
    if (p == NULL)
        p = "/";
    *len = strcspn(p, "?#");
    return p;
}

bool api_location(struct api_call *c, const char *id)
{
    size_t n = 0;
    const char *path = url_path(c->req->url, &n);
    while (n > 0 && path[n - 1] == '/')
        n--;
    if (n > INT32_MAX ||
        es_fmt(c->location, sizeof(c->location), "%.*s/%s", (int)n, path, id) != ES_OK)
        return api_reject(c, ES_EFIELD, "the request's path is too long");
    return true;
}

/*
 * The host puts Body in the envelope only when the request had Content-Length
 * > 0, so a body sent chunked (or without a length) never reaches a function.
 * True when the headers show a body was sent that the envelope lacks.
 */
static bool body_withheld(const struct fn_http_request *req)
{
    if (req->body != NULL)
        return false;
    const char *te = fn_header(req, "Transfer-Encoding");
    if (te != NULL && es_token_list_has(te, "chunked"))
        return true;
    const char *m = req->method;
    return fn_header(req, "Content-Length") == NULL &&
           (strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0 || strcmp(m, "PUT") == 0);
}

static bool check_body(struct api_call *c)
{
    const struct fn_http_request *req = c->req;
    size_t max = c->ctx->svc->cfg->max_body_bytes;
    if (req->body_len > max) {
        fn_reply_error(c->res, ES_ETOOBIG,
                       "the request body is %zu bytes; the limit is %zu", req->body_len,
                       max);
        return false;
    }
    if (body_withheld(req)) {
        fn_reply_error(c->res, ES_ELENGTH,
                       "send the body with a Content-Length header: the Functions host "
                       "passes no chunked body to a function");
        return false;
    }
    const char *ct = fn_header(req, "Content-Type");
    if (!es_media_type_is(ct, "application/json") &&
        !es_media_type_is(ct, "application/+json")) {
        fn_reply_error(c->res, ES_EMEDIA,
                       "commands take a JSON body (Content-Type: application/json)");
        return false;
    }
    json_error_t jerr;
    if (req->body != NULL &&
        es_json_parse(req->body, req->body_len, 0, &c->body, &jerr) == ES_ENOMEM) {
        /* Not the client's fault, and never a body read with a byte missing. */
        fn_reply_error(c->res, ES_ENOMEM, "out of memory");
        return false;
    }
    if (!json_is_object(c->body)) {
        fn_reply_error(c->res, ES_EJSON, "%s",
                       c->body != NULL ? "the body must be a JSON object"
                       : req->body_len ? jerr.text
                                       : "the body is empty; a JSON object is required");
        return false;
    }
    return true;
}

/* UTF-8 text without control characters (it is stored in every event's meta). */
static bool printable(const char *v)
{
    for (const char *p = v; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return es_text_valid(v, strlen(v));
}

static bool check_headers(struct api_call *c)
{
    const char *v = fn_header(c->req, "If-Match");
    if (v != NULL) {
        c->cmd.has_if_match = true;
        if (!parse_if_match(v, &c->cmd))
            return api_reject(c, ES_EFIELD,
                              "If-Match must be a version such as \"5\", or *");
    }
    v = fn_header(c->req, "Idempotency-Key");
    if (v != NULL) {
        if (!key_valid(v))
            return api_reject(c, ES_EFIELD,
                              "Idempotency-Key must be 1 to 128 of A-Z a-z 0-9 _ . : -");
        c->cmd.idempotency_key = v;
    }
    v = fn_header(c->req, "X-Correlation-Id");
    if (v != NULL && v[0] != '\0') {
        if (strlen(v) >= sizeof(c->correlation))
            return api_reject(c, ES_EFIELD, "X-Correlation-Id is longer than %zu bytes",
                              sizeof(c->correlation) - 1);
        if (!printable(v))
            return api_reject(c, ES_EFIELD,
                              "X-Correlation-Id must be text without control characters");
        snprintf(c->correlation, sizeof(c->correlation), "%s", v);
    } else {
        snprintf(c->correlation, sizeof(c->correlation), "%s", c->ctx->invocation_id);
    }
    c->cmd.correlation_id = c->correlation;
    return true;
}

bool api_call_begin(struct api_call *c, struct fn_ctx *ctx,
                    const struct fn_http_request *req, struct fn_http_response *res,
                    const struct es_aggregate *aggregate, bool takes_body,
                    const char *route_id)
{
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->req = req;
    c->res = res;
    if (!takes_body && req->body_len > ctx->svc->cfg->max_body_bytes) {
        fn_reply_error(res, ES_ETOOBIG, "the request body is too large");
        return false;
    }
    if (takes_body && !check_body(c))
        return false;
    if (route_id != NULL && !api_field_id(c, route_id, true, true, &c->id))
        return false;
    if (!check_headers(c))
        return false;
    size_t path_len = 0;
    const char *path = url_path(req->url, &path_len);
    struct es_hash_part parts[] = {{req->method, strlen(req->method)},
                                   {"\n", 1},
                                   {path, path_len},
                                   {"\n", 1},
                                   {req->body != NULL ? req->body : "", req->body_len}};
    if (es_sha256_hex(parts, 5, c->request_hash) != ES_OK) {
        fn_reply_error(res, ES_ENOMEM, "out of memory");
        return false;
    }
    c->cmd.aggregate = aggregate;
    c->cmd.aggregate_id = c->id;
    c->cmd.render = api_render_success;
    c->cmd.request_hash = c->request_hash;
    return true;
}

bool api_field_id(struct api_call *c, const char *name, bool from_route, bool required,
                  const char **out)
{
    const char *v = from_route ? fn_param(c->req, name)
                               : json_string_value(json_object_get(c->body, name));
    *out = NULL;
    if (!from_route && json_object_get(c->body, name) == NULL && !required)
        return true;
    if (v == NULL || !es_id_valid(v))
        return api_reject(c, ES_EFIELD, "'%s' must be 1 to 64 of A-Z a-z 0-9 _ -", name);
    *out = v;
    return true;
}

static void log_outcome(struct api_call *c, const struct es_outcome *o, int64_t ms)
{
    fn_log(
        c->ctx,
        "%s %s%s: %d, version %lld, %lld event(s) appended%s; loaded from %s; %u store "
        "round trip(s) (%u retried), %u event(s) read, %u attempt(s), %.2f RU, %lld ms",
        c->ctx->function_name, c->cmd.aggregate->stream_prefix, c->id, o->status,
        (long long)o->version, (long long)o->appended, o->replayed ? " (replayed)" : "",
        o->loaded_from ? o->loaded_from : "-", o->io.round_trips, o->io.retries,
        o->io.events_read, o->attempts, o->io.request_charge, (long long)ms);
}

/*
 * The answer of a command the engine ran: the rendered success with its
 * headers, or the refusal. ES_ENOMEM when a header cannot be added; nothing
 * is half-answered then (the caller replaces the response).
 */
static enum es_status answer(struct api_call *c, struct es_outcome *o)
{
    enum es_status st = ES_OK;
    if (o->refusal != ES_OK) {
        fn_reply_error(c->res, o->refusal, "%s", o->message);
    } else {
        fn_http_response_release(c->res);
        c->res->status = o->status;
        c->res->body = o->body;
        c->res->body_len = o->body_len;
        o->body = NULL;
        st = fn_set_header(c->res, "Content-Type", "application/json");
        if (st == ES_OK && o->location != NULL && o->status < 300)
            st = fn_set_header(c->res, "Location", o->location);
    }
    if (st == ES_OK && o->version >= 0) {
        char etag[32];
        snprintf(etag, sizeof(etag), "\"%lld\"", (long long)o->version);
        st = fn_set_header(c->res, "ETag", etag);
    }
    return st;
}

void api_call_run(struct api_call *c, es_decide_fn decide, void *decide_ctx)
{
    c->cmd.decide = decide;
    c->cmd.decide_ctx = decide_ctx;
    struct es_outcome o;
    struct es_error err = {0};
    int64_t t0 = es_time_mono_ms();
    enum es_status st = es_engine_execute(c->ctx->svc->engine, &c->cmd, &o, &err);
    if (st != ES_OK) {
        /* ES_EUNKNOWN says "it may have been applied": never a plain "retry later". */
        api_reply_store_error(c->ctx, c->res, st, c->ctx->function_name, &err);
        es_outcome_release(&o);
        return;
    }
    log_outcome(c, &o, es_time_mono_ms() - t0);
    if (answer(c, &o) != ES_OK) {
        fn_http_response_release(c->res);
        if (o.refusal == ES_OK)
            /* The events are stored: the client must not hear that nothing happened. */
            fn_reply_error(c->res, ES_ENOMEM,
                           "out of memory after the command was applied, so its answer "
                           "is lost: read the list, or send the command again with the "
                           "same Idempotency-Key");
        else
            fn_reply_error(c->res, ES_ENOMEM, "out of memory");
    }
    es_outcome_release(&o);
}

void api_call_end(struct api_call *c)
{
    json_decref(c->body);
    c->body = NULL;
}

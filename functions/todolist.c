/*
 * todolist.c - the to-do aggregate for the engine, and the command request
 * pipeline shared by the to-do functions.
 */
#include "todolist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

/* ---- the aggregate ---- */

static void *state_new(void)
{
    return todo_list_new();
}

static void state_free(void *s)
{
    todo_list_free(s);
}

static void *state_clone(const void *s)
{
    return todo_list_clone(s);
}

/* Schema 1 is the only one so far; an upcaster would rewrite older data here. */
static enum es_status evolve(void *s, const char *type, int schema, const json_t *data)
{
    (void)schema;
    return todo_evolve(s, type, data);
}

static json_t *state_encode(const void *s)
{
    return todo_list_to_json(s);
}

static void *state_decode(const json_t *j)
{
    return todo_list_from_json(j);
}

const struct es_aggregate todolist_aggregate = {
    .stream_prefix = TODOLIST_STREAM_PREFIX,
    .event_schema = TODO_EVENT_SCHEMA,
    .snapshot_schema = TODO_SNAPSHOT_SCHEMA,
    .state_new = state_new,
    .state_free = state_free,
    .state_clone = state_clone,
    .evolve = evolve,
    .state_encode = state_encode,
    .state_decode = state_decode,
};

/* ---- request checks ---- */

bool todo_reject(struct todo_call *c, const char *code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn_reply_error(c->res, 400, code, "%s", msg);
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

/* The path of a URL ("/api/todolists/1"): where it starts, and its length. */
static const char *url_path(const char *url, size_t *len)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? strchr(p + 3, '/') : url;
    if (p == NULL)
        p = "/";
    *len = strcspn(p, "?#");
    return p;
}

bool todo_location(struct todo_call *c, const char *id)
{
    size_t n = 0;
    const char *path = url_path(c->req->url, &n);
    while (n > 0 && path[n - 1] == '/')
        n--;
    if (n > INT32_MAX ||
        es_fmt(c->location, sizeof(c->location), "%.*s/%s", (int)n, path, id) != ES_OK)
        return todo_reject(c, "invalid_field", "the request's path is too long");
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

static bool check_body(struct todo_call *c)
{
    const struct fn_http_request *req = c->req;
    size_t max = c->ctx->svc->cfg->max_body_bytes;
    if (req->body_len > max) {
        fn_reply_error(c->res, 413, "payload_too_large",
                       "the request body is %zu bytes; the limit is %zu", req->body_len,
                       max);
        return false;
    }
    if (body_withheld(req)) {
        fn_reply_error(c->res, 411, "length_required",
                       "send the body with a Content-Length header: the Functions host "
                       "passes no chunked body to a function");
        return false;
    }
    const char *ct = fn_header(req, "Content-Type");
    if (!es_media_type_is(ct, "application/json") &&
        !es_media_type_is(ct, "application/+json")) {
        fn_reply_error(c->res, 415, "unsupported_media_type",
                       "commands take a JSON body (Content-Type: application/json)");
        return false;
    }
    json_error_t jerr;
    c->body = req->body != NULL ? json_loadb(req->body, req->body_len, 0, &jerr) : NULL;
    if (!json_is_object(c->body)) {
        fn_reply_error(c->res, 400, "invalid_json", "%s",
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

static bool check_headers(struct todo_call *c)
{
    const char *v = fn_header(c->req, "If-Match");
    if (v != NULL) {
        c->cmd.has_if_match = true;
        if (!parse_if_match(v, &c->cmd))
            return todo_reject(c, "invalid_field",
                               "If-Match must be a version such as \"5\", or *");
    }
    v = fn_header(c->req, "Idempotency-Key");
    if (v != NULL) {
        if (!key_valid(v))
            return todo_reject(c, "invalid_field",
                               "Idempotency-Key must be 1 to 128 of A-Z a-z 0-9 _ . : -");
        c->cmd.idempotency_key = v;
    }
    v = fn_header(c->req, "X-Correlation-Id");
    if (v != NULL && v[0] != '\0') {
        if (strlen(v) >= sizeof(c->correlation))
            return todo_reject(c, "invalid_field",
                               "X-Correlation-Id is longer than %zu bytes",
                               sizeof(c->correlation) - 1);
        if (!printable(v))
            return todo_reject(
                c, "invalid_field",
                "X-Correlation-Id must be text without control characters");
        snprintf(c->correlation, sizeof(c->correlation), "%s", v);
    } else {
        snprintf(c->correlation, sizeof(c->correlation), "%s", c->ctx->invocation_id);
    }
    c->cmd.correlation_id = c->correlation;
    return true;
}

bool todo_call_begin(struct todo_call *c, struct fn_ctx *ctx,
                     const struct fn_http_request *req, struct fn_http_response *res,
                     bool takes_body, const char *route_id)
{
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->req = req;
    c->res = res;
    if (!takes_body && req->body_len > ctx->svc->cfg->max_body_bytes) {
        fn_reply_error(res, 413, "payload_too_large", "the request body is too large");
        return false;
    }
    if (takes_body && !check_body(c))
        return false;
    if (route_id != NULL && !todo_field_id(c, route_id, true, true, &c->list_id))
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
        fn_reply_error(res, 503, "out_of_memory", "out of memory");
        return false;
    }
    c->cmd.aggregate = &todolist_aggregate;
    c->cmd.aggregate_id = c->list_id;
    c->cmd.request_hash = c->request_hash;
    return true;
}

bool todo_field_text(struct todo_call *c, const char *name, bool required, char **out)
{
    json_t *v = json_object_get(c->body, name);
    *out = NULL;
    if (v == NULL && !required)
        return true;
    if (!json_is_string(v))
        return todo_reject(c, "invalid_field", "'%s' is required and must be a string",
                           name);
    struct es_error err = {0};
    if (todo_text_normalize(json_string_value(v), json_string_length(v), name, out,
                            &err) != ES_OK)
        return todo_reject(c, "invalid_field", "%s", err.message);
    return true;
}

bool todo_field_status(struct todo_call *c, const char *name, bool required,
                       bool *present, enum todo_item_status *out)
{
    json_t *v = json_object_get(c->body, name);
    *present = v != NULL;
    if (v == NULL && !required)
        return true;
    if (!todo_status_parse(json_string_value(v), out))
        return todo_reject(c, "invalid_field",
                           "'%s' must be one of \"To Do\", \"In Progress\", \"Done\"",
                           name);
    return true;
}

bool todo_field_id(struct todo_call *c, const char *name, bool from_route, bool required,
                   const char **out)
{
    const char *v = from_route ? fn_param(c->req, name)
                               : json_string_value(json_object_get(c->body, name));
    *out = NULL;
    if (!from_route && json_object_get(c->body, name) == NULL && !required)
        return true;
    if (v == NULL || !es_id_valid(v))
        return todo_reject(c, "invalid_field", "'%s' must be 1 to 64 of A-Z a-z 0-9 _ -",
                           name);
    *out = v;
    return true;
}

/* ---- running ---- */

struct decide_ctx {
    const struct todo_cmd *cmd;
    int success_status;
    json_t *extra;
    const char *location;
};

static void map_refusal(const struct todo_decision *td, struct es_decision *d)
{
    static const struct {
        enum todo_error e;
        int status;
        const char *code;
    } map[] = {
        {TODO_LIST_NOT_FOUND, 404, "not_found"},  {TODO_ITEM_NOT_FOUND, 404, "not_found"},
        {TODO_LIST_DELETED, 410, "list_deleted"}, {TODO_LIST_EXISTS, 409, "list_exists"},
        {TODO_TASK_EXISTS, 409, "task_exists"},   {TODO_INVALID, 400, "invalid_field"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].e == td->error) {
            d->reject_status = map[i].status;
            d->reject_code = map[i].code;
        }
    }
    snprintf(d->reject_message, sizeof(d->reject_message), "%s", td->message);
}

static enum es_status decide(void *ctx, const void *state, int64_t version,
                             struct es_decision *d)
{
    (void)version;
    struct decide_ctx *dc = ctx;
    struct todo_decision td;
    enum es_status st = todo_decide(state, dc->cmd, &td);
    if (st != ES_OK) {
        todo_decision_release(&td);
        return st;
    }
    if (td.error != TODO_OK) {
        map_refusal(&td, d);
    } else {
        d->events = td.events;
        td.events = NULL;
        d->success_status = dc->success_status;
        d->extra = json_incref(dc->extra);
        d->location = dc->location;
    }
    todo_decision_release(&td);
    return ES_OK;
}

static void log_outcome(struct todo_call *c, const struct es_outcome *o, int64_t ms)
{
    fn_log(
        c->ctx,
        "%s %s%s: %d, version %lld, %lld event(s) appended%s; loaded from %s; %u store "
        "round trip(s) (%u retried), %u event(s) read, %u attempt(s), %.2f RU, %lld ms",
        c->ctx->function_name, TODOLIST_STREAM_PREFIX, c->list_id, o->status,
        (long long)o->version, (long long)o->appended, o->replayed ? " (replayed)" : "",
        o->loaded_from ? o->loaded_from : "-", o->io.round_trips, o->io.retries,
        o->io.events_read, o->attempts, o->io.request_charge, (long long)ms);
}

void todo_call_run(struct todo_call *c, const struct todo_cmd *tc, int success_status,
                   json_t *extra)
{
    struct decide_ctx dc = {.cmd = tc,
                            .success_status = success_status,
                            .extra = extra,
                            .location = c->location[0] ? c->location : NULL};
    c->cmd.decide = decide;
    c->cmd.decide_ctx = &dc;
    struct es_outcome o;
    struct es_error err = {0};
    int64_t t0 = es_time_mono_ms();
    enum es_status st = es_engine_execute(c->ctx->svc->engine, &c->cmd, &o, &err);
    json_decref(extra);
    if (st != ES_OK) {
        es_log_error("%s on list '%s' failed: %s", c->ctx->function_name, c->list_id,
                     err.message);
        fn_log(c->ctx, "%s failed: %s", c->ctx->function_name, err.message);
        if (st == ES_EUNKNOWN) {
            /* Not "retry later": sent again without its key, it could apply twice. */
            fn_reply_error(c->res, 503, "store_unavailable",
                           "the event store did not confirm the command: it may have "
                           "been applied; retry it with the same Idempotency-Key, or "
                           "read the list's events before sending it again");
            fn_set_header(c->res, "Retry-After", "1");
        } else if (st == ES_EUNAVAILABLE || st == ES_ETIMEOUT || st == ES_ENOMEM ||
                   st == ES_EAUTH) {
            fn_reply_error(c->res, 503, "store_unavailable",
                           "the event store is unavailable; retry later");
            fn_set_header(c->res, "Retry-After", "1");
        } else {
            fn_reply_error(c->res, 500, "internal_error", "the event store failed");
        }
        es_outcome_release(&o);
        return;
    }
    log_outcome(c, &o, es_time_mono_ms() - t0);
    fn_http_response_release(c->res);
    c->res->status = o.status;
    c->res->body = o.body;
    c->res->body_len = o.body_len;
    o.body = NULL;
    fn_set_header(c->res, "Content-Type", "application/json");
    if (o.version >= 0) {
        char etag[32];
        snprintf(etag, sizeof(etag), "\"%lld\"", (long long)o.version);
        fn_set_header(c->res, "ETag", etag);
    }
    if (o.location != NULL && o.status < 300)
        fn_set_header(c->res, "Location", o.location);
    es_outcome_release(&o);
}

void todo_call_end(struct todo_call *c)
{
    json_decref(c->body);
    c->body = NULL;
}

void todo_reply_store_error(struct fn_ctx *ctx, struct fn_http_response *res,
                            enum es_status st, const char *what,
                            const struct es_error *err)
{
    es_log_error("%s failed: %s", what, err->message);
    fn_log(ctx, "%s failed: %s", what, err->message);
    if (st == ES_EUNAVAILABLE || st == ES_ETIMEOUT || st == ES_ENOMEM || st == ES_EAUTH) {
        fn_reply_error(res, 503, "store_unavailable",
                       "the store is unavailable; retry later");
        fn_set_header(res, "Retry-After", "1");
    } else {
        fn_reply_error(res, 500, "internal_error", "the store failed");
    }
}

enum es_status todo_execute(struct es_engine *engine, const char *list_id,
                            const struct todo_cmd *tc, const char *key,
                            const char *correlation, const char *causation,
                            struct es_outcome *out, struct es_error *err)
{
    char hash[65];
    struct es_hash_part parts[] = {{"reaction\n", 9}, {key, strlen(key)}};
    if (es_sha256_hex(parts, 2, hash) != ES_OK)
        return ES_ENOMEM;
    struct decide_ctx dc = {.cmd = tc, .success_status = 200};
    struct es_command cmd = {
        .aggregate = &todolist_aggregate,
        .aggregate_id = list_id,
        .decide = decide,
        .decide_ctx = &dc,
        .idempotency_key = key,
        .request_hash = hash,
        .correlation_id = correlation,
        .causation_id = causation,
    };
    return es_engine_execute(engine, &cmd, out, err);
}

bool todo_query_int(const struct fn_http_request *req, struct fn_http_response *res,
                    const char *name, int64_t min, int64_t max, int64_t dflt,
                    int64_t *out)
{
    const char *v = fn_query(req, name);
    *out = dflt;
    if (v == NULL)
        return true;
    char *end = NULL;
    long long n = v[0] >= '0' && v[0] <= '9' ? strtoll(v, &end, 10) : -1;
    if (end == NULL || *end != '\0' || n < min || n > max) {
        fn_reply_error(res, 400, "invalid_field",
                       "'%s' must be an integer from %lld to %lld", name, (long long)min,
                       (long long)max);
        return false;
    }
    *out = n;
    return true;
}

/*
 * A page's continuation as clients see it: base64url (unpadded) of
 * "<kind>\n<check>\n<store token>", where check is 16 hex digits of
 * SHA-256 over the kind and the token. A token of another route, a cut or
 * edited one, or one made up from the store's format is refused. It is not a
 * secret seal - a token only says where a listing resumes, in a listing the
 * caller may read anyway - but nothing the API did not give out gets through.
 */
static enum es_status continuation_check(const char *kind, const char *token, size_t len,
                                         char check[17])
{
    struct es_hash_part parts[] = {
        {"es-continuation\n", 16}, {kind, strlen(kind)}, {"\n", 1}, {token, len}};
    char hex[65];
    enum es_status st = es_sha256_hex(parts, 4, hex);
    if (st == ES_OK) {
        memcpy(check, hex, 16);
        check[16] = '\0';
    }
    return st;
}

static char *continuation_out(const char *kind, const char *store_token)
{
    char check[17];
    if (continuation_check(kind, store_token, strlen(store_token), check) != ES_OK)
        return NULL;
    size_t n = strlen(kind) + 18 + strlen(store_token) + 1;
    char *text = malloc(n);
    char *b64 =
        text != NULL && es_fmt(text, n, "%s\n%s\n%s", kind, check, store_token) == ES_OK
            ? es_base64_encode(text, strlen(text))
            : NULL;
    free(text);
    if (b64 == NULL)
        return NULL;
    /* base64url without padding: safe in a query string as it is. */
    size_t len = strlen(b64);
    while (len > 0 && b64[len - 1] == '=')
        b64[--len] = '\0';
    for (char *p = b64; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return b64;
}

void todo_reply_page(struct fn_http_response *res, const char *key, json_t *items,
                     const char *next_store_token)
{
    char *out = next_store_token != NULL ? continuation_out(key, next_store_token) : NULL;
    if (next_store_token != NULL && out == NULL) {
        json_decref(items);
        fn_reply_error(res, 503, "out_of_memory", "out of memory");
        return;
    }
    fn_reply_json(res, 200, json_pack("{s:o, s:s?}", key, items, "continuation", out));
    free(out);
}

/* The store token inside a client's continuation for `kind`, or NULL when it is not one.
 */
static char *continuation_in(const char *kind, const char *c)
{
    size_t n = strlen(c);
    char *b64 = malloc(n + 4);
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    bool ok = b64 != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = c[i];
        ok = ch != '+' && ch != '/' && ch != '=';
        b64[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    }
    if (ok) {
        b64[n] = '\0';
        ok = es_base64_decode(b64, n, &raw, &raw_len) == ES_OK &&
             memchr(raw, '\0', raw_len) == NULL;
    }
    free(b64);
    char *token = NULL;
    size_t klen = strlen(kind);
    if (ok && raw_len > klen + 18 && memcmp(raw, kind, klen) == 0 && raw[klen] == '\n' &&
        raw[klen + 17] == '\n') {
        const char *t = (const char *)raw + klen + 18;
        size_t tlen = raw_len - klen - 18;
        char check[17];
        if (continuation_check(kind, t, tlen, check) == ES_OK &&
            memcmp(check, raw + klen + 1, 16) == 0 && es_text_valid(t, tlen))
            token = strndup(t, tlen);
    }
    free(raw);
    return token;
}

bool todo_paging(const struct fn_http_request *req, struct fn_http_response *res,
                 const char *kind, int64_t dflt_limit, int64_t max_limit, int64_t *limit,
                 char **continuation)
{
    *continuation = NULL;
    if (!todo_query_int(req, res, "limit", 1, max_limit, dflt_limit, limit))
        return false;
    const char *c = fn_query(req, "continuation");
    if (c == NULL || c[0] == '\0')
        return true;
    *continuation = continuation_in(kind, c);
    if (*continuation == NULL) {
        fn_reply_error(res, 400, "invalid_field",
                       "'continuation' is not one this API gave out");
        return false;
    }
    return true;
}

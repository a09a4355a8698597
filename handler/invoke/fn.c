/*
 * fn.c - request accessors and response builders shared by every function.
 */
#include "fn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"

const struct fn_def *fn_table_find(const struct fn_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcasecmp(t->defs[i]->name, name) == 0)
            return t->defs[i];
    return NULL;
}

const char *fn_header(const struct fn_http_request *req, const char *name)
{
    json_t *v = es_json_object_iget(req->headers, name);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    return json_string_value(v);
}

/*
 * v (a new reference) when it is given, else the JSON text parsed, else NULL;
 * *nomem tells running out of memory from there being nothing.
 */
static json_t *given_or_parsed(json_t *v, const char *text, size_t len, bool *nomem)
{
    *nomem = false;
    if (v != NULL)
        return json_incref(v);
    json_t *parsed = NULL;
    if (text != NULL &&
        es_json_parse(text, len, ES_JSON_LOAD_FLAGS, &parsed, NULL) == ES_ENOMEM)
        *nomem = true;
    return parsed;
}

json_t *fn_identities(const struct fn_http_request *req)
{
    bool nomem;
    return given_or_parsed(req->identities, req->identities_text, req->identities_len,
                           &nomem);
}

json_t *fn_metadata(const struct fn_ctx *ctx)
{
    bool nomem;
    json_t *m =
        given_or_parsed(ctx->metadata, ctx->metadata_text, ctx->metadata_len, &nomem);
    return m != NULL || nomem ? m : json_object();
}

const char *fn_query(const struct fn_http_request *req, const char *name)
{
    return json_string_value(json_object_get(req->query, name));
}

const char *fn_param(const struct fn_http_request *req, const char *name)
{
    return json_string_value(json_object_get(req->params, name));
}

enum es_status fn_set_header(struct fn_http_response *res, const char *name,
                             const char *value)
{
    if (res->headers == NULL && (res->headers = json_object()) == NULL)
        return ES_ENOMEM;
    return json_object_set_new(res->headers, name, json_string(value)) == 0 ? ES_OK
                                                                            : ES_ENOMEM;
}

void fn_http_response_release(struct fn_http_response *res)
{
    json_decref(res->headers);
    free(res->body);
    memset(res, 0, sizeof(*res));
}

/*
 * The answer when even an answer cannot be built for want of memory: a bare
 * 503, with no header or body left over from what was being built.
 */
static void reply_bare_503(struct fn_http_response *res)
{
    fn_http_response_release(res);
    res->status = 503;
}

void fn_reply_json(struct fn_http_response *res, int status, json_t *body)
{
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    size_t len = 0;
    char *text = body != NULL ? es_json_dumps(body, &len) : NULL;
    json_decref(body);
    if (text == NULL || fn_set_header(res, "Content-Type", "application/json") != ES_OK) {
        free(text);
        reply_bare_503(res);
        return;
    }
    res->status = status;
    res->body = text;
    res->body_len = len;
}

static void reply_error(struct fn_http_response *res, enum es_status code, json_t *fields,
                        const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void reply_error(struct fn_http_response *res, enum es_status code, json_t *fields,
                        const char *fmt, va_list ap)
{
    char message[512];
    int n = vsnprintf(message, sizeof(message), fmt, ap);
    if (n >= (int)sizeof(message)) {
        /* Cut short: drop a last character cut in two, so the message stays UTF-8. */
        size_t len = strlen(message), lead = len;
        while (lead > 0 && ((unsigned char)message[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead > 0 && (unsigned char)message[lead - 1] >= 0xC0 &&
            es_utf8_seq_len((const unsigned char *)message + lead - 1, len - lead + 1) ==
                0)
            message[lead - 1] = '\0';
    }
    int status = es_status_http(code);
    json_t *body =
        json_pack("{s:s, s:s}", "error", es_status_name(code), "message", message);
    /* The error and message of the table win over a field of the same name. */
    if (body != NULL && fields != NULL && json_object_update_missing(body, fields) != 0) {
        json_decref(body);
        body = NULL;
    }
    json_decref(fields);
    fn_reply_json(res, status, body);
    if (status == 503 && fn_set_header(res, "Retry-After", "1") != ES_OK)
        reply_bare_503(res);
}

void fn_reply_error(struct fn_http_response *res, enum es_status code, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error(res, code, NULL, fmt, ap);
    va_end(ap);
}

void fn_reply_error_fields(struct fn_http_response *res, enum es_status code,
                           json_t *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error(res, code, fields, fmt, ap);
    va_end(ap);
}

void fn_log(struct fn_ctx *ctx, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* A line the host's Logs cannot take still reaches the process log. */
    if (ctx->logs == NULL || json_array_append_new(ctx->logs, json_string(line)) != 0)
        es_log_warn("%s (not in the invocation's Logs: out of memory)", line);
}

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

/* v (a new reference) when it is given, else the JSON text parsed, else NULL. */
static json_t *given_or_parsed(json_t *v, const char *text, size_t len)
{
    if (v != NULL)
        return json_incref(v);
    return text != NULL ? json_loadb(text, len, ES_JSON_LOAD_FLAGS, NULL) : NULL;
}

json_t *fn_identities(const struct fn_http_request *req)
{
    return given_or_parsed(req->identities, req->identities_text, req->identities_len);
}

json_t *fn_metadata(const struct fn_ctx *ctx)
{
    json_t *m = given_or_parsed(ctx->metadata, ctx->metadata_text, ctx->metadata_len);
    return m != NULL ? m : json_object();
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

void fn_reply_json(struct fn_http_response *res, int status, json_t *body)
{
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    char *text = body != NULL ? es_json_dumps(body, &res->body_len) : NULL;
    json_decref(body);
    if (text == NULL || fn_set_header(res, "Content-Type", "application/json") != ES_OK) {
        free(text);
        res->status = 503;
        res->body_len = 0;
        return;
    }
    res->status = status;
    res->body = text;
}

void fn_reply_error(struct fn_http_response *res, enum es_status code, const char *fmt,
                    ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
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
    fn_reply_json(
        res, status,
        json_pack("{s:s, s:s}", "error", es_status_name(code), "message", message));
    if (status == 503)
        fn_set_header(res, "Retry-After", "1");
}

void fn_log(struct fn_ctx *ctx, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (ctx->logs != NULL)
        json_array_append_new(ctx->logs, json_string(line));
}

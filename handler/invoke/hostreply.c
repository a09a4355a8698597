/*
 * hostreply.c - reading a handler's reply with the host's rules (reference
 * sections 3.1-3.3), for `handler serve` and the test driver.
 */
#include "invoke.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"
#include "util/text.h"

void invoke_host_result_release(struct invoke_host_result *r)
{
    json_decref(r->outputs);
    json_decref(r->logs);
    json_decref(r->return_value);
    json_decref(r->http_headers);
    free(r->http_body);
    memset(r, 0, sizeof(*r));
}

static void fail(struct invoke_host_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct invoke_host_result *out, const char *fmt, ...)
{
    out->ok = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->failure, sizeof(out->failure), fmt, ap);
    va_end(ap);
    /* The client of a failed invocation gets an empty 500. */
    json_decref(out->http_headers);
    free(out->http_body);
    out->has_http = true;
    out->http_status = 500;
    out->http_headers = json_object();
    out->http_body = NULL;
    out->http_body_len = 0;
}

/* statusCode: a number or a numeric string; absent or null means 200. */
static int status_code(const json_t *v, bool *bad)
{
    if (v == NULL || json_is_null(v))
        return 200;
    if (json_is_integer(v) && json_integer_value(v) >= 100 &&
        json_integer_value(v) <= 999)
        return (int)json_integer_value(v);
    if (json_is_string(v)) {
        char *end = NULL;
        long n = strtol(json_string_value(v), &end, 10);
        if (end != json_string_value(v) && *end == '\0' && n >= 100 && n <= 999)
            return (int)n;
    }
    *bad = true;
    return 500;
}

static enum es_status derive_http(json_t *res, struct invoke_host_result *out)
{
    json_t *parsed = NULL;
    if (json_is_string(res)) {
        if (es_json_parse(json_string_value(res), json_string_length(res),
                          ES_JSON_LOAD_FLAGS, &parsed, NULL) == ES_ENOMEM)
            return ES_ENOMEM;
        res = parsed;
    }
    if (!json_is_object(res)) {
        json_decref(parsed);
        fail(out, "the http output could not be deserialised (not a JSON object)");
        return ES_OK;
    }
    bool bad = false;
    int status = status_code(es_json_object_iget(res, "statusCode"), &bad);
    if (bad) {
        json_decref(parsed);
        fail(out, "the http output has an invalid statusCode");
        return ES_OK;
    }
    json_t *headers = json_object();
    if (headers == NULL)
        goto nomem;
    const char *k;
    json_t *v;
    json_object_foreach(es_json_object_iget(res, "headers"), k, v)
    {
        json_t *s;
        if (json_is_string(v)) {
            s = json_incref(v);
        } else {
            char *text = es_json_dumps_flags(v, JSON_ENCODE_ANY | JSON_INDENT(2), NULL);
            s = text != NULL ? json_string(text) : NULL;
            free(text);
        }
        if (json_object_set_new(headers, k, s) != 0)
            goto nomem;
    }
    json_t *body = es_json_object_iget(res, "body");
    char *text = NULL;
    size_t len = 0;
    if (json_is_string(body)) {
        len = json_string_length(body);
        text = malloc(len + 1);
        if (text != NULL) {
            memcpy(text, json_string_value(body), len);
            text[len] = '\0';
        }
    } else if (body != NULL && !json_is_null(body)) {
        text = es_json_dumps_flags(body, JSON_ENCODE_ANY | JSON_INDENT(2), &len);
    } else {
        text = calloc(1, 1);
    }
    if (text == NULL)
        goto nomem;
    out->has_http = true;
    out->http_status = status;
    out->http_headers = headers;
    out->http_body = text;
    out->http_body_len = len;
    json_decref(parsed);
    return ES_OK;
nomem:
    json_decref(headers);
    json_decref(parsed);
    return ES_ENOMEM;
}

enum es_status invoke_host_result_parse(int host_status, const char *content_type,
                                        const char *body, size_t len,
                                        const char *http_binding,
                                        struct invoke_host_result *out)
{
    memset(out, 0, sizeof(*out));
    if (host_status < 200 || host_status > 299) {
        fail(out, "the handler answered %d", host_status);
        return ES_OK;
    }
    if (!es_media_type_is(content_type, "application/json") &&
        !es_media_type_is(content_type, "text/json")) {
        fail(out, "the reply's content type '%s' is not JSON",
             content_type ? content_type : "(none)");
        return ES_OK;
    }
    json_t *root = NULL;
    if (es_json_parse(body, len, ES_JSON_LOAD_FLAGS | JSON_DECODE_ANY, &root, NULL) ==
        ES_ENOMEM)
        return ES_ENOMEM;
    if (root == NULL || json_is_null(root)) {
        json_decref(root);
        /* The real host never completes such an invocation; it waits for the timeout. */
        fail(out, "the reply body is %s", len == 0 ? "empty" : "not JSON (or null)");
        return ES_OK;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fail(out, "the reply body is not a JSON object");
        return ES_OK;
    }
    out->ok = true;
    out->outputs = json_incref(es_json_object_iget(root, "Outputs"));
    out->logs = json_incref(es_json_object_iget(root, "Logs"));
    out->return_value = json_incref(es_json_object_iget(root, "ReturnValue"));
    json_decref(root);
    if (out->outputs != NULL && json_is_null(out->outputs)) {
        json_decref(out->outputs);
        out->outputs = NULL;
    }
    if (out->logs != NULL && !json_is_array(out->logs) && !json_is_null(out->logs)) {
        fail(out, "Logs is not an array");
        return ES_OK;
    }
    if (http_binding == NULL)
        return ES_OK;
    json_t *res =
        out->outputs != NULL ? json_object_get(out->outputs, http_binding) : NULL;
    if (strcmp(http_binding, "$return") == 0)
        res = out->return_value;
    if (res != NULL && !json_is_null(res))
        return derive_http(res, out);
    out->has_http = true;
    out->http_status = 200;
    out->http_headers = json_object();
    out->http_body = strdup(out->outputs != NULL ? "{}" : "");
    out->http_body_len = out->outputs != NULL ? 2 : 0;
    return out->http_headers != NULL && out->http_body != NULL ? ES_OK : ES_ENOMEM;
}

/*
 * envelope.c - reading the invocation envelope the host sends.
 *
 * The parser is strict about what it relies on (Data is an object, an HTTP
 * trigger has string Method and Url) and lenient about the encodings that
 * changed between host versions: Query once was a JSON string and header
 * values may be plain strings in older payloads (reference section 2.3).
 */
#include "invoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"

enum es_status invoke_envelope_parse(const char *buf, size_t len,
                                     struct invoke_envelope *env, struct es_error *err)
{
    json_error_t jerr;
    memset(env, 0, sizeof(*env));
    json_t *root = NULL;
    enum es_status st = es_json_parse(buf, len, ES_JSON_LOAD_FLAGS, &root, &jerr);
    if (st == ES_ENOMEM)
        return es_error_set(err, ES_ENOMEM, "cannot parse invocation envelope: %s",
                            jerr.text);
    if (st != ES_OK)
        return es_error_set(err, ES_EJSON,
                            "cannot parse invocation envelope: %s at byte %d", jerr.text,
                            jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return es_error_set(err, ES_EJSON,
                            "cannot parse invocation envelope: not an object");
    }
    json_t *data = es_json_object_iget(root, "Data");
    if (!json_is_object(data)) {
        json_decref(root);
        return es_error_set(err, ES_EFIELD, "invalid invocation envelope: 'Data' is %s",
                            data == NULL ? "missing" : "not an object");
    }
    json_t *metadata = es_json_object_iget(root, "Metadata");
    if (!json_is_object(metadata)) {
        /* Metadata is informational; a missing one is replaced by an empty object. */
        metadata = json_object();
        if (metadata == NULL || json_object_set_new(root, "$metadata", metadata) != 0) {
            json_decref(root);
            return ES_ENOMEM;
        }
    }
    env->root = root;
    env->data = data;
    env->metadata = metadata;
    return ES_OK;
}

void invoke_envelope_release(struct invoke_envelope *env)
{
    json_decref(env->root);
    memset(env, 0, sizeof(*env));
}

/*
 * Query was a JSON string before host PR #6621; accept both. Borrowed result.
 * *bad for a value of the wrong type, *nomem when memory ran out.
 */
static json_t *object_field(json_t *req, const char *name, bool *bad, bool *nomem)
{
    json_t *v = es_json_object_iget(req, name);
    if (v == NULL || json_is_null(v) || json_is_object(v))
        return v;
    if (json_is_string(v)) {
        json_t *parsed = es_json_unwrap(v, 2);
        if (parsed == NULL) {
            *nomem = true;
            return NULL;
        }
        if (json_is_object(parsed)) {
            /* Keep it alive as long as the envelope: park it in the request object
             * (which takes the reference, and drops it when it cannot). */
            char key[64];
            snprintf(key, sizeof(key), "$parsed_%s", name);
            if (json_object_set_new(req, key, parsed) != 0) {
                *nomem = true;
                return NULL;
            }
            return parsed;
        }
        json_decref(parsed);
    }
    *bad = true;
    return NULL;
}

static bool headers_valid(const json_t *headers)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v)
    {
        if (json_is_string(v))
            continue;
        if (!json_is_array(v))
            return false;
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (!json_is_string(item))
                return false;
        }
    }
    return true;
}

enum es_status invoke_http_request_parse(const struct invoke_envelope *env,
                                         const char *binding, struct fn_http_request *req,
                                         struct es_error *err)
{
    json_t *r = json_object_get(env->data, binding);
    if (!json_is_object(r))
        return es_error_set(err, ES_EFIELD,
                            "invalid invocation envelope: 'Data.%s' is %s", binding,
                            r == NULL ? "missing" : "not an object");
    const char *method = json_string_value(es_json_object_iget(r, "Method"));
    const char *url = json_string_value(es_json_object_iget(r, "Url"));
    if (method == NULL || url == NULL)
        return es_error_set(err, ES_EFIELD,
                            "invalid invocation envelope: 'Data.%s.%s' must be a string",
                            binding, method == NULL ? "Method" : "Url");
    bool bad = false, nomem = false;
    const char *bad_name = NULL;
    json_t *query = object_field(r, "Query", &bad, &nomem);
    if (bad)
        bad_name = "Query";
    json_t *headers = object_field(r, "Headers", &bad, &nomem);
    if (bad && bad_name == NULL)
        bad_name = "Headers";
    json_t *params = object_field(r, "Params", &bad, &nomem);
    if (bad && bad_name == NULL)
        bad_name = "Params";
    if (nomem)
        return es_error_set(err, ES_ENOMEM,
                            "cannot read 'Data.%s': out of memory decoding a field",
                            binding);
    if (bad_name == NULL && headers != NULL && !headers_valid(headers))
        bad_name = "Headers";
    json_t *body = es_json_object_iget(r, "Body");
    if (bad_name == NULL && body != NULL && !json_is_null(body) && !json_is_string(body))
        bad_name = "Body";
    if (bad_name != NULL)
        return es_error_set(
            err, ES_EFIELD,
            "invalid invocation envelope: 'Data.%s.%s' has the wrong type", binding,
            bad_name);
    json_t *ids = es_json_object_iget(r, "Identities");

    memset(req, 0, sizeof(*req));
    req->method = method;
    req->url = url;
    req->query = json_is_object(query) ? query : NULL;
    req->headers = json_is_object(headers) ? headers : NULL;
    req->params = json_is_object(params) ? params : NULL;
    req->identities = json_is_array(ids) ? ids : NULL;
    if (json_is_string(body)) {
        req->body = json_string_value(body);
        req->body_len = json_string_length(body);
    }
    return ES_OK;
}

static int64_t int_field(const json_t *obj, const char *name, int64_t dflt)
{
    json_t *v = es_json_object_iget(obj, name);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v)) {
        char *end = NULL;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (end != json_string_value(v) && *end == '\0')
            return (int64_t)n;
    }
    return dflt;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

enum es_status invoke_retry_parse(const json_t *metadata, struct fn_retry *out)
{
    memset(out, 0, sizeof(*out));
    json_t *rc = es_json_object_iget(metadata, "RetryContext");
    json_t *parsed = NULL;
    if (json_is_string(rc) && (rc = parsed = es_json_unwrap(rc, 2)) == NULL)
        return ES_ENOMEM;
    if (json_is_object(rc)) {
        /* Clamped: counts are input, and the runtime adds to them. */
        out->present = true;
        out->retry_count = clamp(int_field(rc, "RetryCount", 0), 0, FN_RETRY_COUNT_MAX);
        out->max_retry_count =
            clamp(int_field(rc, "MaxRetryCount", 0), -1, FN_RETRY_COUNT_MAX);
    }
    json_decref(parsed);
    return ES_OK;
}

char *invoke_meta_string(const json_t *metadata, const char *key)
{
    json_t *v = json_object_get(metadata, key);
    if (v == NULL)
        return NULL;
    if (!json_is_string(v))
        return es_json_dumps_flags(v, JSON_COMPACT | JSON_ENCODE_ANY, NULL);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len >= 2 && s[0] == '"') {
        json_t *inner = NULL;
        if (es_json_parse(s, len, JSON_DECODE_ANY | ES_JSON_LOAD_FLAGS, &inner, NULL) ==
            ES_ENOMEM)
            return NULL;
        if (json_is_string(inner)) {
            char *out = strndup(json_string_value(inner), json_string_length(inner));
            json_decref(inner);
            return out;
        }
        json_decref(inner);
    }
    return strndup(s, len);
}

/*
 * build.c - envelopes shaped the way the Functions host builds them.
 *
 * `handler serve` uses these to call functions exactly as `func start` would,
 * and the test driver uses them to play the host. Shapes follow reference
 * sections 2.2-2.5 and the captured payloads in shared/fixtures: key order
 * Url, Method, Query, Headers, Params, Identities, Body; Metadata strings
 * JSON-encoded twice; the Cosmos trigger's documents wrapped in strings.
 */
#include "invoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/ids.h"
#include "util/jsonutil.h"
#include "util/text.h"
#include "util/timeutil.h"

/* "\"value\"": a string JSON-encoded once more, as the host does for Metadata. */
static json_t *double_encoded(const char *s, size_t len)
{
    json_t *inner = json_stringn(s, len);
    char *text = inner != NULL
                     ? es_json_dumps_flags(inner, JSON_ENCODE_ANY | JSON_COMPACT, NULL)
                     : NULL;
    json_decref(inner);
    json_t *out = text != NULL ? json_string(text) : NULL;
    free(text);
    return out;
}

static json_t *sys_object(const char *function_name)
{
    char now[40], guid[ES_UUID_STR_LEN + 1];
    /* The host prints .NET ticks: seven fractional digits. */
    es_time_rfc3339_ms(es_time_now_ms(), now, sizeof(now));
    size_t n = strlen(now);
    if (n > 1 && n + 4 < sizeof(now)) {
        memcpy(now + n - 1, "0000Z", 6);
    }
    return json_pack("{s:s, s:s, s:s}", "MethodName", function_name, "UtcNow", now,
                     "RandGuid", es_uuid4(guid));
}

static json_t *anonymous_identities(void)
{
    return json_pack(
        "[{s:n, s:b, s:n, s:n, s:[], s:n, s:n, s:s, s:s}]", "AuthenticationType",
        "IsAuthenticated", 0, "Actor", "BootstrapContext", "Claims", "Label", "Name",
        "NameClaimType", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "RoleClaimType", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role");
}

/*
 * Query parameters of url into `joined` (repeats comma-joined, for Data.req)
 * and `last` (last value wins, for Metadata). Both are new objects.
 */
static int parse_query(const char *url, json_t *joined, json_t *last)
{
    const char *q = strchr(url, '?');
    if (q == NULL)
        return 0;
    for (const char *p = q + 1; *p != '\0';) {
        size_t part = strcspn(p, "&#");
        const char *eq = memchr(p, '=', part);
        size_t klen = eq != NULL ? (size_t)(eq - p) : part;
        const char *v = eq != NULL ? eq + 1 : p + part;
        size_t vlen = eq != NULL ? part - klen - 1 : 0;
        if (klen > 0) {
            char *key = es_url_decode(p, klen, true, NULL);
            size_t val_len = 0;
            char *val = es_url_decode(v, vlen, true, &val_len);
            int rc = -1;
            if (key != NULL && val != NULL) {
                const char *prev = json_string_value(json_object_get(joined, key));
                json_t *j;
                if (prev != NULL) {
                    size_t plen = strlen(prev);
                    char *both = malloc(plen + 1 + val_len + 1);
                    if (both != NULL) {
                        memcpy(both, prev, plen);
                        both[plen] = ',';
                        memcpy(both + plen + 1, val, val_len + 1);
                    }
                    j = both != NULL ? json_stringn(both, plen + 1 + val_len) : NULL;
                    free(both);
                } else {
                    j = json_stringn(val, val_len);
                }
                rc = j != NULL && json_object_set_new(joined, key, j) == 0 &&
                             json_object_set_new(last, key, json_stringn(val, val_len)) ==
                                 0
                         ? 0
                         : -1;
            }
            free(key);
            free(val);
            if (rc != 0)
                return -1;
        }
        p += part;
        if (*p == '#')
            break;
        if (*p == '&')
            p++;
    }
    return 0;
}

/* Headers grouped by name ignoring case: arrays for Data, comma-joined for Metadata. */
static int group_headers(const struct invoke_http_spec *spec, json_t *arrays,
                         json_t *single)
{
    for (size_t i = 0; i < spec->n_headers; i++) {
        const struct invoke_header *h = &spec->headers[i];
        json_t *arr = es_json_object_iget(arrays, h->name);
        if (arr == NULL) {
            if (json_object_set_new(arrays, h->name, json_pack("[s]", h->value)) != 0 ||
                json_object_set_new(single, h->name, json_string(h->value)) != 0)
                return -1;
            continue;
        }
        if (json_array_append_new(arr, json_string(h->value)) != 0)
            return -1;
        /* StringValues.ToString() joins repeated values with commas. */
        json_t *s = es_json_object_iget(single, h->name);
        size_t a = json_string_length(s), b = strlen(h->value);
        char *both = malloc(a + b + 2);
        if (both == NULL)
            return -1;
        memcpy(both, json_string_value(s), a);
        both[a] = ',';
        memcpy(both + a + 1, h->value, b + 1);
        int rc = json_string_setn(s, both, a + 1 + b);
        free(both);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static const char *spec_header(const struct invoke_http_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n_headers; i++)
        if (strcasecmp(spec->headers[i].name, name) == 0)
            return spec->headers[i].value;
    return NULL;
}

/* Data.req.Body: raw text, or base64 for octet-stream and multipart bodies. */
static json_t *body_value(const struct invoke_http_spec *spec)
{
    const char *ct = spec_header(spec, "Content-Type");
    bool binary = es_media_type_is(ct, "application/octet-stream") ||
                  (ct != NULL && strncasecmp(ct, "multipart/", 10) == 0);
    if (!binary) {
        /* The host reads other bodies as text; bytes that are not UTF-8 become U+FFFD. */
        size_t len = 0;
        char *text = es_utf8_sanitize(spec->body, spec->body_len, &len);
        json_t *v = text != NULL ? json_stringn(text, len) : NULL;
        free(text);
        return v;
    }
    char *b64 = es_base64_encode(spec->body, spec->body_len);
    json_t *v = b64 != NULL ? json_string(b64) : NULL;
    free(b64);
    return v;
}

/* Metadata entries from a JSON-object body: objects as objects, the rest as strings. */
static int add_body_metadata(const struct invoke_http_spec *spec, json_t *meta)
{
    json_t *body = NULL;
    enum es_status st =
        es_json_parse(spec->body, spec->body_len, ES_JSON_LOAD_FLAGS, &body, NULL);
    if (st == ES_ENOMEM)
        return -1;
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(body, k, v)
    {
        json_t *entry = NULL;
        if (json_is_object(v)) {
            entry = json_incref(v);
        } else if (json_is_array(v)) {
            continue;
        } else if (json_is_string(v)) {
            entry = double_encoded(json_string_value(v), json_string_length(v));
        } else {
            char *text = es_json_dumps_flags(v, JSON_ENCODE_ANY | JSON_COMPACT, NULL);
            entry = text != NULL ? double_encoded(text, strlen(text)) : NULL;
            free(text);
        }
        if (json_object_set_new(meta, k, entry) != 0) {
            rc = -1;
            break;
        }
    }
    json_decref(body);
    return rc;
}

static int add_encoded_values(json_t *meta, const json_t *values, bool skip_code)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)values, k, v)
    {
        if (skip_code && strcasecmp(k, "code") == 0)
            continue;
        if (!json_is_string(v))
            continue;
        if (json_object_set_new(
                meta, k, double_encoded(json_string_value(v), json_string_length(v))) !=
            0)
            return -1;
    }
    return 0;
}

json_t *invoke_http_envelope_new(const struct invoke_http_spec *spec)
{
    json_t *query = json_object(), *query_last = json_object();
    json_t *headers = json_object(), *headers_single = json_object();
    json_t *meta = json_object();
    json_t *req = NULL, *env = NULL;
    /* The host's rule: Body only when the request said Content-Length > 0. */
    const char *cl = spec_header(spec, "Content-Length");
    bool has_body = spec->body != NULL && spec->body_len > 0 && cl != NULL &&
                    cl[strspn(cl, "0")] >= '1' && cl[strspn(cl, "0")] <= '9';

    if (query == NULL || query_last == NULL || headers == NULL ||
        headers_single == NULL || meta == NULL ||
        parse_query(spec->url, query, query_last) != 0 ||
        group_headers(spec, headers, headers_single) != 0)
        goto out;
    req = json_pack("{s:s, s:s, s:O, s:O, s:o, s:o}", "Url", spec->url, "Method",
                    spec->method, "Query", query, "Headers", headers, "Params",
                    spec->params != NULL ? json_incref(spec->params) : json_object(),
                    "Identities", anonymous_identities());
    if (req == NULL ||
        (has_body && json_object_set_new(req, "Body", body_value(spec)) != 0))
        goto out;
    /* Precedence as the HTTP extension: body, then query, then route values. */
    if ((has_body && add_body_metadata(spec, meta) != 0) ||
        add_encoded_values(meta, query_last, true) != 0 ||
        (spec->params != NULL && add_encoded_values(meta, spec->params, false) != 0) ||
        json_object_set(meta, "Query", query_last) != 0 ||
        json_object_set(meta, "Headers", headers_single) != 0 ||
        json_object_set_new(meta, "sys", sys_object(spec->function_name)) != 0)
        goto out;
    env = json_pack("{s:{s:O}, s:O}", "Data", spec->binding, req, "Metadata", meta);
out:
    json_decref(query);
    json_decref(query_last);
    json_decref(headers);
    json_decref(headers_single);
    json_decref(meta);
    json_decref(req);
    return env;
}

json_t *invoke_trigger_envelope_new(const char *function_name, const char *binding,
                                    const json_t *payload, int string_levels,
                                    const struct fn_retry *retry)
{
    json_t *value = es_json_deep_copy(payload);
    for (int i = 0; value != NULL && i < string_levels; i++) {
        char *text = es_json_dumps(value, NULL);
        json_decref(value);
        value = text != NULL ? json_string(text) : NULL;
        free(text);
    }
    json_t *meta = json_pack("{s:o}", "sys", sys_object(function_name));
    if (meta != NULL && retry != NULL && retry->present &&
        json_object_set_new(meta, "RetryContext",
                            json_pack("{s:I, s:I, s:n, s:n, s:{}}", "RetryCount",
                                      (json_int_t)retry->retry_count, "MaxRetryCount",
                                      (json_int_t)retry->max_retry_count, "Exception",
                                      "Instance", "State")) != 0) {
        json_decref(meta);
        meta = NULL;
    }
    if (value == NULL || meta == NULL) {
        json_decref(value);
        json_decref(meta);
        return NULL;
    }
    return json_pack("{s:{s:o}, s:o}", "Data", binding, value, "Metadata", meta);
}

/*
 * fast.c - an HTTP trigger read straight from the envelope text.
 *
 * Building the whole envelope as a jansson tree costs more than everything
 * else a trivial invocation does: most of the envelope is Identities and
 * Metadata, which no function reads. This reader checks the whole text in
 * one pass without allocating, builds only what functions use (Method, Url,
 * Query, Headers, Params, Body) and keeps Identities and Metadata as spans of
 * text, parsed only when asked for (fn_identities, fn_metadata).
 *
 * It takes only the envelopes it is sure about, and reads them exactly as
 * invoke_envelope_parse and invoke_http_request_parse do. Anything else -
 * invalid JSON, a field of an unexpected type, a key that matches twice
 * ignoring case, escapes it does not decode (\u0000, surrogates, escaped
 * keys), numbers that could overflow, deep nesting, a RetryContext - it
 * declines, and the caller uses that reader, which gives the same answers
 * and the same error messages. A differential fuzz target (fuzz_envelope)
 * and a unit test hold the two readers to the same results.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "invoke.h"

#include "util/jsonutil.h"

enum { MAX_DEPTH = 32, MAX_NUMBER_CHARS = 15 };

struct scan {
    const char *p, *end;
    int depth;
};

static void ws(struct scan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool take(struct scan *s, char c)
{
    ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/*
 * Checks the string at s->p (the opening quote) and moves past it. *raw and
 * *raw_len give the text between the quotes; *escaped says whether it holds
 * escapes. False for invalid text or escapes this reader declines.
 */
static bool string_span(struct scan *s, const char **raw, size_t *raw_len, bool *escaped)
{
    ws(s);
    if (s->p >= s->end || *s->p != '"')
        return false;
    const char *p = ++s->p;
    *escaped = false;
    while (p < s->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *raw = s->p;
            *raw_len = (size_t)(p - s->p);
            s->p = p + 1;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (s->end - p < 2)
                return false;
            *escaped = true;
            char e = p[1];
            if (e == 'u') {
                if (s->end - p < 6)
                    return false;
                int v = hex4(p + 2);
                if (v <= 0 || (v >= 0xD800 && v <= 0xDFFF))
                    return false; /* \u0000 and surrogates: declined */
                p += 6;
            } else if (strchr("\"\\/bfnrt", e) != NULL && e != '\0') {
                p += 2;
            } else
                return false;
        } else if (c < 0x80) {
            p++;
        } else {
            size_t n =
                es_utf8_len((const unsigned char *)p, (const unsigned char *)s->end);
            if (n == 0)
                return false;
            p += n;
        }
    }
    return false;
}

/* Decodes a checked span (see string_span) into a new jansson string. */
static json_t *string_new(const char *raw, size_t len, bool escaped)
{
    if (!escaped)
        return json_stringn_nocheck(raw, len);
    char *out = malloc(len), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] != '\\') {
            *o++ = raw[i];
            continue;
        }
        char e = raw[++i];
        switch (e) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            int v = hex4(raw + i + 1);
            i += 4;
            if (v < 0x80)
                *o++ = (char)v;
            else if (v < 0x800) {
                *o++ = (char)(0xC0 | (v >> 6));
                *o++ = (char)(0x80 | (v & 0x3F));
            } else {
                *o++ = (char)(0xE0 | (v >> 12));
                *o++ = (char)(0x80 | ((v >> 6) & 0x3F));
                *o++ = (char)(0x80 | (v & 0x3F));
            }
            break;
        }
        default:
            *o++ = e; /* " \ / */
        }
    }
    json_t *j = json_stringn_nocheck(out, (size_t)(o - out));
    free(out);
    return j;
}

static bool skip_value(struct scan *s);

static bool skip_number(struct scan *s)
{
    const char *p = s->p, *start = s->p;
    if (p < s->end && *p == '-')
        p++;
    if (p >= s->end || *p < '0' || *p > '9')
        return false;
    if (*p == '0')
        p++;
    else
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    if (p < s->end && *p == '.') {
        p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return false;
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    /* Exponents and long numbers could overflow, which the tree reader refuses. */
    if ((p < s->end && (*p == 'e' || *p == 'E')) || p - start > MAX_NUMBER_CHARS)
        return false;
    s->p = p;
    return true;
}

static bool skip_literal(struct scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* Object members: calls each with the key span; the callee consumes the value. */
typedef bool (*member_fn)(struct scan *s, const char *key, size_t key_len, void *ctx);

static bool members(struct scan *s, member_fn fn, void *ctx)
{
    if (!take(s, '{') || ++s->depth > MAX_DEPTH)
        return false;
    if (take(s, '}')) {
        s->depth--;
        return true;
    }
    do {
        const char *key;
        size_t key_len;
        bool escaped;
        if (!string_span(s, &key, &key_len, &escaped) || escaped || !take(s, ':'))
            return false;
        if (!fn(s, key, key_len, ctx))
            return false;
    } while (take(s, ','));
    s->depth--;
    return take(s, '}');
}

static bool skip_member(struct scan *s, const char *key, size_t key_len, void *ctx)
{
    (void)key, (void)key_len, (void)ctx;
    return skip_value(s);
}

static bool skip_value(struct scan *s)
{
    ws(s);
    if (s->p >= s->end)
        return false;
    const char *raw;
    size_t len;
    bool escaped;
    switch (*s->p) {
    case '"':
        return string_span(s, &raw, &len, &escaped);
    case '{':
        return members(s, skip_member, NULL);
    case '[':
        s->p++;
        if (++s->depth > MAX_DEPTH)
            return false;
        if (!take(s, ']')) {
            do {
                if (!skip_value(s))
                    return false;
            } while (take(s, ','));
            if (!take(s, ']'))
                return false;
        }
        s->depth--;
        return true;
    case 't':
        return skip_literal(s, "true", 4);
    case 'f':
        return skip_literal(s, "false", 5);
    case 'n':
        return skip_literal(s, "null", 4);
    default:
        return skip_number(s);
    }
}

/* The span of the value at s->p, checked and skipped. */
static bool value_span(struct scan *s, const char **start, size_t *len)
{
    ws(s);
    *start = s->p;
    if (!skip_value(s))
        return false;
    *len = (size_t)(s->p - *start);
    return true;
}

static bool key_is(const char *key, size_t key_len, const char *name)
{
    return key_len == strlen(name) && strncasecmp(key, name, key_len) == 0;
}

/* A string value as a new jansson string; NULL when declined (or ENOMEM). */
static json_t *string_value(struct scan *s)
{
    const char *raw;
    size_t len;
    bool escaped;
    if (!string_span(s, &raw, &len, &escaped))
        return NULL;
    return string_new(raw, len, escaped);
}

struct object_read {
    json_t *obj;
    bool arrays; /* values may be arrays of strings (Headers) */
};

static bool string_member(struct scan *s, const char *key, size_t key_len, void *ctx)
{
    struct object_read *o = ctx;
    json_t *v;
    if (o->arrays && take(s, '[')) {
        v = json_array();
        if (v == NULL)
            return false;
        if (!take(s, ']')) {
            do {
                if (json_array_append_new(v, string_value(s)) != 0) {
                    json_decref(v);
                    return false;
                }
            } while (take(s, ','));
            if (!take(s, ']')) {
                json_decref(v);
                return false;
            }
        }
    } else
        v = string_value(s);
    if (v == NULL)
        return false;
    /* A NUL-terminated copy of the key (jansson before 2.14 has no length-given set). */
    char small[64], *k = key_len < sizeof(small) ? small : malloc(key_len + 1);
    if (k == NULL) {
        json_decref(v);
        return false;
    }
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    bool ok = json_object_set_new_nocheck(o->obj, k, v) == 0;
    if (k != small)
        free(k);
    return ok;
}

/* An object of strings (or, for Headers, of strings and arrays of strings). */
static json_t *string_object(struct scan *s, bool arrays)
{
    struct object_read o = {.obj = json_object(), .arrays = arrays};
    if (o.obj == NULL || !members(s, string_member, &o)) {
        json_decref(o.obj);
        return NULL;
    }
    return o.obj;
}

/* Keeps v alive as long as the envelope; false when v is NULL. */
static bool hold(struct invoke_fast *f, json_t *v)
{
    return v != NULL && json_array_append_new(f->hold, v) == 0;
}

enum req_field {
    F_METHOD,
    F_URL,
    F_BODY,
    F_QUERY,
    F_HEADERS,
    F_PARAMS,
    F_IDENTITIES,
    F_N
};
static const char *const req_fields[F_N] = {"Method",  "Url",    "Body",      "Query",
                                            "Headers", "Params", "Identities"};

struct req_read {
    struct invoke_fast *f;
    bool seen[F_N];
};

static bool req_member(struct scan *s, const char *key, size_t key_len, void *ctx)
{
    struct req_read *r = ctx;
    struct fn_http_request *req = &r->f->req;
    int i = 0;
    while (i < F_N && !key_is(key, key_len, req_fields[i]))
        i++;
    if (i == F_N)
        return skip_value(s);
    if (r->seen[i])
        return false; /* matched twice ignoring case */
    r->seen[i] = true;
    ws(s);
    json_t *v;
    switch ((enum req_field)i) {
    case F_BODY:
        if (s->p < s->end && *s->p == 'n')
            return skip_literal(s, "null", 4); /* no body */
        /* fall through */
    case F_METHOD:
    case F_URL:
        v = string_value(s);
        if (!hold(r->f, v))
            return false;
        if (i == F_METHOD)
            req->method = json_string_value(v);
        else if (i == F_URL)
            req->url = json_string_value(v);
        else {
            req->body = json_string_value(v);
            req->body_len = json_string_length(v);
        }
        return true;
    case F_QUERY:
    case F_HEADERS:
    case F_PARAMS:
        v = string_object(s, i == F_HEADERS);
        if (!hold(r->f, v))
            return false;
        *(i == F_QUERY ? &req->query : i == F_HEADERS ? &req->headers : &req->params) = v;
        return true;
    case F_IDENTITIES:
        if (s->p < s->end && *s->p != '[')
            return skip_value(s); /* not an array: none, as the tree reader has it */
        return value_span(s, &req->identities_text, &req->identities_len);
    case F_N:
        break;
    }
    return false;
}

struct data_read {
    struct invoke_fast *f;
    const char *binding;
    bool found;
};

static bool data_member(struct scan *s, const char *key, size_t key_len, void *ctx)
{
    struct data_read *d = ctx;
    if (key_len != strlen(d->binding) || memcmp(key, d->binding, key_len) != 0)
        return skip_value(s);
    if (d->found)
        return false; /* repeated: the tree reader keeps the last one */
    d->found = true;
    struct req_read r = {.f = d->f};
    return members(s, req_member, &r) && d->f->req.method != NULL &&
           d->f->req.url != NULL;
}

struct root_read {
    struct data_read data;
    bool data_seen, retry;
    const char *metadata;
    size_t metadata_len;
};

static bool metadata_member(struct scan *s, const char *key, size_t key_len, void *ctx)
{
    bool *retry = ctx;
    if (key_is(key, key_len, "RetryContext"))
        *retry = true;
    return skip_value(s);
}

static bool root_member(struct scan *s, const char *key, size_t key_len, void *ctx)
{
    struct root_read *r = ctx;
    if (key_is(key, key_len, "Data")) {
        if (r->data_seen)
            return false;
        r->data_seen = true;
        return members(s, data_member, &r->data);
    }
    if (key_is(key, key_len, "Metadata")) {
        if (r->metadata != NULL)
            return false;
        ws(s);
        r->metadata = s->p;
        if (!members(s, metadata_member, &r->retry))
            return false;
        r->metadata_len = (size_t)(s->p - r->metadata);
        return true;
    }
    return skip_value(s);
}

bool invoke_http_fast(const char *buf, size_t len, const char *binding,
                      struct invoke_fast *f)
{
    memset(f, 0, sizeof(*f));
    f->hold = json_array();
    if (f->hold == NULL)
        return false;
    struct scan s = {.p = buf, .end = buf + len};
    struct root_read r = {.data = {.f = f, .binding = binding}};
    bool ok = members(&s, root_member, &r) && (ws(&s), s.p == s.end) && !r.retry &&
              r.data.found && r.metadata != NULL;
    if (!ok) {
        invoke_fast_release(f);
        return false;
    }
    f->metadata_text = r.metadata;
    f->metadata_len = r.metadata_len;
    return true;
}

void invoke_fast_release(struct invoke_fast *f)
{
    json_decref(f->hold);
    memset(f, 0, sizeof(*f));
}

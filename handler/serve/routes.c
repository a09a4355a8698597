/*
 * routes.c - parsing and matching route templates.
 */
#include "routes.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/text.h"

/* Ranks double as precedence: lower wins. */
enum seg_kind {
    SEG_LITERAL = 0,
    SEG_CONSTRAINED = 1,
    SEG_PARAM = 2,
    SEG_OPTIONAL = 3,
    SEG_CATCHALL = 4
};

enum constraint { C_NONE, C_INT, C_LONG, C_BOOL, C_GUID, C_ALPHA };

struct segment {
    enum seg_kind kind;
    enum constraint constraint;
    bool optional;
    char *text; /* literal text, or parameter name */
};

struct route_template {
    size_t n;
    struct segment segs[];
};

void route_template_free(struct route_template *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->segs[i].text);
    free(t);
}

static enum constraint constraint_named(const char *s, size_t n)
{
    static const struct {
        const char *name;
        enum constraint c;
    } names[] = {{"int", C_INT},
                 {"long", C_LONG},
                 {"bool", C_BOOL},
                 {"guid", C_GUID},
                 {"alpha", C_ALPHA}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == n && strncasecmp(s, names[i].name, n) == 0)
            return names[i].c;
    return C_NONE;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

/* Parses one "{...}" segment body (without braces) into seg. */
static enum es_status parse_param(const char *s, size_t n, struct segment *seg,
                                  struct es_error *err)
{
    seg->kind = SEG_PARAM;
    if (n > 0 && s[0] == '*') {
        seg->kind = SEG_CATCHALL;
        s++, n--;
    }
    if (n > 0 && s[n - 1] == '?') {
        seg->optional = true;
        n--;
    }
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon != NULL ? (size_t)(colon - s) : n;
    if (!name_ok(s, name_len))
        return es_error_set(err, ES_EINVAL, "invalid route parameter '{%.*s}'", (int)n,
                            s);
    if (colon != NULL) {
        size_t clen = n - name_len - 1;
        seg->constraint = constraint_named(colon + 1, clen);
        if (seg->constraint == C_NONE)
            return es_error_set(err, ES_EINVAL, "unsupported route constraint ':%.*s'",
                                (int)clen, colon + 1);
    }
    if (seg->kind == SEG_PARAM && seg->constraint != C_NONE)
        seg->kind = SEG_CONSTRAINED;
    if (seg->kind == SEG_PARAM && seg->optional)
        seg->kind = SEG_OPTIONAL;
    seg->text = strndup(s, name_len);
    return seg->text != NULL ? ES_OK : ES_ENOMEM;
}

enum es_status route_template_parse(const char *tmpl, struct route_template **out,
                                    struct es_error *err)
{
    while (*tmpl == '/')
        tmpl++;
    size_t n_segs = 1;
    for (const char *p = tmpl; *p; p++)
        n_segs += *p == '/';
    struct route_template *t = calloc(1, sizeof(*t) + n_segs * sizeof(struct segment));
    if (t == NULL)
        return ES_ENOMEM;
    enum es_status st = ES_OK;
    const char *p = tmpl;
    while (*p != '\0') {
        size_t len = strcspn(p, "/");
        struct segment *seg = &t->segs[t->n++];
        if (len == 0) {
            st = es_error_set(err, ES_EINVAL, "invalid route '%s': empty segment", tmpl);
            goto fail;
        }
        if (p[0] == '{' && p[len - 1] == '}' && memchr(p + 1, '{', len - 2) == NULL) {
            st = parse_param(p + 1, len - 2, seg, err);
        } else if (memchr(p, '{', len) != NULL || memchr(p, '}', len) != NULL) {
            st = es_error_set(err, ES_EINVAL,
                              "invalid route '%s': parameters must take whole segments",
                              tmpl);
        } else {
            seg->kind = SEG_LITERAL;
            seg->text = strndup(p, len);
            st = seg->text != NULL ? ES_OK : ES_ENOMEM;
        }
        if (st != ES_OK)
            goto fail;
        p += len;
        if (*p == '/')
            p++;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct segment *seg = &t->segs[i];
        bool last = i + 1 == t->n;
        if ((seg->kind == SEG_CATCHALL && !last) ||
            (seg->optional && !last && !t->segs[i + 1].optional &&
             t->segs[i + 1].kind != SEG_CATCHALL)) {
            st =
                es_error_set(err, ES_EINVAL,
                             "invalid route '%s': optional and catch-all parameters must "
                             "come last",
                             tmpl);
            goto fail;
        }
    }
    *out = t;
    return ES_OK;
fail:
    route_template_free(t);
    return st;
}

static bool all_digits(const char *s, size_t min_len)
{
    if (*s == '-' || *s == '+')
        s++;
    size_t n = 0;
    for (; s[n]; n++)
        if (!isdigit((unsigned char)s[n]))
            return false;
    return n >= min_len;
}

static bool satisfies(enum constraint c, const char *v)
{
    switch (c) {
    case C_NONE:
        return true;
    case C_INT:
        return all_digits(v, 1) && strlen(v) <= 11;
    case C_LONG:
        return all_digits(v, 1) && strlen(v) <= 20;
    case C_BOOL:
        return strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0;
    case C_ALPHA:
        for (const char *p = v; *p; p++)
            if (!isalpha((unsigned char)*p))
                return false;
        return *v != '\0';
    case C_GUID:
        if (strlen(v) != 36)
            return false;
        for (int i = 0; i < 36; i++) {
            bool dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash ? v[i] != '-' : !isxdigit((unsigned char)v[i]))
                return false;
        }
        return true;
    }
    return false;
}

/* Matches segment i onwards; fills params (may be NULL). *nomem on ENOMEM. */
static bool match_from(const struct route_template *t, size_t i, const char *p,
                       const char *end, json_t *params, bool *nomem)
{
    if (i == t->n)
        return p == end;
    const struct segment *seg = &t->segs[i];
    if (p == end) {
        /* Nothing left: only optional and catch-all segments may remain. */
        for (size_t k = i; k < t->n; k++)
            if (!t->segs[k].optional && t->segs[k].kind != SEG_CATCHALL)
                return false;
        return true;
    }
    size_t len = seg->kind == SEG_CATCHALL ? (size_t)(end - p) : strcspn(p, "/");
    if ((size_t)(end - p) < len)
        len = (size_t)(end - p);
    const char *next = p + len;
    if (next < end && *next == '/')
        next++;
    if (len == 0)
        return false;
    size_t vlen = 0;
    char *value = es_url_decode(p, len, false, &vlen);
    if (value == NULL) {
        *nomem = true;
        return false;
    }
    bool ok;
    if (seg->kind == SEG_LITERAL)
        ok = vlen == strlen(seg->text) && strcasecmp(value, seg->text) == 0;
    else
        ok = strlen(value) == vlen && satisfies(seg->constraint, value);
    if (ok && seg->kind != SEG_LITERAL && params != NULL &&
        json_object_set_new(params, seg->text, json_stringn(value, vlen)) != 0) {
        *nomem = true;
        ok = false;
    }
    free(value);
    return ok && match_from(t, i + 1, next, end, params, nomem);
}

enum es_status route_template_match(const struct route_template *t, const char *path,
                                    size_t path_len, json_t **params_out)
{
    /* One trailing slash is ignored, as ASP.NET routing does. */
    if (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    json_t *params = params_out != NULL ? json_object() : NULL;
    if (params_out != NULL && params == NULL)
        return ES_ENOMEM;
    bool nomem = false;
    bool ok = match_from(t, 0, path, path + path_len, params, &nomem);
    if (ok && params_out != NULL)
        *params_out = params;
    else
        json_decref(params);
    return ok ? ES_OK : nomem ? ES_ENOMEM : ES_ENOTFOUND;
}

int route_template_compare(const struct route_template *a, const struct route_template *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        int d = (int)a->segs[i].kind - (int)b->segs[i].kind;
        if (d != 0)
            return d;
    }
    return (int)a->n - (int)b->n;
}

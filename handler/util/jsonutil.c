/*
 * jsonutil.c - jansson helpers, and jansson's allocator (see jsonutil.h).
 */
#include "jsonutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* jansson's allocations that failed on this thread. */
static _Thread_local unsigned long alloc_failures;

/*
 * A guarded call (a parse, a dump, a deep copy) whose result is discarded
 * once an allocation failed during it. Two flaws of jansson's lexer under a
 * failed allocation decide what happens after the first failure:
 *   - it carries on after dropping a byte it could not store; if that byte is
 *     a string's closing quote, the copy that follows runs past the end of
 *     the text and overflows the buffer it writes to (unless that buffer's
 *     own allocation fails too);
 *   - a number or bare word whose byte was dropped trips an assert when the
 *     lexer takes back the byte after it (the process aborts).
 * So after the first failure, small requests are served from a reserve of
 * this thread (no byte is dropped while it lasts, and the call just runs to
 * its discarded end); once the reserve has refused one, every request fails.
 * The reserve is reset for each guarded call; free() is never given its
 * blocks.
 */
enum { RESERVE_BYTES = 4096 };
static _Thread_local bool guarded, guard_failed, reserve_refused;
static _Thread_local size_t reserve_used;
static _Thread_local unsigned char reserve[RESERVE_BYTES] __attribute__((aligned(16)));

static void *from_reserve(size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (reserve_refused || need < n || need > RESERVE_BYTES - reserve_used) {
        reserve_refused = true;
        return NULL;
    }
    void *p = reserve + reserve_used;
    reserve_used += need;
    return p;
}

static void *counted_malloc(size_t n)
{
    void *p = guarded && guard_failed ? NULL : malloc(n);
    if (p == NULL) {
        alloc_failures++;
        if (guarded) {
            guard_failed = true;
            p = from_reserve(n);
        }
    }
    return p;
}

static void counted_free(void *p)
{
    uintptr_t b = (uintptr_t)p, r = (uintptr_t)reserve;
    if (b < r || b >= r + RESERVE_BYTES)
        free(p);
}

/* Starts a guarded call; returns the failure count to compare with at its end. */
static unsigned long guard_begin(void)
{
    guarded = true;
    guard_failed = false;
    reserve_refused = false;
    reserve_used = 0;
    return alloc_failures;
}

/* Ends a guarded call; true when an allocation failed during it. */
static bool guard_end(unsigned long before)
{
    guarded = false;
    guard_failed = false;
    return alloc_failures != before;
}

/*
 * Installed before main, so before jansson allocates anything: memory from
 * either allocator is malloc's, but jansson asks for the functions to be set
 * first. A constructor also covers every test and fuzz program that parses.
 */
__attribute__((constructor)) static void install_allocator(void)
{
    json_set_alloc_funcs(counted_malloc, counted_free);
}

unsigned long es_json_alloc_failures(void)
{
    return alloc_failures;
}

enum es_status es_json_parse(const char *buf, size_t len, size_t flags, json_t **out,
                             json_error_t *jerr)
{
    json_error_t local;
    json_error_t *e = jerr != NULL ? jerr : &local;
    unsigned long before = guard_begin();
    json_t *v = buf != NULL ? json_loadb(buf, len, flags, e) : NULL;
    if (guard_end(before)) {
        json_decref(v);
        snprintf(e->text, sizeof(e->text), "out of memory");
        *out = NULL;
        return ES_ENOMEM;
    }
    if (v == NULL) {
        if (buf == NULL)
            snprintf(e->text, sizeof(e->text), "no text");
        *out = NULL;
        return ES_EJSON;
    }
    *out = v;
    return ES_OK;
}

enum es_status es_json_parse_file(const char *path, size_t flags, json_t **out,
                                  json_error_t *jerr)
{
    json_error_t local;
    json_error_t *e = jerr != NULL ? jerr : &local;
    unsigned long before = guard_begin();
    json_t *v = json_load_file(path, flags, e);
    *out = NULL;
    if (guard_end(before)) {
        json_decref(v);
        snprintf(e->text, sizeof(e->text), "out of memory");
        return ES_ENOMEM;
    }
    if (v == NULL)
        return json_error_code(e) == json_error_cannot_open_file ? ES_EIO : ES_EJSON;
    *out = v;
    return ES_OK;
}

json_t *es_json_deep_copy(const json_t *v)
{
    unsigned long before = guard_begin();
    json_t *copy = json_deep_copy(v);
    if (guard_end(before)) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

json_t *es_json_object_iget(const json_t *obj, const char *key)
{
    if (!json_is_object(obj))
        return NULL;
    json_t *exact = json_object_get(obj, key);
    if (exact != NULL)
        return exact;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

size_t es_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

enum es_status es_json_write_string(struct es_buf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    enum es_status st = es_buf_add(b, "\"", 1);
    while (st == ES_OK && p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            st = es_buf_add(b, run, (size_t)(p - run));
        if (st != ES_OK || p == end)
            break;
        if (*p >= 0x80) {
            size_t n = es_utf8_len(p, end);
            if (n == 0)
                return ES_EJSON;
            st = es_buf_add(b, p, n);
            p += n;
            continue;
        }
        char esc[8];
        switch (*p) {
        case '"':
            st = es_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            st = es_buf_add(b, "\\\\", 2);
            break;
        case '\b':
            st = es_buf_add(b, "\\b", 2);
            break;
        case '\f':
            st = es_buf_add(b, "\\f", 2);
            break;
        case '\n':
            st = es_buf_add(b, "\\n", 2);
            break;
        case '\r':
            st = es_buf_add(b, "\\r", 2);
            break;
        case '\t':
            st = es_buf_add(b, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", *p);
            st = es_buf_add(b, esc, 6);
        }
        p++;
    }
    return st == ES_OK ? es_buf_add(b, "\"", 1) : st;
}

json_t *es_json_unwrap(json_t *v, int max_depth)
{
    if (v == NULL)
        return NULL;
    json_t *cur = json_incref(v);
    for (int depth = 0; depth < max_depth && json_is_string(cur); depth++) {
        size_t len = json_string_length(cur);
        const char *s = json_string_value(cur);
        /* Only text that starts like a JSON value is worth a parse attempt. */
        size_t i = 0;
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
            i++;
        if (i == len || strchr("{[\"-0123456789tfn", s[i]) == NULL)
            break;
        json_t *next = NULL;
        enum es_status st =
            es_json_parse(s, len, ES_JSON_LOAD_FLAGS | JSON_DECODE_ANY, &next, NULL);
        if (st == ES_ENOMEM) {
            json_decref(cur);
            return NULL;
        }
        if (st != ES_OK)
            break;
        json_decref(cur);
        cur = next;
    }
    return cur;
}

char *es_json_dumps_flags(const json_t *v, size_t flags, size_t *len_out)
{
    unsigned long before = guard_begin();
    char *s = json_dumps(v, flags);
    if (guard_end(before)) {
        counted_free(s); /* perhaps from the reserve */
        return NULL;
    }
    if (s != NULL && len_out != NULL)
        *len_out = strlen(s);
    return s;
}

char *es_json_dumps(const json_t *v, size_t *len_out)
{
    return es_json_dumps_flags(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY,
                               len_out);
}

size_t es_json_size(const json_t *v)
{
    if (v == NULL)
        return 0;
    unsigned long before = guard_begin();
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    return guard_end(before) ? SIZE_MAX : n;
}

const char *es_json_str(const json_t *v, size_t *len_out)
{
    if (!json_is_string(v))
        return NULL;
    if (len_out != NULL)
        *len_out = json_string_length(v);
    return json_string_value(v);
}

/*
 * buf.c - capped growable buffer. Growth doubles the allocation, so appends
 * are amortised O(1); the cap is checked before any allocation. A failed
 * append is remembered in b->error, which every later append returns.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void es_buf_init(struct es_buf *b, size_t max_bytes)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max_bytes;
    b->error = ES_OK;
}

void es_buf_release(struct es_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->error = ES_OK;
}

void es_buf_reset(struct es_buf *b)
{
    b->len = 0;
    b->error = ES_OK;
    if (b->ptr != NULL)
        b->ptr[0] = '\0';
}

enum es_status es_buf_status(const struct es_buf *b)
{
    return b->error;
}

/* Records the first failure; returns st. */
static enum es_status fail(struct es_buf *b, enum es_status st)
{
    if (b->error == ES_OK)
        b->error = st;
    return st;
}

static enum es_status ensure(struct es_buf *b, size_t extra)
{
    if (b->error != ES_OK)
        return b->error;
    if (extra > b->max || b->len > b->max - extra)
        return fail(b, ES_ETOOBIG);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return ES_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->ptr, cap);
    if (p == NULL)
        return fail(b, ES_ENOMEM);
    b->ptr = p;
    b->cap = cap;
    return ES_OK;
}

enum es_status es_buf_add(struct es_buf *b, const void *data, size_t len)
{
    enum es_status st = ensure(b, len);
    if (st != ES_OK)
        return st;
    if (len > 0)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return ES_OK;
}

enum es_status es_buf_adds(struct es_buf *b, const char *s)
{
    return es_buf_add(b, s, strlen(s));
}

enum es_status es_buf_addf(struct es_buf *b, const char *fmt, ...)
{
    if (b->error != ES_OK)
        return b->error;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, ES_EINVAL);
    enum es_status st = ensure(b, (size_t)n);
    if (st != ES_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ES_OK;
}

char *es_buf_take(struct es_buf *b, size_t *len_out)
{
    if (len_out != NULL)
        *len_out = 0;
    if (b->error != ES_OK) {
        /* Never a text with a piece missing: drop it and stay failed. */
        enum es_status st = b->error;
        es_buf_release(b);
        b->error = st;
        return NULL;
    }
    char *p = b->ptr;
    size_t len = b->len;
    if (p == NULL && (p = calloc(1, 1)) == NULL) {
        b->error = ES_ENOMEM;
        return NULL;
    }
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    if (len_out != NULL)
        *len_out = len;
    return p;
}

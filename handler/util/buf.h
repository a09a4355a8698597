/*
 * buf.h - a growable byte buffer with a hard cap (after curl's dynbuf).
 *
 * Every buffer fed from the network is an es_buf with its cap set at init, so
 * no input can make the process allocate without bound. The content is always
 * NUL-terminated (the terminator is not counted in len), so text can be handed
 * to string functions directly.
 */
#ifndef ES_UTIL_BUF_H
#define ES_UTIL_BUF_H

#include <stddef.h>

#include "status.h"

struct es_buf {
    char *ptr;  /* content, NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, without the terminator */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on len */
};

/* Prepares an empty buffer that refuses to grow past max_bytes. */
void es_buf_init(struct es_buf *b, size_t max_bytes);

/* Frees the content and leaves the buffer empty and reusable. */
void es_buf_release(struct es_buf *b);

/* Empties the buffer, keeping its allocation. */
void es_buf_reset(struct es_buf *b);

/* Appends len bytes. ES_ETOOBIG past the cap, ES_ENOMEM; on failure b is unchanged. */
enum es_status es_buf_add(struct es_buf *b, const void *data, size_t len);

/* Appends a NUL-terminated string. */
enum es_status es_buf_adds(struct es_buf *b, const char *s);

/* Appends printf-style text. */
enum es_status es_buf_addf(struct es_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Hands the content out (caller frees with free()) and leaves b empty.
 * Returns an allocated empty string when nothing was added; NULL only on ENOMEM.
 */
char *es_buf_take(struct es_buf *b, size_t *len_out);

#endif

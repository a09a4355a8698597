/*
 * buf.h - a growable byte buffer with a hard cap (after curl's dynbuf).
 *
 * Every buffer fed from the network is an es_buf with its cap set at init, so
 * no input can make the process allocate without bound. The content is always
 * NUL-terminated (the terminator is not counted in len), so text can be handed
 * to string functions directly.
 *
 * Failure is sticky, as in curl's dynbuf: the first append that fails
 * (ES_ENOMEM, or ES_ETOOBIG past the cap) marks the buffer failed; every later
 * append then fails with the same status and adds nothing, and es_buf_take
 * returns NULL. A chain of appends can so be checked once, at the end, and
 * never yields a text with a piece missing from its middle. What was added
 * before the failure stays readable in ptr and len (e.g. to scan the part of
 * a body that arrived) until es_buf_reset or es_buf_release, which also clear
 * the failure.
 */
#ifndef ES_UTIL_BUF_H
#define ES_UTIL_BUF_H

#include <stddef.h>

#include "status.h"

struct es_buf {
    char *ptr;            /* content, NUL-terminated; NULL until the first append */
    size_t len;           /* bytes used, without the terminator */
    size_t cap;           /* bytes allocated */
    size_t max;           /* hard limit on len */
    enum es_status error; /* ES_OK, or the failure of the first append that failed */
};

/* Prepares an empty buffer that refuses to grow past max_bytes. */
void es_buf_init(struct es_buf *b, size_t max_bytes);

/* Frees the content and leaves the buffer empty, reusable, and no longer failed. */
void es_buf_release(struct es_buf *b);

/* Empties the buffer, keeping its allocation, and clears a failure. */
void es_buf_reset(struct es_buf *b);

/*
 * Appends len bytes. ES_ETOOBIG past the cap, ES_ENOMEM: either leaves the
 * content as it was, fails the buffer, and is returned again by every later
 * append until es_buf_reset or es_buf_release.
 */
enum es_status es_buf_add(struct es_buf *b, const void *data, size_t len) ES_MUST_CHECK;

/* Appends a NUL-terminated string; fails as es_buf_add. */
enum es_status es_buf_adds(struct es_buf *b, const char *s) ES_MUST_CHECK;

/* Appends printf-style text; fails as es_buf_add (ES_EINVAL for a bad format, too). */
enum es_status es_buf_addf(struct es_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))) ES_MUST_CHECK;

/* ES_OK, or the failure that failed the buffer. */
enum es_status es_buf_status(const struct es_buf *b) ES_MUST_CHECK;

/*
 * Hands the content out (caller frees with free()) and leaves b empty.
 * Returns an allocated empty string when nothing was added. NULL when b has
 * failed - the content is then freed, and b stays failed (es_buf_status says
 * why) until reset or released - or when that empty string cannot be
 * allocated (b is then failed with ES_ENOMEM).
 */
char *es_buf_take(struct es_buf *b, size_t *len_out);

#endif

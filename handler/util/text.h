/*
 * text.h - byte-level text helpers: the checked formatter every id, link,
 * header and URL is built with, percent-decoding, base64, and the
 * case-insensitive media-type check used for request and reply bodies.
 */
#ifndef ES_UTIL_TEXT_H
#define ES_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/*
 * snprintf that never cuts: formats into out[0..cap) and returns ES_OK when the
 * whole text fits with its NUL, ES_ETOOBIG when it would not (out is then ""),
 * ES_EINVAL on a format error. Ids, document links, header lines and URLs are
 * built with it, so a value that does not fit is a clear error, never a
 * shorter value that names something else.
 */
enum es_status es_fmt(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4))) ES_MUST_CHECK;

/* The value of a hex digit (either case), or -1. */
int es_hex_value(char c);

/*
 * Percent-decodes s[0..len) into a malloc'd string; '+' becomes a space when
 * plus_is_space (query strings). Invalid escapes are kept as they are.
 * NULL on ENOMEM. The result may contain NUL bytes; *out_len gives its length.
 */
char *es_url_decode(const char *s, size_t len, bool plus_is_space, size_t *out_len);

/*
 * A malloc'd copy of s[0..len) in which every byte sequence that is not valid
 * UTF-8 is replaced by U+FFFD. NULL on ENOMEM.
 */
char *es_utf8_sanitize(const char *s, size_t len, size_t *out_len);

/* Length of the valid UTF-8 sequence at s[0..len), or 0 when it is invalid. */
size_t es_utf8_seq_len(const unsigned char *s, size_t len);

/* True when s[0..len) is valid UTF-8 without a NUL: text a request may carry. */
bool es_text_valid(const char *s, size_t len);

/*
 * True when the percent-decoded form of s[0..len) is such text (a URL's path or
 * query: '+' counts as a space). Decodes without allocating.
 */
bool es_url_text_valid(const char *s, size_t len);

/* Base64 (RFC 4648, padded) of data into a malloc'd string; NULL on ENOMEM. */
char *es_base64_encode(const void *data, size_t len);

/*
 * Decodes standard base64 (padding optional, no whitespace) into a malloc'd
 * buffer. ES_EINVAL for any other character or a bad length, ES_ENOMEM.
 */
enum es_status es_base64_decode(const char *s, size_t len, unsigned char **out,
                                size_t *out_len) ES_MUST_CHECK;

/*
 * Percent-encodes s for a URL (RFC 3986): every byte but A-Z a-z 0-9 - _ . ~
 * becomes %XX (upper-case hex); '/' is kept when keep_slash. malloc'd; NULL on ENOMEM.
 */
char *es_url_encode(const char *s, bool keep_slash);

/*
 * True when a comma-separated header value (Transfer-Encoding, Connection)
 * lists token, compared ignoring case and surrounding blanks.
 */
bool es_token_list_has(const char *value, const char *token);

/*
 * True when the media type in a Content-Type value (parameters ignored, case
 * ignored, surrounding blanks ignored) equals type, e.g. "application/json".
 * The type "application/+json" stands for any structured-syntax suffix: it
 * matches every "application/<x>+json".
 */
bool es_media_type_is(const char *content_type, const char *type);

#endif

/*
 * jsonutil.h - small jansson helpers shared by the envelope code and the
 * functions: parsing that tells running out of memory from bad input,
 * case-insensitive lookup, unwrapping JSON-in-a-string, and compact
 * serialisation into a malloc'd buffer.
 *
 * jansson does not always say when memory ran out: its parser drops a byte it
 * cannot store and carries on (a string then comes back one character short),
 * its serialiser drops an object key it cannot write (and the text goes on
 * without it), a deep copy can lose a member (older releases), and some of
 * its failures read as syntax errors. So this module gives jansson an
 * allocator of its own (installed before main runs) that counts, per thread,
 * the allocations that failed; the parse, dump and copy functions below
 * discard a result during which one failed, and other callers can ask
 * es_json_alloc_failures around a call. The handler parses and serialises
 * only through them (scripts/checksrc.sh refuses jansson's own outside this
 * module). Inside those calls, after a failure, jansson is kept from two flaws
 * of its lexer (jsonutil.c says how), except for a number or bare word of more
 * than about a thousand characters, which can still trip its assert
 * (docs/event-store.md, "When memory runs out").
 */
#ifndef ES_UTIL_JSONUTIL_H
#define ES_UTIL_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

#include "status.h"

/* Flags for every json_loadb in the handler: NUL bytes are data, not an error. */
#define ES_JSON_LOAD_FLAGS JSON_ALLOW_NUL

/*
 * Parses buf[0..len) like json_loadb with flags into *out (a new reference).
 * ES_EJSON when it is not JSON (jerr, when given, says why), ES_ENOMEM when
 * memory ran out anywhere in the parse: the result is whole or absent.
 */
enum es_status es_json_parse(const char *buf, size_t len, size_t flags, json_t **out,
                             json_error_t *jerr) ES_MUST_CHECK;

/* es_json_parse of a file's contents (ES_EIO when it cannot be read: jerr says why). */
enum es_status es_json_parse_file(const char *path, size_t flags, json_t **out,
                                  json_error_t *jerr) ES_MUST_CHECK;

/*
 * How many of jansson's allocations have failed on this thread so far: a call
 * during which it grew may have returned a damaged value.
 */
unsigned long es_json_alloc_failures(void);

/* A deep copy of v, whole; NULL on ENOMEM. */
json_t *es_json_deep_copy(const json_t *v);

/* Borrowed value of the first key equal to key ignoring ASCII case, or NULL. */
json_t *es_json_object_iget(const json_t *obj, const char *key);

/*
 * Returns a new reference to v with every level of JSON-in-a-string removed:
 * while v is a string whose content parses as JSON, it is replaced by the
 * parsed value (bundle v4 sends Cosmos documents encoded twice, v3 once).
 * A string that is not JSON is returned as it is. NULL only on ENOMEM (never
 * the string instead of what it holds) or when v is NULL. At most max_depth
 * levels are unwrapped.
 */
json_t *es_json_unwrap(json_t *v, int max_depth);

/*
 * Serialises v compactly (no spaces, key order kept) into a malloc'd,
 * NUL-terminated buffer. NULL on ENOMEM: never a text with a key missing.
 */
char *es_json_dumps(const json_t *v, size_t *len_out);

/*
 * The length of v as compact JSON, without building the text: 0 for NULL,
 * SIZE_MAX when memory ran out on the way (so a limit check refuses it).
 */
size_t es_json_size(const json_t *v);

/* The same with jansson's dump flags given (JSON_INDENT(2), ...). */
char *es_json_dumps_flags(const json_t *v, size_t flags, size_t *len_out);

/*
 * Length of the well-formed UTF-8 sequence that starts at p (Unicode table
 * 3-7: no overlongs, surrogates or code points past U+10FFFF), 0 when there
 * is none. p < end.
 */
size_t es_utf8_len(const unsigned char *p, const unsigned char *end);

/*
 * Appends s as a JSON string (quoted; ", \ and control characters escaped,
 * as jansson writes them). ES_EJSON when s is not UTF-8, ES_ENOMEM.
 */
struct es_buf;
enum es_status es_json_write_string(struct es_buf *b, const char *s,
                                    size_t len) ES_MUST_CHECK;

/* The string's bytes and length when v is a string, else NULL. */
const char *es_json_str(const json_t *v, size_t *len_out);

#endif

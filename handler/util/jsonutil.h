/*
 * jsonutil.h - small jansson helpers shared by the envelope code and the
 * functions: case-insensitive lookup, unwrapping JSON-in-a-string, and
 * compact serialisation into a malloc'd buffer.
 */
#ifndef ES_UTIL_JSONUTIL_H
#define ES_UTIL_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

#include "status.h"

/* Flags for every json_loadb in the handler: NUL bytes are data, not an error. */
#define ES_JSON_LOAD_FLAGS JSON_ALLOW_NUL

/* Borrowed value of the first key equal to key ignoring ASCII case, or NULL. */
json_t *es_json_object_iget(const json_t *obj, const char *key);

/*
 * Returns a new reference to v with every level of JSON-in-a-string removed:
 * while v is a string whose content parses as JSON, it is replaced by the
 * parsed value (bundle v4 sends Cosmos documents encoded twice, v3 once).
 * A string that is not JSON is returned as it is. NULL only on ENOMEM or
 * when v is NULL. At most max_depth levels are unwrapped.
 */
json_t *es_json_unwrap(json_t *v, int max_depth);

/*
 * Serialises v compactly (no spaces, key order kept) into a malloc'd,
 * NUL-terminated buffer. NULL on ENOMEM.
 */
char *es_json_dumps(const json_t *v, size_t *len_out);

/* The string's bytes and length when v is a string, else NULL. */
const char *es_json_str(const json_t *v, size_t *len_out);

#endif

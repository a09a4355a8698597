/*
 * hash.h - digests: SHA-256 fingerprints of requests (for idempotency
 * receipts) and name-based UUIDs (RFC 9562 version 5), over OpenSSL; and
 * FNV-1a, the quick hash of in-memory tables.
 */
#ifndef ES_UTIL_HASH_H
#define ES_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "status.h"

/* One piece of input to a digest. */
struct es_hash_part {
    const void *data;
    size_t len;
};

/* Lowercase hex SHA-256 of the concatenated parts into out (65 bytes). */
enum es_status es_sha256_hex(const struct es_hash_part *parts, size_t n,
                             char out[65]) ES_MUST_CHECK;

/* 64-bit FNV-1a of a string: for spreading keys over buckets, not for security. */
uint64_t es_fnv1a(const char *s);

/* The version-5 UUID of name in namespace ns ("xxxxxxxx-xxxx-...", 37 bytes). */
enum es_status es_uuid5(const char *ns, const char *name, size_t name_len,
                        char out[ES_UUID_STR_LEN + 1]) ES_MUST_CHECK;

#endif

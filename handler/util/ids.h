/*
 * ids.h - random numbers and identifiers: UUIDv4 strings and the stream-id
 * alphabet check shared by every route.
 */
#ifndef ES_UTIL_IDS_H
#define ES_UTIL_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ES_UUID_STR_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define ES_ID_MAX_LEN   64 /* the longest id a route takes (es_id_valid) */

/* Fills buf with len bytes from the kernel's CSPRNG (getrandom). */
void es_random_bytes(void *buf, size_t len);

/* A uniformly random integer in [0, bound); 0 when bound is 0. */
uint64_t es_random_below(uint64_t bound);

/* Writes a lowercase UUIDv4 and its terminator into out (at least 37 bytes). */
char *es_uuid4(char out[ES_UUID_STR_LEN + 1]);

/* True when s is 1..64 characters of [A-Za-z0-9_-] (the id rule of every route); NULL is
 * not. */
bool es_id_valid(const char *s);

#endif

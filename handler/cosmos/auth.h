/*
 * auth.h - Cosmos DB request authorization (REST API, "Access control on
 * Cosmos DB resources").
 *
 * Master key: the string to sign is
 *   lower(verb) \n lower(resourceType) \n resourceLink \n lower(x-ms-date) \n \n
 * signed with HMAC-SHA256 under the base64-decoded key; the header is the
 * URL-encoded "type=master&ver=1.0&sig=<base64>". Entra ID: the header is the
 * URL-encoded "type=aad&ver=1.0&sig=<access token>". x-ms-date is RFC 1123
 * (e.g. "Thu, 27 Apr 2017 00:51:12 GMT") and is fresh on every try.
 */
#ifndef ES_COSMOS_AUTH_H
#define ES_COSMOS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define COSMOS_DATE_LEN 40 /* "Thu, 27 Apr 2017 00:51:12 GMT" + NUL, with room */

/* Formats epoch seconds as an RFC 1123 date (English names, GMT) into out. */
void cosmos_date(int64_t epoch_s, char out[COSMOS_DATE_LEN]);

/* The string to sign for a request (malloc'd). */
char *cosmos_string_to_sign(const char *verb, const char *resource_type,
                            const char *resource_link, const char *date);

/* base64(HMAC-SHA256(key, string_to_sign)) into sig (at least 45 bytes). */
enum es_status cosmos_signature(const unsigned char *key, size_t key_len,
                                const char *verb, const char *resource_type,
                                const char *resource_link, const char *date,
                                char sig[64]) ES_MUST_CHECK;

/*
 * The Authorization header value for a master-key request (URL-encoded,
 * upper-case hex), malloc'd.
 */
char *cosmos_master_auth(const unsigned char *key, size_t key_len, const char *verb,
                         const char *resource_type, const char *resource_link,
                         const char *date);

/* The Authorization header value for an Entra ID access token, malloc'd. */
char *cosmos_aad_auth(const char *access_token);

#endif

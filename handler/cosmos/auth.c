/*
 * auth.c - master-key signatures and Entra token headers for Cosmos DB.
 */
#include "auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/text.h"

void cosmos_date(int64_t epoch_s, char out[COSMOS_DATE_LEN])
{
    /* Names spelled out: strftime would follow the locale. */
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)epoch_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, COSMOS_DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Appends s lower-cased (ASCII). */
static enum es_status add_lower(struct es_buf *b, const char *s)
{
    enum es_status st = ES_OK;
    for (; st == ES_OK && *s; s++) {
        char c = *s >= 'A' && *s <= 'Z' ? (char)(*s + 32) : *s;
        st = es_buf_add(b, &c, 1);
    }
    return st;
}

char *cosmos_string_to_sign(const char *verb, const char *resource_type,
                            const char *resource_link, const char *date)
{
    struct es_buf b;
    es_buf_init(&b, 1 << 16);
    /* A string with a piece missing must never be signed: the first failed append
     * stops the chain (and, the buffer being sticky, would fail the take too). */
    enum es_status st = add_lower(&b, verb);
    st = st == ES_OK ? es_buf_adds(&b, "\n") : st;
    st = st == ES_OK ? add_lower(&b, resource_type) : st;
    st = st == ES_OK ? es_buf_adds(&b, "\n") : st;
    st = st == ES_OK ? es_buf_adds(&b, resource_link) : st;
    st = st == ES_OK ? es_buf_adds(&b, "\n") : st;
    st = st == ES_OK ? add_lower(&b, date) : st;
    st = st == ES_OK ? es_buf_adds(&b, "\n\n") : st;
    char *text = st == ES_OK ? es_buf_take(&b, NULL) : NULL;
    es_buf_release(&b);
    return text;
}

enum es_status cosmos_signature(const unsigned char *key, size_t key_len,
                                const char *verb, const char *resource_type,
                                const char *resource_link, const char *date, char sig[64])
{
    char *msg = cosmos_string_to_sign(verb, resource_type, resource_link, date);
    if (msg == NULL)
        return ES_ENOMEM;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    unsigned char *ok = HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg,
                             strlen(msg), mac, &mac_len);
    free(msg);
    if (ok == NULL)
        return ES_EINTERNAL;
    char *b64 = es_base64_encode(mac, mac_len);
    if (b64 == NULL)
        return ES_ENOMEM;
    enum es_status st = es_fmt(sig, 64, "%s", b64);
    free(b64);
    return st;
}

/* URL-encodes "type=<type>&ver=1.0&sig=<sig>" as encodeURIComponent does. */
static char *token_header(const char *type, const char *sig)
{
    size_t n = strlen(type) + strlen(sig) + 32;
    char *raw = malloc(n);
    if (raw == NULL)
        return NULL;
    char *enc = es_fmt(raw, n, "type=%s&ver=1.0&sig=%s", type, sig) == ES_OK
                    ? es_url_encode(raw, false)
                    : NULL;
    memset(raw, 0, n);
    free(raw);
    return enc;
}

char *cosmos_master_auth(const unsigned char *key, size_t key_len, const char *verb,
                         const char *resource_type, const char *resource_link,
                         const char *date)
{
    char sig[64];
    if (cosmos_signature(key, key_len, verb, resource_type, resource_link, date, sig) !=
        ES_OK)
        return NULL;
    return token_header("master", sig);
}

char *cosmos_aad_auth(const char *access_token)
{
    return token_header("aad", access_token);
}

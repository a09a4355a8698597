/*
 * hash.c - SHA-256 and SHA-1 through OpenSSL's EVP interface.
 */
#include "hash.h"
#include "text.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static enum es_status digest(const EVP_MD *md, const struct es_hash_part *parts, size_t n,
                             unsigned char *out, unsigned *out_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i].data, parts[i].len) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, out, out_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? ES_OK : ES_ENOMEM;
}

enum es_status es_sha256_hex(const struct es_hash_part *parts, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    enum es_status st = digest(EVP_sha256(), parts, n, md, &len);
    if (st != ES_OK)
        return st;
    for (unsigned i = 0; i < len && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return ES_OK;
}

enum es_status es_uuid5(const char *ns, const char *name, size_t name_len,
                        char out[ES_UUID_STR_LEN + 1])
{
    unsigned char nsb[16];
    size_t k = 0;
    for (const char *p = ns; *p != '\0' && k < 16; p++) {
        if (*p == '-')
            continue;
        int hi = es_hex_value(p[0]), lo = p[1] ? es_hex_value(p[1]) : -1;
        if (hi < 0 || lo < 0)
            return ES_EINVAL;
        nsb[k++] = (unsigned char)(hi * 16 + lo);
        p++;
    }
    if (k != 16)
        return ES_EINVAL;
    struct es_hash_part parts[] = {{nsb, 16}, {name, name_len}};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    enum es_status st = digest(EVP_sha1(), parts, 2, md, &len);
    if (st != ES_OK)
        return st;
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    snprintf(out, ES_UUID_STR_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10],
             md[11], md[12], md[13], md[14], md[15]);
    return ES_OK;
}

uint64_t es_fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull; /* the 64-bit offset basis */
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

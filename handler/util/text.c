/*
 * text.c - percent-decoding, base64 and media types.
 */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum es_status es_fmt(char *out, size_t cap, const char *fmt, ...)
{
    if (cap == 0)
        return ES_ETOOBIG;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < cap)
        return ES_OK;
    out[0] = '\0';
    return n < 0 ? ES_EINVAL : ES_ETOOBIG;
}

int es_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *es_url_decode(const char *s, size_t len, bool plus_is_space, size_t *out_len)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = es_hex_value(s[i + 1])) >= 0 &&
            (lo = es_hex_value(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (out_len != NULL)
        *out_len = o;
    return out;
}

char *es_base64_encode(const void *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    size_t out_len = (len + 2) / 3 * 4;
    char *out = malloc(out_len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

static bool token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool es_media_type_is(const char *content_type, const char *type)
{
    if (content_type == NULL)
        return false;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    size_t n = strcspn(content_type, ";");
    while (n > 0 && (content_type[n - 1] == ' ' || content_type[n - 1] == '\t'))
        n--;
    size_t tlen = strlen(type);
    const char *plus = strstr(type, "/+");
    if (plus != NULL) {
        size_t major = (size_t)(plus - type) + 1; /* "application/" */
        size_t sfx_len = tlen - major;            /* "+json" */
        if (n <= major + sfx_len || strncasecmp(content_type, type, major) != 0 ||
            strncasecmp(content_type + n - sfx_len, plus + 1, sfx_len) != 0)
            return false;
        /* The subtype before the suffix is an RFC 9110 token: no blanks, no separators.
         */
        for (size_t i = major; i < n - sfx_len; i++)
            if (!token_char(content_type[i]))
                return false;
        return true;
    }
    return n == tlen && strncasecmp(content_type, type, n) == 0;
}

size_t es_utf8_seq_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80, cp = c & 0x1fu;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800, cp = c & 0x0fu;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000, cp = c & 0x07u;
    else
        return 0;
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

char *es_utf8_sanitize(const char *s, size_t len, size_t *out_len)
{
    /* Worst case: every byte becomes the three bytes of U+FFFD. */
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = es_utf8_seq_len(p + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

enum es_status es_base64_decode(const char *s, size_t len, unsigned char **out,
                                size_t *out_len)
{
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return ES_EINVAL;
    unsigned char *buf = malloc(len * 3 / 4 + 1);
    if (buf == NULL)
        return ES_ENOMEM;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val(s[i]);
        if (v < 0) {
            free(buf);
            return ES_EINVAL;
        }
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    *out = buf;
    *out_len = o;
    return ES_OK;
}

char *es_url_encode(const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                     c == '~' || (keep_slash && c == '/');
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

bool es_token_list_has(const char *value, const char *token)
{
    size_t want = strlen(token);
    for (const char *p = value; *p != '\0';) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t k = n;
        while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        if (k == want && strncasecmp(p, token, want) == 0)
            return true;
        p += n;
    }
    return false;
}

bool es_text_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = es_utf8_seq_len((const unsigned char *)s + i, len - i);
        if (n == 0 || s[i] == '\0')
            return false;
        i += n;
    }
    return true;
}

bool es_url_text_valid(const char *s, size_t len)
{
    /* Decoded on the fly, one UTF-8 sequence (at most 4 bytes) at a time. */
    unsigned char seq[4];
    size_t need = 0, have = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < len && (hi = es_hex_value(s[i + 1])) >= 0 &&
            (lo = es_hex_value(s[i + 2])) >= 0) {
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return false;
        if (have == 0) {
            need = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
            if (need == 0)
                return false;
        }
        seq[have++] = c;
        if (have == need) {
            if (es_utf8_seq_len(seq, have) != have)
                return false;
            have = 0;
        }
    }
    return have == 0;
}

/*
 * paging.c - the read routes' paging: limit, and continuations that only this
 * API gives out.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/text.h"

bool api_query_int(const struct fn_http_request *req, struct fn_http_response *res,
                   const char *name, int64_t min, int64_t max, int64_t dflt, int64_t *out)
{
    const char *v = fn_query(req, name);
    *out = dflt;
    if (v == NULL)
        return true;
    char *end = NULL;
    long long n = v[0] >= '0' && v[0] <= '9' ? strtoll(v, &end, 10) : -1;
    if (end == NULL || *end != '\0' || n < min || n > max) {
        fn_reply_error(res, ES_EFIELD, "'%s' must be an integer from %lld to %lld", name,
                       (long long)min, (long long)max);
        return false;
    }
    *out = n;
    return true;
}

/*
 * A page's continuation as clients see it: base64url (unpadded) of
 * "<kind>\n<check>\n<store token>", where check is 16 hex digits of
 * SHA-256 over the kind and the token. A token of another route, a cut or
 * edited one, or one made up from the store's format is refused. It is not a
 * secret seal - a token only says where a listing resumes, in a listing the
 * caller may read anyway - but nothing the API did not give out gets through.
 */
static enum es_status continuation_check(const char *kind, const char *token, size_t len,
                                         char check[17])
{
    struct es_hash_part parts[] = {
        {"es-continuation\n", 16}, {kind, strlen(kind)}, {"\n", 1}, {token, len}};
    char hex[65];
    enum es_status st = es_sha256_hex(parts, 4, hex);
    if (st == ES_OK) {
        memcpy(check, hex, 16);
        check[16] = '\0';
    }
    return st;
}

static char *continuation_out(const char *kind, const char *store_token)
{
    char check[17];
    if (continuation_check(kind, store_token, strlen(store_token), check) != ES_OK)
        return NULL;
    size_t n = strlen(kind) + 18 + strlen(store_token) + 1;
    char *text = malloc(n);
    char *b64 =
        text != NULL && es_fmt(text, n, "%s\n%s\n%s", kind, check, store_token) == ES_OK
            ? es_base64_encode(text, strlen(text))
            : NULL;
    free(text);
    if (b64 == NULL)
        return NULL;
    /* base64url without padding: safe in a query string as it is. */
    size_t len = strlen(b64);
    while (len > 0 && b64[len - 1] == '=')
        b64[--len] = '\0';
    for (char *p = b64; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return b64;
}

char *api_continuation(const char *kind, const char *store_token)
{
    return continuation_out(kind, store_token);
}

void api_reply_page(struct fn_http_response *res, const char *key, json_t *items,
                    const char *next_store_token)
{
    char *out = next_store_token != NULL ? continuation_out(key, next_store_token) : NULL;
    if (next_store_token != NULL && out == NULL) {
        json_decref(items);
        fn_reply_error(res, ES_ENOMEM, "out of memory");
        return;
    }
    fn_reply_json(res, 200, json_pack("{s:o, s:s?}", key, items, "continuation", out));
    free(out);
}

/*
 * The store token inside a client's continuation for `kind` (malloc'd):
 * ES_EFIELD when it is not one this API gave out, ES_ENOMEM.
 */
static enum es_status continuation_in(const char *kind, const char *c, char **token)
{
    size_t n = strlen(c);
    char *b64 = malloc(n + 4);
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    enum es_status st = b64 != NULL ? ES_OK : ES_ENOMEM;
    for (size_t i = 0; st == ES_OK && i < n; i++) {
        char ch = c[i];
        if (ch == '+' || ch == '/' || ch == '=')
            st = ES_EFIELD;
        b64[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    }
    if (st == ES_OK) {
        b64[n] = '\0';
        st = es_base64_decode(b64, n, &raw, &raw_len);
        if (st == ES_EINVAL || (st == ES_OK && memchr(raw, '\0', raw_len) != NULL))
            st = ES_EFIELD;
    }
    free(b64);
    size_t klen = strlen(kind);
    if (st == ES_OK && !(raw_len > klen + 18 && memcmp(raw, kind, klen) == 0 &&
                         raw[klen] == '\n' && raw[klen + 17] == '\n'))
        st = ES_EFIELD;
    const char *t = st == ES_OK ? (const char *)raw + klen + 18 : NULL;
    size_t tlen = st == ES_OK ? raw_len - klen - 18 : 0;
    char check[17];
    if (st == ES_OK)
        st = continuation_check(kind, t, tlen, check);
    if (st == ES_OK &&
        (memcmp(check, raw + klen + 1, 16) != 0 || !es_text_valid(t, tlen)))
        st = ES_EFIELD;
    if (st == ES_OK && (*token = strndup(t, tlen)) == NULL)
        st = ES_ENOMEM;
    free(raw);
    return st;
}

bool api_paging(const struct fn_http_request *req, struct fn_http_response *res,
                const char *kind, int64_t dflt_limit, int64_t max_limit, int64_t *limit,
                char **continuation)
{
    *continuation = NULL;
    if (!api_query_int(req, res, "limit", 1, max_limit, dflt_limit, limit))
        return false;
    const char *c = fn_query(req, "continuation");
    if (c == NULL || c[0] == '\0')
        return true;
    enum es_status st = continuation_in(kind, c, continuation);
    if (st == ES_ENOMEM)
        fn_reply_error(res, ES_ENOMEM, "out of memory");
    else if (st != ES_OK)
        fn_reply_error(res, ES_EFIELD, "'continuation' is not one this API gave out");
    return st == ES_OK;
}

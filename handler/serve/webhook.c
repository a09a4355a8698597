/*
 * webhook.c - CloudEvents batches POSTed with libcurl (see webhook.h), which
 * is loaded when the first webhook is made (util/curlapi.h): a handler
 * without INTEGRATION_WEBHOOK_URL never maps it.
 */
#include "webhook.h"

#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "util/curlapi.h"
#include "util/jsonutil.h"

struct webhook {
    const struct es_curl *cu;
    CURL *curl;
    char *url;
    int64_t timeout_ms;
    struct curl_slist *headers;
};

enum es_status webhook_new(const char *url, int64_t timeout_ms, struct webhook **out,
                           struct es_error *err)
{
    if (url == NULL || !es_config_webhook_url_valid(url))
        return es_error_set(err, ES_EINVAL,
                            "cannot POST integration events to '%.200s': not an http:// "
                            "or https:// URL",
                            url != NULL ? url : "");
    const struct es_curl *cu = es_curl_load(err);
    if (cu == NULL)
        return ES_EINTERNAL;
    struct webhook *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return ES_ENOMEM;
    w->cu = cu;
    w->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    w->url = strdup(url);
    w->curl = cu->easy_init();
    struct curl_slist *h = cu->slist_append(NULL, "Content-Type: " WEBHOOK_CONTENT_TYPE);
    w->headers = h != NULL ? cu->slist_append(h, "Expect:") : NULL;
    if (w->headers == NULL)
        cu->slist_free_all(h);
    if (w->url == NULL || w->curl == NULL || w->headers == NULL) {
        webhook_free(w);
        return ES_ENOMEM;
    }
    *out = w;
    return ES_OK;
}

void webhook_free(struct webhook *w)
{
    if (w == NULL)
        return;
    if (w->curl != NULL)
        w->cu->easy_cleanup(w->curl);
    if (w->headers != NULL)
        w->cu->slist_free_all(w->headers);
    free(w->url);
    free(w);
}

/* The answer's body is not needed: read and dropped. */
static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

enum es_status webhook_send(void *ctx, const json_t *messages, struct es_error *err)
{
    struct webhook *w = ctx;
    size_t len = 0;
    char *body = es_json_dumps(messages, &len);
    if (body == NULL)
        return ES_ENOMEM;
    const struct es_curl *cu = w->cu;
    CURL *h = w->curl;
    cu->easy_reset(h);
    cu->easy_setopt(h, CURLOPT_URL, w->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    /* The package is built against an older libcurl (Debian 11's 7.74). */
    cu->easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    cu->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    cu->easy_setopt(h, CURLOPT_POST, 1L);
    cu->easy_setopt(h, CURLOPT_POSTFIELDS, body);
    cu->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    cu->easy_setopt(h, CURLOPT_HTTPHEADER, w->headers);
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
    cu->easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = cu->easy_perform(h);
    long status = 0;
    if (rc == CURLE_OK)
        cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    free(body);
    if (rc == CURLE_OUT_OF_MEMORY)
        return ES_ENOMEM;
    if (rc != CURLE_OK)
        return es_error_set(err, ES_EUNAVAILABLE,
                            "cannot POST integration events to '%.200s': %s", w->url,
                            w->cu->easy_strerror(rc));
    if (status < 200 || status > 299)
        return es_error_set(err, ES_EUNAVAILABLE,
                            "cannot POST integration events to '%.200s': it answered %ld",
                            w->url, status);
    return ES_OK;
}

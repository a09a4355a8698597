/*
 * webhook.c - CloudEvents batches POSTed with libcurl (see webhook.h).
 */
#include "webhook.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "util/jsonutil.h"

struct webhook {
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
    struct webhook *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return ES_ENOMEM;
    w->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    w->url = strdup(url);
    w->curl = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: " WEBHOOK_CONTENT_TYPE);
    w->headers = h != NULL ? curl_slist_append(h, "Expect:") : NULL;
    if (w->headers == NULL)
        curl_slist_free_all(h);
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
        curl_easy_cleanup(w->curl);
    curl_slist_free_all(w->headers);
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
    CURL *h = w->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, w->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    /* The package is built against an older libcurl (Debian 11's 7.74). */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    free(body);
    if (rc == CURLE_OUT_OF_MEMORY)
        return ES_ENOMEM;
    if (rc != CURLE_OK)
        return es_error_set(err, ES_EUNAVAILABLE,
                            "cannot POST integration events to '%.200s': %s", w->url,
                            curl_easy_strerror(rc));
    if (status < 200 || status > 299)
        return es_error_set(err, ES_EUNAVAILABLE,
                            "cannot POST integration events to '%.200s': it answered %ld",
                            w->url, status);
    return ES_OK;
}

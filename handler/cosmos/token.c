/*
 * token.c - the managed-identity token source: one cached token, refreshed
 * ahead of expiry by one caller at a time, kept when a refresh fails.
 *
 * Two locks: `lock` guards the cached fields and is never held across I/O;
 * `fetch` is held by the one caller talking to the endpoint. A caller with a
 * usable token only ever tries `fetch` (trylock), so nobody waits behind a
 * refresh while a valid token exists.
 */
#include "token.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/buf.h"
#include "util/curlapi.h"
#include "util/ids.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

#define API_VERSION       "2019-08-01"
#define REPLY_MAX_BYTES   (64u << 10)
#define LONG_LIVED_S      7200 /* from here on, refresh at half the lifetime */
#define REFRESH_OFFSET_S  300
#define RETRY_PAUSE_MAX_S 30
#define USABLE_SKEW_MAX_S 30
#define BACKOFF_FIRST_MS  250

struct cosmos_tokens {
    const struct es_curl *curl; /* libcurl, loaded by cosmos_tokens_new */
    char *url;                  /* the endpoint with its query */
    char *header;               /* "X-IDENTITY-HEADER: <secret>" */
    long timeout_ms;
    int max_retries;

    pthread_mutex_t lock;  /* guards the fields below; never held across I/O */
    pthread_mutex_t fetch; /* held by the caller that talks to the endpoint */
    char *token;
    int64_t obtained_s, expires_s;
    int64_t next_try_s; /* no refresh before this, after a failed one */
    unsigned fetches, failures;
};

void cosmos_token_wipe(char *token)
{
    if (token == NULL)
        return;
    memset(token, 0, strlen(token));
    free(token);
}

int64_t cosmos_token_refresh_at(int64_t obtained_s, int64_t expires_s)
{
    int64_t life = expires_s - obtained_s;
    if (life <= 0)
        return obtained_s;
    if (life >= LONG_LIVED_S)
        return obtained_s + life / 2;
    return expires_s - (life / 2 < REFRESH_OFFSET_S ? life / 2 : REFRESH_OFFSET_S);
}

int64_t cosmos_token_usable_until(int64_t obtained_s, int64_t expires_s)
{
    int64_t skew = (expires_s - obtained_s) / 10;
    return expires_s - (skew < USABLE_SKEW_MAX_S ? skew : USABLE_SKEW_MAX_S);
}

static int64_t retry_pause_s(int64_t obtained_s, int64_t expires_s)
{
    int64_t pause = (expires_s - obtained_s) / 8;
    return pause < 1 ? 1 : pause > RETRY_PAUSE_MAX_S ? RETRY_PAUSE_MAX_S : pause;
}

/* "06/20/2019 02:57:58 +00:00" or "1/16/2020 5:24:12 AM +00:00" (App Service 2017-09-01).
 */
static int64_t parse_dated_expiry(const char *s)
{
    int mon, day, year, hour, min, sec, used = 0;
    if (sscanf(s, "%d/%d/%d %d:%d:%d%n", &mon, &day, &year, &hour, &min, &sec, &used) !=
        6)
        return 0;
    const char *rest = s + used;
    while (*rest == ' ')
        rest++;
    bool pm = strncasecmp(rest, "PM", 2) == 0;
    if (pm || strncasecmp(rest, "AM", 2) == 0) {
        hour = hour % 12 + (pm ? 12 : 0);
        rest += 2;
        while (*rest == ' ')
            rest++;
    }
    if (strcmp(rest, "+00:00") != 0 || mon < 1 || mon > 12 || day < 1 || day > 31 ||
        hour > 23 || min > 59 || sec > 60)
        return 0;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    return (int64_t)timegm(&tm);
}

static int64_t parse_seconds(const json_t *v)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return 0;
    char *end = NULL;
    long long n = strtoll(s, &end, 10);
    return *end == '\0' ? (int64_t)n : 0;
}

enum es_status cosmos_token_parse(const char *body, size_t len, int64_t now_s,
                                  char **token_out, int64_t *expires_s,
                                  struct es_error *err)
{
    json_t *j = NULL;
    if (es_json_parse(body != NULL ? body : "", len, 0, &j, NULL) == ES_ENOMEM)
        return es_error_set(err, ES_ENOMEM,
                            "cannot read the managed identity endpoint's answer: out of "
                            "memory");
    const char *token = json_string_value(json_object_get(j, "access_token"));
    json_t *on = json_object_get(j, "expires_on");
    int64_t expires = parse_seconds(on);
    if (expires == 0 && json_is_string(on))
        expires = parse_dated_expiry(json_string_value(on));
    if (expires == 0 && on == NULL) {
        int64_t in = parse_seconds(json_object_get(j, "expires_in"));
        expires = in > 0 ? now_s + in : 0;
    }
    enum es_status st = ES_OK;
    if (token == NULL || token[0] == '\0' || expires <= now_s)
        st = es_error_set(err, ES_EAUTH,
                          "the managed identity endpoint answered without a usable token "
                          "(%s)",
                          token == NULL || token[0] == '\0'
                              ? "no access_token"
                              : "expires_on missing or past");
    else if ((*token_out = strdup(token)) == NULL)
        st = ES_ENOMEM;
    else
        *expires_s = expires;
    json_decref(j);
    return st;
}

/* ---- the source ---- */

static enum es_status build_url(struct cosmos_tokens *t,
                                const struct cosmos_token_opts *o)
{
    struct es_buf b;
    es_buf_init(&b, 1u << 16);
    char *resource = es_url_encode(o->resource, false);
    char *client = o->client_id != NULL ? es_url_encode(o->client_id, false) : NULL;
    char *res_id = o->resource_id != NULL ? es_url_encode(o->resource_id, false) : NULL;
    enum es_status st = resource == NULL || (o->client_id && client == NULL) ||
                                (o->resource_id && res_id == NULL)
                            ? ES_ENOMEM
                            : ES_OK;
    if (st == ES_OK)
        st = es_buf_addf(&b, "%s%capi-version=" API_VERSION "&resource=%s", o->endpoint,
                         strchr(o->endpoint, '?') != NULL ? '&' : '?', resource);
    if (st == ES_OK && client != NULL)
        st = es_buf_addf(&b, "&client_id=%s", client);
    else if (st == ES_OK && res_id != NULL)
        st = es_buf_addf(&b, "&mi_res_id=%s", res_id);
    free(resource);
    free(client);
    free(res_id);
    if (st == ES_OK && (t->url = es_buf_take(&b, NULL)) == NULL)
        st = ES_ENOMEM;
    es_buf_release(&b);
    return st;
}

struct cosmos_tokens *cosmos_tokens_new(const struct cosmos_token_opts *opts,
                                        struct es_error *err)
{
    if (opts->endpoint == NULL || opts->secret == NULL || opts->resource == NULL) {
        es_error_set(err, ES_EINVAL,
                     "Cosmos DB by managed identity needs IDENTITY_ENDPOINT and "
                     "IDENTITY_HEADER (or MSI_ENDPOINT and MSI_SECRET), which Azure "
                     "Functions sets when the app has an identity");
        return NULL;
    }
    struct cosmos_tokens *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->fetch, NULL);
    if ((t->curl = es_curl_load(err)) == NULL) {
        cosmos_tokens_free(t);
        return NULL;
    }
    t->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
    t->max_retries = opts->max_retries;
    size_t n = strlen("X-IDENTITY-HEADER: ") + strlen(opts->secret) + 1;
    t->header = malloc(n);
    if (t->header == NULL ||
        es_fmt(t->header, n, "X-IDENTITY-HEADER: %s", opts->secret) != ES_OK ||
        build_url(t, opts) != ES_OK) {
        cosmos_tokens_free(t);
        return NULL;
    }
    return t;
}

void cosmos_tokens_free(struct cosmos_tokens *t)
{
    if (t == NULL)
        return;
    free(t->url);
    cosmos_token_wipe(t->header);
    cosmos_token_wipe(t->token);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->fetch);
    free(t);
}

void cosmos_tokens_stats(struct cosmos_tokens *t, unsigned *fetches, unsigned *failures)
{
    pthread_mutex_lock(&t->lock);
    *fetches = t->fetches;
    *failures = t->failures;
    pthread_mutex_unlock(&t->lock);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    return es_buf_add(ud, p, size * n) == ES_OK ? size * n : 0;
}

static bool transient(long status)
{
    return status == 0 || status == 404 || status == 408 || status == 429 ||
           status >= 500;
}

/* One request to the endpoint. *status is 0 when no answer came. */
static enum es_status request_once(struct cosmos_tokens *t, long *status,
                                   struct es_buf *body)
{
    const struct es_curl *cu = t->curl;
    CURL *h = cu->easy_init();
    struct curl_slist *all = cu->slist_append(NULL, t->header);
    *status = 0;
    if (h == NULL || all == NULL) {
        cu->slist_free_all(all);
        if (h != NULL)
            cu->easy_cleanup(h);
        return ES_ENOMEM;
    }
    cu->easy_setopt(h, CURLOPT_URL, t->url);
    cu->easy_setopt(h, CURLOPT_HTTPHEADER, all);
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    cu->easy_setopt(h, CURLOPT_WRITEDATA, body);
    cu->easy_setopt(h, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (cu->easy_perform(h) == CURLE_OK)
        cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    cu->slist_free_all(all);
    cu->easy_cleanup(h);
    return ES_OK;
}

/* Fetches a new token, retrying transient failures. Called with `fetch` held. */
static enum es_status fetch_token(struct cosmos_tokens *t, char **token, int64_t *expires,
                                  int64_t *obtained, struct es_error *err)
{
    struct es_buf body;
    es_buf_init(&body, REPLY_MAX_BYTES);
    long status = 0;
    enum es_status st = ES_EAUTH;
    for (int attempt = 0;; attempt++) {
        es_buf_reset(&body);
        *obtained = es_time_now_ms() / 1000;
        if ((st = request_once(t, &status, &body)) != ES_OK)
            break;
        if (status == 200) {
            st = cosmos_token_parse(body.ptr, body.len, *obtained, token, expires, err);
            break;
        }
        if (!transient(status) || attempt >= t->max_retries) {
            /* The endpoint's own words say what is wrong (an unknown client id, say). */
            if (status == 0)
                st = es_error_set(err, ES_EAUTH,
                                  "cannot get a Cosmos DB token: the managed identity "
                                  "endpoint did not answer (%d tries)",
                                  attempt + 1);
            else
                st = es_error_set(err, ES_EAUTH,
                                  "cannot get a Cosmos DB token: the managed identity "
                                  "endpoint answered %ld %.200s",
                                  status, body.ptr != NULL ? body.ptr : "");
            break;
        }
        int64_t delay = (int64_t)BACKOFF_FIRST_MS << (attempt < 4 ? attempt : 4);
        es_time_sleep_ms(delay / 2 + (int64_t)es_random_below((uint64_t)delay / 2 + 1));
    }
    es_buf_release(&body);
    pthread_mutex_lock(&t->lock);
    t->fetches++;
    if (st != ES_OK)
        t->failures++;
    pthread_mutex_unlock(&t->lock);
    return st;
}

/* Stores a fetched token (takes it). Called with `lock` held. */
static void keep(struct cosmos_tokens *t, char *token, int64_t obtained, int64_t expires)
{
    cosmos_token_wipe(t->token);
    t->token = token;
    t->obtained_s = obtained;
    t->expires_s = expires;
    t->next_try_s = 0;
}

/* With `lock` held: may the cached token be sent (and is it not the rejected one)? */
static bool usable(const struct cosmos_tokens *t, const char *rejected, int64_t now)
{
    return t->token != NULL &&
           now < cosmos_token_usable_until(t->obtained_s, t->expires_s) &&
           (rejected == NULL || strcmp(rejected, t->token) != 0);
}

/* A refresh ahead of expiry by this caller; the current token stays on failure. */
static enum es_status refresh_early(struct cosmos_tokens *t, char **out)
{
    char *fresh = NULL;
    int64_t expires = 0, obtained = 0;
    struct es_error ferr = {0};
    enum es_status st = fetch_token(t, &fresh, &expires, &obtained, &ferr);
    pthread_mutex_lock(&t->lock);
    if (st == ES_OK) {
        keep(t, fresh, obtained, expires);
    } else {
        int64_t now = es_time_now_ms() / 1000;
        t->next_try_s = now + retry_pause_s(t->obtained_s, t->expires_s);
        es_log_warn("cosmos: token refresh failed, keeping the current token (valid for "
                    "%lld s more): %s",
                    (long long)(t->expires_s - now), ferr.message);
    }
    char *copy = t->token != NULL ? strdup(t->token) : NULL;
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_unlock(&t->fetch);
    *out = copy;
    return copy != NULL ? ES_OK : ES_ENOMEM;
}

enum es_status cosmos_tokens_get(struct cosmos_tokens *t, const char *rejected,
                                 char **token_out, struct es_error *err)
{
    *token_out = NULL;
    pthread_mutex_lock(&t->lock);
    int64_t now = es_time_now_ms() / 1000;
    if (usable(t, rejected, now)) {
        bool due = now >= cosmos_token_refresh_at(t->obtained_s, t->expires_s) &&
                   now >= t->next_try_s;
        if (due && pthread_mutex_trylock(&t->fetch) == 0) {
            pthread_mutex_unlock(&t->lock);
            return refresh_early(t, token_out);
        }
        *token_out = strdup(t->token);
        pthread_mutex_unlock(&t->lock);
        return *token_out != NULL ? ES_OK : ES_ENOMEM;
    }
    pthread_mutex_unlock(&t->lock);

    /* No token to send: wait for the one fetch, or make it. */
    pthread_mutex_lock(&t->fetch);
    pthread_mutex_lock(&t->lock);
    now = es_time_now_ms() / 1000;
    enum es_status st = ES_OK;
    if (!usable(t, rejected, now)) {
        pthread_mutex_unlock(&t->lock);
        char *fresh = NULL;
        int64_t expires = 0, obtained = 0;
        st = fetch_token(t, &fresh, &expires, &obtained, err);
        pthread_mutex_lock(&t->lock);
        if (st == ES_OK)
            keep(t, fresh, obtained, expires);
    }
    if (st == ES_OK && (*token_out = strdup(t->token)) == NULL)
        st = ES_ENOMEM;
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_unlock(&t->fetch);
    return st;
}

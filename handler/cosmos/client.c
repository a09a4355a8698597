/*
 * client.c - requests, retries and credentials for the Cosmos DB REST API.
 * Wire facts (headers, status codes, retry rules) follow docs/cosmos.md.
 */
#include "client.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/curlapi.h"
#include "util/ids.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"
#include "auth.h"
#include "session.h"
#include "token.h"

#define API_VERSION         "2020-07-15"
#define POOL_MAX            64
#define TOKEN_FETCH_RETRIES 3
#define HEADER_LINE_MAX     (64u << 10)

struct cosmos_client {
    const struct es_curl *curl; /* libcurl, loaded by cosmos_client_new */
    char *endpoint;             /* without the trailing '/' */
    char *resource;             /* scheme://host[:port] for Entra tokens */
    unsigned char *key;         /* decoded master key, or NULL */
    size_t key_len;
    struct cosmos_tokens *tokens; /* Entra tokens when there is no key */
    struct cosmos_sessions *sessions;
    struct cosmos_opts opts;

    pthread_mutex_t lock; /* guards the pool */
    CURL *idle[POOL_MAX];
    size_t n_idle;
};

void cosmos_opts_defaults(struct cosmos_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 5000;
    o->request_timeout_ms = 15000;
    o->retry_budget_ms = 30000;
    o->max_retries = 9;
    o->max_response_bytes = 32u << 20;
    o->tls_verify = true;
}

static void wipe_free(void *p, size_t n)
{
    if (p != NULL)
        memset(p, 0, n);
    free(p);
}

void cosmos_client_free(struct cosmos_client *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_idle; i++)
        c->curl->easy_cleanup(c->idle[i]);
    free(c->endpoint);
    free(c->resource);
    wipe_free(c->key, c->key_len);
    cosmos_tokens_free(c->tokens);
    cosmos_sessions_free(c->sessions);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* "https://acct.documents.azure.com:443/" -> endpoint without '/', resource without :443.
 */
static enum es_status parse_endpoint(struct cosmos_client *c, const char *url,
                                     struct es_error *err)
{
    const char *scheme_end = strstr(url, "://");
    if (scheme_end == NULL ||
        (strncasecmp(url, "https", 5) != 0 && strncasecmp(url, "http", 4) != 0))
        return es_error_set(err, ES_EINVAL,
                            "invalid Cosmos DB endpoint '%s': expected https://", url);
    c->endpoint = strdup(url);
    if (c->endpoint == NULL)
        return ES_ENOMEM;
    size_t n = strlen(c->endpoint);
    while (n > 0 && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    const char *host = scheme_end + 3;
    size_t host_len = strcspn(host, "/");
    size_t origin_len = (size_t)(host - url) + host_len;
    if (host_len > 4 && strncmp(host + host_len - 4, ":443", 4) == 0)
        origin_len -= 4;
    c->resource = strndup(url, origin_len);
    return c->resource != NULL ? ES_OK : ES_ENOMEM;
}

struct cosmos_client *cosmos_client_new(const struct cosmos_opts *opts,
                                        struct es_error *err)
{
    struct cosmos_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->opts = *opts;
    c->opts.endpoint = c->opts.key = NULL;
    if ((c->curl = es_curl_load(err)) == NULL)
        goto fail;
    c->opts.identity_endpoint = c->opts.identity_header = NULL;
    c->opts.identity_client_id = c->opts.identity_resource_id = NULL;
    if (parse_endpoint(c, opts->endpoint, err) != ES_OK)
        goto fail;
    if ((c->sessions = cosmos_sessions_new()) == NULL) {
        es_error_set(err, ES_ENOMEM, "out of memory");
        goto fail;
    }
    if (opts->key != NULL) {
        if (es_base64_decode(opts->key, strlen(opts->key), &c->key, &c->key_len) !=
                ES_OK ||
            c->key_len == 0) {
            es_error_set(err, ES_EINVAL,
                         "invalid Cosmos DB key in the CosmosDB setting: not base64");
            goto fail;
        }
    } else {
        struct cosmos_token_opts to = {.endpoint = opts->identity_endpoint,
                                       .secret = opts->identity_header,
                                       .client_id = opts->identity_client_id,
                                       .resource_id = opts->identity_resource_id,
                                       .resource = c->resource,
                                       .timeout_ms = opts->request_timeout_ms,
                                       .max_retries = TOKEN_FETCH_RETRIES};
        if ((c->tokens = cosmos_tokens_new(&to, err)) == NULL)
            goto fail;
    }
    return c;
fail:
    cosmos_client_free(c);
    return NULL;
}

/* ---- the curl handle pool ---- */

static CURL *handle_get(struct cosmos_client *c)
{
    pthread_mutex_lock(&c->lock);
    CURL *h = c->n_idle > 0 ? c->idle[--c->n_idle] : NULL;
    pthread_mutex_unlock(&c->lock);
    return h != NULL ? h : c->curl->easy_init();
}

static void handle_put(struct cosmos_client *c, CURL *h)
{
    c->curl->easy_reset(h); /* keeps the connection cache */
    pthread_mutex_lock(&c->lock);
    if (c->n_idle < POOL_MAX) {
        c->idle[c->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (h != NULL)
        c->curl->easy_cleanup(h);
}

/* ---- one try ---- */

struct exchange {
    struct es_buf body;
    struct cosmos_response *resp;
    bool header_failed; /* a header value could not be kept: the reply is not whole */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct exchange *x = ud;
    return es_buf_add(&x->body, p, size * n) == ES_OK ? size * n : 0;
}

/* False when the copy cannot be made (the transfer is then aborted). */
static bool set_str(char **slot, const char *v, size_t n)
{
    free(*slot);
    *slot = strndup(v, n);
    return *slot != NULL;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct exchange *x = ud;
    size_t len = size * n;
    const char *colon = memchr(p, ':', len);
    if (colon == NULL)
        return len;
    size_t name_len = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = len - name_len - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    char value[256];
    snprintf(value, sizeof(value), "%.*s", (int)(vlen < 255 ? vlen : 255), v);
#define IS(name) (name_len == sizeof(name) - 1 && strncasecmp(p, name, name_len) == 0)
    struct cosmos_response *r = x->resp;
    /* A reply without its etag, or without its continuation (which would make a page
     * look like the last), is not taken: the transfer stops. */
    if ((IS("etag") && !set_str(&r->etag, v, vlen)) ||
        (IS("x-ms-continuation") && !set_str(&r->continuation, v, vlen))) {
        x->header_failed = true;
        return 0;
    }
    if (IS("etag") || IS("x-ms-continuation"))
        return len;
    if (IS("x-ms-session-token")) {
        /* Without it, this process may read a replica behind its own write; nothing
         * it decides rests on that (store_cosmos.c reads at the primary where it must).
         */
        if (vlen <= COSMOS_SESSION_MAX_BYTES && !set_str(&r->session_token, v, vlen))
            es_log_debug("cosmos: a session token was not kept: out of memory");
        return len;
    }
    if (IS("x-ms-request-charge"))
        r->request_charge = strtod(value, NULL);
    else if (IS("x-ms-retry-after-ms"))
        r->retry_after_ms = strtol(value, NULL, 10);
    else if (IS("x-ms-substatus"))
        r->substatus = (int)strtol(value, NULL, 10);
    else if (IS("x-ms-activity-id"))
        snprintf(r->activity_id, sizeof(r->activity_id), "%.63s", value);
#undef IS
    return len;
}

/*
 * Appends "name: value" to *l. Lines are as long as their values (an Entra token
 * runs to several KB); false when it cannot be added, so no request goes out
 * with a header missing or cut.
 */
static bool add_header(const struct es_curl *cu, struct curl_slist **l, const char *name,
                       const char *value)
{
    size_t n = strlen(name) + 2 + strlen(value) + 1;
    char *line = n <= HEADER_LINE_MAX ? malloc(n) : NULL;
    struct curl_slist *next = NULL;
    if (line != NULL && es_fmt(line, n, "%s: %s", name, value) == ES_OK)
        next = cu->slist_append(*l, line);
    free(line);
    if (next == NULL)
        return false;
    *l = next;
    return true;
}

/* The URL: endpoint + "/" + the link with each id percent-encoded (+ "/type" for feeds).
 */
static char *request_url(const struct cosmos_client *c, const struct cosmos_request *req)
{
    char *path = es_url_encode(req->resource_link, true);
    if (path == NULL)
        return NULL;
    size_t n = strlen(c->endpoint) + strlen(path) + strlen(req->resource_type) + 4;
    char *url = malloc(n);
    enum es_status st = url == NULL ? ES_ENOMEM
                        : req->feed ? es_fmt(url, n, "%s/%s%s%s", c->endpoint, path,
                                             path[0] ? "/" : "", req->resource_type)
                                    : es_fmt(url, n, "%s/%s", c->endpoint, path);
    free(path);
    if (st != ES_OK) {
        free(url);
        return NULL;
    }
    return url;
}

/*
 * The container ("dbs/<db>/colls/<coll>") of a request on documents, in out;
 * false for other resources.
 */
static bool container_of(const struct cosmos_request *req, char *out, size_t len)
{
    if (strcmp(req->resource_type, "docs") != 0)
        return false;
    const char *p = req->resource_link;
    for (int slashes = 0; *p != '\0'; p++)
        if (*p == '/' && ++slashes == 4)
            break;
    size_t n = (size_t)(p - req->resource_link);
    if (n >= len)
        return false;
    memcpy(out, req->resource_link, n);
    out[n] = '\0';
    return true;
}

/* A read served by a replica (the primary serves batches and writes). */
static bool is_read(const struct cosmos_request *req)
{
    return !req->batch && (strcmp(req->method, "GET") == 0 || req->query);
}

/* The signed request's headers, or NULL when they cannot all be built. */
static struct curl_slist *request_headers(const struct es_curl *cu,
                                          const struct cosmos_request *req,
                                          const char *auth, const char *date,
                                          const char *session)
{
    struct curl_slist *h = NULL;
    bool ok = add_header(cu, &h, "Authorization", auth) &&
              add_header(cu, &h, "x-ms-date", date) &&
              add_header(cu, &h, "x-ms-version", API_VERSION) &&
              add_header(cu, &h, "Accept", "application/json") &&
              add_header(cu, &h, "User-Agent", "eventsourcing-azure-c/0.1") &&
              add_header(cu, &h, "Expect", "");
    if (ok && req->body != NULL)
        ok = add_header(cu, &h, "Content-Type",
                        req->content_type != NULL ? req->content_type
                        : req->query              ? "application/query+json"
                                                  : "application/json");
    if (ok && req->partition_key != NULL) {
        json_t *pk = json_pack("[s]", req->partition_key);
        char *text = pk != NULL ? es_json_dumps_flags(pk, JSON_COMPACT, NULL) : NULL;
        ok = text != NULL && add_header(cu, &h, "x-ms-documentdb-partitionkey", text);
        free(text);
        json_decref(pk);
    }
    const struct {
        bool on;
        const char *name, *value;
    } optional[] = {
        {session != NULL, "x-ms-session-token", session},
        {req->if_match != NULL, "If-Match", req->if_match},
        {req->if_none_match != NULL, "If-None-Match", req->if_none_match},
        {req->continuation != NULL, "x-ms-continuation", req->continuation},
        {req->query, "x-ms-documentdb-isquery", "True"},
        {req->cross_partition, "x-ms-documentdb-query-enablecrosspartition", "True"},
        {req->upsert, "x-ms-documentdb-is-upsert", "True"},
        {req->change_feed, "A-IM", "Incremental feed"},
        {req->partition_key_range_id != NULL, "x-ms-documentdb-partitionkeyrangeid",
         req->partition_key_range_id},
        {req->batch, "x-ms-cosmos-is-batch-request", "True"},
        {req->batch, "x-ms-cosmos-batch-atomic", "True"},
        {req->batch, "x-ms-cosmos-batch-continue-on-error", "False"},
    };
    for (size_t i = 0; ok && i < sizeof(optional) / sizeof(optional[0]); i++)
        if (optional[i].on)
            ok = add_header(cu, &h, optional[i].name, optional[i].value);
    if (ok && req->max_item_count != 0) {
        char n[24];
        ok = es_fmt(n, sizeof(n), "%d", req->max_item_count) == ES_OK &&
             add_header(cu, &h, "x-ms-max-item-count", n);
    }
    if (!ok) {
        cu->slist_free_all(h);
        return NULL;
    }
    return h;
}

/* curl errors that mean the request never left: safe to send again. */
static bool never_sent(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_COULDNT_RESOLVE_PROXY;
}

/*
 * One signed try. Returns the curl code; fills out (status 0 when no reply).
 * *built is false when the request could not even be built (nothing was sent).
 * *local is our own failure on the way (ES_ENOMEM, or ES_ETOOBIG for a reply
 * past the cap): the reply was then not taken whole.
 */
static CURLcode try_once(struct cosmos_client *c, const struct cosmos_request *req,
                         const char *auth, const char *date, const char *session,
                         struct cosmos_response *out, bool *built, enum es_status *local)
{
    const struct es_curl *cu = c->curl;
    *local = ES_OK;
    char *url = request_url(c, req);
    struct curl_slist *headers = request_headers(cu, req, auth, date, session);
    CURL *h = url != NULL && headers != NULL ? handle_get(c) : NULL;
    *built = h != NULL;
    if (h == NULL) {
        cu->slist_free_all(headers);
        free(url);
        *local = ES_ENOMEM;
        return CURLE_OUT_OF_MEMORY;
    }
    struct exchange x = {.resp = out};
    es_buf_init(&x.body, c->opts.max_response_bytes);
    cu->easy_setopt(h, CURLOPT_URL, url);
    cu->easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    cu->easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (req->body != NULL) {
        cu->easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        cu->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "GET") == 0) {
        cu->easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    cu->easy_setopt(h, CURLOPT_WRITEDATA, &x);
    cu->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    cu->easy_setopt(h, CURLOPT_HEADERDATA, &x);
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
    cu->easy_setopt(h, CURLOPT_TIMEOUT_MS, c->opts.request_timeout_ms);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    cu->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->opts.tls_verify ? 1L : 0L);
    cu->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->opts.tls_verify ? 2L : 0L);
    CURLcode rc = cu->easy_perform(h);
    if (rc == CURLE_OK)
        cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = es_buf_take(&x.body, &out->body_len);
    if (out->body == NULL || x.header_failed)
        *local = x.header_failed ? ES_ENOMEM : es_buf_status(&x.body);
    es_buf_release(&x.body);
    cu->slist_free_all(headers);
    free(url);
    handle_put(c, h);
    return rc;
}

/* ---- credentials ---- */

/*
 * The Authorization value for this try (malloc'd), or NULL with *st saying why
 * (ES_ENOMEM, or the token source's failure). With a managed identity,
 * *token_used gets the token sent (malloc'd), so a 401 can name it as rejected.
 */
static char *authorize(struct cosmos_client *c, const struct cosmos_request *req,
                       const char *date, const char *rejected, char **token_used,
                       enum es_status *st, struct es_error *err)
{
    *token_used = NULL;
    *st = ES_ENOMEM; /* what a NULL from the signer or the header builder means */
    if (c->key != NULL)
        return cosmos_master_auth(c->key, c->key_len, req->method, req->resource_type,
                                  req->resource_link, date);
    enum es_status got = cosmos_tokens_get(c->tokens, rejected, token_used, err);
    if (got != ES_OK) {
        *st = got;
        return NULL;
    }
    return cosmos_aad_auth(*token_used);
}

/* ---- retries ---- */

long cosmos_retry_delay(long status, int substatus, bool sent, bool idempotent,
                        long retry_after_ms, int attempt, int max_retries,
                        long elapsed_ms, long budget_ms)
{
    long delay;
    long backoff = 100L << (attempt < 5 ? attempt : 5); /* 100 ms .. 3.2 s */
    if (status == 404 && substatus == COSMOS_READ_SESSION_NOT_AVAILABLE) {
        delay = 5L << (attempt < 4 ? attempt : 4); /* 5 ms .. 50 ms */
        if (delay > 50)
            delay = 50;
        return elapsed_ms + delay <= COSMOS_SESSION_RETRY_WINDOW_MS ? delay : -1;
    }
    if (status == 429 || status == 449)
        delay = retry_after_ms > 0 ? retry_after_ms : backoff;
    else if (status == 408 || status == 503 || status == 0)
        delay = (!sent || idempotent) ? backoff : -1;
    else
        delay = -1;
    if (delay < 0 || attempt >= max_retries || elapsed_ms + delay > budget_ms)
        return -1;
    return delay;
}

void cosmos_response_release(struct cosmos_response *r)
{
    free(r->body);
    free(r->etag);
    free(r->session_token);
    free(r->continuation);
    memset(r, 0, sizeof(*r));
}

void cosmos_parse_error(struct cosmos_response *r)
{
    /* Words for a message only: without memory they are left out, nothing is decided
     * on them. */
    json_t *j = NULL;
    enum es_status parsed = es_json_parse(r->body, r->body_len, 0, &j, NULL);
    if (parsed != ES_OK)
        j = NULL;
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    snprintf(r->error_code, sizeof(r->error_code), "%s", code ? code : "");
    snprintf(r->error_message, sizeof(r->error_message), "%.*s",
             msg ? (int)strcspn(msg, "\r\n") : 0, msg ? msg : "");
    json_decref(j);
}

/*
 * The request's values that go into headers as they are - etags, continuations,
 * range ids - come from earlier replies and stored documents: one holding a
 * control character (a CR LF would start a header of its own) is refused here,
 * whichever reply or document it came from. NULL when all are fine, else the
 * header's name.
 */
static const char *unsafe_header_value(const struct cosmos_request *req)
{
    const struct {
        const char *name, *value;
    } values[] = {{"If-Match", req->if_match},
                  {"If-None-Match", req->if_none_match},
                  {"x-ms-continuation", req->continuation},
                  {"x-ms-documentdb-partitionkeyrangeid", req->partition_key_range_id}};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        for (const unsigned char *p = (const unsigned char *)values[i].value;
             p != NULL && *p != '\0'; p++)
            if (*p < 0x20 || *p == 0x7f)
                return values[i].name;
    return NULL;
}

enum es_status cosmos_execute(struct cosmos_client *c, const struct cosmos_request *req,
                              struct cosmos_response *out, struct es_io *io,
                              struct es_error *err)
{
    memset(out, 0, sizeof(*out));
    const char *unsafe = unsafe_header_value(req);
    if (unsafe != NULL)
        return es_error_set(err, ES_EIO,
                            "cannot send %s %s: its %s value holds a control character "
                            "(from a malformed reply or document)",
                            req->method, req->resource_link, unsafe);
    int64_t started = es_time_mono_ms();
    bool refreshed = false, maybe_applied = false;
    char container[600];
    bool in_container = container_of(req, container, sizeof(container));
    char *rejected = NULL; /* the token Cosmos DB refused on the last try */
    for (int attempt = 0;; attempt++) {
        char date[COSMOS_DATE_LEN];
        cosmos_date(es_time_now_ms() / 1000, date);
        char *token = NULL;
        enum es_status why = ES_OK;
        char *auth = authorize(c, req, date, rejected, &token, &why, err);
        cosmos_token_wipe(rejected);
        rejected = NULL;
        if (auth == NULL) {
            cosmos_token_wipe(token);
            out->ambiguous = maybe_applied;
            if (why == ES_ENOMEM)
                return es_error_set(err, ES_ENOMEM,
                                    "cannot sign the Cosmos DB request: out of memory");
            return es_error_set(err, ES_EAUTH, "cannot authorize the Cosmos DB request");
        }
        cosmos_response_release(out);
        char *session = NULL;
        bool built = false;
        enum es_status local = in_container && is_read(req)
                                   ? cosmos_sessions_get(c->sessions, container, &session)
                                   : ES_OK;
        CURLcode rc = local == ES_OK
                          ? try_once(c, req, auth, date, session, out, &built, &local)
                          : CURLE_OUT_OF_MEMORY;
        free(session);
        cosmos_token_wipe(auth);
        if (in_container && out->session_token != NULL &&
            cosmos_sessions_merge(c->sessions, container, out->session_token,
                                  strlen(out->session_token)) != ES_OK)
            es_log_debug("cosmos %s %s: session token '%.80s' not kept", req->method,
                         req->resource_link, out->session_token);
        if (io != NULL) {
            io->round_trips++;
            io->request_charge += out->request_charge;
        }
        if (local != ES_OK) {
            /* Our own limits: more tries would meet them again. A reply not taken whole
             * is no reply: a write may have been applied all the same. */
            cosmos_token_wipe(token);
            out->status = 0;
            out->ambiguous = maybe_applied || (built && !req->idempotent);
            if (!built)
                return es_error_set(err, ES_ENOMEM,
                                    "Cosmos DB %s %s: cannot build the request",
                                    req->method, req->resource_link);
            if (local == ES_ETOOBIG)
                return es_error_set(err, ES_ETOOBIG,
                                    "Cosmos DB %s %s: the response is larger than %zu "
                                    "bytes",
                                    req->method, req->resource_link,
                                    c->opts.max_response_bytes);
            return es_error_set(err, local,
                                "Cosmos DB %s %s: out of memory reading the "
                                "response",
                                req->method, req->resource_link);
        }
        bool sent = rc == CURLE_OK || !never_sent(rc);
        if ((rc != CURLE_OK && sent) || out->status == 408 || out->status == 503)
            maybe_applied = maybe_applied || !req->idempotent;
        if (token != NULL && !refreshed && out->status == 401) {
            /* An expired or revoked token: fetch a new one, once. */
            refreshed = true;
            rejected = token;
            continue;
        }
        cosmos_token_wipe(token);
        long elapsed = (long)(es_time_mono_ms() - started);
        long delay = cosmos_retry_delay(
            out->status, out->substatus, sent, req->idempotent, out->retry_after_ms,
            attempt, c->opts.max_retries, elapsed, c->opts.retry_budget_ms);
        if (delay < 0 && out->status == 404 &&
            out->substatus == COSMOS_READ_SESSION_NOT_AVAILABLE)
            return es_error_set(err, ES_EUNAVAILABLE,
                                "Cosmos DB %s %s: no replica reached this session's "
                                "writes within %d ms",
                                req->method, req->resource_link,
                                COSMOS_SESSION_RETRY_WINDOW_MS);
        if (delay < 0) {
            if (rc != CURLE_OK) {
                out->ambiguous = maybe_applied;
                return es_error_set(err, ES_EUNAVAILABLE, "Cosmos DB %s %s failed: %s",
                                    req->method, req->resource_link,
                                    c->curl->easy_strerror(rc));
            }
            out->ambiguous = maybe_applied && (out->status == 408 || out->status == 503);
            if (out->status >= 400)
                cosmos_parse_error(out);
            return ES_OK;
        }
        if (io != NULL)
            io->retries++;
        es_log_debug("cosmos %s %s: %s %ld, retry %d in %ld ms", req->method,
                     req->resource_link,
                     rc != CURLE_OK ? c->curl->easy_strerror(rc) : "status", out->status,
                     attempt + 1, delay);
        /* Server-given delays are honoured exactly; our own backoff is jittered. */
        if (out->retry_after_ms <= 0)
            delay = delay / 2 + (long)es_random_below((uint64_t)delay / 2 + 1);
        es_time_sleep_ms(delay);
    }
}

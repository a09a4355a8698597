/*
 * client.h - a Cosmos DB (NoSQL API) REST client over libcurl.
 *
 * One request at a time per call, from any thread: curl handles come from a
 * pool, so connections are reused (keep-alive) across requests and threads.
 * Every try is signed afresh (master key, or an Entra token from the
 * managed-identity endpoint, token.h, refreshed ahead of its expiry and once
 * more when Cosmos answers 401). Headers and URLs are as long as their values
 * need (a token runs to several KB); one that cannot be built fails the
 * request before anything is sent. Throttling and transient failures are retried inside
 * the client within a count and a time budget:
 *   429, 449        always retried (nothing was executed), after
 *                   x-ms-retry-after-ms or a jittered backoff
 *   408, 503        retried when the request is idempotent; for a write the
 *                   response is returned marked ambiguous, because it may
 *                   have been applied - the caller resolves it by reading back
 *   404/1002        retried: the replica has not reached this process's
 *                   session yet (5 ms backoff doubling to 50 ms, within 5 s,
 *                   as the Java SDK's SessionTokenMismatchRetryPolicy); then
 *                   ES_EUNAVAILABLE
 *   no connection   retried (nothing was sent)
 *   lost reply      (timeout, reset or empty reply after sending) as 408/503
 * Session tokens (session.h) are taken from every reply on a container's
 * documents and sent on every read there (point reads, queries, read feeds),
 * so this process reads its own writes; batches go to the partition's
 * primary and need none.
 * Responses are capped in size; every request's charge, duration and retries
 * are added to the caller's struct es_io.
 */
#ifndef ES_COSMOS_CLIENT_H
#define ES_COSMOS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/io.h"
#include "util/status.h"

struct cosmos_client;

struct cosmos_opts {
    const char *endpoint;             /* "https://acct.documents.azure.com:443/" */
    const char *key;                  /* base64 master key; NULL: managed identity */
    const char *identity_endpoint;    /* IDENTITY_ENDPOINT (managed identity) */
    const char *identity_header;      /* IDENTITY_HEADER */
    const char *identity_client_id;   /* user-assigned identity, or NULL */
    const char *identity_resource_id; /* ... or its resource id, or NULL */
    long connect_timeout_ms;
    long request_timeout_ms; /* one try */
    long retry_budget_ms;    /* all tries of one request */
    int max_retries;
    size_t max_response_bytes;
    bool tls_verify;
};

/* Fills opts with the defaults (5 s connect, 15 s per try, 30 s budget, 9 retries, 32
 * MiB). */
void cosmos_opts_defaults(struct cosmos_opts *opts);

/* A client for opts (strings are copied). NULL with err filled on bad options. */
struct cosmos_client *cosmos_client_new(const struct cosmos_opts *opts,
                                        struct es_error *err);

void cosmos_client_free(struct cosmos_client *c);

struct cosmos_request {
    const char *method;        /* "GET", "POST", "PUT", "DELETE" */
    const char *resource_type; /* "dbs", "colls", "docs", "pkranges" or "" */
    const char
        *resource_link; /* raw ids: "dbs/db/colls/c/docs/id" ("" for the account) */
    bool feed;          /* the request targets resource_type under the link
                           (create, query, batch, change feed): the URL adds
                           "/<resource_type>" */
    const char *partition_key; /* the document's partition-key value, or NULL */
    const char *content_type;  /* NULL: application/json when there is a body */
    const char *body;
    size_t body_len;
    const char *if_match; /* etag, quotes included, or NULL */
    const char *if_none_match;
    const char *continuation;           /* x-ms-continuation to echo, or NULL */
    int max_item_count;                 /* 0: not sent */
    bool query;                         /* x-ms-documentdb-isquery */
    bool cross_partition;               /* x-ms-documentdb-query-enablecrosspartition */
    bool batch;                         /* an atomic transactional batch */
    bool upsert;                        /* x-ms-documentdb-is-upsert */
    bool change_feed;                   /* A-IM: Incremental feed */
    const char *partition_key_range_id; /* x-ms-documentdb-partitionkeyrangeid, or NULL */
    bool idempotent;                    /* safe to send again after an unknown outcome */
};

struct cosmos_response {
    long status;   /* HTTP status; 0 when no reply arrived */
    int substatus; /* x-ms-substatus */
    char *body;    /* NUL-terminated */
    size_t body_len;
    char *etag;          /* as sent, quotes included */
    char *session_token; /* x-ms-session-token, or NULL */
    char *continuation;  /* x-ms-continuation, or NULL on the last page */
    char activity_id[64];
    double request_charge;
    long retry_after_ms;     /* of the last try */
    bool ambiguous;          /* a write that may have been applied without a reply */
    char error_code[64];     /* "code" of an error body */
    char error_message[256]; /* first line of its "message" */
};

/*
 * Sends a request with retries. ES_OK when a response arrived (any status:
 * look at out->status; a 429 here means the retry budget ran out).
 * ES_EUNAVAILABLE when no response could be had; out->ambiguous then says
 * whether the request may have been applied. ES_EAUTH when no token could be
 * obtained. ES_EIO, nothing sent, when an etag, continuation or range id holds
 * a control character. Release out with cosmos_response_release.
 */
enum es_status cosmos_execute(struct cosmos_client *c, const struct cosmos_request *req,
                              struct cosmos_response *out, struct es_io *io,
                              struct es_error *err) ES_MUST_CHECK;

void cosmos_response_release(struct cosmos_response *r);

/*
 * The retry decision for one try (pure, for tests): the delay in ms before the
 * next try, or -1 to stop. status 0 means no reply; sent says whether the
 * request may have reached the server.
 */
long cosmos_retry_delay(long status, int substatus, bool sent, bool idempotent,
                        long retry_after_ms, int attempt, int max_retries,
                        long elapsed_ms, long budget_ms);

/* Substatus of a 404 whose replica has not reached the session token sent. */
#define COSMOS_READ_SESSION_NOT_AVAILABLE 1002
#define COSMOS_SESSION_RETRY_WINDOW_MS    5000

/* Parses {"code", "message"} of an error body into the response's error fields. */
void cosmos_parse_error(struct cosmos_response *r);

#endif

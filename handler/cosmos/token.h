/*
 * token.h - Entra access tokens for Cosmos DB from the managed-identity
 * endpoint of App Service and Azure Functions, kept and refreshed the way the
 * official SDKs keep theirs (docs/cosmos.md, "Managed identity", has the
 * sources).
 *
 * The endpoint is IDENTITY_ENDPOINT with the secret IDENTITY_HEADER, sent in
 * X-IDENTITY-HEADER, api-version 2019-08-01; the older names MSI_ENDPOINT and
 * MSI_SECRET point at the same endpoint and are accepted in their place. The
 * token's audience is the account's origin (https://<account>.documents.azure.com).
 *
 * Lifetime of a cached token (obtained at t0, expiring at t1, lifetime L):
 *   usable      until t1 - min(30 s, L/10), so no request leaves with a token
 *               that dies on the way
 *   refresh at  t0 + L/2 when L >= 2 h (as MSAL's refresh_in), else
 *               t1 - min(5 min, L/2) (azure-core's refresh offset)
 * From the refresh time on, one caller fetches a new token while the others
 * keep using the current one; a failed refresh keeps the current token and is
 * tried again after a pause of min(30 s, L/8) (at least 1 s). Only when no
 * usable token is left do callers wait, for a single fetch. Each fetch retries
 * the endpoint on transient failures (no answer, 404, 408, 429, 5xx) with a
 * short backoff; any other answer (400: unknown identity, 401, 403) is final.
 * Tokens are opaque: no size is assumed (real ones are 1.5-4 KB).
 */
#ifndef ES_COSMOS_TOKEN_H
#define ES_COSMOS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

struct cosmos_tokens;

struct cosmos_token_opts {
    const char *endpoint;    /* IDENTITY_ENDPOINT (or MSI_ENDPOINT) */
    const char *secret;      /* IDENTITY_HEADER (or MSI_SECRET) */
    const char *client_id;   /* a user-assigned identity's client id, or NULL */
    const char *resource_id; /* ... or its Azure resource id (mi_res_id), or NULL */
    const char *resource;    /* the audience: "https://acct.documents.azure.com" */
    long timeout_ms;         /* one request to the endpoint */
    int max_retries;         /* retries of transient failures per fetch */
};

/* A token source for opts (strings are copied). NULL with err filled when opts are bad.
 */
struct cosmos_tokens *cosmos_tokens_new(const struct cosmos_token_opts *opts,
                                        struct es_error *err);

/* Frees the source and wipes the token it holds. NULL is a no-op. */
void cosmos_tokens_free(struct cosmos_tokens *t);

/*
 * A usable token in *token_out (malloc'd; release it with cosmos_token_wipe), fetched or
 * refreshed as the policy above says. rejected is the token Cosmos DB just refused
 * (401), or NULL: when it is still the cached one, a new one is fetched at once.
 * ES_EAUTH when no usable token can be had (err says why); ES_ENOMEM.
 */
enum es_status cosmos_tokens_get(struct cosmos_tokens *t, const char *rejected,
                                 char **token_out, struct es_error *err) ES_MUST_CHECK;

/* Counters for tests and logs: fetches tried, fetches that failed. */
void cosmos_tokens_stats(struct cosmos_tokens *t, unsigned *fetches, unsigned *failures);

/* Zeroes and frees a token string. NULL is a no-op. */
void cosmos_token_wipe(char *token);

/* When a token obtained at obtained_s and expiring at expires_s is due for refresh. */
int64_t cosmos_token_refresh_at(int64_t obtained_s, int64_t expires_s);

/* Until when such a token may be sent. */
int64_t cosmos_token_usable_until(int64_t obtained_s, int64_t expires_s);

/*
 * Reads the endpoint's JSON answer: access_token, and expires_on (epoch seconds as a
 * number or a string, or the 2017-09-01 date form "06/20/2019 02:57:58 +00:00", also
 * with AM/PM) or else expires_in (seconds from now_s). On success *token_out is
 * malloc'd. ES_EAUTH with err filled when the answer is not a token.
 */
enum es_status cosmos_token_parse(const char *body, size_t len, int64_t now_s,
                                  char **token_out, int64_t *expires_s,
                                  struct es_error *err) ES_MUST_CHECK;

#endif

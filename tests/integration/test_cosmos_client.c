/* The Cosmos client on its own, against the rig: limits and failure modes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmos/client.h"
#include "util/timeutil.h"
#include "../support/cosmosrig.h"

COSMOSRIG_START_BEFORE_ALL_TESTS
COSMOSRIG_STOP_AFTER_ALL_TESTS

static struct cosmos_client *client(size_t max_response, const char *key)
{
    cr_assert_not_null(cosmosrig_endpoint(), "the Cosmos rig is not running");
    struct cosmos_opts o;
    cosmos_opts_defaults(&o);
    o.endpoint = cosmosrig_endpoint();
    o.key = key;
    o.max_response_bytes = max_response;
    struct es_error err = {0};
    struct cosmos_client *c = cosmos_client_new(&o, &err);
    cr_assert_not_null(c, "%s", err.message);
    return c;
}

Test(cosmos_client, a_response_over_the_cap_fails_at_once)
{
    char db[64];
    snprintf(db, sizeof(db), "cap-%d", (int)getpid());
    cr_assert_eq(cosmosrig_init_db(db), 0);
    struct cosmos_client *c = client(64 * 1024, COSMOSRIG_KEY);
    /* A 100 KB document... */
    size_t n = 100 * 1024;
    char *body = malloc(n + 100);
    int len = snprintf(body, n + 100,
                       "{\"id\":\"big\",\"id2\":\"x\",\"streamId\":\"s\",\"pad\":\"");
    memset(body + len, 'a', n);
    memcpy(body + len + n, "\"}", 3);
    char link[128], doc_link[160];
    snprintf(link, sizeof(link), "dbs/%s/colls/events", db);
    struct cosmos_request create = {.method = "POST",
                                    .resource_type = "docs",
                                    .resource_link = link,
                                    .feed = true,
                                    .partition_key = "s",
                                    .body = body,
                                    .body_len = strlen(body),
                                    .idempotent = true,
                                    .upsert = true};
    struct cosmos_response r;
    cr_assert_eq(cosmos_execute(c, &create, &r, NULL, NULL), ES_ETOOBIG,
                 "the echoed document alone passes the cap");
    cosmos_response_release(&r);
    /* ...read back through a client with a 64 KiB cap. */
    snprintf(doc_link, sizeof(doc_link), "%s/docs/big", link);
    struct cosmos_request read = {.method = "GET",
                                  .resource_type = "docs",
                                  .resource_link = doc_link,
                                  .partition_key = "s",
                                  .idempotent = true};
    struct es_io io = {0};
    struct es_error err = {0};
    int64_t t0 = es_time_mono_ms();
    cr_expect_eq(cosmos_execute(c, &read, &r, &io, &err), ES_ETOOBIG);
    cr_expect_eq(io.round_trips, 1, "not retried");
    cr_expect_lt(es_time_mono_ms() - t0, 1000);
    cr_expect(strstr(err.message, "larger than") != NULL, "%s", err.message);
    cosmos_response_release(&r);
    free(body);
    cosmos_client_free(c);
}

Test(cosmos_client, an_unreachable_endpoint_is_unavailable_within_the_budget)
{
    struct cosmos_opts o;
    cosmos_opts_defaults(&o);
    o.endpoint = "http://127.0.0.1:1/";
    o.key = COSMOSRIG_KEY;
    o.retry_budget_ms = 500;
    struct cosmos_client *c = cosmos_client_new(&o, NULL);
    struct cosmos_request req = {.method = "GET",
                                 .resource_type = "dbs",
                                 .resource_link = "dbs/x",
                                 .idempotent = false};
    struct cosmos_response r;
    struct es_io io = {0};
    struct es_error err = {0};
    int64_t t0 = es_time_mono_ms();
    cr_expect_eq(cosmos_execute(c, &req, &r, &io, &err), ES_EUNAVAILABLE);
    cr_expect_not(r.ambiguous, "a refused connection sent nothing");
    cr_expect_gt(io.round_trips, 1, "connection failures are retried");
    cr_expect_lt(es_time_mono_ms() - t0, 3000);
    cosmos_response_release(&r);
    cosmos_client_free(c);
}

Test(cosmos_client, bad_options_are_refused_with_a_reason)
{
    struct cosmos_opts o;
    cosmos_opts_defaults(&o);
    o.endpoint = "acct.documents.azure.com";
    o.key = COSMOSRIG_KEY;
    struct es_error err = {0};
    cr_expect_null(cosmos_client_new(&o, &err));
    cr_expect(strstr(err.message, "endpoint") != NULL, "%s", err.message);
    o.endpoint = "https://acct.documents.azure.com:443/";
    o.key = "not*base64";
    es_error_clear(&err);
    cr_expect_null(cosmos_client_new(&o, &err));
    cr_expect(strstr(err.message, "not base64") != NULL);
    cr_expect(strstr(err.message, "not*base64") == NULL, "the key is not echoed");
    o.key = NULL;
    es_error_clear(&err);
    cr_expect_null(cosmos_client_new(&o, &err));
    cr_expect(strstr(err.message, "IDENTITY_ENDPOINT") != NULL, "%s", err.message);
}

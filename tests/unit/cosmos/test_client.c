/* The Cosmos client's pure parts: the retry policy, error bodies, batch replies. */
#include <criterion/criterion.h>
#include <string.h>

#include "cosmos/client.h"
#include "store/store_cosmos.h"

Test(cosmos_retry, throttling_waits_as_the_server_asks)
{
    cr_expect_eq(cosmos_retry_delay(429, 0, true, false, 250, 0, 9, 0, 30000), 250);
    cr_expect_eq(cosmos_retry_delay(449, 0, true, false, 0, 0, 9, 0, 30000), 100,
                 "no retry-after: our own backoff");
    cr_expect_eq(cosmos_retry_delay(429, 0, true, false, 10, 9, 9, 0, 30000), -1,
                 "after the last retry");
    cr_expect_eq(cosmos_retry_delay(429, 0, true, false, 5000, 1, 9, 26000, 30000), -1,
                 "the wait would pass the budget");
}

Test(cosmos_retry, unknown_outcomes_are_retried_only_when_idempotent)
{
    cr_expect_gt(cosmos_retry_delay(503, 0, true, true, 0, 0, 9, 0, 30000), 0);
    cr_expect_eq(cosmos_retry_delay(503, 0, true, false, 0, 0, 9, 0, 30000), -1);
    cr_expect_eq(cosmos_retry_delay(408, 0, true, false, 0, 0, 9, 0, 30000), -1);
    cr_expect_gt(cosmos_retry_delay(0, 0, false, false, 0, 0, 9, 0, 30000), 0,
                 "never sent: safe to send again");
    cr_expect_eq(cosmos_retry_delay(0, 0, true, false, 0, 0, 9, 0, 30000), -1,
                 "sent and no reply: the caller reads back");
    cr_expect_gt(cosmos_retry_delay(0, 0, true, true, 0, 3, 9, 0, 30000), 0);
}

Test(cosmos_retry, final_answers_are_not_retried)
{
    long finals[] = {200, 201, 204, 207, 304, 400, 401, 403, 404, 409, 412, 413, 500};
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++)
        cr_expect_eq(cosmos_retry_delay(finals[i], 0, true, true, 0, 0, 9, 0, 30000), -1,
                     "%ld", finals[i]);
}

Test(cosmos_retry, backoff_grows_and_is_capped)
{
    long prev = 0;
    for (int a = 0; a < 9; a++) {
        long d = cosmos_retry_delay(0, 0, false, false, 0, a, 100, 0, 1000000);
        cr_expect_geq(d, prev);
        cr_expect_leq(d, 3200);
        prev = d;
    }
}

/* 404/1002: the replica is behind this session; Java's SessionTokenMismatchRetryPolicy.
 */
Test(cosmos_retry, a_read_session_not_available_is_retried_quickly_for_5_s)
{
    long d0 = cosmos_retry_delay(404, 1002, true, true, 0, 0, 9, 0, 30000);
    long d1 = cosmos_retry_delay(404, 1002, true, true, 0, 1, 9, 5, 30000);
    cr_expect_eq(d0, 5);
    cr_expect_eq(d1, 10);
    cr_expect_eq(cosmos_retry_delay(404, 1002, true, true, 0, 20, 9, 1000, 30000), 50,
                 "past max_retries, capped at 50 ms");
    cr_expect_eq(cosmos_retry_delay(404, 1002, true, true, 0, 30, 9, 4990, 30000), -1,
                 "the 5 s window is over");
    cr_expect_eq(cosmos_retry_delay(404, 0, true, true, 0, 0, 9, 0, 30000), -1,
                 "a plain 404 is an answer");
}

Test(cosmos_errors, error_bodies_give_code_and_first_message_line)
{
    char body[] =
        "{\"code\":\"Conflict\",\"message\":\"Entity with the specified id already "
        "exists in the system.\\r\\nActivityId: 7f2c\"}";
    struct cosmos_response r = {.status = 409, .body = body, .body_len = strlen(body)};
    cosmos_parse_error(&r);
    cr_expect_str_eq(r.error_code, "Conflict");
    cr_expect_str_eq(r.error_message,
                     "Entity with the specified id already exists in the system.");
    char junk[] = "<html>";
    struct cosmos_response j = {.status = 502, .body = junk, .body_len = 6};
    cosmos_parse_error(&j);
    cr_expect_str_eq(j.error_code, "");
}

static const struct cosmos_batch_layout layout = {
    .receipt_index = 0, .read_index = 1, .first_event = 2, .n_events = 3};

static enum es_status outcome(long status, const char *body, enum es_conflict *c,
                              int *idx, int *op)
{
    return cosmos_batch_outcome(status, body, strlen(body), &layout, c, idx, op);
}

Test(cosmos_batch, a_successful_batch)
{
    enum es_conflict c;
    int idx, op;
    cr_expect_eq(
        outcome(200, "[{\"statusCode\":201},{\"statusCode\":200}]", &c, &idx, &op),
        ES_OK);
    cr_expect_eq(c, ES_CONFLICT_NONE);
}

Test(cosmos_batch, a_207_names_the_failing_operation)
{
    enum es_conflict c;
    int idx, op;
    cr_expect_eq(
        outcome(207,
                "[{\"statusCode\":409},{\"statusCode\":424},{\"statusCode\":424},"
                "{\"statusCode\":424},{\"statusCode\":424}]",
                &c, &idx, &op),
        ES_ECONFLICT);
    cr_expect_eq(c, ES_CONFLICT_RECEIPT, "the receipt exists: a repeated command");
    cr_expect_eq(idx, 0);
    cr_expect_eq(
        outcome(207,
                "[{\"statusCode\":424},{\"statusCode\":404},{\"statusCode\":424},"
                "{\"statusCode\":424},{\"statusCode\":424}]",
                &c, &idx, &op),
        ES_ECONFLICT);
    cr_expect_eq(c, ES_CONFLICT_VERSION, "the previous version is missing");
    cr_expect_eq(
        outcome(207,
                "[{\"statusCode\":424},{\"statusCode\":424},{\"statusCode\":424},"
                "{\"statusCode\":409,\"requestCharge\":1.2},{\"statusCode\":424}]",
                &c, &idx, &op),
        ES_ECONFLICT);
    cr_expect_eq(c, ES_CONFLICT_VERSION, "a version is taken");
    cr_expect_eq(idx, 3);
    cr_expect_eq(
        outcome(207, "[{\"statusCode\":424},{\"statusCode\":424},{\"statusCode\":413}]",
                &c, &idx, &op),
        ES_ETOOBIG);
    cr_expect_eq(
        outcome(207, "[{\"statusCode\":424},{\"statusCode\":400}]", &c, &idx, &op),
        ES_EIO);
    cr_expect_eq(op, 400);
    cr_expect_eq(outcome(207, "not json", &c, &idx, &op), ES_EIO);
}

Test(cosmos_batch, whole_request_failures)
{
    enum es_conflict c;
    int idx, op;
    cr_expect_eq(outcome(413, "{}", &c, &idx, &op), ES_ETOOBIG);
    cr_expect_eq(outcome(400, "{\"code\":\"BadRequest\"}", &c, &idx, &op), ES_EIO);
    cr_expect_eq(op, 400);
}

/*
 * An etag or continuation comes from a reply or a stored document: one with a
 * CR LF in it would add a header of its own to the next request. It is refused
 * before anything is sent (the endpoint here takes no connections: a request
 * that went out would fail as unavailable instead).
 */
Test(cosmos_client, a_header_value_with_a_control_character_is_never_sent)
{
    struct cosmos_opts o;
    cosmos_opts_defaults(&o);
    o.endpoint = "http://127.0.0.1:1/";
    o.key =
        "C2y6yDjf5/"
        "R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
    o.max_retries = 0;
    struct cosmos_client *c = cosmos_client_new(&o, NULL);
    cr_assert_not_null(c);
    const char *bad[] = {"\"1\"\r\nx-ms-documentdb-isquery: True", "\"1\"\n", "a\tb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cosmos_request req = {.method = "PUT",
                                     .resource_type = "docs",
                                     .resource_link = "dbs/d/colls/views/docs/v",
                                     .partition_key = "v",
                                     .body = "{}",
                                     .body_len = 2,
                                     .if_match = bad[i]};
        struct cosmos_response r;
        struct es_error err = {0};
        cr_expect_eq(cosmos_execute(c, &req, &r, NULL, &err), ES_EIO, "%zu", i);
        cr_expect(strstr(err.message, "If-Match") != NULL, "%s", err.message);
        cosmos_response_release(&r);
        struct cosmos_request feed = {.method = "GET",
                                      .resource_type = "docs",
                                      .resource_link = "dbs/d/colls/events",
                                      .feed = true,
                                      .change_feed = true,
                                      .if_none_match = bad[i]};
        cr_expect_eq(cosmos_execute(c, &feed, &r, NULL, &err), ES_EIO, "%zu", i);
        cosmos_response_release(&r);
    }
    struct cosmos_request fine = {.method = "GET",
                                  .resource_type = "docs",
                                  .resource_link = "dbs/d/colls/views/docs/v",
                                  .partition_key = "v",
                                  .if_match = "\"00000000-0000-0000-0000-000000000000\""};
    struct cosmos_response r;
    cr_expect_eq(cosmos_execute(c, &fine, &r, NULL, NULL), ES_EUNAVAILABLE,
                 "a clean value is sent (and meets the closed port)");
    cosmos_response_release(&r);
    cosmos_client_free(c);
}

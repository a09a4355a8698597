#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "invoke/fn.h"

static void nop_http(struct fn_ctx *ctx, const struct fn_http_request *req,
                     struct fn_http_response *res)
{
    (void)ctx;
    (void)req;
    (void)res;
}

Test(fn, functions_are_found_by_name_ignoring_case)
{
    static const struct fn_def a = {"AddItem", FN_HTTP, "req", "res", nop_http, NULL};
    static const struct fn_def b = {"Health", FN_HTTP, "req", "res", nop_http, NULL};
    static const struct fn_def *const defs[] = {&a, &b};
    const struct fn_table t = {defs, 2};
    cr_expect_eq(fn_table_find(&t, "AddItem"), &a);
    cr_expect_eq(fn_table_find(&t, "additem"), &a);
    cr_expect_eq(fn_table_find(&t, "HEALTH"), &b);
    cr_expect_null(fn_table_find(&t, "AddItems"));
    cr_expect_null(fn_table_find(&t, ""));
}

Test(fn, headers_match_ignoring_case_and_give_the_first_value)
{
    json_t *headers = json_pack("{s:[s,s], s:[], s:s}", "Idempotency-Key", "k1", "k2",
                                "If-Match", "Content-Type", "application/json");
    struct fn_http_request req = {.headers = headers};
    cr_expect_str_eq(fn_header(&req, "idempotency-key"), "k1");
    cr_expect_null(fn_header(&req, "If-Match"), "an empty list is no value");
    cr_expect_str_eq(fn_header(&req, "content-type"), "application/json",
                     "a bare string");
    cr_expect_null(fn_header(&req, "X-Absent"));
    struct fn_http_request bare = {0};
    cr_expect_null(fn_header(&bare, "Idempotency-Key"));
    json_decref(headers);
}

Test(fn, query_and_route_parameters_match_exactly)
{
    json_t *query = json_pack("{s:s}", "limit", "10");
    json_t *params = json_pack("{s:s}", "id", "groceries");
    struct fn_http_request req = {.query = query, .params = params};
    cr_expect_str_eq(fn_query(&req, "limit"), "10");
    cr_expect_null(fn_query(&req, "Limit"));
    cr_expect_str_eq(fn_param(&req, "id"), "groceries");
    cr_expect_null(fn_param(&req, "itemId"));
    json_decref(params);
    json_decref(query);
}

/* The fast envelope reader leaves Identities and Metadata as text until asked. */
Test(fn, identities_and_metadata_are_parsed_when_asked_for)
{
    const char *ids = "[{\"AuthenticationType\":\"aad\"}]";
    struct fn_http_request req = {.identities_text = ids, .identities_len = strlen(ids)};
    json_t *got = fn_identities(&req);
    cr_expect(json_is_array(got));
    cr_expect_str_eq(
        json_string_value(json_object_get(json_array_get(got, 0), "AuthenticationType")),
        "aad");
    json_decref(got);
    struct fn_http_request none = {0};
    cr_expect_null(fn_identities(&none));

    const char *meta = "{\"sys\":{\"MethodName\":\"Projector\"}}";
    struct fn_ctx ctx = {.metadata_text = meta, .metadata_len = strlen(meta)};
    json_t *m = fn_metadata(&ctx);
    cr_expect(json_is_object(json_object_get(m, "sys")));
    json_decref(m);
    struct fn_ctx empty = {0};
    m = fn_metadata(&empty);
    cr_expect(json_is_object(m) && json_object_size(m) == 0, "an empty object");
    json_decref(m);
}

Test(fn, a_json_reply_sets_its_content_type_and_owns_its_text)
{
    struct fn_http_response res = {0};
    fn_reply_json(&res, 201, json_pack("{s:i}", "version", 1));
    cr_expect_eq(res.status, 201);
    cr_expect_str_eq(res.body, "{\"version\":1}");
    cr_expect_eq(res.body_len, strlen(res.body));
    cr_expect_str_eq(json_string_value(json_object_get(res.headers, "Content-Type")),
                     "application/json");
    /* A second reply replaces the first without leaking it. */
    fn_reply_json(&res, 200, json_pack("{s:b}", "ok", 1));
    cr_expect_str_eq(res.body, "{\"ok\":true}");
    fn_http_response_release(&res);
    cr_expect_null(res.body);
    cr_expect_null(res.headers);
    fn_reply_json(&res, 200, NULL);
    cr_expect_eq(res.status, 503, "no body to send (out of memory): a bare 503");
    fn_http_response_release(&res);
}

Test(fn, errors_take_status_and_name_from_the_table)
{
    struct fn_http_response res = {0};
    fn_reply_error(&res, ES_EUNAVAILABLE, "the %s is down", "store");
    cr_expect_eq(res.status, 503);
    json_t *body = json_loadb(res.body, res.body_len, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(body, "error")),
                     "store_unavailable");
    cr_expect_str_eq(json_string_value(json_object_get(body, "message")),
                     "the store is down");
    cr_expect_str_eq(json_string_value(json_object_get(res.headers, "Retry-After")), "1");
    json_decref(body);
    fn_http_response_release(&res);
    fn_reply_error(&res, ES_ETASK_EXISTS, "x");
    cr_expect_eq(res.status, 409);
    cr_expect_null(json_object_get(res.headers, "Retry-After"));
    fn_http_response_release(&res);
}

Test(fn, an_error_may_carry_more_fields_but_not_other_codes)
{
    struct fn_http_response res = {0};
    fn_reply_error_fields(&res, ES_EVIEW_BEHIND,
                          json_pack("{s:i, s:s}", "version", 6, "error", "forged"),
                          "behind by %d", 1);
    cr_expect_eq(res.status, 503);
    json_t *body = json_loadb(res.body, res.body_len, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(body, "error")), "view_behind");
    cr_expect_str_eq(json_string_value(json_object_get(body, "message")), "behind by 1");
    cr_expect_eq(json_integer_value(json_object_get(body, "version")), 6);
    cr_expect_eq(json_object_size(body), 3);
    cr_expect_str_eq(json_string_value(json_object_get(res.headers, "Retry-After")), "1");
    json_decref(body);
    fn_http_response_release(&res);
    fn_reply_error_fields(&res, ES_EREDRIVE, NULL, "again");
    cr_expect_eq(res.status, 409);
    body = json_loadb(res.body, res.body_len, 0, NULL);
    cr_expect_eq(json_object_size(body), 2);
    json_decref(body);
    fn_http_response_release(&res);
}

Test(fn, a_long_message_is_cut_at_a_character_not_inside_one)
{
    /* Two-byte characters from byte 500 on: the 511-byte cut falls inside one. */
    char msg[700];
    memset(msg, 'a', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    for (size_t i = 500; i + 2 < sizeof(msg); i += 2)
        memcpy(msg + i, "\xc3\xa9", 2);
    struct fn_http_response res = {0};
    fn_reply_error(&res, ES_EFIELD, "%s", msg);
    json_t *body = json_loadb(res.body, res.body_len, 0, NULL);
    cr_assert_not_null(body, "still JSON, so still UTF-8: %s", res.body);
    const char *m = json_string_value(json_object_get(body, "message"));
    cr_expect_eq(strlen(m), 510, "the half character is dropped, the rest kept");
    json_decref(body);
    fn_http_response_release(&res);
}

Test(fn, logs_go_to_the_invocation_and_are_cut_not_overrun)
{
    struct fn_ctx ctx = {.logs = json_array()};
    fn_log(&ctx, "moved %s to %d", "milk", 2);
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fn_log(&ctx, "%s", big);
    cr_expect_str_eq(json_string_value(json_array_get(ctx.logs, 0)), "moved milk to 2");
    cr_expect_eq(strlen(json_string_value(json_array_get(ctx.logs, 1))), 1023);
    json_decref(ctx.logs);
    struct fn_ctx quiet = {0};
    fn_log(&quiet, "no log to write to is no failure");
}

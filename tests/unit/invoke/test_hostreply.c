#include <criterion/criterion.h>
#include <string.h>

#include "invoke/invoke.h"

static struct invoke_host_result parse(int status, const char *ct, const char *body,
                                       const char *binding)
{
    struct invoke_host_result r;
    cr_assert_eq(invoke_host_result_parse(status, ct, body, strlen(body), binding, &r),
                 ES_OK);
    return r;
}

Test(hostreply, a_valid_reply_yields_the_client_response)
{
    struct invoke_host_result r = parse(
        200, "application/json; charset=utf-8",
        "{\"Outputs\":{\"res\":{\"statusCode\":201,\"headers\":{\"Location\":\"/x\"},"
        "\"body\":\"{\\\"a\\\":1}\"}},\"Logs\":[\"l1\"],\"ReturnValue\":null}",
        "res");
    cr_expect(r.ok, "%s", r.failure);
    cr_expect_eq(r.http_status, 201);
    cr_expect_str_eq(json_string_value(json_object_get(r.http_headers, "Location")),
                     "/x");
    cr_expect_str_eq(r.http_body, "{\"a\":1}");
    cr_expect_eq(json_array_size(r.logs), 1);
    invoke_host_result_release(&r);
}

Test(hostreply, top_level_keys_match_in_any_case_outputs_keys_exactly)
{
    struct invoke_host_result r =
        parse(200, "application/json",
              "{\"outputs\":{\"Res\":{\"statusCode\":404}},\"logs\":[]}", "res");
    cr_expect(r.ok);
    cr_expect_eq(r.http_status, 200,
                 "a binding named Res is not res: the client gets 200 {}");
    cr_expect_str_eq(r.http_body, "{}");
    invoke_host_result_release(&r);
}

Test(hostreply, status_code_may_be_a_numeric_string_and_defaults_to_200)
{
    struct invoke_host_result r =
        parse(200, "application/json", "{\"Outputs\":{\"res\":{\"statusCode\":\"204\"}}}",
              "res");
    cr_expect_eq(r.http_status, 204);
    invoke_host_result_release(&r);
    r = parse(200, "application/json", "{\"Outputs\":{\"res\":{\"body\":\"x\"}}}", "res");
    cr_expect_eq(r.http_status, 200);
    cr_expect_str_eq(r.http_body, "x");
    invoke_host_result_release(&r);
    r = parse(200, "application/json",
              "{\"Outputs\":{\"res\":\"{\\\"statusCode\\\":301}\"}}", "res");
    cr_expect(r.ok);
    cr_expect_eq(r.http_status, 301, "res may be a string holding the object");
    invoke_host_result_release(&r);
}

Test(hostreply, failures_give_the_client_an_empty_500)
{
    struct {
        int status;
        const char *ct;
        const char *body;
    } cases[] = {
        {500, "application/json", "{\"Outputs\":{}}"},
        {200, NULL, "{\"Outputs\":{}}"},
        {200, "text/plain", "{\"Outputs\":{}}"},
        {200, "application/json", ""},
        {200, "application/json", "null"},
        {200, "application/json", "[1]"},
        {200, "application/json", "{\"Outputs\":{\"res\":\"SomeBlah\"}}"},
        {200, "application/json", "{\"Outputs\":{\"res\":{\"statusCode\":\"abc\"}}}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct invoke_host_result r =
            parse(cases[i].status, cases[i].ct, cases[i].body, "res");
        cr_expect_not(r.ok, "case %zu should fail", i);
        cr_expect_eq(r.http_status, 500, "case %zu", i);
        cr_expect_eq(r.http_body_len, 0, "case %zu", i);
        invoke_host_result_release(&r);
    }
}

Test(hostreply, text_json_is_accepted_and_null_outputs_mean_an_empty_200)
{
    struct invoke_host_result r = parse(200, "text/json", "{\"Outputs\":null}", "res");
    cr_expect(r.ok);
    cr_expect_eq(r.http_status, 200);
    cr_expect_eq(r.http_body_len, 0);
    invoke_host_result_release(&r);
    r = parse(200, "application/json", "{}", NULL);
    cr_expect(r.ok, "{} is the minimal valid reply");
    cr_expect_not(r.has_http);
    invoke_host_result_release(&r);
}

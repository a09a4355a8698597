#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "invoke/invoke.h"
#include "util/jsonutil.h"

static json_t *last_payload;
static char last_id[64];

static void created(struct fn_ctx *ctx, const struct fn_http_request *req,
                    struct fn_http_response *res)
{
    snprintf(last_id, sizeof(last_id), "%s", ctx->invocation_id);
    fn_log(ctx, "made %s", fn_param(req, "id"));
    cr_assert_eq(fn_set_header(res, "Location", "/api/things/1"), ES_OK);
    fn_reply_json(res, 201, json_pack("{s:s}", "id", "1"));
}

static void rejects(struct fn_ctx *ctx, const struct fn_http_request *req,
                    struct fn_http_response *res)
{
    (void)ctx;
    (void)req;
    fn_reply_error(res, ES_ETASK_EXISTS, "task '%s' already exists", "milk");
}

/* A body that is not UTF-8 (a bare 0xFF byte). */
static void garbled(struct fn_ctx *ctx, const struct fn_http_request *req,
                    struct fn_http_response *res)
{
    (void)ctx;
    (void)req;
    res->status = 200;
    res->body = strdup("bad \xff byte");
    res->body_len = strlen(res->body);
}

static enum es_status projector(struct fn_ctx *ctx, json_t *payload)
{
    (void)ctx;
    json_decref(last_payload);
    last_payload = json_incref(payload);
    return ES_OK;
}

static enum es_status failing(struct fn_ctx *ctx, json_t *payload)
{
    (void)payload;
    fn_log(ctx, "views store answered 503");
    return ES_EUNAVAILABLE;
}

static const struct fn_def d_created = {"Create", FN_HTTP, "req", "res", created, NULL};
static const struct fn_def d_rejects = {"Reject",   FN_HTTP, "request",
                                        "response", rejects, NULL};
static const struct fn_def d_proj = {"Projector", FN_TRIGGER, "documents",
                                     NULL,        NULL,       projector};
static const struct fn_def d_fail = {"Failing", FN_TRIGGER, "documents",
                                     NULL,      NULL,       failing};
static const struct fn_def d_garbled = {"Garbled", FN_HTTP, "req", "res", garbled, NULL};
static const struct fn_def *const defs[] = {&d_created, &d_rejects, &d_proj, &d_fail,
                                            &d_garbled};
static const struct fn_table table = {defs, 5};
static struct es_config cfg;
static const struct fn_services svc = {.cfg = &cfg, .version = "test"};
static const struct invoke_app app = {.fns = &table, .svc = &svc};

static json_t *run(const char *fn, const char *envelope, int want_status)
{
    struct invoke_reply r;
    invoke_dispatch(&app, fn, "inv-1", envelope, strlen(envelope), &r);
    cr_expect_eq(r.host_status, want_status, "%s: host status %d, body %s", fn,
                 r.host_status, r.body);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    cr_assert(json_is_object(j), "reply is a JSON object: %s", r.body);
    invoke_reply_release(&r);
    return j;
}

static const char http_env[] =
    "{\"Data\":{\"req\":{\"Url\":\"http://h/api/things/"
    "7\",\"Method\":\"POST\",\"Query\":{},"
    "\"Headers\":{},\"Params\":{\"id\":\"7\"},\"Body\":\"{}\"}},\"Metadata\":{}}";

Test(dispatch, a_response_body_that_is_not_utf8_is_a_host_error)
{
    json_t *j = run("Garbled", http_env, 500);
    cr_expect_str_eq(json_string_value(json_object_get(j, "error")), "internal_error");
    cr_expect(strstr(json_string_value(json_object_get(j, "message")), "UTF-8") != NULL);
    json_decref(j);
}

Test(dispatch, http_reply_carries_status_headers_body_and_logs)
{
    json_t *j = run("Create", http_env, 200);
    json_t *res = json_object_get(json_object_get(j, "Outputs"), "res");
    cr_expect_eq(json_integer_value(json_object_get(res, "statusCode")), 201);
    json_t *h = json_object_get(res, "headers");
    cr_expect_str_eq(json_string_value(json_object_get(h, "Location")), "/api/things/1");
    cr_expect_str_eq(json_string_value(json_object_get(h, "Content-Type")),
                     "application/json");
    cr_expect_str_eq(json_string_value(json_object_get(res, "body")), "{\"id\":\"1\"}");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(j, "Logs"), 0)),
                     "made 7");
    cr_expect(json_is_null(json_object_get(j, "ReturnValue")));
    cr_expect_str_eq(last_id, "inv-1");
    json_decref(j);
}

Test(dispatch, business_errors_travel_in_the_output_binding_as_a_200)
{
    const char env[] = "{\"Data\":{\"request\":{\"Url\":\"u\",\"Method\":\"POST\"}}}";
    json_t *j = run("Reject", env, 200);
    json_t *res = json_object_get(json_object_get(j, "Outputs"), "response");
    cr_expect_eq(json_integer_value(json_object_get(res, "statusCode")), 409);
    json_t *body = json_loads(json_string_value(json_object_get(res, "body")), 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(body, "error")), "task_exists");
    cr_expect_str_eq(json_string_value(json_object_get(body, "message")),
                     "task 'milk' already exists");
    json_decref(body);
    json_decref(j);
}

Test(dispatch, function_names_match_ignoring_case)
{
    json_decref(run("create", http_env, 200));
}

Test(dispatch, unknown_function_is_a_json_404)
{
    json_t *j = run("Nope", http_env, 404);
    cr_expect_str_eq(json_string_value(json_object_get(j, "error")), "not_found");
    json_decref(j);
}

Test(dispatch, unusable_envelopes_are_a_json_400_to_the_host)
{
    const char *bad[] = {"",
                         "{",
                         "[]",
                         "{\"Data\":3}",
                         "{\"Metadata\":{}}",
                         "{\"Data\":{\"req\":{\"Method\":\"GET\"}}}",
                         "{\"Data\":{\"other\":{}}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = run("Create", bad[i], 400);
        cr_expect_str_eq(json_string_value(json_object_get(j, "error")),
                         "invalid_envelope", "case %zu", i);
        cr_expect_not_null(json_string_value(json_object_get(j, "message")));
        json_decref(j);
    }
}

Test(dispatch, trigger_payload_is_unwrapped_whatever_the_encoding)
{
    const char *envs[] = {
        "{\"Data\":{\"documents\":[{\"id\":\"a\"}]},\"Metadata\":{}}",
        "{\"Data\":{\"documents\":\"[{\\\"id\\\":\\\"a\\\"}]\"},\"Metadata\":{}}",
        "{\"Data\":{\"documents\":\"\\\"[{\\\\\\\"id\\\\\\\":\\\\\\\"a\\\\\\\"}]\\\"\"},"
        "\"Metadata\":{\"sys\":{}}}",
    };
    for (size_t i = 0; i < 3; i++) {
        json_t *j = run("Projector", envs[i], 200);
        cr_expect(json_is_object(json_object_get(j, "Outputs")));
        cr_expect(json_is_array(json_object_get(j, "Logs")));
        cr_assert(json_is_array(last_payload), "case %zu: payload is an array", i);
        cr_expect_str_eq(
            json_string_value(json_object_get(json_array_get(last_payload, 0), "id")),
            "a");
        json_decref(j);
    }
    json_decref(last_payload);
    last_payload = NULL;
}

Test(dispatch, a_failing_trigger_asks_the_host_to_retry_with_a_500)
{
    json_t *j = run("Failing", "{\"Data\":{\"documents\":\"[]\"}}", 500);
    cr_expect_str_eq(json_string_value(json_object_get(j, "error")), "store_unavailable");
    json_decref(j);
}

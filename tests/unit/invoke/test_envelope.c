#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../../handler/invoke/invoke.h"
#include "../../support/fixtures.h"

static void check_ok(const char *name, const struct fn_http_request *req, json_t *exp)
{
    const char *k;
    json_t *v;
    json_object_foreach(exp, k, v)
    {
        if (strcmp(k, "method") == 0)
            cr_expect_str_eq(req->method, json_string_value(v), "%s: method", name);
        else if (strcmp(k, "url") == 0)
            cr_expect_str_eq(req->url, json_string_value(v), "%s: url", name);
        else if (strcmp(k, "body") == 0 && json_is_null(v))
            cr_expect_null(req->body, "%s: body should be absent", name);
        else if (strcmp(k, "body") == 0) {
            cr_assert_not_null(req->body, "%s: body missing", name);
            cr_expect_eq(req->body_len, json_string_length(v), "%s: body length", name);
            cr_expect_eq(memcmp(req->body, json_string_value(v), req->body_len), 0,
                         "%s: body", name);
        } else if (strcmp(k, "body_length") == 0)
            cr_expect_eq(req->body_len, (size_t)json_integer_value(v), "%s: body length",
                         name);
        else if (strcmp(k, "headers") == 0) {
            const char *hk;
            json_t *hv;
            json_object_foreach(v, hk, hv)
            {
                const char *got = fn_header(req, hk);
                cr_expect(got != NULL && strcmp(got, json_string_value(hv)) == 0,
                          "%s: header %s = %s", name, hk, got ? got : "(null)");
            }
        } else if (strcmp(k, "query") == 0 || strcmp(k, "params") == 0) {
            json_t *got = strcmp(k, "query") == 0 ? req->query : req->params;
            if (json_is_null(v))
                cr_expect_null(got, "%s: %s should be absent", name, k);
            else
                cr_expect(json_equal(got, v), "%s: %s differs", name, k);
        } else if (strcmp(k, "identities") == 0) {
            size_t n = req->identities ? json_array_size(req->identities) : 0;
            cr_expect_eq(n, (size_t)json_integer_value(v), "%s: identities", name);
        }
    }
}

Test(envelope, data_driven_cases)
{
    char *names[128];
    size_t n = fixture_cases(ES_DATA_DIR "/envelope", names, 128);
    cr_assert_gt(n, 20, "fixtures not found in " ES_DATA_DIR "/envelope");
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        size_t len = 0;
        snprintf(path, sizeof(path), ES_DATA_DIR "/envelope/%s/input.json", names[i]);
        char *input = fixture_read(path, &len);
        snprintf(path, sizeof(path), ES_DATA_DIR "/envelope/%s/expected.json", names[i]);
        json_t *exp = json_load_file(path, 0, NULL);
        cr_assert(input != NULL && exp != NULL, "%s: unreadable fixture", names[i]);
        const char *want = json_string_value(json_object_get(exp, "status"));

        struct invoke_envelope env;
        struct es_error err = {0};
        struct fn_http_request req;
        enum es_status st = invoke_envelope_parse(input, len, &env, &err);
        if (st == ES_OK) {
            cr_expect_not_null(env.metadata, "%s: metadata", names[i]);
            st = invoke_http_request_parse(&env, "req", &req, &err);
        }
        cr_expect_str_eq(es_status_name(st), want, "%s: got %s (%s)", names[i],
                         es_status_name(st), err.message);
        const char *msg = json_string_value(json_object_get(exp, "message"));
        if (msg != NULL)
            cr_expect(strstr(err.message, msg) != NULL, "%s: message '%s' lacks '%s'",
                      names[i], err.message, msg);
        if (st == ES_OK && strcmp(want, "ok") == 0)
            check_ok(names[i], &req, exp);
        if (env.root != NULL)
            invoke_envelope_release(&env);
        json_decref(exp);
        free(input);
        free(names[i]);
    }
}

Test(envelope, metadata_strings_are_decoded_once)
{
    json_t *meta = json_pack("{s:s, s:s, s:s, s:{s:s}, s:i}", "id", "\"42\"", "plain",
                             "abc", "quoted", "\"\\\"x\\\"\"", "obj", "a", "b", "num", 7);
    char *s = invoke_meta_string(meta, "id");
    cr_expect_str_eq(s, "42");
    free(s);
    s = invoke_meta_string(meta, "plain");
    cr_expect_str_eq(s, "abc");
    free(s);
    s = invoke_meta_string(meta, "quoted");
    cr_expect_str_eq(s, "\"x\"");
    free(s);
    s = invoke_meta_string(meta, "obj");
    cr_expect_str_eq(s, "{\"a\":\"b\"}");
    free(s);
    s = invoke_meta_string(meta, "num");
    cr_expect_str_eq(s, "7");
    free(s);
    cr_expect_null(invoke_meta_string(meta, "absent"));
    json_decref(meta);
}

Test(envelope, retry_context_is_read_from_metadata)
{
    struct fn_retry r;
    json_t *meta =
        json_pack("{s:{s:i, s:i, s:n, s:n, s:{}}}", "RetryContext", "RetryCount", 3,
                  "MaxRetryCount", 5, "Exception", "Instance", "State");
    invoke_retry_parse(meta, &r);
    cr_expect(r.present);
    cr_expect_eq(r.retry_count, 3);
    cr_expect_eq(r.max_retry_count, 5);
    json_decref(meta);

    meta = json_pack("{s:{s:s}}", "sys", "MethodName", "X");
    invoke_retry_parse(meta, &r);
    cr_expect_not(r.present);
    json_decref(meta);

    /* Some hosts put the counts in as strings; forever is -1. */
    meta = json_pack("{s:{s:s, s:s}}", "retrycontext", "retryCount", "0", "maxRetryCount",
                     "-1");
    invoke_retry_parse(meta, &r);
    cr_expect(r.present);
    cr_expect_eq(r.retry_count, 0);
    cr_expect_eq(r.max_retry_count, -1);
    json_decref(meta);
}

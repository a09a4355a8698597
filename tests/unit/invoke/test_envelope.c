#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "invoke/invoke.h"
#include "../../support/envelope_diff.h"
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
            json_t *ids = fn_identities(req);
            size_t n = ids ? json_array_size(ids) : 0;
            json_decref(ids);
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

/* The fast reader agrees with the tree reader on every fixture, and takes the plain ones.
 */
Test(envelope, fast_reader_agrees_on_the_fixtures)
{
    char *names[128];
    size_t n = fixture_cases(ES_DATA_DIR "/envelope", names, 128);
    cr_assert_gt(n, 20);
    const char *must_take[] = {"http-full", "http-empty-body-string", "http-no-body",
                               "http-lowercase-keys", "http-null-body"};
    size_t taken_count = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        size_t len = 0;
        snprintf(path, sizeof(path), ES_DATA_DIR "/envelope/%s/input.json", names[i]);
        char *input = fixture_read(path, &len);
        cr_assert_not_null(input);
        bool taken = false;
        const char *why = envelope_diff(input, len, &taken);
        cr_expect_null(why, "%s: %s", names[i], why);
        bool must = false;
        for (size_t j = 0; j < sizeof(must_take) / sizeof(must_take[0]); j++)
            must |= strcmp(names[i], must_take[j]) == 0;
        if (must)
            cr_expect(taken, "%s: the fast reader should take it", names[i]);
        taken_count += taken;
        free(input);
        free(names[i]);
    }
    cr_expect_geq(taken_count, 5);
}

/* Cases the fast reader declines (the tree reader then answers) or decodes. */
Test(envelope, fast_reader_declines_what_it_cannot_read_exactly)
{
    static const struct {
        const char *text;
        bool taken;
    } cases[] = {
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\"}},\"Metadata\":{}}", true},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\",\"Body\":\"caf\\u00e9 "
         "\\u20ac \\n\"}},"
         "\"Metadata\":{}}",
         true},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\",\"Headers\":{\"A\":\"b\","
         "\"C\":[\"d\",\"e\"],\"E\":[]},\"Query\":{},\"Params\":{\"id\":\"7\"}}},"
         "\"Metadata\":{}}",
         true},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\",\"Headers\":{\"X-A-Header-"
         "Name-"
         "Longer-Than-Sixty-Four-Characters-To-Take-The-Allocated-Key-Path\":\"v\"}}},"
         "\"Metadata\":{}}",
         true},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\",\"Body\":"
         "\"\\ud83d\\ude00\"}},"
         "\"Metadata\":{}}",
         false},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\",\"Identities\":[1e999]}},"
         "\"Metadata\":{}}",
         false},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\"}},\"data\":{},"
         "\"Metadata\":{}}",
         false},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"method\":\"PUT\",\"Url\":\"u\"}},"
         "\"Metadata\":{}}",
         false},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\"}},\"Metadata\":{"
         "\"RetryContext\":{\"RetryCount\":1}}}",
         false},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\"}},\"Metadata\":{}} x",
         false},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"\xc0\xaf\"}},\"Metadata\":{}}",
         false},
        {"{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"u\",\"Identities\":[01]}},"
         "\"Metadata\":{}}",
         false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool taken = false;
        const char *why = envelope_diff(cases[i].text, strlen(cases[i].text), &taken);
        cr_expect_null(why, "case %zu: %s", i, why);
        cr_expect_eq(taken, cases[i].taken, "case %zu: taken %d", i, taken);
    }
    struct invoke_fast f;
    cr_assert(invoke_http_fast(cases[1].text, strlen(cases[1].text), "req", &f));
    cr_expect_str_eq(f.req.body, "caf\xc3\xa9 \xe2\x82\xac \n");
    invoke_fast_release(&f);
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
    cr_assert_eq(invoke_retry_parse(meta, &r), ES_OK);
    cr_expect(r.present);
    cr_expect_eq(r.retry_count, 3);
    cr_expect_eq(r.max_retry_count, 5);
    json_decref(meta);

    meta = json_pack("{s:{s:s}}", "sys", "MethodName", "X");
    cr_assert_eq(invoke_retry_parse(meta, &r), ES_OK);
    cr_expect_not(r.present);
    json_decref(meta);

    /* Some hosts put the counts in as strings; forever is -1. */
    meta = json_pack("{s:{s:s, s:s}}", "retrycontext", "retryCount", "0", "maxRetryCount",
                     "-1");
    cr_assert_eq(invoke_retry_parse(meta, &r), ES_OK);
    cr_expect(r.present);
    cr_expect_eq(r.retry_count, 0);
    cr_expect_eq(r.max_retry_count, -1);
    json_decref(meta);
}

Test(envelope, retry_counts_are_clamped_so_adding_to_them_cannot_overflow)
{
    struct fn_retry r;
    json_t *meta =
        json_pack("{s:{s:I, s:I}}", "RetryContext", "RetryCount", (json_int_t)INT64_MAX,
                  "MaxRetryCount", (json_int_t)INT64_MIN);
    cr_assert_eq(invoke_retry_parse(meta, &r), ES_OK);
    cr_expect_eq(r.retry_count, FN_RETRY_COUNT_MAX);
    cr_expect_eq(r.max_retry_count, -1);
    json_decref(meta);
    meta = json_pack("{s:{s:s, s:i}}", "RetryContext", "RetryCount",
                     "99999999999999999999", "MaxRetryCount", -7);
    cr_assert_eq(invoke_retry_parse(meta, &r), ES_OK);
    cr_expect_eq(r.retry_count, FN_RETRY_COUNT_MAX);
    cr_expect_eq(r.max_retry_count, -1);
    json_decref(meta);
}

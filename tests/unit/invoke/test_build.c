#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "invoke/invoke.h"
#include "util/jsonutil.h"
#include "../../support/fixtures.h"

#define CAPTURES ES_SOURCE_DIR "/../shared/fixtures/host-captures"

/* Decodes standard base64 (the capture's octet-stream body) into out. */
static size_t unbase64(const char *in, unsigned char *out)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        const char *p = strchr(a, *in);
        if (p == NULL)
            continue;
        v = v << 6 | (unsigned)(p - a);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    return o;
}

/*
 * Rebuilds each captured HTTP invocation from the client's side of it (URL,
 * method, headers, route values, body) and compares our envelope with what
 * the real host sent.
 */
static void compare_capture(const char *file)
{
    char path[1024];
    snprintf(path, sizeof(path), CAPTURES "/%s", file);
    json_t *cap = json_load_file(path, 0, NULL);
    cr_assert_not_null(cap, "%s unreadable", file);
    json_t *creq = json_object_get(json_object_get(cap, "Data"), "httpPayload");
    json_t *cmeta = json_object_get(cap, "Metadata");

    struct invoke_header hdrs[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(creq, "Headers"), k, v)
    {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) hdrs[n++] =
            (struct invoke_header){k, json_string_value(item)};
    }
    const char *cbody = json_string_value(json_object_get(creq, "Body"));
    const char *ct = json_string_value(
        json_object_get(json_object_get(cmeta, "Headers"), "Content-Type"));
    unsigned char raw[4096];
    const char *body = cbody;
    size_t body_len = cbody ? strlen(cbody) : 0;
    if (cbody != NULL && ct != NULL && strcmp(ct, "application/octet-stream") == 0) {
        body_len = unbase64(cbody, raw);
        body = (const char *)raw;
    }
    struct invoke_http_spec spec = {
        .function_name = "f",
        .binding = "req",
        .method = json_string_value(json_object_get(creq, "Method")),
        .url = json_string_value(json_object_get(creq, "Url")),
        .headers = hdrs,
        .n_headers = n,
        .params = json_object_get(creq, "Params"),
        .body = body,
        .body_len = body_len,
    };
    json_t *env = invoke_http_envelope_new(&spec);
    cr_assert_not_null(env);
    json_t *req = json_object_get(json_object_get(env, "Data"), "req");
    json_t *meta = json_object_get(env, "Metadata");

    const char *fields[] = {"Url",    "Method",     "Query", "Headers",
                            "Params", "Identities", "Body"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *want = json_object_get(creq, fields[i]),
               *got = json_object_get(req, fields[i]);
        cr_expect(json_equal(want, got) || (want == NULL && got == NULL),
                  "%s: Data.%s differs", file, fields[i]);
    }
    /* Same keys in the same order as the host. */
    void *it_want = json_object_iter(creq), *it_got = json_object_iter(req);
    for (; it_want != NULL && it_got != NULL;
         it_want = json_object_iter_next(creq, it_want),
         it_got = json_object_iter_next(req, it_got))
        cr_expect_str_eq(json_object_iter_key(it_got), json_object_iter_key(it_want),
                         "%s: key order", file);
    cr_expect(it_want == NULL && it_got == NULL, "%s: key count differs", file);

    json_object_foreach(cmeta, k, v)
    {
        if (strcmp(k, "sys") == 0)
            continue;
        cr_expect(json_equal(v, json_object_get(meta, k)), "%s: Metadata.%s differs",
                  file, k);
    }
    json_object_foreach(meta, k, v)
    {
        if (json_object_get(cmeta, k) == NULL)
            cr_expect_not_null(json_object_get(spec.params, k),
                               "%s: unexpected Metadata.%s", file, k);
    }
    json_t *sys = json_object_get(meta, "sys");
    cr_expect_str_eq(json_string_value(json_object_get(sys, "MethodName")), "f");
    cr_expect_eq(strlen(json_string_value(json_object_get(sys, "UtcNow"))), 28,
                 "UtcNow has .NET's seven fractional digits");
    json_decref(env);
    json_decref(cap);
}

Test(build, http_envelopes_match_the_host_captures)
{
    if (access(CAPTURES, R_OK) != 0)
        cr_skip_test("host captures not found at %s", CAPTURES);
    const char *files[] = {
        "query-arr.json",        "payload-json-json.json", "http-path-valid.json",
        "httpHeaderTest.json",   "payload-octa-byte.json", "payload-text-string.json",
        "multi-path-param.json", "escape-seq.json",        "error-missing-payload.json",
        "cosmos-db.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        compare_capture(files[i]);
}

Test(build, metadata_encodes_body_query_and_route_values_twice)
{
    struct invoke_header h[] = {{"Content-Type", "application/json"},
                                {"X-A", "1"},
                                {"x-a", "2"},
                                {"Content-Length", "52"}};
    json_t *params = json_pack("{s:s}", "id", "42");
    const char body[] =
        "{\"name\":\"n\",\"n\":12,\"ok\":true,\"o\":{\"a\":1},\"arr\":[1]}";
    struct invoke_http_spec spec = {.function_name = "F",
                                    .binding = "req",
                                    .method = "POST",
                                    .url = "http://h/api/x/42?q=a+b&q=c&code=secret&e",
                                    .headers = h,
                                    .n_headers = 4,
                                    .params = params,
                                    .body = body,
                                    .body_len = sizeof(body) - 1};
    json_t *env = invoke_http_envelope_new(&spec);
    cr_assert_not_null(env);
    json_t *meta = json_object_get(env, "Metadata");
    json_t *req = json_object_get(json_object_get(env, "Data"), "req");
    cr_expect_str_eq(json_string_value(json_object_get(meta, "name")), "\"n\"");
    cr_expect_str_eq(json_string_value(json_object_get(meta, "n")), "\"12\"");
    cr_expect_str_eq(json_string_value(json_object_get(meta, "ok")), "\"true\"");
    cr_expect(json_is_object(json_object_get(meta, "o")));
    cr_expect_null(json_object_get(meta, "arr"), "arrays are skipped");
    cr_expect_str_eq(json_string_value(json_object_get(meta, "q")), "\"c\"",
                     "last value wins");
    cr_expect_null(json_object_get(meta, "code"), "the function key is not metadata");
    cr_expect_str_eq(json_string_value(json_object_get(meta, "id")), "\"42\"");
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(req, "Query"), "q")), "a b,c",
        "repeated query values are comma-joined");
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(req, "Query"), "e")), "");
    json_t *xa = json_object_get(json_object_get(req, "Headers"), "X-A");
    cr_expect_eq(json_array_size(xa), 2, "repeated headers are grouped ignoring case");
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(meta, "Headers"), "X-A")),
        "1,2");
    json_decref(env);
    json_decref(params);
}

Test(build, body_is_absent_when_empty_and_sanitised_when_not_utf8)
{
    struct invoke_header cl0[] = {{"Content-Length", "0"}};
    struct invoke_header cl2[] = {{"Content-Length", "2"}};
    struct invoke_http_spec spec = {.function_name = "F",
                                    .binding = "req",
                                    .method = "POST",
                                    .url = "http://h/",
                                    .headers = cl0,
                                    .n_headers = 1,
                                    .body = "",
                                    .body_len = 0};
    json_t *env = invoke_http_envelope_new(&spec);
    cr_expect_null(
        json_object_get(json_object_get(json_object_get(env, "Data"), "req"), "Body"));
    json_decref(env);
    spec.body = "a\xff";
    spec.body_len = 2;
    spec.headers = cl2;
    env = invoke_http_envelope_new(&spec);
    cr_assert_not_null(env);
    const char *b = json_string_value(
        json_object_get(json_object_get(json_object_get(env, "Data"), "req"), "Body"));
    cr_expect_str_eq(b, "a\xef\xbf\xbd");
    json_decref(env);
}

Test(build, trigger_payload_is_wrapped_in_strings_and_unwraps_back)
{
    json_t *docs = json_pack("[{s:s, s:i}]", "id", "todolist-1:1", "version", 1);
    for (int levels = 0; levels <= 2; levels++) {
        struct fn_retry retry = {.present = true, .retry_count = 1, .max_retry_count = 5};
        json_t *env =
            invoke_trigger_envelope_new("Projector", "documents", docs, levels, &retry);
        cr_assert_not_null(env);
        json_t *value = json_object_get(json_object_get(env, "Data"), "documents");
        json_t *cur = value;
        for (int i = 0; i < levels; i++) {
            cr_assert(json_is_string(cur), "level %d of %d is a string", i, levels);
            json_t *next = json_loads(json_string_value(cur), JSON_DECODE_ANY, NULL);
            if (cur != value)
                json_decref(cur);
            cur = next;
        }
        cr_expect(json_equal(cur, docs), "levels=%d round trip", levels);
        if (cur != value)
            json_decref(cur);
        json_t *unwrapped = es_json_unwrap(value, 4);
        cr_expect(json_equal(unwrapped, docs), "es_json_unwrap levels=%d", levels);
        json_decref(unwrapped);
        struct fn_retry back;
        cr_assert_eq(invoke_retry_parse(json_object_get(env, "Metadata"), &back), ES_OK);
        cr_expect(back.present && back.retry_count == 1 && back.max_retry_count == 5);
        json_decref(env);
    }
    json_decref(docs);
}

Test(build, unwrap_reads_the_captured_v3_and_v4_payloads)
{
    if (access(CAPTURES, R_OK) != 0)
        cr_skip_test("host captures not found at %s", CAPTURES);
    json_t *v3 = json_load_file(CAPTURES "/trigger-cosmos-base.json", 0, NULL);
    json_t *docs =
        es_json_unwrap(json_object_get(json_object_get(v3, "Data"), "inMsg"), 4);
    cr_expect(json_is_array(docs));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(docs, 0), "id")),
                     "ehee");
    json_decref(docs);
    json_decref(v3);
    json_t *in = json_load_file(CAPTURES "/cosmos-db.json", 0, NULL);
    json_t *doc =
        es_json_unwrap(json_object_get(json_object_get(in, "Data"), "input"), 4);
    cr_expect(json_is_object(doc),
              "double-encoded input binding unwraps to the document");
    cr_expect_str_eq(json_string_value(json_object_get(doc, "id")), "11");
    json_decref(doc);
    json_decref(in);
}

/* The host reads Body only when the request had Content-Length > 0. */
Test(build, a_body_sent_without_content_length_is_left_out_as_the_host_does)
{
    struct invoke_header chunked[] = {{"Content-Type", "application/json"},
                                      {"Transfer-Encoding", "chunked"}};
    const char body[] = "{\"name\":\"n\"}";
    struct invoke_http_spec spec = {.function_name = "F",
                                    .binding = "req",
                                    .method = "POST",
                                    .url = "http://h/api/todolists",
                                    .headers = chunked,
                                    .n_headers = 2,
                                    .body = body,
                                    .body_len = sizeof(body) - 1};
    json_t *env = invoke_http_envelope_new(&spec);
    cr_assert_not_null(env);
    json_t *req = json_object_get(json_object_get(env, "Data"), "req");
    cr_expect_null(json_object_get(req, "Body"));
    cr_expect_null(json_object_get(json_object_get(env, "Metadata"), "name"),
                   "no body, no body properties in Metadata");
    json_decref(env);
}

/*
 * testfns.c - Sleep, Echo and Fail.
 *
 *   Sleep  HTTP: waits ?ms= milliseconds (at most 10 s), then answers 200.
 *   Echo   HTTP: answers with what it received: method, url, query, headers,
 *          params, body, its length, and selected Metadata values decoded.
 *   Fail   trigger: completes when the payload is an array, else asks for a
 *          retry; logs what it saw (type, length, RetryContext).
 */
#include "testfns.h"

#include <stdlib.h>
#include <string.h>

#include "functions/registry.h"
#include "invoke/invoke.h"
#include "util/timeutil.h"

static void sleep_fn(struct fn_ctx *ctx, const struct fn_http_request *req,
                     struct fn_http_response *res)
{
    (void)ctx;
    const char *ms = fn_query(req, "ms");
    long n = ms != NULL ? strtol(ms, NULL, 10) : 100;
    if (n < 0 || n > 10000)
        n = 100;
    es_time_sleep_ms(n);
    fn_reply_json(res, 200, json_pack("{s:i}", "slept", (int)n));
}

static json_t *meta_decoded(const json_t *metadata, const char *key);

static void echo_fn(struct fn_ctx *ctx, const struct fn_http_request *req,
                    struct fn_http_response *res)
{
    json_t *metadata = fn_metadata(ctx);
    json_t *body =
        req->body != NULL ? json_stringn(req->body, req->body_len) : json_null();
    json_t *o =
        json_pack("{s:s, s:s, s:O?, s:O?, s:O?, s:o, s:I, s:s?, s:o, s:o, s:b, s:I}",
                  "method", req->method, "url", req->url, "query", req->query, "headers",
                  req->headers, "params", req->params, "body", body, "bodyLength",
                  (json_int_t)req->body_len, "contentType",
                  fn_header(req, "Content-Type"), "metaId", meta_decoded(metadata, "id"),
                  "sys", json_deep_copy(json_object_get(metadata, "sys")), "retryPresent",
                  ctx->retry.present, "retryCount", (json_int_t)ctx->retry.retry_count);
    json_decref(metadata);
    fn_log(ctx, "echo %s %s", req->method, req->url);
    fn_reply_json(res, 200, o);
}

static json_t *meta_decoded(const json_t *metadata, const char *key)
{
    char *s = invoke_meta_string(metadata, key);
    json_t *v = s != NULL ? json_string(s) : json_null();
    free(s);
    return v;
}

static enum es_status fail_fn(struct fn_ctx *ctx, json_t *payload)
{
    fn_log(ctx, "payload type %d size %zu retry %lld/%lld", (int)json_typeof(payload),
           json_is_array(payload) ? json_array_size(payload) : 0,
           (long long)ctx->retry.retry_count, (long long)ctx->retry.max_retry_count);
    return json_is_array(payload) ? ES_OK : ES_EUNAVAILABLE;
}

static const struct fn_def fn_sleep = {.name = "Sleep",
                                       .kind = FN_HTTP,
                                       .trigger_binding = "req",
                                       .output_binding = "res",
                                       .http = sleep_fn};
static const struct fn_def fn_echo = {.name = "Echo",
                                      .kind = FN_HTTP,
                                      .trigger_binding = "req",
                                      .output_binding = "res",
                                      .http = echo_fn};
static const struct fn_def fn_fail = {.name = "Fail",
                                      .kind = FN_TRIGGER,
                                      .trigger_binding = "documents",
                                      .trigger = fail_fn};

void testfns_table(const struct fn_def **defs, size_t cap, struct fn_table *table)
{
    size_t n = 0;
    for (size_t i = 0; i < fn_app_table.n && n < cap; i++)
        defs[n++] = fn_app_table.defs[i];
    const struct fn_def *extra[] = {&fn_sleep, &fn_echo, &fn_fail};
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]) && n < cap; i++)
        defs[n++] = extra[i];
    table->defs = defs;
    table->n = n;
}

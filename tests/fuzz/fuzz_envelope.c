/* libFuzzer: the invocation envelope readers and their accessors
 * (handler/invoke/envelope.c, fast.c); the fast reader must agree with the
 * tree reader on every envelope it takes. Each envelope is then dispatched to
 * an HTTP function and to a trigger function, as the host's would be, so the
 * checks on Params, Query and Headers and the RetryContext arithmetic run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "invoke/invoke.h"
#include "../support/envelope_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void http_fn(struct fn_ctx *ctx, const struct fn_http_request *req,
                    struct fn_http_response *res)
{
    (void)ctx;
    fn_reply_json(res, 200,
                  json_pack("{s:s?, s:s?, s:s?}", "id", fn_param(req, "id"), "from",
                            fn_query(req, "from"), "type",
                            fn_header(req, "Content-Type")));
}

/* What the Projector does with the counts: compares and adds to them. */
static enum es_status trigger_fn(struct fn_ctx *ctx, json_t *payload)
{
    (void)payload;
    const struct fn_retry *r = &ctx->retry;
    bool last =
        !r->present || (r->max_retry_count >= 0 && r->retry_count >= r->max_retry_count);
    fn_log(ctx, "attempt %lld%s", (long long)r->retry_count + 1, last ? " (last)" : "");
    return last ? ES_OK : ES_EUNAVAILABLE;
}

static const struct fn_def http_def = {"H", FN_HTTP, "req", "res", http_fn, NULL};
static const struct fn_def trigger_def = {"T", FN_TRIGGER, "req", NULL, NULL, trigger_fn};
static const struct fn_def *const defs[] = {&http_def, &trigger_def};
static const struct fn_table table = {defs, 2};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool taken = false;
    const char *why = envelope_diff((const char *)data, size, &taken);
    if (why != NULL) {
        fprintf(stderr, "fast and tree envelope readers disagree: %s\n", why);
        abort();
    }
    struct invoke_envelope env;
    if (invoke_envelope_parse((const char *)data, size, &env, NULL) != ES_OK)
        return 0;
    struct fn_http_request req;
    if (invoke_http_request_parse(&env, "req", &req, NULL) == ES_OK) {
        fn_header(&req, "Content-Type");
        fn_query(&req, "from");
        fn_param(&req, "id");
    }
    struct fn_retry retry;
    if (invoke_retry_parse(env.metadata, &retry) != ES_OK)
        abort(); /* memory does not run out in a fuzz run */
    free(invoke_meta_string(env.metadata, "id"));
    invoke_envelope_release(&env);
    struct invoke_app app = {.fns = &table, .svc = NULL};
    const char *names[] = {"H", "T"};
    for (int i = 0; i < 2; i++) {
        struct invoke_reply r;
        invoke_dispatch(&app, names[i], "fuzz", (const char *)data, size, &r);
        invoke_reply_release(&r);
    }
    return 0;
}

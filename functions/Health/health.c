/*
 * Health - GET /api/health: {"status":"ok","version":...}. Anonymous, so it
 * says nothing about the deployment (no endpoint, no store, no ids); the
 * start-up log names the store for operators. Side-effect free; it does not
 * touch the store.
 */
#include "invoke/fn.h"

static void health(struct fn_ctx *ctx, const struct fn_http_request *req,
                   struct fn_http_response *res)
{
    (void)req;
    fn_reply_json(res, 200,
                  json_pack("{s:s, s:s}", "status", "ok", "version", ctx->svc->version));
}

const struct fn_def fn_health = {
    .name = "Health",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = health,
};

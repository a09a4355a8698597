/*
 * Health - GET /api/health: the handler's version and the store it is
 * configured for, so operators can see what is running without reading logs.
 * Anonymous and side-effect free; it does not touch the store.
 */
#include "../fn.h"

static void health(struct fn_ctx *ctx, const struct fn_http_request *req,
                   struct fn_http_response *res)
{
    (void)req;
    char store[512];
    es_config_describe_store(ctx->svc->cfg, store, sizeof(store));
    fn_reply_json(res, 200,
                  json_pack("{s:s, s:s, s:s, s:s}", "status", "ok", "version",
                            ctx->svc->version, "store", store, "invocationId",
                            ctx->invocation_id));
}

const struct fn_def fn_health = {
    .name = "Health",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = health,
};

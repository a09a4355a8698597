/*
 * GetOpenApi - GET /api/openapi.json: the API as an OpenAPI 3.1 document.
 * Anonymous, like Health: the document describes routes, not a deployment.
 * Its source is docs/openapi.json, embedded at build time (scripts/embed.cmake
 * writes it into a generated C file), so the deployed app needs no file
 * beside the executable. The bytes go out as they are in the repository; the
 * document is not parsed here.
 */
#include <stdlib.h>
#include <string.h>

#include "invoke/fn.h"

/* The document's bytes (not NUL-terminated) and their count; generated. */
extern const unsigned char es_openapi_json[];
extern const size_t es_openapi_json_len;

static void get_openapi(struct fn_ctx *ctx, const struct fn_http_request *req,
                        struct fn_http_response *res)
{
    (void)ctx;
    (void)req;
    char *body = malloc(es_openapi_json_len);
    if (body == NULL || fn_set_header(res, "Content-Type", "application/json") != ES_OK) {
        free(body);
        fn_reply_error(res, ES_ENOMEM, "out of memory");
        return;
    }
    memcpy(body, es_openapi_json, es_openapi_json_len);
    res->status = 200;
    res->body = body;
    res->body_len = es_openapi_json_len;
}

const struct fn_def fn_get_openapi = {
    .name = "GetOpenApi",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = get_openapi,
};

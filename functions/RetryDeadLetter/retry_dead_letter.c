/*
 * RetryDeadLetter - POST /api/deadletters/{id}/retry (no body; a body is
 * ignored): runs the dead letter's event again, its views then its reactors,
 * with the Projector's idempotency (handler/es/redrive.h). 200 {"id",
 * "streamId", "version"} and the dead letter is removed; 409 redrive_failed
 * {"error", "message", "attempts"} and the dead letter is kept, updated; 404
 * when there is none. For operators (function-level auth in Azure).
 */
#include <string.h>

#include "es/redrive.h"
#include "functions/readside.h"
#include "functions/todolist.h"

/* Dead letter ids are "{streamId}:{version or hash}:dead": [A-Za-z0-9_.:-]. */
static bool dead_letter_id_valid(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n >= ES_DOC_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z') ||
              (id[i] >= '0' && id[i] <= '9') || strchr("_.:-", id[i]) != NULL))
            return false;
    return true;
}

static void retry_dead_letter(struct fn_ctx *ctx, const struct fn_http_request *req,
                              struct fn_http_response *res)
{
    const char *id = fn_param(req, "id");
    if (!dead_letter_id_valid(id)) {
        fn_reply_error(res, ES_EFIELD,
                       "the dead letter id must be 1 to %d of [A-Za-z0-9_.:-]",
                       ES_DOC_ID_MAX - 1);
        return;
    }
    struct es_projector_opts opts = readside_opts(ctx->svc);
    struct es_redrive_result r;
    struct es_error err = {0};
    enum es_status st = es_redrive(&opts, id, &r, &err);
    if (st == ES_OK)
        fn_reply_json(res, 200,
                      json_pack("{s:s, s:s, s:I}", "id", id, "streamId", r.stream_id,
                                "version", (json_int_t)r.version));
    else if (st == ES_EREDRIVE)
        fn_reply_error_fields(res, ES_EREDRIVE,
                              json_pack("{s:I}", "attempts", (json_int_t)r.attempts),
                              "%s", r.error);
    else if (st == ES_ENOTFOUND)
        fn_reply_error(res, ES_ENOTFOUND, "there is no dead letter '%s'", id);
    else
        api_reply_store_error(ctx, res, st, "RetryDeadLetter", &err);
}

const struct fn_def fn_retry_dead_letter = {
    .name = "RetryDeadLetter",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = retry_dead_letter,
};

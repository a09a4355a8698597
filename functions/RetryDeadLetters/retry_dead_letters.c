/*
 * RetryDeadLetters - POST /api/deadletters/retry?limit=100&continuation=...
 * (no body; a body is ignored): redrives up to limit (1-500) dead letters in
 * stream order (handler/es/redrive.h). 200 {"redriven": <n>, "failed":
 * [{"id", "error", "attempts"}], "continuation": <string or null>}; pass the
 * continuation back to go on past the dead letters this call visited. For
 * operators (function-level auth in Azure).
 */
#include <stdlib.h>

#include "es/redrive.h"
#include "functions/readside.h"
#include "functions/todolist.h"

/* The continuation's kind: one of this route, refused by the others. */
#define KIND "redrive"

static void retry_dead_letters(struct fn_ctx *ctx, const struct fn_http_request *req,
                               struct fn_http_response *res)
{
    int64_t limit;
    char *after = NULL, *cont = NULL;
    if (!api_paging(req, res, KIND, 100, 500, &limit, &after))
        return;
    struct es_projector_opts opts = readside_opts(ctx->svc);
    struct es_redrive_page page;
    struct es_error err = {0};
    enum es_status st = es_redrive_all(&opts, after, (size_t)limit, &page, &err);
    if (st == ES_EINVAL) {
        fn_reply_error(res, ES_EFIELD, "'continuation' is not one this API gave out");
    } else if (st != ES_OK) {
        api_reply_store_error(ctx, res, st, "RetryDeadLetters", &err);
    } else if (page.next != NULL && (cont = api_continuation(KIND, page.next)) == NULL) {
        fn_reply_error(res, ES_ENOMEM, "out of memory");
    } else {
        fn_log(ctx, "RetryDeadLetters: %zu redriven, %zu failed again", page.redriven,
               json_array_size(page.failed));
        fn_reply_json(res, 200,
                      json_pack("{s:I, s:O, s:s?}", "redriven", (json_int_t)page.redriven,
                                "failed", page.failed, "continuation", cont));
    }
    if (st == ES_OK)
        es_redrive_page_release(&page);
    free(cont);
    free(after);
}

const struct fn_def fn_retry_dead_letters = {
    .name = "RetryDeadLetters",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = retry_dead_letters,
};

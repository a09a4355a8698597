/*
 * GetDeadLetters - GET /api/deadletters?limit=&continuation= : the events the
 * read side gave up on, each with its error, attempts and time, paged like
 * the index. For operators (function-level auth in Azure).
 */
#include <stdlib.h>

#include "es/reads.h"
#include "functions/todolist.h"

static void get_dead_letters(struct fn_ctx *ctx, const struct fn_http_request *req,
                             struct fn_http_response *res)
{
    int64_t limit;
    char *cont = NULL, *next = NULL;
    if (!api_paging(req, res, "deadLetters", 50, 500, &limit, &cont))
        return;
    json_t *docs = NULL;
    struct es_error err = {0};
    enum es_status st = es_read_dead_letters(ctx->svc->engine, cont, (size_t)limit, &docs,
                                             &next, NULL, &err);
    if (st == ES_EINVAL)
        fn_reply_error(res, ES_EFIELD, "'continuation' is not one this API gave out");
    else if (st != ES_OK)
        api_reply_store_error(ctx, res, st, "GetDeadLetters", &err);
    else
        api_reply_page(res, "deadLetters", json_incref(docs), next);
    json_decref(docs);
    free(cont);
    free(next);
}

const struct fn_def fn_get_dead_letters = {
    .name = "GetDeadLetters",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = get_dead_letters,
};

/*
 * ListTodoLists - GET /api/todolists?limit=&continuation= : the index of the
 * lists that are not deleted, from their summary views, in no promised
 * order. limit is 1-500 (default 50); continuation is opaque and null on the
 * last page.
 */
#include <stdlib.h>

#include "domain/todo_views.h"
#include "es/reads.h"
#include "functions/todolist.h"

static void list_todo_lists(struct fn_ctx *ctx, const struct fn_http_request *req,
                            struct fn_http_response *res)
{
    int64_t limit;
    char *cont = NULL, *next = NULL;
    if (!api_paging(req, res, "lists", 50, 500, &limit, &cont))
        return;
    json_t *docs = NULL;
    struct es_error err = {0};
    struct es_io io = {0};
    enum es_status st = es_read_views(ctx->svc->engine, TODO_SUMMARY_VIEW, cont,
                                      (size_t)limit, &docs, &next, &io, &err);
    if (st == ES_EINVAL) {
        /* The store refused the token: one that came from elsewhere. */
        fn_reply_error(res, ES_EFIELD, "'continuation' is not one this API gave out");
    } else if (st != ES_OK) {
        api_reply_store_error(ctx, res, st, "ListTodoLists", &err);
    } else {
        json_t *lists = json_array();
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d)
        {
            if (lists != NULL &&
                json_array_append_new(
                    lists, json_pack("{s:O, s:O, s:O, s:O, s:O}", "id",
                                     json_object_get(d, "listId"), "name",
                                     json_object_get(d, "name"), "itemCount",
                                     json_object_get(d, "itemCount"), "doneCount",
                                     json_object_get(d, "doneCount"), "version",
                                     json_object_get(d, "version"))) != 0) {
                /* A page with a list missing would look whole. */
                json_decref(lists);
                lists = NULL;
            }
        }
        if (lists == NULL)
            fn_reply_error(res, ES_ENOMEM, "out of memory");
        else
            api_reply_page(res, "lists", lists, next);
        fn_log(ctx, "ListTodoLists: %zu list(s); %u store round trip(s), %.2f RU",
               json_array_size(docs), io.round_trips, io.request_charge);
    }
    json_decref(docs);
    free(cont);
    free(next);
}

const struct fn_def fn_list_todo_lists = {
    .name = "ListTodoLists",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = list_todo_lists,
};

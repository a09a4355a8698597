/*
 * GetTodoList - GET /api/todolists/{id}: the list view, eventually consistent
 * with the commands; "version" (and the ETag) say which stream version it
 * reflects. An unknown or deleted list is 404.
 */
#include <stdio.h>
#include <stdlib.h>

#include "domain/todo_views.h"
#include "es/reads.h"
#include "functions/todolist.h"

static void get_todo_list(struct fn_ctx *ctx, const struct fn_http_request *req,
                          struct fn_http_response *res)
{
    const char *id = fn_param(req, "id");
    if (id == NULL || !es_id_valid(id)) {
        fn_reply_error(res, ES_EFIELD, "'id' must be 1 to 64 of A-Z a-z 0-9 _ -");
        return;
    }
    json_t *view = NULL;
    struct es_error err = {0};
    enum es_status st =
        es_read_view(ctx->svc->engine, TODO_LIST_VIEW_PREFIX, id, &view, NULL, &err);
    if (st == ES_OK && json_is_true(json_object_get(view, "deleted")))
        st = ES_ENOTFOUND;
    if (st == ES_ENOTFOUND) {
        fn_reply_error(res, ES_ENOTFOUND, "the list does not exist");
    } else if (st != ES_OK) {
        api_reply_store_error(ctx, res, st, "GetTodoList", &err);
    } else {
        json_int_t version = json_integer_value(json_object_get(view, "version"));
        char tag[32];
        snprintf(tag, sizeof(tag), "\"%lld\"", (long long)version);
        /* The ETag first: an answer without it would be a partial one. */
        if (fn_set_header(res, "ETag", tag) != ES_OK)
            fn_reply_error(res, ES_ENOMEM, "out of memory");
        else
            fn_reply_json(res, 200,
                          json_pack("{s:s, s:O, s:I, s:O}", "id", id, "name",
                                    json_object_get(view, "name"), "version", version,
                                    "items", json_object_get(view, "items")));
    }
    json_decref(view);
}

const struct fn_def fn_get_todo_list = {
    .name = "GetTodoList",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = get_todo_list,
};

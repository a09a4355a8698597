/*
 * GetTodoList - GET /api/todolists/{id}[?minVersion=N]: the list view,
 * eventually consistent with the commands; "version" (and the ETag) say which
 * stream version it reflects. An unknown or deleted list is 404.
 *
 * With minVersion (the ETag a command answered), the read waits up to
 * READ_WAIT_MS for the view to reach that version (es_read_view_min), and
 * answers 503 view_behind with the view's version when the wait ends first.
 */
#include <stdio.h>
#include <stdlib.h>

#include "domain/todo_views.h"
#include "es/reads.h"
#include "functions/todolist.h"

/* A deleted list's view is final: no later version will come to wait for. */
static bool view_deleted(const json_t *view)
{
    return json_is_true(json_object_get(view, "deleted"));
}

static json_int_t view_version(const json_t *view)
{
    return view != NULL ? json_integer_value(json_object_get(view, "version")) : 0;
}

static void reply_view(struct fn_http_response *res, const char *id, const json_t *view)
{
    json_int_t version = view_version(view);
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

static void get_todo_list(struct fn_ctx *ctx, const struct fn_http_request *req,
                          struct fn_http_response *res)
{
    const char *id = fn_param(req, "id");
    if (id == NULL || !es_id_valid(id)) {
        fn_reply_error(res, ES_EFIELD, "'id' must be 1 to 64 of A-Z a-z 0-9 _ -");
        return;
    }
    int64_t min_version = 0;
    if (!api_query_int(req, res, "minVersion", 1, INT64_MAX, 0, &min_version))
        return;
    json_t *view = NULL;
    struct es_error err = {0};
    enum es_status st;
    if (min_version > 0)
        st = es_read_view_min(ctx->svc->engine, &todolist_aggregate,
                              TODO_LIST_VIEW_PREFIX, id, min_version,
                              ctx->svc->cfg != NULL ? ctx->svc->cfg->read_wait_ms : 0,
                              view_deleted, &view, NULL, &err);
    else
        st = es_read_view(ctx->svc->engine, TODO_LIST_VIEW_PREFIX, id, &view, NULL, &err);
    if (st == ES_OK && view_deleted(view))
        st = ES_ENOTFOUND;
    if (st == ES_ENOTFOUND) {
        if (min_version > 0 && !view_deleted(view))
            fn_reply_error(res, ES_ENOTFOUND,
                           "the list does not exist, or has no version %lld",
                           (long long)min_version);
        else
            fn_reply_error(res, ES_ENOTFOUND, "the list does not exist");
    } else if (st == ES_EVIEW_BEHIND) {
        fn_reply_error_fields(res, ES_EVIEW_BEHIND,
                              json_pack("{s:I}", "version", view_version(view)), "%s",
                              err.message);
    } else if (st != ES_OK) {
        api_reply_store_error(ctx, res, st, "GetTodoList", &err);
    } else {
        reply_view(res, id, view);
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

/*
 * AddItem - POST /api/todolists/{id}/items {"task"} -> 201 with "itemId"
 * (a new UUIDv4); the task must not exist in the list yet (409 task_exists).
 */
#include <stdlib.h>

#include "functions/todolist.h"

static void add_item(struct fn_ctx *ctx, const struct fn_http_request *req,
                     struct fn_http_response *res)
{
    struct api_call c;
    char *task = NULL;
    if (api_call_begin(&c, ctx, req, res, &todolist_aggregate, true, "id") &&
        todo_field_text(&c, "task", true, &task)) {
        char item_id[ES_UUID_STR_LEN + 1];
        es_uuid4(item_id);
        struct todo_cmd tc = {
            .kind = TODO_ADD_ITEM, .task = task, .new_item_id = item_id};
        json_t *extra = json_pack("{s:s}", "itemId", item_id);
        /* Without it the answer would lack the new item's id. */
        if (extra == NULL)
            fn_reply_error(res, ES_ENOMEM, "out of memory");
        else
            todo_call_run(&c, &tc, 201, extra);
    }
    free(task);
    api_call_end(&c);
}

const struct fn_def fn_add_item = {
    .name = "AddItem",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = add_item,
};

/*
 * UpdateItem - PATCH /api/todolists/{id}/items/{itemId} {"task"?, "status"?}.
 * At least one field is required; both append TaskRenamed then
 * ItemStatusChanged; values equal to the current ones append nothing.
 */
#include <stdlib.h>

#include "functions/todolist.h"

static void update_item(struct fn_ctx *ctx, const struct fn_http_request *req,
                        struct fn_http_response *res)
{
    struct api_call c;
    char *task = NULL;
    const char *item_id = NULL;
    struct todo_cmd tc = {.kind = TODO_UPDATE_ITEM};
    if (!api_call_begin(&c, ctx, req, res, &todolist_aggregate, true, "id") ||
        !api_field_id(&c, "itemId", true, true, &item_id) ||
        !todo_field_text(&c, "task", false, &task) ||
        !todo_field_status(&c, "status", false, &tc.has_status, &tc.status))
        goto out;
    if (task == NULL && !tc.has_status) {
        api_reject(&c, ES_EFIELD, "give 'task', 'status' or both");
        goto out;
    }
    tc.item_id = item_id;
    tc.task = task;
    todo_call_run(&c, &tc, 200, NULL);
out:
    free(task);
    api_call_end(&c);
}

const struct fn_def fn_update_item = {
    .name = "UpdateItem",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = update_item,
};

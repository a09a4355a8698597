/* RemoveItem - DELETE /api/todolists/{id}/items/{itemId}. */
#include "functions/todolist.h"

static void remove_item(struct fn_ctx *ctx, const struct fn_http_request *req,
                        struct fn_http_response *res)
{
    struct api_call c;
    const char *item_id = NULL;
    if (api_call_begin(&c, ctx, req, res, &todolist_aggregate, false, "id") &&
        api_field_id(&c, "itemId", true, true, &item_id)) {
        struct todo_cmd tc = {.kind = TODO_REMOVE_ITEM, .item_id = item_id};
        todo_call_run(&c, &tc, 200, NULL);
    }
    api_call_end(&c);
}

const struct fn_def fn_remove_item = {
    .name = "RemoveItem",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = remove_item,
};

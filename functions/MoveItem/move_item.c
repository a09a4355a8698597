/*
 * MoveItem - POST /api/todolists/{id}/items/{itemId}/move {"toListId"} -> 202.
 * Appends ItemMovedOut on the source list; the move completes on the read
 * side, where a reactor adds the item to the target list or, when the target
 * refuses it, reverts the move on the source. Moving to the item's own list
 * is 400 invalid_target.
 */
#include <string.h>

#include "functions/todolist.h"

static void move_item(struct fn_ctx *ctx, const struct fn_http_request *req,
                      struct fn_http_response *res)
{
    struct api_call c;
    const char *item_id = NULL, *to = NULL;
    if (!api_call_begin(&c, ctx, req, res, &todolist_aggregate, true, "id") ||
        !api_field_id(&c, "itemId", true, true, &item_id) ||
        !api_field_id(&c, "toListId", false, true, &to))
        goto out;
    if (strcmp(to, c.id) == 0) {
        api_reject(&c, ES_ETARGET, "an item cannot be moved to its own list");
        goto out;
    }
    struct todo_cmd tc = {.kind = TODO_MOVE_OUT, .item_id = item_id, .other_list_id = to};
    json_t *extra = json_pack("{s:s, s:s}", "itemId", item_id, "toListId", to);
    if (extra == NULL)
        fn_reply_error(res, ES_ENOMEM, "out of memory");
    else
        todo_call_run(&c, &tc, 202, extra);
out:
    api_call_end(&c);
}

const struct fn_def fn_move_item = {
    .name = "MoveItem",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = move_item,
};

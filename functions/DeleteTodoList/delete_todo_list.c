/* DeleteTodoList - DELETE /api/todolists/{id} -> 200; later commands on it answer 410. */
#include "functions/todolist.h"

static void delete_todo_list(struct fn_ctx *ctx, const struct fn_http_request *req,
                             struct fn_http_response *res)
{
    struct api_call c;
    if (api_call_begin(&c, ctx, req, res, &todolist_aggregate, false, "id")) {
        struct todo_cmd tc = {.kind = TODO_DELETE};
        todo_call_run(&c, &tc, 200, NULL);
    }
    api_call_end(&c);
}

const struct fn_def fn_delete_todo_list = {
    .name = "DeleteTodoList",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = delete_todo_list,
};

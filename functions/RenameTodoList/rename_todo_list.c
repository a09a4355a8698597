/* RenameTodoList - PATCH /api/todolists/{id} {"name"}; renaming to the same name is a
 * no-op. */
#include <stdlib.h>

#include "functions/todolist.h"

static void rename_todo_list(struct fn_ctx *ctx, const struct fn_http_request *req,
                             struct fn_http_response *res)
{
    struct api_call c;
    char *name = NULL;
    if (api_call_begin(&c, ctx, req, res, &todolist_aggregate, true, "id") &&
        todo_field_text(&c, "name", true, &name)) {
        struct todo_cmd tc = {.kind = TODO_RENAME, .name = name};
        todo_call_run(&c, &tc, 200, NULL);
    }
    free(name);
    api_call_end(&c);
}

const struct fn_def fn_rename_todo_list = {
    .name = "RenameTodoList",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = rename_todo_list,
};

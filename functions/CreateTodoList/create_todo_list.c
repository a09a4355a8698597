/*
 * CreateTodoList - POST /api/todolists {"name", "id"?} -> 201 + Location.
 * The id is the body's "id" when given (an existing one is 409
 * list_exists); else derived from the Idempotency-Key (UUIDv5), so a retried
 * create meets its own receipt; else a fresh UUIDv4. Location is the
 * request's own path plus the id, so a custom routePrefix carries over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "functions/todolist.h"

static void create_todo_list(struct fn_ctx *ctx, const struct fn_http_request *req,
                             struct fn_http_response *res)
{
    struct api_call c;
    char *name = NULL;
    const char *id = NULL;
    if (!api_call_begin(&c, ctx, req, res, &todolist_aggregate, true, NULL) ||
        !todo_field_text(&c, "name", true, &name) ||
        !api_field_id(&c, "id", false, false, &id))
        goto out;
    enum es_status st = ES_OK;
    if (id != NULL)
        /* todo_field_id checked it: 1 to 64 characters, so it fits. */
        memcpy(c.created_id, id, strlen(id) + 1);
    else if (c.cmd.idempotency_key != NULL)
        st = es_uuid5(TODOLIST_KEY_NAMESPACE, c.cmd.idempotency_key,
                      strlen(c.cmd.idempotency_key), c.created_id);
    else
        es_uuid4(c.created_id);
    if (st != ES_OK) {
        /* No id (OpenSSL could not allocate the digest), so no list. */
        fn_reply_error(res, st, "cannot derive the list's id from the Idempotency-Key");
        goto out;
    }
    c.id = c.created_id;
    c.cmd.aggregate_id = c.created_id;
    if (!api_location(&c, c.created_id))
        goto out;
    struct todo_cmd tc = {.kind = TODO_CREATE, .name = name};
    todo_call_run(&c, &tc, 201, NULL);
out:
    free(name);
    api_call_end(&c);
}

const struct fn_def fn_create_todo_list = {
    .name = "CreateTodoList",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = create_todo_list,
};

/*
 * reply.c - how the API answers a command's success, and a store's failure.
 * (Every refusal goes through fn_reply_error, from the status table.)
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/jsonutil.h"
#include "util/log.h"

void api_reply_store_error(struct fn_ctx *ctx, struct fn_http_response *res,
                           enum es_status st, const char *what,
                           const struct es_error *err)
{
    es_log_error("%s failed: %s", what, err->message);
    fn_log(ctx, "%s failed: %s", what, err->message);
    /* Whatever the store said, the client hears the table's word for it. */
    fn_reply_error(res, st, "%s", es_status_message(st));
}

char *api_render_success(void *ctx, const struct es_answer *a, size_t *len)
{
    (void)ctx;
    /* A body with an event or an extra field missing would be stored in a receipt
     * and replayed as it is: NULL (out of memory) instead. */
    json_t *list = json_array();
    size_t n = json_array_size(a->events), i;
    json_t *ev;
    json_array_foreach(a->events, i, ev)
    {
        if (list != NULL &&
            json_array_append_new(
                list,
                json_pack("{s:O, s:I}", "type", json_object_get(ev, "type"), "version",
                          (json_int_t)(a->version - (int64_t)n + 1 + (int64_t)i))) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    json_t *body = list != NULL
                       ? json_pack("{s:s, s:I, s:o}", "id", a->aggregate_id, "version",
                                   (json_int_t)a->version, "events", list)
                       : NULL;
    if (body != NULL && json_is_object(a->extra) &&
        json_object_update(body, (json_t *)a->extra) != 0) {
        json_decref(body);
        body = NULL;
    }
    char *text = body != NULL ? es_json_dumps(body, len) : NULL;
    json_decref(body);
    return text;
}

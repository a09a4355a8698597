/*
 * SetItemStatuses - PATCH /api/todolists/{id}/items {"itemIds": [...], "status"}.
 * All or nothing in one atomic append: ids are de-duplicated, then 1 to 50 of
 * them; one unknown id fails the command (404); items already in the status
 * are skipped. 50 events + receipt + snapshot fit one Cosmos batch.
 */
#include <string.h>

#include "functions/todolist.h"

static void set_item_statuses(struct fn_ctx *ctx, const struct fn_http_request *req,
                              struct fn_http_response *res)
{
    struct api_call c;
    struct todo_cmd tc = {.kind = TODO_SET_STATUSES};
    const char *ids[TODO_MASS_UPDATE_MAX];
    size_t n = 0;
    if (!api_call_begin(&c, ctx, req, res, &todolist_aggregate, true, "id"))
        goto out;
    json_t *arr = json_object_get(c.body, "itemIds");
    if (!json_is_array(arr)) {
        api_reject(&c, ES_EFIELD, "'itemIds' is required and must be an array of ids");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *id = json_string_value(v);
        if (id == NULL || !es_id_valid(id)) {
            api_reject(&c, ES_EFIELD,
                       "'itemIds' must hold ids (1 to 64 of A-Z a-z 0-9 _ -)");
            goto out;
        }
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(ids[k], id) == 0;
        if (seen)
            continue;
        if (n == TODO_MASS_UPDATE_MAX) {
            api_reject(&c, ES_EFIELD, "'itemIds' may name at most %d distinct items",
                       TODO_MASS_UPDATE_MAX);
            goto out;
        }
        ids[n++] = id;
    }
    if (n == 0) {
        api_reject(&c, ES_EFIELD, "'itemIds' must name at least one item");
        goto out;
    }
    bool has_status;
    if (!todo_field_status(&c, "status", true, &has_status, &tc.status))
        goto out;
    tc.has_status = true;
    tc.item_ids = ids;
    tc.n_item_ids = n;
    todo_call_run(&c, &tc, 200, NULL);
out:
    api_call_end(&c);
}

const struct fn_def fn_set_item_statuses = {
    .name = "SetItemStatuses",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = set_item_statuses,
};

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

Test(api_reply, a_success_names_the_id_the_version_and_each_event)
{
    json_t *events =
        json_pack("[{s:s}, {s:s}]", "type", "TaskRenamed", "type", "ItemStatusChanged");
    json_t *extra = json_pack("{s:s}", "itemId", "i1");
    struct es_answer a = {.status = 200,
                          .aggregate_id = "groceries",
                          .version = 7,
                          .events = events,
                          .extra = extra};
    size_t len = 0;
    char *text = api_render_success(NULL, &a, &len);
    cr_assert_not_null(text);
    cr_expect_eq(len, strlen(text));
    json_t *body = json_loads(text, 0, NULL);
    json_t *want =
        json_pack("{s:s, s:i, s:[{s:s, s:i}, {s:s, s:i}], s:s}", "id", "groceries",
                  "version", 7, "events", "type", "TaskRenamed", "version", 6, "type",
                  "ItemStatusChanged", "version", 7, "itemId", "i1");
    cr_expect(json_equal(body, want), "%s", text);
    json_decref(want);
    json_decref(body);
    free(text);
    json_decref(extra);
    json_decref(events);
}

/* Whatever the store said goes to the log; the client hears the table's words. */
Test(api_reply, a_store_failure_is_logged_and_answered_in_the_tables_words)
{
    struct fn_ctx ctx = {.function_name = "AddItem", .logs = json_array()};
    struct fn_http_response res = {0};
    struct es_error err = {0};
    es_error_set(&err, ES_EUNAVAILABLE, "connect to 10.0.0.7:443: refused");
    api_reply_store_error(&ctx, &res, ES_EUNAVAILABLE, "append", &err);
    cr_expect_eq(res.status, 503);
    cr_expect(strstr(res.body, "10.0.0.7") == NULL, "no internals leak: %s", res.body);
    json_t *body = json_loadb(res.body, res.body_len, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(body, "error")),
                     "store_unavailable");
    cr_expect_str_eq(json_string_value(json_object_get(body, "message")),
                     es_status_message(ES_EUNAVAILABLE));
    cr_expect(strstr(json_string_value(json_array_get(ctx.logs, 0)), "10.0.0.7") != NULL,
              "the detail is in the invocation's log");
    json_decref(body);
    json_decref(ctx.logs);
    fn_http_response_release(&res);
}

/* The public contract: stored events in, CloudEvents out. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/todo_integration.h"

#define DOC ES_SOURCE_DIR "/docs/integration-events.md"

static const char *META = "{\"occurredAt\": \"2026-11-28T19:30:00.123Z\", "
                          "\"correlationId\": \"corr-1\", \"causationId\": null, "
                          "\"idempotencyKey\": \"k1\"}";

/* Maps one event; *st is the status, the result the CloudEvent (or NULL). */
static json_t *map(const char *stream, int64_t version, const char *type, int schema,
                   const char *data_json, const char *meta_json, enum es_status *st,
                   struct es_error *err)
{
    json_t *data = json_loads(data_json, 0, NULL);
    json_t *meta = meta_json != NULL ? json_loads(meta_json, 0, NULL) : NULL;
    cr_assert_not_null(data, "%s", data_json);
    struct todo_stored_event ev = {stream, version, type, schema, data, meta};
    json_t *out = (json_t *)0x1;
    *st = todo_integration_event(&ev, &out, err);
    json_decref(data);
    json_decref(meta);
    return *st == ES_OK ? out : NULL;
}

static void expect_event(const char *stream, int64_t version, const char *type,
                         const char *data_json, const char *expected_json)
{
    enum es_status st;
    struct es_error err = {0};
    json_t *got = map(stream, version, type, 1, data_json, META, &st, &err);
    cr_assert_eq(st, ES_OK, "%s: %s", type, err.message);
    json_t *want = json_loads(expected_json, 0, NULL);
    cr_assert_not_null(want, "%s", expected_json);
    char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
    cr_expect(json_equal(got, want), "%s:\n got  %s\n want %s", type, g, w);
    free(g);
    free(w);
    json_decref(got);
    json_decref(want);
}

static void expect_nothing(const char *stream, const char *type, const char *data_json)
{
    enum es_status st;
    struct es_error err = {0};
    json_t *got = map(stream, 3, type, 1, data_json, META, &st, &err);
    cr_expect_eq(st, ES_OK, "%s: %s", type, err.message);
    cr_expect_null(got, "%s should publish nothing", type);
    json_decref(got);
}

static void expect_malformed(const char *type, int schema, const char *data_json)
{
    enum es_status st;
    struct es_error err = {0};
    json_t *got = map("todolist-L1", 3, type, schema, data_json, META, &st, &err);
    cr_expect_eq(st, ES_EFIELD, "%s %s", type, data_json);
    cr_expect_null(got);
    cr_expect_neq(err.message[0], '\0', "the failure says why");
    json_decref(got);
}

#define ATTRS(id, seq)                                                                   \
    "\"specversion\": \"1.0\", \"id\": \"todolist-L1:" id "\", \"source\": "             \
    "\"/todolists/L1\", \"time\": \"2026-11-28T19:30:00.123Z\", \"datacontenttype\": "   \
    "\"application/json\", \"sequence\": \"" seq "\", \"correlationid\": \"corr-1\""

Test(integration, list_events_are_published_with_their_public_fields)
{
    expect_event("todolist-L1", 1, "TodoListCreated", "{\"name\": \"Groceries\"}",
                 "{" ATTRS("1", "1") ", \"type\": \"todo.TodoListCreated.v1\", "
                                     "\"data\": {\"listId\": \"L1\", \"name\": "
                                     "\"Groceries\"}}");
    expect_event(
        "todolist-L1", 2, "TodoListRenamed", "{\"name\": \"Food\"}",
        "{" ATTRS("2", "2") ", \"type\": \"todo.TodoListRenamed.v1\", "
                            "\"data\": {\"listId\": \"L1\", \"name\": \"Food\"}}");
    expect_event("todolist-L1", 9, "TodoListDeleted", "{}",
                 "{" ATTRS("9", "9") ", \"type\": \"todo.TodoListDeleted.v1\", "
                                     "\"data\": {\"listId\": \"L1\"}}");
}

Test(integration, item_events_have_the_item_as_subject)
{
    expect_event("todolist-L1", 3, "ItemAdded",
                 "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"To Do\"}",
                 "{" ATTRS("3", "3") ", \"type\": \"todo.ItemAdded.v1\", \"subject\": "
                                     "\"i1\", \"data\": {\"listId\": \"L1\", \"itemId\": "
                                     "\"i1\", \"task\": \"Milk\", \"status\": \"To "
                                     "Do\"}}");
    expect_event("todolist-L1", 4, "TaskRenamed",
                 "{\"itemId\": \"i1\", \"task\": \"Oat\"}",
                 "{" ATTRS("4", "4") ", \"type\": \"todo.ItemTaskChanged.v1\", "
                                     "\"subject\": \"i1\", \"data\": {\"listId\": "
                                     "\"L1\", \"itemId\": \"i1\", \"task\": \"Oat\"}}");
    expect_event(
        "todolist-L1", 5, "ItemStatusChanged",
        "{\"itemId\": \"i1\", \"status\": \"Done\"}",
        "{" ATTRS("5", "5") ", \"type\": \"todo.ItemStatusChanged.v1\", "
                            "\"subject\": \"i1\", \"data\": {\"listId\": "
                            "\"L1\", \"itemId\": \"i1\", \"status\": \"Done\"}}");
    expect_event("todolist-L1", 6, "ItemRemoved", "{\"itemId\": \"i1\"}",
                 "{" ATTRS("6", "6") ", \"type\": \"todo.ItemRemoved.v1\", \"subject\": "
                                     "\"i1\", \"data\": {\"listId\": \"L1\", \"itemId\": "
                                     "\"i1\"}}");
}

Test(integration, a_settled_move_is_one_item_moved_from_the_target_list)
{
    expect_event(
        "todolist-L1", 7, "ItemMovedIn",
        "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"Done\", \"fromListId\": "
        "\"L0\"}",
        "{" ATTRS("7", "7") ", \"type\": \"todo.ItemMoved.v1\", \"subject\": \"i1\", "
                            "\"data\": {\"itemId\": \"i1\", \"task\": \"Milk\", "
                            "\"status\": \"Done\", \"fromListId\": \"L0\", \"toListId\": "
                            "\"L1\"}}");
}

Test(integration, unsettled_and_reverted_moves_publish_nothing)
{
    expect_nothing("todolist-L0", "ItemMovedOut",
                   "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"Done\", "
                   "\"toListId\": \"L1\"}");
    expect_nothing("todolist-L0", "ItemMoveReverted",
                   "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"Done\", "
                   "\"toListId\": \"L1\", \"reason\": \"not_found\"}");
}

Test(integration, types_without_a_mapping_and_other_streams_publish_nothing)
{
    expect_nothing("todolist-L1", "SomethingNew", "{\"itemId\": \"i1\"}");
    expect_nothing("invoice-9", "ItemAdded",
                   "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"To Do\"}");
}

Test(integration, internal_fields_stay_internal)
{
    expect_event("todolist-L1", 3, "ItemAdded",
                 "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"To Do\", "
                 "\"secret\": \"x\", \"reason\": \"y\"}",
                 "{" ATTRS("3", "3") ", \"type\": \"todo.ItemAdded.v1\", \"subject\": "
                                     "\"i1\", \"data\": {\"listId\": \"L1\", \"itemId\": "
                                     "\"i1\", \"task\": \"Milk\", \"status\": \"To "
                                     "Do\"}}");
}

Test(integration, causation_is_published_when_set_and_omitted_when_null)
{
    enum es_status st;
    struct es_error err = {0};
    json_t *ce = map("todolist-L1", 7, "ItemMovedIn", 1,
                     "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"Done\", "
                     "\"fromListId\": \"L0\"}",
                     "{\"occurredAt\": \"2026-11-28T19:30:00Z\", \"correlationId\": "
                     "\"c\", \"causationId\": \"todolist-L0:5\"}",
                     &st, &err);
    cr_assert_eq(st, ES_OK, "%s", err.message);
    cr_expect_str_eq(json_string_value(json_object_get(ce, "causationid")),
                     "todolist-L0:5");
    json_decref(ce);
    ce =
        map("todolist-L1", 1, "TodoListCreated", 1, "{\"name\": \"A\"}", META, &st, &err);
    cr_assert_eq(st, ES_OK);
    cr_expect_null(json_object_get(ce, "causationid"));
    cr_expect_null(json_object_get(ce, "idempotencykey"));
    json_decref(ce);
    /* No meta at all: no time, no correlation; the event is still published. */
    ce =
        map("todolist-L1", 1, "TodoListCreated", 1, "{\"name\": \"A\"}", NULL, &st, &err);
    cr_assert_eq(st, ES_OK);
    cr_expect_null(json_object_get(ce, "time"));
    cr_expect_null(json_object_get(ce, "correlationid"));
    cr_expect_str_eq(json_string_value(json_object_get(ce, "id")), "todolist-L1:1");
    json_decref(ce);
}

Test(integration, extension_attribute_names_are_lower_case_alphanumerics)
{
    enum es_status st;
    struct es_error err = {0};
    json_t *ce = map("todolist-L1", 7, "ItemMovedIn", 1,
                     "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"Done\", "
                     "\"fromListId\": \"L0\"}",
                     "{\"occurredAt\": \"2026-11-28T19:30:00Z\", \"correlationId\": "
                     "\"c\", \"causationId\": \"todolist-L0:5\"}",
                     &st, &err);
    cr_assert_eq(st, ES_OK);
    const char *key;
    json_t *v;
    json_object_foreach(ce, key, v)
    {
        cr_expect_leq(strlen(key), 20, "%s", key);
        for (const char *c = key; *c; c++)
            cr_expect((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'),
                      "attribute '%s'", key);
        if (strcmp(key, "data") != 0)
            cr_expect(json_is_string(v), "attribute '%s' is a string", key);
    }
    json_decref(ce);
}

Test(integration, malformed_events_fail_and_say_why)
{
    expect_malformed("ItemAdded", 1, "{\"task\": \"Milk\", \"status\": \"To Do\"}");
    expect_malformed("ItemAdded", 1,
                     "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"Later\"}");
    expect_malformed("ItemAdded", 1,
                     "{\"itemId\": \"i/1\", \"task\": \"Milk\", \"status\": \"To Do\"}");
    expect_malformed("TodoListCreated", 1, "{\"name\": 42}");
    expect_malformed("TodoListCreated", 1, "{\"name\": \"  padded  \"}");
    expect_malformed("ItemMovedIn", 1,
                     "{\"itemId\": \"i1\", \"task\": \"Milk\", \"status\": \"Done\"}");
    expect_malformed("TodoListCreated", 2, "{\"name\": \"A\"}");
}

Test(integration, a_list_id_out_of_syntax_is_malformed)
{
    enum es_status st;
    struct es_error err = {0};
    json_t *ce = map("todolist-a.b", 1, "TodoListCreated", 1, "{\"name\": \"A\"}", META,
                     &st, &err);
    cr_expect_eq(st, ES_EFIELD);
    cr_expect_null(ce);
}

Test(integration, every_public_type_is_documented_for_consumers)
{
    FILE *f = fopen(DOC, "r");
    cr_assert_not_null(f, "cannot open %s", DOC);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    cr_assert_gt(todo_integration_type_count(), 0);
    for (size_t i = 0; i < todo_integration_type_count(); i++) {
        char name[128], quoted[140];
        cr_assert_not_null(todo_integration_type_name(i, name, sizeof(name)));
        snprintf(quoted, sizeof(quoted), "`%s`", name);
        cr_expect_not_null(strstr(text, quoted), "%s does not describe %s", DOC, quoted);
    }
    char buf[16];
    cr_expect_null(todo_integration_type_name(todo_integration_type_count(), buf, 16));
}

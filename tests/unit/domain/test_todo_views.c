/* The list and summary folds. */
#include <criterion/criterion.h>
#include <string.h>

#include "domain/todo_views.h"

static void apply_both(json_t *list, json_t *sum, const char *type, const char *data_json)
{
    json_t *data = json_loads(data_json, 0, NULL);
    cr_assert_not_null(data, "%s", data_json);
    cr_assert_eq(todo_list_view_apply(list, type, data), ES_OK, "%s", type);
    cr_assert_eq(todo_summary_view_apply(sum, type, data), ES_OK, "%s", type);
    json_decref(data);
}

static const char *item_field(json_t *view, size_t i, const char *k)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(view, "items"), i), k));
}

static json_int_t num(json_t *v, const char *k)
{
    return json_integer_value(json_object_get(v, k));
}

Test(views, new_views_have_ids_kinds_and_version_zero)
{
    json_t *l = todo_list_view_new("42"), *s = todo_summary_view_new("42");
    cr_expect_str_eq(json_string_value(json_object_get(l, "id")), "todolist:42");
    cr_expect_str_eq(json_string_value(json_object_get(l, "view")), "todolist");
    cr_expect_str_eq(json_string_value(json_object_get(s, "id")), "summary:42");
    cr_expect_str_eq(json_string_value(json_object_get(s, "view")), "summary");
    cr_expect_str_eq(json_string_value(json_object_get(s, "listId")), "42");
    cr_expect_eq(num(l, "version"), 0);
    cr_expect_eq(num(s, "itemCount"), 0);
    json_decref(l);
    json_decref(s);
}

Test(views, a_story_folds_into_both_views)
{
    json_t *l = todo_list_view_new("x"), *s = todo_summary_view_new("x");
    apply_both(l, s, "TodoListCreated", "{\"name\":\"Groceries\"}");
    apply_both(l, s, "ItemAdded",
               "{\"itemId\":\"a\",\"task\":\"Milk\",\"status\":\"To Do\"}");
    apply_both(l, s, "ItemAdded",
               "{\"itemId\":\"b\",\"task\":\"Eggs\",\"status\":\"To Do\"}");
    apply_both(l, s, "ItemAdded",
               "{\"itemId\":\"c\",\"task\":\"Tea\",\"status\":\"To Do\"}");
    apply_both(l, s, "ItemStatusChanged", "{\"itemId\":\"a\",\"status\":\"Done\"}");
    apply_both(l, s, "TaskRenamed", "{\"itemId\":\"b\",\"task\":\"Brown eggs\"}");
    apply_both(l, s, "ItemRemoved", "{\"itemId\":\"c\"}");
    apply_both(l, s, "ItemMovedOut",
               "{\"itemId\":\"b\",\"task\":\"Brown eggs\",\"status\":\"To "
               "Do\",\"toListId\":\"y\"}");
    apply_both(l, s, "ItemMoveReverted",
               "{\"itemId\":\"b\",\"task\":\"Brown eggs\",\"status\":\"To "
               "Do\",\"toListId\":\"y\","
               "\"reason\":\"not_found\"}");
    apply_both(
        l, s, "ItemMovedIn",
        "{\"itemId\":\"d\",\"task\":\"Jam\",\"status\":\"Done\",\"fromListId\":\"z\"}");
    apply_both(l, s, "TodoListRenamed", "{\"name\":\"Food\"}");
    cr_expect_str_eq(json_string_value(json_object_get(l, "name")), "Food");
    cr_expect_eq(json_array_size(json_object_get(l, "items")), 3);
    cr_expect_str_eq(item_field(l, 0, "id"), "a");
    cr_expect_str_eq(item_field(l, 0, "status"), "Done");
    cr_expect_str_eq(item_field(l, 1, "task"), "Brown eggs");
    cr_expect_str_eq(item_field(l, 2, "id"), "d");
    cr_expect_str_eq(json_string_value(json_object_get(s, "name")), "Food");
    cr_expect_eq(num(s, "itemCount"), 3);
    cr_expect_eq(num(s, "doneCount"), 2);
    apply_both(l, s, "TodoListDeleted", "{}");
    cr_expect(json_is_true(json_object_get(l, "deleted")));
    cr_expect_str_eq(json_string_value(json_object_get(s, "view")), "summary-deleted",
                     "a deleted list leaves the index");
    json_decref(l);
    json_decref(s);
}

Test(views, repeated_adds_and_changes_of_unknown_items_change_nothing)
{
    json_t *l = todo_list_view_new("x"), *s = todo_summary_view_new("x");
    apply_both(l, s, "ItemAdded",
               "{\"itemId\":\"a\",\"task\":\"Milk\",\"status\":\"Done\"}");
    apply_both(l, s, "ItemMovedIn",
               "{\"itemId\":\"a\",\"task\":\"Other\",\"status\":\"To Do\"}");
    apply_both(l, s, "ItemStatusChanged", "{\"itemId\":\"zz\",\"status\":\"Done\"}");
    apply_both(l, s, "TaskRenamed", "{\"itemId\":\"zz\",\"task\":\"x\"}");
    apply_both(l, s, "ItemRemoved", "{\"itemId\":\"zz\"}");
    apply_both(l, s, "SomethingNew", "{}");
    cr_expect_eq(json_array_size(json_object_get(l, "items")), 1);
    cr_expect_str_eq(item_field(l, 0, "task"), "Milk");
    cr_expect_eq(num(s, "itemCount"), 1);
    cr_expect_eq(num(s, "doneCount"), 1);
    json_decref(l);
    json_decref(s);
}

Test(views, events_missing_fields_are_refused)
{
    json_t *l = todo_list_view_new("x"), *s = todo_summary_view_new("x");
    json_t *empty = json_object();
    const char *types[] = {"TodoListCreated", "ItemAdded",         "ItemRemoved",
                           "TaskRenamed",     "ItemStatusChanged", "ItemMovedOut"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        cr_expect_eq(todo_list_view_apply(l, types[i], empty), ES_EFIELD, "%s", types[i]);
        if (strcmp(types[i], "TaskRenamed") != 0)
            cr_expect_eq(todo_summary_view_apply(s, types[i], empty), ES_EFIELD, "%s",
                         types[i]);
    }
    json_decref(empty);
    json_decref(l);
    json_decref(s);
}

/*
 * todo_views.c - the list and summary folds.
 */
#include "todo_views.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"

static const char *field(const json_t *data, const char *name)
{
    return json_string_value(json_object_get(data, name));
}

static json_t *new_view(const char *prefix, const char *kind, const char *list_id)
{
    char id[160];
    if (es_fmt(id, sizeof(id), "%s%s", prefix, list_id) != ES_OK)
        return NULL; /* list ids are at most 64 characters */
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", id, "view", kind, "listId",
                     list_id, "name", "", "version", (json_int_t)0);
}

json_t *todo_list_view_new(const char *list_id)
{
    json_t *v = new_view(TODO_LIST_VIEW_PREFIX, TODO_LIST_VIEW, list_id);
    if (v != NULL && (json_object_set_new(v, "deleted", json_false()) != 0 ||
                      json_object_set_new(v, "items", json_array()) != 0)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* The index of the item with this id in a view's items, or -1. */
static long item_at(const json_t *items, const char *id)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *v = field(it, "id");
        if (v != NULL && strcmp(v, id) == 0)
            return (long)i;
    }
    return -1;
}

static bool is_type(const char *type, const char *a, const char *b, const char *c)
{
    return strcmp(type, a) == 0 || (b != NULL && strcmp(type, b) == 0) ||
           (c != NULL && strcmp(type, c) == 0);
}

/* TodoListCreated and TodoListRenamed carry the list's name; both views keep it. */
static enum es_status set_name(json_t *view, const json_t *data)
{
    const char *name = field(data, "name");
    if (name == NULL)
        return ES_EFIELD;
    return json_object_set_new(view, "name", json_string(name)) == 0 ? ES_OK : ES_ENOMEM;
}

enum es_status todo_list_view_apply(json_t *view, const char *type, const json_t *data)
{
    json_t *items = json_object_get(view, "items");
    const char *id = field(data, "itemId");
    if (is_type(type, "TodoListCreated", "TodoListRenamed", NULL))
        return set_name(view, data);
    if (strcmp(type, "TodoListDeleted") == 0)
        return json_object_set_new(view, "deleted", json_true()) == 0 ? ES_OK : ES_ENOMEM;
    if (is_type(type, "ItemAdded", "ItemMovedIn", "ItemMoveReverted")) {
        const char *task = field(data, "task"), *status = field(data, "status");
        if (id == NULL || task == NULL || status == NULL)
            return ES_EFIELD;
        if (item_at(items, id) >= 0)
            return ES_OK;
        return json_array_append_new(items, json_pack("{s:s, s:s, s:s}", "id", id, "task",
                                                      task, "status", status)) == 0
                   ? ES_OK
                   : ES_ENOMEM;
    }
    if (is_type(type, "ItemRemoved", "ItemMovedOut", NULL)) {
        if (id == NULL)
            return ES_EFIELD;
        long at = item_at(items, id);
        if (at >= 0)
            json_array_remove(items, (size_t)at);
        return ES_OK;
    }
    if (is_type(type, "TaskRenamed", "ItemStatusChanged", NULL)) {
        const char *key = type[0] == 'T' ? "task" : "status";
        const char *value = field(data, key);
        if (id == NULL || value == NULL)
            return ES_EFIELD;
        long at = item_at(items, id);
        if (at < 0)
            return ES_OK;
        return json_object_set_new(json_array_get(items, (size_t)at), key,
                                   json_string(value)) == 0
                   ? ES_OK
                   : ES_ENOMEM;
    }
    return ES_OK;
}

json_t *todo_summary_view_new(const char *list_id)
{
    json_t *v = new_view(TODO_SUMMARY_VIEW_PREFIX, TODO_SUMMARY_VIEW, list_id);
    if (v != NULL && (json_object_set_new(v, "itemCount", json_integer(0)) != 0 ||
                      json_object_set_new(v, "doneCount", json_integer(0)) != 0 ||
                      json_object_set_new(v, "statuses", json_object()) != 0)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* Recomputes itemCount and doneCount from the statuses map. */
static enum es_status recount(json_t *view)
{
    json_t *statuses = json_object_get(view, "statuses");
    json_int_t done = 0;
    const char *k;
    json_t *v;
    json_object_foreach(statuses, k, v)
    {
        done += strcmp(json_string_value(v) ? json_string_value(v) : "", "Done") == 0;
    }
    if (json_object_set_new(view, "itemCount",
                            json_integer((json_int_t)json_object_size(statuses))) != 0 ||
        json_object_set_new(view, "doneCount", json_integer(done)) != 0)
        return ES_ENOMEM;
    return ES_OK;
}

enum es_status todo_summary_view_apply(json_t *view, const char *type, const json_t *data)
{
    json_t *statuses = json_object_get(view, "statuses");
    const char *id = field(data, "itemId");
    if (is_type(type, "TodoListCreated", "TodoListRenamed", NULL))
        return set_name(view, data);
    if (strcmp(type, "TodoListDeleted") == 0)
        return json_object_set_new(view, "view",
                                   json_string(TODO_SUMMARY_DELETED_VIEW)) == 0
                   ? ES_OK
                   : ES_ENOMEM;
    if (is_type(type, "ItemAdded", "ItemMovedIn", "ItemMoveReverted") ||
        strcmp(type, "ItemStatusChanged") == 0) {
        const char *status = field(data, "status");
        if (id == NULL || status == NULL)
            return ES_EFIELD;
        bool known = json_object_get(statuses, id) != NULL;
        /* An add of a known item changes nothing, as in the list view; a change of an
         * unknown one neither. */
        if (known != (strcmp(type, "ItemStatusChanged") == 0))
            return ES_OK;
        if (json_object_set_new(statuses, id, json_string(status)) != 0)
            return ES_ENOMEM;
        return recount(view);
    }
    if (is_type(type, "ItemRemoved", "ItemMovedOut", NULL)) {
        if (id == NULL)
            return ES_EFIELD;
        json_object_del(statuses, id);
        return recount(view);
    }
    return ES_OK;
}

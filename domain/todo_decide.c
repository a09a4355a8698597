/*
 * todo_decide.c - the rules: (state, command) -> events | rejection.
 *
 * Every command's fields are checked first, whoever sent it: ids, names,
 * tasks and reasons as todo.h says (a reaction built from a change-feed event
 * is input like an HTTP request). Every command except CREATE needs a list
 * that exists and is not deleted. The two reactions of the move process are
 * forgiving on purpose: MOVE_IN of an item the list already holds and
 * REVERT_MOVE of an item already back (or on a deleted list, which took the
 * item with it) append nothing, so a redelivered event never acts twice.
 *
 * A list holds at most TODO_ITEMS_MAX items: an ADD_ITEM or MOVE_IN that would
 * pass it is list_full, and every other command still works on a full list,
 * so it can always be emptied. REVERT_MOVE alone may pass the cap: it returns
 * an item that left this list, and refusing it would lose the item.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/ids.h"
#include "util/text.h"
#include "todo.h"

#define REASON_MAX 200 /* bytes of a revert's reason, e.g. "task_exists" */

static void reject(struct todo_decision *d, enum es_status e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reject(struct todo_decision *d, enum es_status e, const char *fmt, ...)
{
    d->error = e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof(d->message), fmt, ap);
    va_end(ap);
}

static enum es_status emit(struct todo_decision *d, const char *type, json_t *data)
{
    if (data == NULL)
        return ES_ENOMEM;
    return json_array_append_new(d->events,
                                 json_pack("{s:s, s:o}", "type", type, "data", data)) == 0
               ? ES_OK
               : ES_ENOMEM;
}

static bool task_taken(const struct todo_list *l, const char *task, const char *except_id)
{
    for (size_t i = 0; i < l->n_items; i++)
        if (strcmp(l->items[i].task, task) == 0 &&
            (except_id == NULL || strcmp(l->items[i].id, except_id) != 0))
            return true;
    return false;
}

/* A revert's reason: absent, or up to REASON_MAX bytes of UTF-8 text, no controls. */
/* Whether one more item would pass the cap; refuses with list_full when so. */
static bool full(const struct todo_list *l, struct todo_decision *d)
{
    if (l->n_items < TODO_ITEMS_MAX)
        return false;
    reject(d, ES_ELIST_FULL, "the list holds %zu items, the most a list may hold (%d)",
           l->n_items, TODO_ITEMS_MAX);
    return true;
}

static bool reason_valid(const char *r)
{
    size_t n = r != NULL ? strlen(r) : 0;
    if (n > REASON_MAX)
        return false;
    for (size_t i = 0; i < n;) {
        size_t step = es_utf8_seq_len((const unsigned char *)r + i, n - i);
        if (step == 0 || (unsigned char)r[i] < 0x20 || r[i] == 0x7f)
            return false;
        i += step;
    }
    return true;
}

/* The name of the first field of c that breaks the rules, or NULL. */
static const char *bad_field(const struct todo_cmd *c)
{
    switch (c->kind) {
    case TODO_CREATE:
    case TODO_RENAME:
        return todo_text_valid(c->name) ? NULL : "name";
    case TODO_DELETE:
        return NULL;
    case TODO_ADD_ITEM:
        return !es_id_valid(c->new_item_id) ? "itemId"
               : !todo_text_valid(c->task)  ? "task"
                                            : NULL;
    case TODO_UPDATE_ITEM:
        return !es_id_valid(c->item_id)                       ? "itemId"
               : c->task != NULL && !todo_text_valid(c->task) ? "task"
                                                              : NULL;
    case TODO_REMOVE_ITEM:
        return es_id_valid(c->item_id) ? NULL : "itemId";
    case TODO_SET_STATUSES:
        if (c->n_item_ids < 1 || c->n_item_ids > TODO_MASS_UPDATE_MAX)
            return "itemIds";
        for (size_t i = 0; i < c->n_item_ids; i++)
            if (!es_id_valid(c->item_ids[i]))
                return "itemIds";
        return NULL;
    case TODO_MOVE_OUT:
    case TODO_MOVE_IN:
    case TODO_REVERT_MOVE:
        return !es_id_valid(c->item_id)                                ? "itemId"
               : !es_id_valid(c->other_list_id)                        ? "listId"
               : c->kind != TODO_MOVE_OUT && !todo_text_valid(c->task) ? "task"
               : !reason_valid(c->reason)                              ? "reason"
                                                                       : NULL;
    }
    return "kind";
}

/*
 * A task for the restored item that no other item of l holds: the task itself,
 * else with " (2)", " (3)", ... - the task cut so that the whole stays within
 * TODO_TEXT_MAX_CHARS. Written into buf.
 */
static const char *free_task(const struct todo_list *l, const char *task, char *buf,
                             size_t len)
{
    if (!task_taken(l, task, NULL))
        return task;
    for (unsigned k = 2; k < 100000; k++) {
        char suffix[16];
        int sn = snprintf(suffix, sizeof(suffix), " (%u)", k);
        size_t keep = todo_text_cut(task, TODO_TEXT_MAX_CHARS - (size_t)sn);
        while (keep > 0 && (task[keep - 1] == ' ' || task[keep - 1] == '\t'))
            keep--;
        if (snprintf(buf, len, "%.*s%s", (int)keep, task, suffix) >= (int)len)
            break;
        if (!task_taken(l, buf, NULL))
            return buf;
    }
    return NULL;
}

static json_t *item_data(const struct todo_cmd *c, const char *task,
                         enum todo_item_status st, const char *other_key)
{
    json_t *data = json_pack("{s:s, s:s, s:s}", "itemId", c->item_id, "task", task,
                             "status", todo_status_name(st));
    if (data != NULL && other_key != NULL &&
        json_object_set_new(data, other_key, json_string(c->other_list_id)) != 0) {
        json_decref(data);
        return NULL;
    }
    return data;
}

static enum es_status update_item(const struct todo_list *l, const struct todo_cmd *c,
                                  struct todo_decision *d)
{
    const struct todo_item *it = todo_list_item(l, c->item_id);
    if (it == NULL) {
        reject(d, ES_ENOTFOUND, "item '%s' is not in this list", c->item_id);
        return ES_OK;
    }
    enum es_status st = ES_OK;
    if (c->task != NULL && strcmp(c->task, it->task) != 0) {
        if (task_taken(l, c->task, it->id)) {
            reject(d, ES_ETASK_EXISTS, "task '%s' already exists in this list", c->task);
            return ES_OK;
        }
        st = emit(d, "TaskRenamed",
                  json_pack("{s:s, s:s}", "itemId", it->id, "task", c->task));
    }
    if (st == ES_OK && c->has_status && c->status != it->status)
        st = emit(d, "ItemStatusChanged",
                  json_pack("{s:s, s:s}", "itemId", it->id, "status",
                            todo_status_name(c->status)));
    return st;
}

static enum es_status set_statuses(const struct todo_list *l, const struct todo_cmd *c,
                                   struct todo_decision *d)
{
    for (size_t i = 0; i < c->n_item_ids; i++) {
        if (todo_list_item(l, c->item_ids[i]) == NULL) {
            reject(d, ES_ENOTFOUND, "item '%s' is not in this list", c->item_ids[i]);
            return ES_OK;
        }
    }
    for (size_t i = 0; i < c->n_item_ids; i++) {
        const struct todo_item *it = todo_list_item(l, c->item_ids[i]);
        if (it->status == c->status)
            continue;
        enum es_status st = emit(d, "ItemStatusChanged",
                                 json_pack("{s:s, s:s}", "itemId", it->id, "status",
                                           todo_status_name(c->status)));
        if (st != ES_OK)
            return st;
    }
    return ES_OK;
}

/* Commands on an existing, live list. */
static enum es_status decide_live(const struct todo_list *l, const struct todo_cmd *c,
                                  struct todo_decision *d)
{
    const struct todo_item *it;
    switch (c->kind) {
    case TODO_CREATE:
        break;
    case TODO_RENAME:
        if (strcmp(l->name, c->name) == 0)
            return ES_OK;
        return emit(d, "TodoListRenamed", json_pack("{s:s}", "name", c->name));
    case TODO_DELETE:
        return emit(d, "TodoListDeleted", json_object());
    case TODO_ADD_ITEM:
        if (task_taken(l, c->task, NULL)) {
            reject(d, ES_ETASK_EXISTS, "task '%s' already exists in this list", c->task);
            return ES_OK;
        }
        if (full(l, d))
            return ES_OK;
        return emit(d, "ItemAdded",
                    json_pack("{s:s, s:s, s:s}", "itemId", c->new_item_id, "task",
                              c->task, "status", todo_status_name(TODO_TO_DO)));
    case TODO_UPDATE_ITEM:
        return update_item(l, c, d);
    case TODO_REMOVE_ITEM:
    case TODO_MOVE_OUT:
        if ((it = todo_list_item(l, c->item_id)) == NULL) {
            reject(d, ES_ENOTFOUND, "item '%s' is not in this list", c->item_id);
            return ES_OK;
        }
        if (c->kind == TODO_REMOVE_ITEM)
            return emit(d, "ItemRemoved", json_pack("{s:s}", "itemId", it->id));
        return emit(d, "ItemMovedOut", item_data(c, it->task, it->status, "toListId"));
    case TODO_SET_STATUSES:
        return set_statuses(l, c, d);
    case TODO_MOVE_IN:
        if (todo_list_item(l, c->item_id) != NULL)
            return ES_OK;
        if (task_taken(l, c->task, NULL)) {
            reject(d, ES_ETASK_EXISTS, "task '%s' already exists in the target list",
                   c->task);
            return ES_OK;
        }
        if (full(l, d))
            return ES_OK;
        return emit(d, "ItemMovedIn", item_data(c, c->task, c->status, "fromListId"));
    case TODO_REVERT_MOVE:
        if (todo_list_item(l, c->item_id) != NULL)
            return ES_OK;
        {
            char renamed[TODO_TEXT_MAX_CHARS * 4 + 16];
            const char *task = free_task(l, c->task, renamed, sizeof(renamed));
            if (task == NULL) {
                reject(d, ES_ETASK_EXISTS, "no free task name for the returned item");
                return ES_OK;
            }
            json_t *data = item_data(c, task, c->status, "toListId");
            if (data != NULL &&
                json_object_set_new(data, "reason",
                                    json_string(c->reason ? c->reason : "")) != 0) {
                json_decref(data);
                data = NULL;
            }
            return emit(d, "ItemMoveReverted", data);
        }
    }
    return ES_OK;
}

enum es_status todo_decide(const struct todo_list *l, const struct todo_cmd *c,
                           struct todo_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->events = json_array();
    if (d->events == NULL)
        return ES_ENOMEM;
    const char *bad = bad_field(c);
    if (bad != NULL) {
        reject(d, ES_EFIELD, "'%s' is not valid for this command", bad);
        return ES_OK;
    }
    if (c->kind == TODO_CREATE) {
        if (l->created) {
            reject(d, ES_ELIST_EXISTS, "the list already exists");
            return ES_OK;
        }
        return emit(d, "TodoListCreated", json_pack("{s:s}", "name", c->name));
    }
    if (c->kind == TODO_REVERT_MOVE && (!l->created || l->deleted))
        return ES_OK; /* the item went with its list */
    if (!l->created) {
        reject(d, ES_ENOTFOUND, "the list does not exist");
        return ES_OK;
    }
    if (l->deleted) {
        reject(d, ES_EGONE, "the list has been deleted");
        return ES_OK;
    }
    return decide_live(l, c, d);
}

void todo_decision_release(struct todo_decision *d)
{
    json_decref(d->events);
    memset(d, 0, sizeof(*d));
}

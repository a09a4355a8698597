/*
 * todo.c - to-do list state: text rules, evolve, and the snapshot format.
 *
 * Snapshot format (TODO_SNAPSHOT_SCHEMA 1), stored as the `state` of a
 * snapshot document:
 *   {"created": bool, "deleted": bool, "name": string|null,
 *    "items": [{"id": string, "task": string, "status": "To Do"|...}]}
 * Changing it: bump TODO_SNAPSHOT_SCHEMA; the engine ignores snapshots of
 * another schema and replays the stream instead, so old snapshots are
 * harmless and are replaced by the next one written.
 */
#include "todo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

static const char *const status_names[] = {"To Do", "In Progress", "Done"};

const char *todo_status_name(enum todo_item_status s)
{
    return status_names[s];
}

bool todo_status_parse(const char *s, enum todo_item_status *out)
{
    for (int i = 0; i < 3; i++) {
        if (s != NULL && strcmp(s, status_names[i]) == 0) {
            *out = (enum todo_item_status)i;
            return true;
        }
    }
    return false;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum es_status todo_text_normalize(const char *s, size_t len, const char *field,
                                   char **out, struct es_error *err)
{
    while (len > 0 && blank(s[0]))
        s++, len--;
    while (len > 0 && blank(s[len - 1]))
        len--;
    size_t chars = 0;
    for (size_t i = 0; i < len; chars++) {
        size_t n = es_utf8_seq_len((const unsigned char *)s + i, len - i);
        if (n == 0 || (n == 1 && s[i] == '\0'))
            return es_error_set(err, ES_EFIELD, "'%s' must be valid text", field);
        i += n;
    }
    if (chars < 1 || chars > TODO_TEXT_MAX_CHARS)
        return es_error_set(err, ES_EFIELD,
                            "'%s' must be 1 to %d characters after trimming", field,
                            TODO_TEXT_MAX_CHARS);
    *out = strndup(s, len);
    return *out != NULL ? ES_OK : ES_ENOMEM;
}

/* Bytes of s's first max_chars code points (s is valid UTF-8); *chars gets how many. */
static size_t text_prefix(const char *s, size_t len, size_t max_chars, size_t *chars)
{
    size_t i = 0, n = 0;
    while (i < len && n < max_chars) {
        size_t step = es_utf8_seq_len((const unsigned char *)s + i, len - i);
        if (step == 0)
            break;
        i += step;
        n++;
    }
    *chars = n;
    return i;
}

bool todo_text_valid(const char *s)
{
    if (s == NULL)
        return false;
    size_t len = strlen(s), chars = 0;
    if (len == 0 || blank(s[0]) || blank(s[len - 1]))
        return false;
    size_t used = text_prefix(s, len, TODO_TEXT_MAX_CHARS + 1, &chars);
    return used == len && chars >= 1 && chars <= TODO_TEXT_MAX_CHARS;
}

size_t todo_text_cut(const char *s, size_t max_chars)
{
    size_t chars = 0;
    return text_prefix(s, strlen(s), max_chars, &chars);
}

struct todo_list *todo_list_new(void)
{
    return calloc(1, sizeof(struct todo_list));
}

static void item_release(struct todo_item *it)
{
    free(it->id);
    free(it->task);
}

void todo_list_free(struct todo_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n_items; i++)
        item_release(&l->items[i]);
    free(l->items);
    free(l->name);
    free(l);
}

static enum es_status add_item(struct todo_list *l, const char *id, const char *task,
                               enum todo_item_status status)
{
    if (l->n_items == l->cap_items) {
        size_t cap = l->cap_items ? l->cap_items * 2 : 8;
        struct todo_item *grown = realloc(l->items, cap * sizeof(*grown));
        if (grown == NULL)
            return ES_ENOMEM;
        l->items = grown;
        l->cap_items = cap;
    }
    struct todo_item *it = &l->items[l->n_items];
    it->id = strdup(id);
    it->task = strdup(task);
    it->status = status;
    if (it->id == NULL || it->task == NULL) {
        item_release(it);
        return ES_ENOMEM;
    }
    l->n_items++;
    return ES_OK;
}

struct todo_list *todo_list_clone(const struct todo_list *l)
{
    struct todo_list *c = todo_list_new();
    if (c == NULL)
        return NULL;
    c->created = l->created;
    c->deleted = l->deleted;
    if (l->name != NULL && (c->name = strdup(l->name)) == NULL)
        goto fail;
    for (size_t i = 0; i < l->n_items; i++)
        if (add_item(c, l->items[i].id, l->items[i].task, l->items[i].status) != ES_OK)
            goto fail;
    return c;
fail:
    todo_list_free(c);
    return NULL;
}

static size_t item_index(const struct todo_list *l, const char *id)
{
    for (size_t i = 0; i < l->n_items; i++)
        if (strcmp(l->items[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

const struct todo_item *todo_list_item(const struct todo_list *l, const char *item_id)
{
    size_t i = item_index(l, item_id);
    return i == SIZE_MAX ? NULL : &l->items[i];
}

static void remove_item(struct todo_list *l, const char *id)
{
    size_t i = item_index(l, id);
    if (i == SIZE_MAX)
        return;
    item_release(&l->items[i]);
    memmove(&l->items[i], &l->items[i + 1], (l->n_items - i - 1) * sizeof(l->items[0]));
    l->n_items--;
}

static enum es_status set_name(struct todo_list *l, const char *name)
{
    char *copy = strdup(name);
    if (copy == NULL)
        return ES_ENOMEM;
    free(l->name);
    l->name = copy;
    return ES_OK;
}

static const char *field(const json_t *data, const char *name)
{
    return json_string_value(json_object_get(data, name));
}

/* ItemAdded, ItemMovedIn and ItemMoveReverted all (re)place an item. */
static enum es_status place_item(struct todo_list *l, const json_t *data)
{
    const char *id = field(data, "itemId"), *task = field(data, "task");
    enum todo_item_status status;
    if (id == NULL || task == NULL || !todo_status_parse(field(data, "status"), &status))
        return ES_EFIELD;
    if (item_index(l, id) != SIZE_MAX)
        return ES_OK; /* already here: applying it twice changes nothing */
    return add_item(l, id, task, status);
}

enum es_status todo_evolve(struct todo_list *l, const char *type, const json_t *data)
{
    const char *id = field(data, "itemId");
    if (strcmp(type, "TodoListCreated") == 0 || strcmp(type, "TodoListRenamed") == 0) {
        const char *name = field(data, "name");
        if (name == NULL)
            return ES_EFIELD;
        l->created = true;
        return set_name(l, name);
    }
    if (strcmp(type, "TodoListDeleted") == 0) {
        /* Only a list that exists can be deleted; a stray event changes nothing. */
        l->deleted = l->created;
        return ES_OK;
    }
    if (strcmp(type, "ItemAdded") == 0 || strcmp(type, "ItemMovedIn") == 0 ||
        strcmp(type, "ItemMoveReverted") == 0)
        return place_item(l, data);
    if (strcmp(type, "ItemRemoved") == 0 || strcmp(type, "ItemMovedOut") == 0) {
        if (id == NULL)
            return ES_EFIELD;
        remove_item(l, id);
        return ES_OK;
    }
    if (strcmp(type, "TaskRenamed") == 0 || strcmp(type, "ItemStatusChanged") == 0) {
        size_t i = id != NULL ? item_index(l, id) : SIZE_MAX;
        if (i == SIZE_MAX)
            return id == NULL ? ES_EFIELD : ES_OK;
        if (type[0] == 'T') {
            const char *task = field(data, "task");
            char *copy = task != NULL ? strdup(task) : NULL;
            if (copy == NULL)
                return task == NULL ? ES_EFIELD : ES_ENOMEM;
            free(l->items[i].task);
            l->items[i].task = copy;
            return ES_OK;
        }
        return todo_status_parse(field(data, "status"), &l->items[i].status) ? ES_OK
                                                                             : ES_EFIELD;
    }
    return ES_OK;
}

json_t *todo_list_to_json(const struct todo_list *l)
{
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < l->n_items; i++) {
        const struct todo_item *it = &l->items[i];
        if (json_array_append_new(items, json_pack("{s:s, s:s, s:s}", "id", it->id,
                                                   "task", it->task, "status",
                                                   todo_status_name(it->status))) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    return json_pack("{s:b, s:b, s:s?, s:o}", "created", l->created, "deleted",
                     l->deleted, "name", l->name, "items", items);
}

struct todo_list *todo_list_from_json(const json_t *j)
{
    json_t *items = json_object_get(j, "items");
    if (!json_is_object(j) || !json_is_array(items))
        return NULL;
    struct todo_list *l = todo_list_new();
    if (l == NULL)
        return NULL;
    l->created = json_is_true(json_object_get(j, "created"));
    l->deleted = l->created && json_is_true(json_object_get(j, "deleted"));
    const char *name = field(j, "name");
    /* A created list always has a name: the rules rely on it. */
    if ((l->created && name == NULL) || (name != NULL && set_name(l, name) != ES_OK))
        goto fail;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        enum todo_item_status st;
        const char *id = field(it, "id"), *task = field(it, "task");
        if (id == NULL || task == NULL || !todo_status_parse(field(it, "status"), &st) ||
            item_index(l, id) != SIZE_MAX || add_item(l, id, task, st) != ES_OK)
            goto fail;
    }
    return l;
fail:
    todo_list_free(l);
    return NULL;
}

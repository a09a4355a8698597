/*
 * todo_integration.c - the public contract as a table (see
 * todo_integration.h). Each row names a stored event type and schema, the
 * public name and schema it is published under, the data field naming the
 * item it is about (the CloudEvent's subject), and the public fields in the
 * order they are written, each with where it comes from and what it must
 * look like. A field is copied only when the row names it: internal fields
 * cannot leak by being added to a stored event.
 *
 * Changing the contract: add or change a row here, describe it in
 * docs/integration-events.md (tests/unit/domain/test_todo_integration.c
 * checks that every public type is there), and never change what an
 * existing public type and schema carry - publish a new schema instead.
 */
#include "todo_integration.h"

#include <stdio.h>
#include <string.h>

#include "util/ids.h"
#include "util/timeutil.h"
#include "todo.h"

enum field_kind {
    FIELD_ID,     /* a list or item id: es_id_valid */
    FIELD_TEXT,   /* a name or task: todo_text_valid */
    FIELD_STATUS, /* "To Do", "In Progress", "Done" */
};

#define FROM_LIST "$list" /* the id of the list whose stream holds the event */

struct public_field {
    const char *name; /* in data */
    const char *from; /* the stored data field, or FROM_LIST */
    enum field_kind kind;
};

#define FIELDS_MAX 6

struct public_event {
    const char *stored_type;
    int stored_schema;
    const char *name; /* type "todo.<name>.v<schema>" */
    int schema;
    const char *subject; /* stored data field with the item id, or NULL */
    struct public_field fields[FIELDS_MAX]; /* ended by a NULL name */
};

static const struct public_event contract[] = {
    {"TodoListCreated",
     1,
     "TodoListCreated",
     1,
     NULL,
     {{"listId", FROM_LIST, FIELD_ID}, {"name", "name", FIELD_TEXT}}},
    {"TodoListRenamed",
     1,
     "TodoListRenamed",
     1,
     NULL,
     {{"listId", FROM_LIST, FIELD_ID}, {"name", "name", FIELD_TEXT}}},
    {"TodoListDeleted", 1, "TodoListDeleted", 1, NULL, {{"listId", FROM_LIST, FIELD_ID}}},
    {"ItemAdded",
     1,
     "ItemAdded",
     1,
     "itemId",
     {{"listId", FROM_LIST, FIELD_ID},
      {"itemId", "itemId", FIELD_ID},
      {"task", "task", FIELD_TEXT},
      {"status", "status", FIELD_STATUS}}},
    {"TaskRenamed",
     1,
     "ItemTaskChanged",
     1,
     "itemId",
     {{"listId", FROM_LIST, FIELD_ID},
      {"itemId", "itemId", FIELD_ID},
      {"task", "task", FIELD_TEXT}}},
    {"ItemStatusChanged",
     1,
     "ItemStatusChanged",
     1,
     "itemId",
     {{"listId", FROM_LIST, FIELD_ID},
      {"itemId", "itemId", FIELD_ID},
      {"status", "status", FIELD_STATUS}}},
    {"ItemRemoved",
     1,
     "ItemRemoved",
     1,
     "itemId",
     {{"listId", FROM_LIST, FIELD_ID}, {"itemId", "itemId", FIELD_ID}}},
    /* A move settles in the target's stream: published from there, once. */
    {"ItemMovedIn",
     1,
     "ItemMoved",
     1,
     "itemId",
     {{"itemId", "itemId", FIELD_ID},
      {"task", "task", FIELD_TEXT},
      {"status", "status", FIELD_STATUS},
      {"fromListId", "fromListId", FIELD_ID},
      {"toListId", FROM_LIST, FIELD_ID}}},
    /* ItemMovedOut and ItemMoveReverted: an unsettled or undone move, not published. */
};

#define CONTRACT_ROWS (sizeof(contract) / sizeof(contract[0]))

size_t todo_integration_type_count(void)
{
    return CONTRACT_ROWS;
}

const char *todo_integration_type_name(size_t i, char *buf, size_t len)
{
    if (i >= CONTRACT_ROWS)
        return NULL;
    int n = snprintf(buf, len, TODO_INTEGRATION_TYPE_PREFIX "%s.v%d", contract[i].name,
                     contract[i].schema);
    return n > 0 && (size_t)n < len ? buf : NULL;
}

static const struct public_event *find(const char *type)
{
    for (size_t i = 0; i < CONTRACT_ROWS; i++)
        if (strcmp(contract[i].stored_type, type) == 0)
            return &contract[i];
    return NULL;
}

static bool field_valid(const char *v, enum field_kind kind)
{
    enum todo_item_status s;
    switch (kind) {
    case FIELD_ID:
        return es_id_valid(v);
    case FIELD_TEXT:
        return v != NULL && todo_text_valid(v);
    case FIELD_STATUS:
        return todo_status_parse(v, &s);
    }
    return false;
}

/* The public data object; ES_EFIELD naming the first field that is wrong. */
static enum es_status build_data(const struct public_event *pe,
                                 const struct todo_stored_event *ev, const char *list_id,
                                 json_t **out, struct es_error *err)
{
    json_t *data = json_object();
    if (data == NULL)
        return ES_ENOMEM;
    for (size_t i = 0; i < FIELDS_MAX && pe->fields[i].name != NULL; i++) {
        const struct public_field *f = &pe->fields[i];
        const char *v = strcmp(f->from, FROM_LIST) == 0
                            ? list_id
                            : json_string_value(json_object_get(ev->data, f->from));
        if (!field_valid(v, f->kind)) {
            json_decref(data);
            return es_error_set(err, ES_EFIELD,
                                "cannot publish %s %s:%lld: field '%s' is missing or not "
                                "what the API writes",
                                ev->type, ev->stream_id, (long long)ev->version, f->from);
        }
        if (json_object_set_new(data, f->name, json_string(v)) != 0) {
            json_decref(data);
            return ES_ENOMEM;
        }
    }
    *out = data;
    return ES_OK;
}

/* Sets key to a copy of s when s is a string; leaves it out otherwise. */
static int set_string_if(json_t *o, const char *key, const json_t *s)
{
    return json_is_string(s) ? json_object_set_new(o, key, json_copy((json_t *)s)) : 0;
}

static json_t *cloud_event(const struct public_event *pe,
                           const struct todo_stored_event *ev, const char *list_id,
                           json_t *data_new)
{
    char id[320], source[128], type[128], sequence[24];
    snprintf(id, sizeof(id), "%s:%lld", ev->stream_id, (long long)ev->version);
    snprintf(source, sizeof(source), TODO_CLOUDEVENT_SOURCE_PREFIX "%s", list_id);
    snprintf(type, sizeof(type), TODO_INTEGRATION_TYPE_PREFIX "%s.v%d", pe->name,
             pe->schema);
    snprintf(sequence, sizeof(sequence), "%lld", (long long)ev->version);
    json_t *ce = json_pack("{s:s, s:s, s:s, s:s}", "specversion", "1.0", "id", id,
                           "source", source, "type", type);
    const json_t *subject =
        pe->subject != NULL ? json_object_get(data_new, "itemId") : NULL;
    const json_t *at = json_object_get(ev->meta, "occurredAt");
    int64_t ms;
    if (!es_time_parse_rfc3339_ms(json_string_value(at), &ms))
        at = NULL;
    if (ce == NULL || set_string_if(ce, "subject", subject) != 0 ||
        set_string_if(ce, "time", at) != 0 ||
        json_object_set_new(ce, "datacontenttype", json_string("application/json")) !=
            0 ||
        json_object_set_new(ce, "sequence", json_string(sequence)) != 0 ||
        set_string_if(ce, "correlationid", json_object_get(ev->meta, "correlationId")) !=
            0 ||
        set_string_if(ce, "causationid", json_object_get(ev->meta, "causationId")) != 0 ||
        json_object_set(ce, "data", data_new) != 0) {
        json_decref(ce);
        ce = NULL;
    }
    json_decref(data_new);
    return ce;
}

enum es_status todo_integration_event(const struct todo_stored_event *ev, json_t **out,
                                      struct es_error *err)
{
    size_t prefix = strlen(TODO_STREAM_PREFIX);
    if (ev->stream_id == NULL || ev->type == NULL ||
        strncmp(ev->stream_id, TODO_STREAM_PREFIX, prefix) != 0) {
        *out = NULL;
        return ES_OK;
    }
    const struct public_event *pe = find(ev->type);
    if (pe == NULL) {
        *out = NULL;
        return ES_OK;
    }
    const char *list_id = ev->stream_id + prefix;
    if (!es_id_valid(list_id))
        return es_error_set(err, ES_EFIELD,
                            "cannot publish %s of stream '%.80s': not a list id",
                            ev->type, ev->stream_id);
    if (ev->schema != pe->stored_schema)
        return es_error_set(
            err, ES_EFIELD,
            "cannot publish %s %s:%lld: schema %d is not one this version "
            "maps",
            ev->type, ev->stream_id, (long long)ev->version, ev->schema);
    if (!json_is_object(ev->data))
        return es_error_set(err, ES_EFIELD, "cannot publish %s %s:%lld: no data object",
                            ev->type, ev->stream_id, (long long)ev->version);
    json_t *data = NULL;
    enum es_status st = build_data(pe, ev, list_id, &data, err);
    if (st != ES_OK)
        return st;
    json_t *ce = cloud_event(pe, ev, list_id, data);
    if (ce == NULL)
        return ES_ENOMEM;
    *out = ce;
    return ES_OK;
}

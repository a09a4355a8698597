/*
 * todolist.c - the to-do aggregate plugged into the engine and the API: its
 * state callbacks, its field checks, and its decisions as engine decisions.
 * Everything else a command does is the runtime's (handler/api).
 */
#include "todolist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

/* ---- the aggregate ---- */

static void *state_new(void)
{
    return todo_list_new();
}

static void state_free(void *s)
{
    todo_list_free(s);
}

static void *state_clone(const void *s)
{
    return todo_list_clone(s);
}

/* Schema 1 is the only one so far; an upcaster would rewrite older data here. */
static enum es_status evolve(void *s, const char *type, int schema, const json_t *data)
{
    (void)schema;
    return todo_evolve(s, type, data);
}

static json_t *state_encode(const void *s)
{
    return todo_list_to_json(s);
}

static void *state_decode(const json_t *j)
{
    return todo_list_from_json(j);
}

const struct es_aggregate todolist_aggregate = {
    .stream_prefix = TODO_STREAM_PREFIX,
    .event_schema = TODO_EVENT_SCHEMA,
    .snapshot_schema = TODO_SNAPSHOT_SCHEMA,
    .state_new = state_new,
    .state_free = state_free,
    .state_clone = state_clone,
    .evolve = evolve,
    .state_encode = state_encode,
    .state_decode = state_decode,
};

/* ---- fields ---- */

bool todo_field_text(struct api_call *c, const char *name, bool required, char **out)
{
    json_t *v = json_object_get(c->body, name);
    *out = NULL;
    if (v == NULL && !required)
        return true;
    if (!json_is_string(v))
        return api_reject(c, ES_EFIELD, "'%s' is required and must be a string", name);
    struct es_error err = {0};
    enum es_status st =
        todo_text_normalize(json_string_value(v), json_string_length(v), name, out, &err);
    if (st == ES_ENOMEM) {
        fn_reply_error(c->res, ES_ENOMEM, "out of memory");
        return false;
    }
    if (st != ES_OK)
        return api_reject(c, ES_EFIELD, "%s", err.message);
    return true;
}

bool todo_field_status(struct api_call *c, const char *name, bool required, bool *present,
                       enum todo_item_status *out)
{
    json_t *v = json_object_get(c->body, name);
    *present = v != NULL;
    if (v == NULL && !required)
        return true;
    if (!todo_status_parse(json_string_value(v), out))
        return api_reject(c, ES_EFIELD,
                          "'%s' must be one of \"To Do\", \"In Progress\", \"Done\"",
                          name);
    return true;
}

/* ---- decisions ---- */

struct decide_ctx {
    const struct todo_cmd *cmd;
    int success_status;
    json_t *extra;
    const char *location;
};

static enum es_status decide(void *ctx, const void *state, int64_t version,
                             struct es_decision *d)
{
    (void)version;
    struct decide_ctx *dc = ctx;
    struct todo_decision td;
    enum es_status st = todo_decide(state, dc->cmd, &td);
    if (st != ES_OK) {
        todo_decision_release(&td);
        return st;
    }
    if (td.error != ES_OK) {
        d->refusal = td.error;
        snprintf(d->message, sizeof(d->message), "%s", td.message);
    } else {
        d->events = td.events;
        td.events = NULL;
        d->success_status = dc->success_status;
        d->extra = json_incref(dc->extra);
        d->location = dc->location;
    }
    todo_decision_release(&td);
    return ES_OK;
}

void todo_call_run(struct api_call *c, const struct todo_cmd *tc, int success_status,
                   json_t *extra)
{
    struct decide_ctx dc = {.cmd = tc,
                            .success_status = success_status,
                            .extra = extra,
                            .location = c->location[0] ? c->location : NULL};
    api_call_run(c, decide, &dc);
    json_decref(extra);
}

enum es_status todo_execute(struct es_engine *engine, const char *list_id,
                            const struct todo_cmd *tc, const char *key,
                            const char *correlation, const char *causation,
                            struct es_outcome *out, struct es_error *err)
{
    char hash[65];
    struct es_hash_part parts[] = {{"reaction\n", 9}, {key, strlen(key)}};
    if (es_sha256_hex(parts, 2, hash) != ES_OK)
        return ES_ENOMEM;
    struct decide_ctx dc = {.cmd = tc, .success_status = 200};
    struct es_command cmd = {
        .aggregate = &todolist_aggregate,
        .aggregate_id = list_id,
        .decide = decide,
        .decide_ctx = &dc,
        .render = api_render_success,
        .idempotency_key = key,
        .request_hash = hash,
        .correlation_id = correlation,
        .causation_id = causation,
    };
    return es_engine_execute(engine, &cmd, out, err);
}

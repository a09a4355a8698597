/*
 * The command engine on the SQLite store, with every allocation failing in
 * turn: a list created, items added, statuses set, a rename under an
 * Idempotency-Key and its replay, the engine restarted (so the list loads
 * from its snapshot and tail), a refusal, a stale If-Match and a keyed
 * removal. A command that fails must have appended nothing: no event, no
 * receipt, no snapshot (sweep.h says what else is checked).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "functions/todolist.h"
#include "alloc_fail.h"
#include "scenario.h"
#include "sweep.h"

struct engine_run {
    struct scenario_db db; /* first: scenario_db_dump */
    struct es_engine *engine;
};

/* Snapshots every 3 versions: the restart loads a snapshot and its tail. */
static struct es_engine *new_engine(struct es_store *store)
{
    return scenario_engine_new(store, 3);
}

static void *open_run(void)
{
    struct engine_run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    scenario_db_open(&r->db, "engine", NULL);
    r->engine = new_engine(r->db.store);
    cr_assert_not_null(r->engine);
    alloc_random_reset(1);
    return r;
}

static void close_run(void *state)
{
    struct engine_run *r = state;
    es_engine_free(r->engine);
    scenario_db_close(&r->db);
    free(r);
}

/* ---- commands: the to-do domain's decide, as functions/todolist.c runs it ---- */

struct decide_ctx {
    const struct todo_cmd *cmd;
    int success_status;
    const char *location;
};

static enum es_status decide(void *ctx, const void *state, int64_t version,
                             struct es_decision *d)
{
    (void)version;
    struct decide_ctx *dc = ctx;
    struct todo_decision td;
    enum es_status st = todo_decide(state, dc->cmd, &td);
    if (st == ES_OK && td.error != ES_OK) {
        d->refusal = td.error;
        snprintf(d->message, sizeof(d->message), "%s", td.message);
    } else if (st == ES_OK) {
        d->events = td.events;
        td.events = NULL;
        d->success_status = dc->success_status;
        d->location = dc->location;
    }
    todo_decision_release(&td);
    return st;
}

struct command {
    struct todo_cmd cmd;
    int success_status;
    const char *location;
    const char *key;
    const char *if_match; /* a version, or NULL */
};

static const char *const both[] = {"i1", "i2"};

static const struct command commands[] = {
    {{.kind = TODO_CREATE, .name = "Groceries"}, 201, "/api/todolists/L", NULL, NULL},
    {{.kind = TODO_ADD_ITEM, .new_item_id = "i1", .task = "Milk"}, 201, NULL, NULL, NULL},
    {{.kind = TODO_ADD_ITEM,
      .new_item_id = "i2",
      .task = "Bread and butter for the whole week"},
     201,
     NULL,
     NULL,
     NULL},
    {{.kind = TODO_SET_STATUSES,
      .item_ids = both,
      .n_item_ids = 2,
      .has_status = true,
      .status = TODO_DONE},
     200,
     NULL,
     NULL,
     NULL},
    {{.kind = TODO_RENAME, .name = "Food"}, 200, NULL, "key-rename", NULL},
    {{.kind = TODO_RENAME, .name = "Food"}, 200, NULL, "key-rename", NULL},
    {{.kind = TODO_CREATE}, 0, NULL, NULL, NULL}, /* stands for the restart */
    {{.kind = TODO_ADD_ITEM, .new_item_id = "i3", .task = "Milk"}, 201, NULL, NULL, NULL},
    {{.kind = TODO_UPDATE_ITEM, .item_id = "i1", .task = "Oat milk"},
     200,
     NULL,
     NULL,
     "3"},
    {{.kind = TODO_REMOVE_ITEM, .item_id = "i2"}, 200, NULL, "key-remove", NULL},
};
#define RESTART 6

static char *answer_text(const struct es_outcome *o)
{
    alloc_fail_pause();
    size_t n = 512 + o->body_len;
    char *text = malloc(n);
    cr_assert_not_null(text);
    snprintf(text, n, "%d %s v%lld +%lld%s %s %s", o->status, es_status_name(o->refusal),
             (long long)o->version, (long long)o->appended,
             o->replayed ? " replayed" : "", o->location ? o->location : "-",
             o->body ? o->body : "-");
    alloc_fail_resume();
    return text;
}

static enum es_status step(void *state, size_t i, char **answer)
{
    struct engine_run *r = state;
    if (i == RESTART) {
        /* Drops the cached list: the next command loads it from the store. */
        es_engine_free(r->engine);
        r->engine = new_engine(r->db.store);
        if (r->engine == NULL)
            return ES_ENOMEM;
        alloc_fail_pause();
        *answer = strdup("restarted");
        alloc_fail_resume();
        return ES_OK;
    }
    if (r->engine == NULL)
        return ES_EINTERNAL; /* a failed restart that was not run again */
    const struct command *c = &commands[i];
    struct decide_ctx dc = {&c->cmd, c->success_status, c->location};
    struct es_command cmd = {
        .aggregate = &todolist_aggregate,
        .aggregate_id = "L",
        .decide = decide,
        .decide_ctx = &dc,
        .render = api_render_success,
        .has_if_match = c->if_match != NULL,
        .if_match = c->if_match != NULL ? strtoll(c->if_match, NULL, 10) : 0,
        .idempotency_key = c->key,
        .request_hash =
            "3f1c0e5ab1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8",
        .correlation_id = "corr-1",
    };
    struct es_outcome o;
    struct es_error err = {0};
    enum es_status st = es_engine_execute(r->engine, &cmd, &o, &err);
    if (st == ES_OK)
        *answer = answer_text(&o);
    es_outcome_release(&o);
    return st;
}

static const struct sweep_scenario engine_scenario = {
    .name = "engine",
    .n_steps = sizeof(commands) / sizeof(commands[0]),
    .open = open_run,
    .close = close_run,
    .step = step,
    .dump = scenario_db_dump,
};

Test(alloc, engine_commands_fail_cleanly_and_append_all_or_nothing, .init = sweep_setup,
     .fini = sweep_teardown, .timeout = 300)
{
    sweep_test(&engine_scenario);
}

/*
 * The Publisher on the SQLite store, with every allocation failing in turn: a
 * change-feed batch over two lists with a receipt, a settled move and an
 * event whose public fields are malformed (dead-lettered), then the same
 * batch again, as the host redelivers it. A failed invocation sends nothing
 * (the host drops its Outputs) and leaves at most the dead letter written; the
 * batch sent again must publish exactly what a run without failures
 * publishes (sweep.h).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "functions/registry.h"
#include "invoke/fn.h"
#include "alloc_fail.h"
#include "scenario.h"
#include "sweep.h"

struct publisher_run {
    struct scenario_db db; /* first: scenario_db_dump */
    struct fn_services svc;
    json_t *batch;
};

static json_t *doc(const char *stream, int version, const char *type, const char *data)
{
    char id[96];
    snprintf(id, sizeof(id), "%s:%d", stream, version);
    json_t *d = json_loads(data, 0, NULL);
    cr_assert_not_null(d, "%s", data);
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:o, s:{s:s, s:s, s:n}}", "id", id,
                     "kind", "event", "streamId", stream, "version", version, "type",
                     type, "schema", 1, "data", d, "meta", "occurredAt",
                     "2026-11-28T19:30:00.123Z", "correlationId", "c1", "causationId");
}

static json_t *batch(void)
{
    json_t *b = json_array();
    json_array_append_new(b, doc("todolist-a", 1, "TodoListCreated", "{\"name\":\"A\"}"));
    json_array_append_new(b, json_pack("{s:s, s:s, s:s}", "id", "todolist-a:$r:k", "kind",
                                       "receipt", "streamId", "todolist-a"));
    json_array_append_new(
        b, doc("todolist-a", 2, "ItemAdded",
               "{\"itemId\":\"x1\",\"task\":\"Milk\",\"status\":\"To Do\"}"));
    json_array_append_new(b, doc("todolist-a", 3, "ItemAdded",
                                 "{\"task\":\"no id\",\"status\":\"To Do\"}"));
    json_array_append_new(b, doc("todolist-b", 1, "TodoListCreated", "{\"name\":\"B\"}"));
    json_array_append_new(
        b, doc("todolist-b", 2, "ItemMovedIn",
               "{\"itemId\":\"x9\",\"task\":\"Tea\",\"status\":\"Done\",\"fromListId\":"
               "\"c\"}"));
    return b;
}

static void *open_run(void)
{
    struct publisher_run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    scenario_db_open(&r->db, "publisher", NULL);
    r->svc.store = r->db.store;
    r->batch = batch();
    return r;
}

static void close_run(void *state)
{
    struct publisher_run *r = state;
    json_decref(r->batch);
    scenario_db_close(&r->db);
    free(r);
}

static enum es_status step(void *state, size_t i, char **answer)
{
    struct publisher_run *r = state;
    const struct fn_def *def = fn_table_find(&fn_app_table, "Publisher");
    cr_assert_not_null(def);
    alloc_fail_pause();
    struct fn_ctx ctx = {
        .function_name = "Publisher",
        .invocation_id = "alloc",
        .svc = &r->svc,
        .retry = {.present = true, .retry_count = (int64_t)i, .max_retry_count = 5},
        .logs = json_array()};
    alloc_fail_resume();
    enum es_status st = def->trigger(&ctx, r->batch);
    alloc_fail_pause();
    json_t *out = st == ES_OK ? json_incref(ctx.outputs) : NULL;
    json_decref(ctx.outputs);
    json_decref(ctx.logs);
    if (st == ES_OK)
        *answer = sweep_text(st, "outputs", out, JSON_SORT_KEYS | JSON_COMPACT);
    else
        json_decref(out);
    alloc_fail_resume();
    return st;
}

static const struct sweep_scenario publisher_scenario = {
    .name = "publisher",
    .n_steps = 2,
    .open = open_run,
    .close = close_run,
    .step = step,
    .dump = scenario_db_dump,
    .failure_may_write = true, /* the dead letter, written before a later failure */
};

Test(alloc, a_publisher_batch_fails_cleanly_and_publishes_whole_when_sent_again,
     .init = sweep_setup, .fini = sweep_teardown, .timeout = 300)
{
    sweep_test(&publisher_scenario);
}

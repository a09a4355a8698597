/*
 * invoke_dispatch with the app's real functions over the SQLite store, with
 * every allocation failing in turn: HTTP envelopes (create a list, add items,
 * set statuses under an Idempotency-Key, rename under If-Match), a Projector
 * trigger envelope carrying the change feed, and the reads of the views and
 * of the events. What the host gets for a failure must say "out of memory"
 * (a 503 to the host or to the client, or a 500 asking for the batch again):
 * never a 400 that blames the envelope, a 404, or an answer with a piece
 * missing. A command may have been stored when its answer was lost (the
 * client then reads the list, or sends it again with its key), but never in
 * part (sweep.h says what else is checked).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es/engine.h"
#include "functions/registry.h"
#include "invoke/invoke.h"
#include "store/store.h"
#include "util/ids.h"
#include "util/jsonutil.h"
#include "alloc_fail.h"
#include "scenario.h"
#include "sweep.h"

struct dispatch_run {
    struct scenario_db db; /* first: scenario_db_dump */
    struct fn_services svc;
    struct invoke_app app;
};

static struct es_config cfg;
static char item1[ES_UUID_STR_LEN + 1], item2[ES_UUID_STR_LEN + 1];
static char *envelopes[16]; /* the HTTP steps', made once */
static size_t envelope_lens[16];

/* ---- envelopes ---- */

struct request {
    const char *function, *method, *url, *id, *body, *key, *if_match;
};

#define LISTS "http://localhost:7071/api/todolists"

static const char *const steps[] = {
    "CreateTodoList",  "AddItem",        "AddItem",
    "SetItemStatuses", "RenameTodoList", "Projector",
    "GetTodoList",     "ListTodoLists",  "GetTodoListEvents"};
#define N_STEPS   (sizeof(steps) / sizeof(steps[0]))
#define PROJECTOR 5
#define SEED      1000 /* of step i's ids: SEED + i */

static struct request request_of(size_t i, char *body, size_t body_len)
{
    switch (i) {
    case 0:
        return (struct request){
            "CreateTodoList",
            "POST",
            LISTS,
            NULL,
            "{\"id\":\"groceries\",\"name\":\"Groceries for the weekend\"}",
            NULL,
            NULL};
    case 1:
        return (struct request){"AddItem",
                                "POST",
                                LISTS "/groceries/items",
                                "groceries",
                                "{\"task\":\"Milk\"}",
                                NULL,
                                NULL};
    case 2:
        return (struct request){"AddItem",
                                "POST",
                                LISTS "/groceries/items",
                                "groceries",
                                "{\"task\":\"Bread and butter for the whole week\"}",
                                NULL,
                                NULL};
    case 3:
        snprintf(body, body_len, "{\"itemIds\":[\"%s\",\"%s\"],\"status\":\"Done\"}",
                 item1, item2);
        return (struct request){
            "SetItemStatuses", "PATCH", LISTS "/groceries/items", "groceries", body,
            "statuses-1",      NULL};
    case 4:
        return (struct request){"RenameTodoList",
                                "PATCH",
                                LISTS "/groceries",
                                "groceries",
                                "{\"name\":\"Food\"}",
                                NULL,
                                "\"5\""};
    case 6:
        return (struct request){
            "GetTodoList", "GET", LISTS "/groceries", "groceries", NULL, NULL, NULL};
    case 7:
        return (struct request){
            "ListTodoLists", "GET", LISTS "?limit=5", NULL, NULL, NULL, NULL};
    default:
        return (struct request){"GetTodoListEvents",
                                "GET",
                                LISTS "/groceries/events?from=2&limit=3",
                                "groceries",
                                NULL,
                                NULL,
                                NULL};
    }
}

/* The envelope text the host would send for HTTP step i (built with counting paused). */
static char *http_envelope(size_t i, size_t *len)
{
    char body_buf[256];
    struct request rq = request_of(i, body_buf, sizeof(body_buf));
    char cl[32];
    snprintf(cl, sizeof(cl), "%zu", rq.body != NULL ? strlen(rq.body) : 0);
    struct invoke_header h[5] = {{"Host", "localhost:7071"}};
    size_t n = 1;
    if (rq.body != NULL) {
        h[n++] = (struct invoke_header){"Content-Type", "application/json"};
        h[n++] = (struct invoke_header){"Content-Length", cl};
    }
    if (rq.key != NULL)
        h[n++] = (struct invoke_header){"Idempotency-Key", rq.key};
    if (rq.if_match != NULL)
        h[n++] = (struct invoke_header){"If-Match", rq.if_match};
    json_t *params = rq.id != NULL ? json_pack("{s:s}", "id", rq.id) : NULL;
    struct invoke_http_spec spec = {.function_name = rq.function,
                                    .binding = "req",
                                    .method = rq.method,
                                    .url = rq.url,
                                    .headers = h,
                                    .n_headers = n,
                                    .params = params,
                                    .body = rq.body,
                                    .body_len = rq.body != NULL ? strlen(rq.body) : 0};
    json_t *env = invoke_http_envelope_new(&spec);
    char *text = es_json_dumps(env, len);
    cr_assert_not_null(text);
    json_decref(env);
    json_decref(params);
    return text;
}

/* The Projector's envelope: the whole change feed so far, as Cosmos DB wraps it. */
static char *trigger_envelope(struct es_store *s, size_t *len)
{
    struct es_event_page p;
    cr_assert_eq(s->ops->feed_read(s, 0, 1000, &p, NULL, NULL), ES_OK);
    json_t *docs = json_array();
    for (size_t i = 0; i < p.n; i++)
        cr_assert_eq(json_array_append_new(docs, es_event_to_doc(&p.events[i])), 0);
    es_event_page_release(&p);
    struct fn_retry retry = {.present = true, .retry_count = 0, .max_retry_count = 5};
    json_t *env = invoke_trigger_envelope_new("Projector", "documents", docs, 2, &retry);
    char *text = es_json_dumps(env, len);
    cr_assert_not_null(text);
    json_decref(env);
    json_decref(docs);
    return text;
}

/* ---- runs ---- */

static void *open_run(void)
{
    struct dispatch_run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    scenario_db_open(&r->db, "dispatch", NULL);
    r->svc.engine = scenario_engine_new(r->db.store, 4);
    cr_assert_not_null(r->svc.engine);
    r->svc.store = r->db.store;
    r->svc.cfg = &cfg;
    r->svc.version = "alloc";
    r->app.fns = &fn_app_table;
    r->app.svc = &r->svc;
    return r;
}

static void close_run(void *state)
{
    struct dispatch_run *r = state;
    es_engine_free(r->svc.engine);
    scenario_db_close(&r->db);
    free(r);
}

/* Drops the keys whose values differ from run to run (times, costs). */
static void strip_times(json_t *v)
{
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, x)
    {
        if (strcmp(k, "occurredAt") == 0 || strcmp(k, "createdAt") == 0)
            json_object_del(v, k);
        else
            strip_times(x);
    }
    size_t i;
    json_array_foreach(v, i, x) strip_times(x);
}

/*
 * What the host got: ES_ENOMEM when it says "out of memory" in one of the ways
 * allowed, else ES_OK with the reply as text (Logs left out: they hold times).
 */
static enum es_status read_reply(const struct invoke_reply *reply, char **answer)
{
    json_t *root = json_loadb(reply->body, reply->body_len, 0, NULL);
    const char *error = json_string_value(json_object_get(root, "error"));
    json_t *res = json_object_get(json_object_get(root, "Outputs"), "res");
    int client = (int)json_integer_value(json_object_get(res, "statusCode"));
    json_t *body = NULL;
    const char *text = json_string_value(json_object_get(res, "body"));
    if (text != NULL && text[0] != '\0')
        body = json_loads(text, 0, NULL);
    const char *client_error = json_string_value(json_object_get(body, "error"));
    bool nomem = (reply->host_status == 503 &&
                  (error == NULL || strcmp(error, "out_of_memory") == 0)) ||
                 (reply->host_status == 500 && error != NULL &&
                  strcmp(error, "out_of_memory") == 0) ||
                 (reply->host_status == 200 && client == 503 &&
                  (client_error == NULL || strcmp(client_error, "out_of_memory") == 0));
    if (!nomem) {
        json_object_del(root, "Logs");
        strip_times(body);
        if (res != NULL && body != NULL)
            json_object_set_new(res, "body", body), body = NULL;
        char *t = root != NULL ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        size_t n = 32 + (t != NULL ? strlen(t) : reply->body_len);
        *answer = malloc(n);
        cr_assert_not_null(*answer);
        snprintf(*answer, n, "%d %s", reply->host_status,
                 t != NULL ? t : (reply->body != NULL ? reply->body : "-"));
        free(t);
    }
    json_decref(body);
    json_decref(root);
    return nomem ? ES_ENOMEM : ES_OK;
}

static enum es_status step(void *state, size_t i, char **answer)
{
    struct dispatch_run *r = state;
    alloc_fail_pause();
    size_t len = envelope_lens[i];
    char *envelope = i == PROJECTOR ? trigger_envelope(r->db.store, &len) : envelopes[i];
    /* The same ids for the same request, whether it is sent again or not. */
    alloc_random_reset(SEED + i);
    alloc_fail_resume();
    struct invoke_reply reply;
    invoke_dispatch(&r->app, steps[i], "invocation-1", envelope, len, &reply);
    alloc_fail_pause();
    enum es_status st = read_reply(&reply, answer);
    invoke_reply_release(&reply);
    if (i == PROJECTOR)
        free(envelope);
    alloc_fail_resume();
    return st;
}

static const struct sweep_scenario dispatch_scenario = {
    .name = "dispatch",
    .n_steps = N_STEPS,
    .open = open_run,
    .close = close_run,
    .step = step,
    .dump = scenario_db_dump,
    .failure_may_write = true,
    .partial_steps = 1ul << PROJECTOR, /* the Projector's batch, stream by stream */
};

static void setup(void)
{
    sweep_setup();
    char path[300];
    snprintf(path, sizeof(path), "%s/unused.db", sweep_dir());
    setenv("EVENT_STORE_PATH", path, 1);
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    /* The ids the two AddItem steps draw (the stream restarts at every step). */
    alloc_random_reset(SEED + 1);
    es_uuid4(item1);
    alloc_random_reset(SEED + 2);
    es_uuid4(item2);
    for (size_t i = 0; i < N_STEPS; i++)
        if (i != PROJECTOR)
            envelopes[i] = http_envelope(i, &envelope_lens[i]);
}

static void teardown(void)
{
    for (size_t i = 0; i < N_STEPS; i++)
        free(envelopes[i]);
    es_config_release(&cfg);
    sweep_teardown();
}

Test(alloc, dispatch_answers_out_of_memory_and_never_half, .init = setup,
     .fini = teardown, .timeout = 300)
{
    sweep_test(&dispatch_scenario);
}

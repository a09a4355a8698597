/*
 * write_side.h - helpers for the write-side e2e tests: commands sent through
 * the host protocol (hostdrv_call) and checks on what the store holds.
 */
#ifndef ES_TEST_WRITE_SIDE_H
#define ES_TEST_WRITE_SIDE_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "../support/cosmosrig.h"
#include "../support/hostdrv.h"

#define JSON_CT "Content-Type: application/json"

/*
 * The store under test: SQLite by default, Cosmos DB on the local rig when
 * the environment says ES_TEST_STORE=cosmos (CTest runs these suites both
 * ways). One rig serves the whole test executable.
 */
static inline bool ws_on_cosmos(void)
{
    const char *s = getenv("ES_TEST_STORE");
    return s != NULL && strcmp(s, "cosmos") == 0;
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    if (ws_on_cosmos())
        cosmosrig_start_shared();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    if (ws_on_cosmos())
        cosmosrig_stop_shared();
}

/*
 * Waits out the rig's replica lag (ES_TEST_COSMOS_LAG_MS), for a check that
 * reads from another process what one process wrote: a replica shows it only
 * after the lag, as on Azure (docs/cosmos.md, "Consistency").
 */
static inline void ws_settle(void)
{
    const char *lag = ws_on_cosmos() ? getenv("ES_TEST_COSMOS_LAG_MS") : NULL;
    if (lag != NULL)
        usleep((useconds_t)(strtol(lag, NULL, 10) + 100) * 1000);
}

/*
 * Starts the handler on the store under test, plus `extra` settings.
 * Handlers started with the same `shared` name use the same store (and a
 * restarted one finds its data again); NULL gives the handler a store of its
 * own. Removing a shared SQLite store is ws_drop_store's job.
 */
static inline struct hostdrv *ws_start_with(const char *shared, const char *const *extra)
{
    static int n;
    char name[96], path_env[256];
    snprintf(name, sizeof(name), "%s-%d", shared != NULL ? shared : "own", (int)getpid());
    if (shared == NULL)
        snprintf(name + strlen(name), sizeof(name) - strlen(name), "-%d", n++);
    static struct cosmosrig_env cenv;
    const char *env[COSMOSRIG_ENV_MAX + 16];
    size_t k = 0;
    if (ws_on_cosmos()) {
        cr_assert_not_null(cosmosrig_endpoint(),
                           "the Cosmos rig is not running: run 'npm ci' in "
                           "tests/support/cosmos-rig (make test does)");
        cr_assert_eq(cosmosrig_init_db(name), 0);
        cosmosrig_env_for(name, &cenv);
        for (const char *const *e = cenv.list; *e != NULL; e++)
            env[k++] = *e;
    } else if (shared != NULL) {
        snprintf(path_env, sizeof(path_env), "EVENT_STORE_PATH=/tmp/es-e2e-%s.db", name);
        env[k++] = path_env;
    }
    for (const char *const *e = extra;
         e != NULL && *e != NULL && k < COSMOSRIG_ENV_MAX + 15; e++)
        env[k++] = *e;
    env[k] = NULL;
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = env};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "handler did not become ready");
    return d;
}

static inline struct hostdrv *ws_start(const char *const *extra)
{
    return ws_start_with(NULL, extra);
}

/* Where a shared store lives: the SQLite path, or the Cosmos database name. */
static inline void ws_store_name(const char *shared, char *out, size_t len)
{
    if (ws_on_cosmos())
        snprintf(out, len, "%s-%d", shared, (int)getpid());
    else
        snprintf(out, len, "/tmp/es-e2e-%s-%d.db", shared, (int)getpid());
}

/* Removes a shared SQLite store (a Cosmos database simply stays in the rig). */
static inline void ws_drop_store(const char *shared)
{
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof(path), "/tmp/es-e2e-%s-%d.db%s", shared, (int)getpid(),
                 suffix[i]);
        unlink(path);
    }
}

static inline void ws_stop(struct hostdrv *d)
{
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0, "handler exits 0 on SIGTERM");
    hostdrv_free(d);
}

/* Sends a command; asserts the host accepted the reply; returns the client status. */
static inline int ws_send(struct hostdrv_conn *c, const char *method, const char *path,
                          const char *const *headers, const char *body,
                          struct hostdrv_reply *r)
{
    cr_assert_eq(hostdrv_call(c, method, path, headers, body, r), 0, "%s %s", method,
                 path);
    cr_assert(r->result.ok, "%s %s: the host would fail this reply: %s", method, path,
              r->result.failure);
    return r->result.http_status;
}

/*
 * A request through the host protocol for read_side.h's `struct rs_api` (ctx
 * is the connection): a JSON body when there is one; *json gets the parsed
 * answer (a new reference, or NULL); returns the client status.
 */
static inline int ws_api_call(void *ctx, const char *method, const char *path,
                              const char *body, json_t **json)
{
    const char *h[] = {JSON_CT, NULL};
    struct hostdrv_reply r;
    int st = ws_send(ctx, method, path, body != NULL ? h : NULL, body, &r);
    *json = json_incref(r.client_json);
    hostdrv_reply_release(&r);
    return st;
}

/* Sends a JSON command and releases the reply; returns the client status. */
static inline int ws_status(struct hostdrv_conn *c, const char *method, const char *path,
                            const char *body)
{
    const char *h[] = {JSON_CT, NULL};
    struct hostdrv_reply r;
    int status = ws_send(c, method, path, h, body, &r);
    hostdrv_reply_release(&r);
    return status;
}

static inline const char *ws_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* All events of a list, read through GetTodoListEvents page by page (new array). */
static inline json_t *ws_events(struct hostdrv_conn *c, const char *list_id)
{
    json_t *all = json_array();
    long long from = 1;
    for (;;) {
        char path[256];
        snprintf(path, sizeof(path), "/api/todolists/%s/events?from=%lld&limit=1000",
                 list_id, from);
        struct hostdrv_reply r;
        int status = ws_send(c, "GET", path, NULL, NULL, &r);
        if (status == 404) {
            hostdrv_reply_release(&r);
            break;
        }
        cr_assert_eq(status, 200, "%s", r.result.http_body);
        json_array_extend(all, json_object_get(r.client_json, "events"));
        json_t *next = json_object_get(r.client_json, "next");
        from = json_is_integer(next) ? (long long)json_integer_value(next) : 0;
        hostdrv_reply_release(&r);
        if (from == 0)
            break;
    }
    return all;
}

/* Checks versions are 1..n without a gap; returns n. */
static inline size_t ws_check_gap_free(json_t *events)
{
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        cr_expect_eq(json_integer_value(json_object_get(e, "version")), (json_int_t)i + 1,
                     "versions are gap-free");
    }
    return json_array_size(events);
}

/* Creates a list with the given id; asserts 201. */
static inline void ws_create(struct hostdrv_conn *c, const char *id, const char *name)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"%s\"}", id, name);
    cr_assert_eq(ws_status(c, "POST", "/api/todolists", body), 201, "create %s", id);
}

/* Adds a task; returns the new item id (malloc'd) or NULL when refused. */
static inline char *ws_add(struct hostdrv_conn *c, const char *list_id, const char *task)
{
    char path[256], body[256];
    snprintf(path, sizeof(path), "/api/todolists/%s/items", list_id);
    snprintf(body, sizeof(body), "{\"task\":\"%s\"}", task);
    const char *h[] = {JSON_CT, NULL};
    struct hostdrv_reply r;
    int status = ws_send(c, "POST", path, h, body, &r);
    char *id = status == 201 ? strdup(ws_str(r.client_json, "itemId")) : NULL;
    hostdrv_reply_release(&r);
    return id;
}

/*
 * Creates list `id` and gives it 10,001 events: 50 items, then 199 mass status
 * updates of all 50 (the quickest way to a long stream through the API).
 */
static inline void ws_make_long_list(struct hostdrv_conn *c, const char *id)
{
    ws_create(c, id, "Long");
    static char ids[50][40];
    for (int i = 0; i < 50; i++) {
        char task[16];
        snprintf(task, sizeof(task), "task %d", i);
        char *item = ws_add(c, id, task);
        cr_assert_not_null(item);
        snprintf(ids[i], sizeof(ids[i]), "%s", item);
        free(item);
    }
    char path[128];
    snprintf(path, sizeof(path), "/api/todolists/%s/items", id);
    char body[4096];
    for (int round = 0; round < 199; round++) {
        size_t at = (size_t)snprintf(body, sizeof(body), "{\"itemIds\":[");
        for (int i = 0; i < 50; i++)
            at += (size_t)snprintf(body + at, sizeof(body) - at, "%s\"%s\"", i ? "," : "",
                                   ids[i]);
        snprintf(body + at, sizeof(body) - at, "],\"status\":\"%s\"}",
                 round % 2 ? "To Do" : "Done");
        cr_assert_eq(ws_status(c, "PATCH", path, body), 200);
    }
}

#endif

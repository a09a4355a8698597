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

#include "../support/hostdrv.h"

#define JSON_CT "Content-Type: application/json"

static inline struct hostdrv *ws_start(const char *const *env)
{
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = env};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "handler did not become ready");
    return d;
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

#endif

/*
 * read_side.h - a random to-do workload and the read side's invariants,
 * shared by the host-protocol suite (test_read_side.c) and the standalone one
 * (test_serve_read_side.c). The API is reached through `struct rs_api`, so
 * the same code talks to the host protocol or to `handler serve`.
 *
 * Invariants, once every event has been delivered:
 *   - every list view equals the fold of that list's events read from the
 *     event store (404 for a deleted or never created list);
 *   - the index lists exactly the live lists, each agreeing with its fold;
 *   - every moved item settled exactly once (moved in, or reverted - or
 *     neither when its source list was deleted first), and no item is in two
 *     lists.
 */
#ifndef ES_TEST_READ_SIDE_H
#define ES_TEST_READ_SIDE_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../../domain/todo.h"

struct rs_api {
    /* Sends a request (JSON body or NULL); returns the status, *json the parsed body. */
    int (*call)(void *ctx, const char *method, const char *path, const char *body,
                json_t **json);
    void *ctx;
};

#define RS_LISTS 40
#define RS_ITEMS 160

struct rs_model {
    unsigned seed;
    int n_lists;
    char lists[RS_LISTS][24];
    bool deleted[RS_LISTS];
    int n_items[RS_LISTS];
    char items[RS_LISTS][RS_ITEMS][40];
    int moves;
};

static inline unsigned rs_rand(struct rs_model *m, unsigned bound)
{
    m->seed = m->seed * 1103515245u + 12345u;
    return bound ? (m->seed >> 8) % bound : 0;
}

static inline int rs_send(struct rs_api *api, const char *method, const char *path,
                          const char *body, json_t **out)
{
    json_t *j = NULL;
    int st = api->call(api->ctx, method, path, body, &j);
    if (out != NULL)
        *out = j;
    else
        json_decref(j);
    return st;
}

static inline void rs_forget_item(struct rs_model *m, int l, int i)
{
    memmove(m->items[l][i], m->items[l][m->n_items[l] - 1], sizeof(m->items[l][i]));
    m->n_items[l]--;
}

/*
 * Creates the next list. Returns the status; 0 means no reply (the handler
 * died), after which the list may or may not exist - it stays in the model
 * either way, and the checks expect whichever the event store says.
 */
static inline int rs_create_list(struct rs_api *api, struct rs_model *m,
                                 const char *prefix)
{
    if (m->n_lists >= RS_LISTS)
        return 409;
    int l = m->n_lists;
    snprintf(m->lists[l], sizeof(m->lists[l]), "%s-%d", prefix, l);
    char body[96];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"list %d\"}", m->lists[l], l);
    int st = rs_send(api, "POST", "/api/todolists", body, NULL);
    if (st == 201 || st == 0)
        m->n_lists++;
    return st;
}

/* One random command; the answer only feeds the local model of known items. */
static inline void rs_step(struct rs_api *api, struct rs_model *m, int step,
                           const char *prefix)
{
    static const char *const statuses[] = {"To Do", "In Progress", "Done"};
    unsigned op = rs_rand(m, 1000);
    int l = (int)rs_rand(m, (unsigned)m->n_lists);
    char path[256], body[1024];
    int n = m->n_items[l];
    int i = n > 0 ? (int)rs_rand(m, (unsigned)n) : -1;
    json_t *j = NULL;
    if (op < 30) {
        rs_create_list(api, m, prefix);
    } else if (op < 340 || i < 0) {
        snprintf(path, sizeof(path), "/api/todolists/%s/items", m->lists[l]);
        snprintf(body, sizeof(body), "{\"task\":\"t%d\"}", step);
        if (rs_send(api, "POST", path, body, &j) == 201 && n < RS_ITEMS) {
            snprintf(m->items[l][n], sizeof(m->items[l][n]), "%s",
                     json_string_value(json_object_get(j, "itemId")));
            m->n_items[l]++;
        }
    } else if (op < 440) {
        snprintf(path, sizeof(path), "/api/todolists/%s/items/%s", m->lists[l],
                 m->items[l][i]);
        snprintf(body, sizeof(body), "{\"task\":\"r%d\"}", step);
        rs_send(api, "PATCH", path, body, NULL);
    } else if (op < 590) {
        snprintf(path, sizeof(path), "/api/todolists/%s/items/%s", m->lists[l],
                 m->items[l][i]);
        snprintf(body, sizeof(body), "{\"status\":\"%s\"}", statuses[rs_rand(m, 3)]);
        rs_send(api, "PATCH", path, body, NULL);
    } else if (op < 640) {
        snprintf(path, sizeof(path), "/api/todolists/%s/items", m->lists[l]);
        size_t at = (size_t)snprintf(body, sizeof(body), "{\"itemIds\":[");
        for (int k = 0; k < n && k < 5; k++)
            at += (size_t)snprintf(body + at, sizeof(body) - at, "%s\"%s\"", k ? "," : "",
                                   m->items[l][(i + k) % n]);
        snprintf(body + at, sizeof(body) - at, "],\"status\":\"%s\"}",
                 statuses[rs_rand(m, 3)]);
        rs_send(api, "PATCH", path, body, NULL);
    } else if (op < 720) {
        snprintf(path, sizeof(path), "/api/todolists/%s/items/%s", m->lists[l],
                 m->items[l][i]);
        int st = rs_send(api, "DELETE", path, NULL, NULL);
        if (st == 200 || st == 404)
            rs_forget_item(m, l, i);
    } else if (op < 880) {
        int t = (int)rs_rand(m, (unsigned)m->n_lists);
        char target[40];
        if (rs_rand(m, 10) == 0)
            snprintf(target, sizeof(target), "ghost-%d", step);
        else
            snprintf(target, sizeof(target), "%s", m->lists[t]);
        if (strcmp(target, m->lists[l]) == 0)
            return;
        snprintf(path, sizeof(path), "/api/todolists/%s/items/%s/move", m->lists[l],
                 m->items[l][i]);
        snprintf(body, sizeof(body), "{\"toListId\":\"%s\"}", target);
        int st = rs_send(api, "POST", path, body, NULL);
        if (st == 202) {
            m->moves++;
            rs_forget_item(m, l, i);
        } else if (st == 404) {
            rs_forget_item(m, l, i);
        }
    } else if (op < 985) {
        snprintf(path, sizeof(path), "/api/todolists/%s", m->lists[l]);
        snprintf(body, sizeof(body), "{\"name\":\"renamed %d\"}", step);
        rs_send(api, "PATCH", path, body, NULL);
    } else if (!m->deleted[l]) {
        snprintf(path, sizeof(path), "/api/todolists/%s", m->lists[l]);
        if (rs_send(api, "DELETE", path, NULL, NULL) == 200)
            m->deleted[l] = true;
    }
    json_decref(j);
}

/* Creates `lists` lists, then runs `commands` random commands. */
static inline void rs_workload(struct rs_api *api, struct rs_model *m, unsigned seed,
                               int lists, int commands, const char *prefix)
{
    memset(m, 0, sizeof(*m));
    m->seed = seed;
    for (int l = 0; l < lists; l++)
        cr_assert_eq(rs_create_list(api, m, prefix), 201);
    for (int step = 0; step < commands; step++)
        rs_step(api, m, step, prefix);
}

/* Every event of a list through GET /events (new array; empty when unknown). */
static inline json_t *rs_events(struct rs_api *api, const char *list)
{
    json_t *all = json_array();
    long long from = 1;
    while (from > 0) {
        char path[160];
        snprintf(path, sizeof(path), "/api/todolists/%s/events?from=%lld&limit=1000",
                 list, from);
        json_t *page = NULL;
        int st = rs_send(api, "GET", path, NULL, &page);
        if (st == 404) {
            json_decref(page);
            break;
        }
        cr_assert_eq(st, 200, "GET %s", path);
        json_array_extend(all, json_object_get(page, "events"));
        json_t *next = json_object_get(page, "next");
        from = json_is_integer(next) ? (long long)json_integer_value(next) : 0;
        json_decref(page);
    }
    return all;
}

static inline struct todo_list *rs_fold(json_t *events)
{
    struct todo_list *l = todo_list_new();
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        todo_evolve(l, json_string_value(json_object_get(e, "type")),
                    json_object_get(e, "data"));
    }
    return l;
}

static inline size_t rs_done(const struct todo_list *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n_items; i++)
        n += l->items[i].status == TODO_DONE;
    return n;
}

/* Checks one list's view against its fold; records live item ids in `seen`. */
static inline void rs_check_list(struct rs_api *api, const char *id, json_t *events,
                                 json_t *seen, json_t *live)
{
    struct todo_list *fold = rs_fold(events);
    char path[128];
    snprintf(path, sizeof(path), "/api/todolists/%s", id);
    json_t *view = NULL;
    int st = rs_send(api, "GET", path, NULL, &view);
    if (!fold->created || fold->deleted) {
        cr_expect_eq(st, 404, "list %s is %s: its view is 404", id,
                     fold->deleted ? "deleted" : "unknown");
    } else {
        cr_expect_eq(st, 200, "list %s", id);
        cr_expect_str_eq(json_string_value(json_object_get(view, "name")), fold->name,
                         "list %s name", id);
        cr_expect_eq(json_integer_value(json_object_get(view, "version")),
                     (json_int_t)json_array_size(events), "list %s version", id);
        json_t *items = json_object_get(view, "items");
        cr_expect_eq(json_array_size(items), fold->n_items, "list %s item count", id);
        for (size_t i = 0; i < fold->n_items && i < json_array_size(items); i++) {
            json_t *it = json_array_get(items, i);
            const char *item_id = json_string_value(json_object_get(it, "id"));
            cr_expect_str_eq(item_id, fold->items[i].id, "list %s item %zu", id, i);
            cr_expect_str_eq(json_string_value(json_object_get(it, "task")),
                             fold->items[i].task);
            cr_expect_str_eq(json_string_value(json_object_get(it, "status")),
                             todo_status_name(fold->items[i].status));
            cr_expect_null(json_object_get(seen, item_id), "item %s is in two lists",
                           item_id);
            json_object_set_new(seen, item_id, json_string(id));
        }
        json_object_set_new(live, id,
                            json_pack("{s:s, s:I, s:I, s:I}", "name", fold->name,
                                      "itemCount", (json_int_t)fold->n_items, "doneCount",
                                      (json_int_t)rs_done(fold), "version",
                                      (json_int_t)json_array_size(events)));
    }
    json_decref(view);
    todo_list_free(fold);
}

/* The index, page by page (limit 7), against the live lists. */
static inline void rs_check_index(struct rs_api *api, json_t *live)
{
    json_t *listed = json_object();
    char cont[512] = "";
    int pages = 0;
    do {
        char path[700];
        snprintf(path, sizeof(path), "/api/todolists?limit=7%s%s",
                 cont[0] ? "&continuation=" : "", cont);
        json_t *page = NULL;
        cr_assert_eq(rs_send(api, "GET", path, NULL, &page), 200, "%s", path);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(page, "lists"), i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            json_t *want = json_object_get(live, id);
            cr_expect_not_null(want, "the index lists %s, which is not live", id);
            if (want != NULL)
                cr_expect(json_equal(json_object_get(e, "name"),
                                     json_object_get(want, "name")) &&
                              json_equal(json_object_get(e, "itemCount"),
                                         json_object_get(want, "itemCount")) &&
                              json_equal(json_object_get(e, "doneCount"),
                                         json_object_get(want, "doneCount")) &&
                              json_equal(json_object_get(e, "version"),
                                         json_object_get(want, "version")),
                          "index entry %s disagrees with its list", id);
            json_object_set_new(listed, id, json_true());
        }
        const char *next = json_string_value(json_object_get(page, "continuation"));
        snprintf(cont, sizeof(cont), "%s", next != NULL ? next : "");
        json_decref(page);
    } while (cont[0] != '\0' && ++pages < 100);
    cr_expect_eq(json_object_size(listed), json_object_size(live),
                 "the index lists every live list once");
    json_decref(listed);
}

/* Every ItemMovedOut settled exactly once (by its causation id). */
static inline void rs_check_moves(json_t *all_events_by_list)
{
    json_t *settled = json_object(); /* causation event id -> count */
    const char *list;
    json_t *events;
    json_object_foreach(all_events_by_list, list, events)
    {
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e)
        {
            const char *type = json_string_value(json_object_get(e, "type"));
            const char *cause = json_string_value(
                json_object_get(json_object_get(e, "meta"), "causationId"));
            if (cause != NULL && (strcmp(type, "ItemMovedIn") == 0 ||
                                  strcmp(type, "ItemMoveReverted") == 0)) {
                json_int_t n = json_integer_value(json_object_get(settled, cause));
                json_object_set_new(settled, cause, json_integer(n + 1));
            }
        }
    }
    int moves = 0;
    json_object_foreach(all_events_by_list, list, events)
    {
        size_t i;
        json_t *e;
        bool deleted_after = false;
        json_array_foreach(events, i, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "type")),
                       "TodoListDeleted") == 0)
                deleted_after = true;
        }
        json_array_foreach(events, i, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "type")), "ItemMovedOut") !=
                0)
                continue;
            moves++;
            char eid[200];
            snprintf(eid, sizeof(eid), "todolist-%s:%lld", list,
                     (long long)json_integer_value(json_object_get(e, "version")));
            json_int_t n = json_integer_value(json_object_get(settled, eid));
            cr_expect(n == 1 || (n == 0 && deleted_after), "move %s settled %lld times",
                      eid, (long long)n);
        }
    }
    cr_log_info("%d moves checked", moves);
    json_decref(settled);
}

/* All invariants over the model's lists. */
static inline void rs_check(struct rs_api *api, const struct rs_model *m)
{
    json_t *seen = json_object(), *live = json_object(), *by_list = json_object();
    for (int l = 0; l < m->n_lists; l++) {
        json_t *events = rs_events(api, m->lists[l]);
        rs_check_list(api, m->lists[l], events, seen, live);
        json_object_set_new(by_list, m->lists[l], events);
    }
    rs_check_index(api, live);
    rs_check_moves(by_list);
    json_decref(seen);
    json_decref(live);
    json_decref(by_list);
}

#endif

/*
 * read_side.h - a random to-do workload and the read side's invariants,
 * shared by the host-protocol suite (test_read_side.c), the standalone one
 * (test_serve_read_side.c) and the soak (tests/soak/). The API is reached
 * through `struct rs_api`, so the same code talks to the host protocol or to
 * `handler serve`.
 *
 * Invariants, once every event has been delivered:
 *   - every list view equals the fold of that list's events read from the
 *     event store (404 for a deleted or never created list);
 *   - the index lists exactly the live lists, each agreeing with its fold;
 *   - every moved item settled exactly once (moved in, or reverted - or
 *     neither when its source list was deleted first), and no item is in two
 *     lists.
 *
 * Checks go through RS_EXPECT (note a failure, go on), RS_ASSERT (a failure
 * the rest of the check cannot go past) and RS_LOG. They are Criterion's
 * unless the includer defines all three first: the soak counts and prints
 * failures itself, and its RS_ASSERT goes on too, so the code after one copes
 * with the failed condition (it reads a missing page as empty).
 *
 * Everything but the checks may run on several threads, one model per thread.
 */
#ifndef ES_TEST_READ_SIDE_H
#define ES_TEST_READ_SIDE_H

#ifndef RS_EXPECT
#include <criterion/criterion.h>
#define RS_EXPECT(cond, ...) cr_expect(cond, __VA_ARGS__)
#define RS_ASSERT(cond, ...) cr_assert(cond, __VA_ARGS__)
#define RS_LOG(...)          cr_log_info(__VA_ARGS__)
#endif
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "domain/todo.h"

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
 * Creates the next list. Returns the status. Without a definite answer - 0
 * (no reply: the handler died) or a 5xx (the store failed) - the list may or
 * may not exist; it stays in the model either way, and the checks expect
 * whichever the event store says. 409 means such an earlier attempt did
 * create it.
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
    if (st == 201 || st == 409 || st == 0 || st >= 500)
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
    for (int l = 0; l < lists; l++) {
        int st = rs_create_list(api, m, prefix);
        RS_ASSERT(st == 201, "create list %d: %d", l, st);
    }
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
        RS_ASSERT(st == 200, "GET %s: %d", path, st);
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
        /* As the engine: an event that does not apply is skipped; memory must not
         * run out in a test. */
        enum es_status st = todo_evolve(l, json_string_value(json_object_get(e, "type")),
                                        json_object_get(e, "data"));
        RS_ASSERT(st != ES_ENOMEM, "folding the stream ran out of memory");
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

/* NULL-safe string equality, for the checks. */
static inline bool rs_str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
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
        RS_EXPECT(st == 404, "list %s is %s: its view is 404, not %d", id,
                  fold->deleted ? "deleted" : "unknown", st);
    } else {
        RS_EXPECT(st == 200, "list %s: its view answers %d", id, st);
        const char *name = json_string_value(json_object_get(view, "name"));
        RS_EXPECT(rs_str_eq(name, fold->name), "list %s name: view '%s', fold '%s'", id,
                  name ? name : "(none)", fold->name);
        json_int_t version = json_integer_value(json_object_get(view, "version"));
        RS_EXPECT(version == (json_int_t)json_array_size(events),
                  "list %s version: view %lld, stream %zu", id, (long long)version,
                  json_array_size(events));
        json_t *items = json_object_get(view, "items");
        RS_EXPECT(json_array_size(items) == fold->n_items,
                  "list %s item count: view %zu, fold %zu", id, json_array_size(items),
                  fold->n_items);
        for (size_t i = 0; i < fold->n_items && i < json_array_size(items); i++) {
            json_t *it = json_array_get(items, i);
            const char *item_id = json_string_value(json_object_get(it, "id"));
            const char *task = json_string_value(json_object_get(it, "task"));
            const char *status = json_string_value(json_object_get(it, "status"));
            const char *want_status = todo_status_name(fold->items[i].status);
            RS_EXPECT(rs_str_eq(item_id, fold->items[i].id),
                      "list %s item %zu: %s, not %s", id, i, item_id ? item_id : "(none)",
                      fold->items[i].id);
            RS_EXPECT(rs_str_eq(task, fold->items[i].task),
                      "list %s item %zu task: %s, not %s", id, i, task ? task : "(none)",
                      fold->items[i].task);
            RS_EXPECT(rs_str_eq(status, want_status),
                      "list %s item %zu status: %s, not %s", id, i,
                      status ? status : "(none)", want_status);
            if (item_id == NULL)
                continue;
            RS_EXPECT(json_object_get(seen, item_id) == NULL,
                      "item %s is in two lists (%s and %s)", item_id,
                      json_string_value(json_object_get(seen, item_id)), id);
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
        int st = rs_send(api, "GET", path, NULL, &page);
        RS_ASSERT(st == 200, "%s: %d", path, st);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(page, "lists"), i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            json_t *want = id != NULL ? json_object_get(live, id) : NULL;
            RS_EXPECT(want != NULL, "the index lists %s, which is not live",
                      id ? id : "(no id)");
            if (want != NULL)
                RS_EXPECT(json_equal(json_object_get(e, "name"),
                                     json_object_get(want, "name")) &&
                              json_equal(json_object_get(e, "itemCount"),
                                         json_object_get(want, "itemCount")) &&
                              json_equal(json_object_get(e, "doneCount"),
                                         json_object_get(want, "doneCount")) &&
                              json_equal(json_object_get(e, "version"),
                                         json_object_get(want, "version")),
                          "index entry %s disagrees with its list", id);
            if (id != NULL)
                json_object_set_new(listed, id, json_true());
        }
        const char *next = json_string_value(json_object_get(page, "continuation"));
        snprintf(cont, sizeof(cont), "%s", next != NULL ? next : "");
        json_decref(page);
    } while (cont[0] != '\0' && ++pages < 100000);
    RS_EXPECT(json_object_size(listed) == json_object_size(live),
              "the index lists every live list once: %zu listed, %zu live",
              json_object_size(listed), json_object_size(live));
    json_decref(listed);
}

static inline bool rs_is_type(json_t *event, const char *type)
{
    return rs_str_eq(json_string_value(json_object_get(event, "type")), type);
}

/* Every ItemMovedOut settled exactly once (by its causation id); returns the moves. */
static inline int rs_check_moves(json_t *all_events_by_list)
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
            const char *cause = json_string_value(
                json_object_get(json_object_get(e, "meta"), "causationId"));
            if (cause != NULL &&
                (rs_is_type(e, "ItemMovedIn") || rs_is_type(e, "ItemMoveReverted"))) {
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
            deleted_after = deleted_after || rs_is_type(e, "TodoListDeleted");
        }
        json_array_foreach(events, i, e)
        {
            if (!rs_is_type(e, "ItemMovedOut"))
                continue;
            moves++;
            char eid[200];
            snprintf(eid, sizeof(eid), "todolist-%s:%lld", list,
                     (long long)json_integer_value(json_object_get(e, "version")));
            json_int_t n = json_integer_value(json_object_get(settled, eid));
            RS_EXPECT(n == 1 || (n == 0 && deleted_after), "move %s settled %lld times",
                      eid, (long long)n);
        }
    }
    RS_LOG("%d moves checked", moves);
    json_decref(settled);
    return moves;
}

/* Reads every event of the model's lists into by_list (list id -> events). */
static inline void rs_read_streams(struct rs_api *api, const struct rs_model *m,
                                   json_t *by_list)
{
    for (int l = 0; l < m->n_lists; l++)
        json_object_set_new(by_list, m->lists[l], rs_events(api, m->lists[l]));
}

/*
 * All invariants over the lists in by_list (list id -> its events, as
 * rs_read_streams reads them): every list of every model that ran, since the
 * index and "no item in two lists" are about the whole store. Returns the moves
 * checked.
 */
static inline int rs_check_streams(struct rs_api *api, json_t *by_list)
{
    json_t *seen = json_object(), *live = json_object();
    const char *list;
    json_t *events;
    json_object_foreach(by_list, list, events)
    {
        rs_check_list(api, list, events, seen, live);
    }
    rs_check_index(api, live);
    int moves = rs_check_moves(by_list);
    json_decref(seen);
    json_decref(live);
    return moves;
}

/* All invariants over the model's lists. */
static inline void rs_check(struct rs_api *api, const struct rs_model *m)
{
    json_t *by_list = json_object();
    rs_read_streams(api, m, by_list);
    rs_check_streams(api, by_list);
    json_decref(by_list);
}

#endif

/*
 * Redriving dead letters (POST /api/deadletters/{id}/retry and
 * /api/deadletters/retry) through the host protocol, on SQLite and, with
 * ES_TEST_STORE=cosmos, on Cosmos DB; and under `handler serve` with a POST
 * that carries no body at all, as `curl -X POST` sends it.
 *
 * A view is poisoned by padding it to just under the store's document limit:
 * the next event's fold passes the limit, the Projector dead-letters it at
 * once, and a redrive fails the same way until the pad is taken out.
 */
#include "../support/feed.h"
#include "store/store.h"
#include "util/config.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"
#include "read_side.h"
#include "write_side.h"

/* The store a shared handler uses, opened here as another process would. */
struct side_store {
    struct es_store *s;
    struct es_config cfg;
    bool cosmos;
};

static void side_open(const char *shared, struct side_store *out)
{
    char name[256];
    ws_store_name(shared, name, sizeof(name));
    memset(out, 0, sizeof(*out));
    out->cosmos = ws_on_cosmos();
    if (out->cosmos)
        cr_assert_eq(cosmosrig_store_open(name, &out->cfg, &out->s), 0);
    else
        cr_assert_eq(es_store_sqlite_open(name, &out->s, NULL), ES_OK);
}

static void side_close(struct side_store *st)
{
    es_store_close(st->s);
    if (st->cosmos)
        es_config_release(&st->cfg);
}

/* Replaces view id with doc (under its current etag). */
static void view_replace(struct es_store *s, const char *id, const json_t *doc)
{
    json_t *cur = NULL;
    char *etag = NULL;
    cr_assert_eq(s->ops->view_get(s, id, &cur, &etag, NULL, NULL), ES_OK, "view %s", id);
    struct es_error err = {0};
    cr_assert_eq(s->ops->view_put(s, doc, etag, NULL, NULL, &err), ES_OK, "%s",
                 err.message);
    json_decref(cur);
    free(etag);
}

/* Pads view id to 100 bytes under the document limit; returns the view as it was. */
static json_t *poison(struct es_store *s, const char *id)
{
    json_t *was = NULL;
    char *etag = NULL;
    cr_assert_eq(s->ops->view_get(s, id, &was, &etag, NULL, NULL), ES_OK);
    free(etag);
    json_t *doc = es_json_deep_copy(was);
    json_object_set_new(doc, "pad", json_string(""));
    size_t base = 0;
    free(es_json_dumps(doc, &base));
    size_t n = ES_STORE_DOC_MAX_BYTES - 100 - base;
    char *pad = malloc(n + 1);
    memset(pad, 'p', n);
    pad[n] = '\0';
    json_object_set_new(doc, "pad", json_string(pad));
    free(pad);
    view_replace(s, id, doc);
    json_decref(doc);
    return was;
}

/* Delivers the feed to its end, every batch on its first attempt of six. */
static void deliver_all(struct hostdrv_conn *c, struct feed *feed)
{
    struct fn_retry retry = {.present = true, .retry_count = 0, .max_retry_count = 5};
    for (;;) {
        json_t *batch = feed_next(feed, 100);
        cr_assert_not_null(batch);
        if (json_array_size(batch) == 0) {
            json_decref(batch);
            return;
        }
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_trigger(c, "Projector", "documents", batch, 2, &retry, &r),
                     0);
        cr_assert_eq(r.status, 200, "%s", r.body);
        hostdrv_reply_release(&r);
        json_decref(batch);
    }
}

static struct feed *feed_of(const char *shared)
{
    char name[256];
    ws_store_name(shared, name, sizeof(name));
    struct feed *f = ws_on_cosmos() ? feed_open_cosmos(name) : feed_open_sqlite(name);
    cr_assert_not_null(f);
    return f;
}

#define TASK50  "a task of fifty characters that pushes the view ov"
#define TASK50B "another fifty-character task pushing the view over"

static void add_item(struct rs_api *api, const char *list, const char *task)
{
    char path[96], body[128];
    snprintf(path, sizeof(path), "/api/todolists/%s/items", list);
    snprintf(body, sizeof(body), "{\"task\":\"%s\"}", task);
    cr_assert_eq(rs_send(api, "POST", path, body, NULL), 201);
}

static void create_list(struct rs_api *api, const char *list)
{
    char body[96];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"%s\"}", list, list);
    cr_assert_eq(rs_send(api, "POST", "/api/todolists", body, NULL), 201);
}

/* The list's view against the fold of its events. */
static void check_fold(struct rs_api *api, const char *list)
{
    json_t *seen = json_object(), *live = json_object();
    json_t *events = rs_events(api, list);
    cr_assert_gt(json_array_size(events), 0);
    rs_check_list(api, list, events, seen, live);
    cr_expect_not_null(json_object_get(live, list), "list %s is live", list);
    json_decref(events);
    json_decref(seen);
    json_decref(live);
}

static json_t *dead_letters(struct rs_api *api)
{
    json_t *j = NULL;
    cr_assert_eq(rs_send(api, "GET", "/api/deadletters?limit=500", NULL, &j), 200);
    json_t *list = json_incref(json_object_get(j, "deadLetters"));
    json_decref(j);
    return list;
}

Test(redrive, a_poisoned_view_dead_letters_then_redrives_once_fixed_to_the_fold,
     .timeout = 300)
{
    struct hostdrv *h = ws_start_with("redrive-one", NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    struct feed *feed = feed_of("redrive-one");
    create_list(&api, "pz");
    add_item(&api, "pz", "first");
    deliver_all(c, feed);
    struct side_store st;
    side_open("redrive-one", &st);
    json_t *was = poison(st.s, "todolist:pz");
    add_item(&api, "pz", TASK50);
    deliver_all(c, feed);
    ws_settle();

    json_t *dl = dead_letters(&api);
    cr_assert_eq(json_array_size(dl), 1, "the poisoned fold is dead-lettered");
    json_t *d = json_array_get(dl, 0);
    cr_expect_str_eq(ws_str(d, "id"), "todolist-pz:3:dead");
    cr_expect_eq(json_integer_value(json_object_get(d, "attempts")), 1);
    json_decref(dl);

    /* Not fixed yet: 409, and the dead letter stays with the new error. */
    json_t *j = NULL;
    cr_expect_eq(
        rs_send(&api, "POST", "/api/deadletters/todolist-pz:3:dead/retry", NULL, &j),
        409);
    cr_expect_str_eq(ws_str(j, "error"), "redrive_failed");
    cr_expect(strstr(ws_str(j, "message"), "todolist:pz") != NULL, "%s",
              ws_str(j, "message"));
    cr_expect_eq(json_integer_value(json_object_get(j, "attempts")), 2);
    json_decref(j);
    ws_settle();
    dl = dead_letters(&api);
    cr_assert_eq(json_array_size(dl), 1);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(dl, 0), "attempts")),
                 2);
    json_decref(dl);

    /* Fixed: 200, the view equals the fold, the dead letter is gone. */
    view_replace(st.s, "todolist:pz", was);
    j = NULL;
    cr_expect_eq(
        rs_send(&api, "POST", "/api/deadletters/todolist-pz:3:dead/retry", NULL, &j),
        200);
    cr_expect_str_eq(ws_str(j, "id"), "todolist-pz:3:dead");
    cr_expect_str_eq(ws_str(j, "streamId"), "todolist-pz");
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 3);
    json_decref(j);
    ws_settle();
    check_fold(&api, "pz");
    dl = dead_letters(&api);
    cr_expect_eq(json_array_size(dl), 0);
    json_decref(dl);
    j = NULL;
    cr_expect_eq(
        rs_send(&api, "POST", "/api/deadletters/todolist-pz:3:dead/retry", NULL, &j),
        404);
    cr_expect_str_eq(ws_str(j, "error"), "not_found");
    json_decref(j);
    cr_expect_eq(rs_send(&api, "POST", "/api/deadletters/bad%20id/retry", NULL, NULL),
                 400);

    json_decref(was);
    side_close(&st);
    feed_close(feed);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("redrive-one");
}

/* The ids of a retry page's failures, and its continuation (or NULL). */
static json_t *retry_page(struct rs_api *api, const char *query, int *redriven,
                          char **cont)
{
    char path[1024];
    snprintf(path, sizeof(path), "/api/deadletters/retry%s", query);
    json_t *j = NULL;
    cr_assert_eq(rs_send(api, "POST", path, NULL, &j), 200, "%s", path);
    *redriven = (int)json_integer_value(json_object_get(j, "redriven"));
    json_t *c = json_object_get(j, "continuation");
    cr_assert(json_is_null(c) || json_is_string(c));
    *cont = json_is_string(c) ? strdup(json_string_value(c)) : NULL;
    json_t *ids = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(j, "failed"), i, f)
    {
        cr_expect(json_is_string(json_object_get(f, "error")));
        cr_expect_geq(json_integer_value(json_object_get(f, "attempts")), 2);
        json_array_append(ids, json_object_get(f, "id"));
    }
    json_decref(j);
    return ids;
}

Test(redrive, all_dead_letters_are_retried_in_stream_order_page_by_page, .timeout = 300)
{
    struct hostdrv *h = ws_start_with("redrive-all", NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    struct feed *feed = feed_of("redrive-all");
    const char *lists[] = {"b1", "b1-x", "b2"};
    for (int i = 0; i < 3; i++) {
        create_list(&api, lists[i]);
        add_item(&api, lists[i], "first");
    }
    deliver_all(c, feed);
    struct side_store st;
    side_open("redrive-all", &st);
    json_t *was[3];
    for (int i = 0; i < 3; i++) {
        char id[64];
        snprintf(id, sizeof(id), "todolist:%s", lists[i]);
        was[i] = poison(st.s, id);
    }
    for (int i = 0; i < 3; i++) {
        add_item(&api, lists[i], TASK50);
        add_item(&api, lists[i], TASK50B);
    }
    deliver_all(c, feed);
    ws_settle();
    json_t *dl = dead_letters(&api);
    cr_assert_eq(json_array_size(dl), 6);
    json_decref(dl);

    int redriven = 0;
    char *cont = NULL;
    json_t *ids = retry_page(&api, "?limit=4", &redriven, &cont);
    cr_expect_eq(redriven, 0);
    cr_assert_eq(json_array_size(ids), 4);
    /* Stream order: "todolist-b1" before "todolist-b1-x", though its ids sort after. */
    const char *want[] = {"todolist-b1:3:dead",   "todolist-b1:4:dead",
                          "todolist-b1-x:3:dead", "todolist-b1-x:4:dead",
                          "todolist-b2:3:dead",   "todolist-b2:4:dead"};
    for (size_t i = 0; i < 4; i++)
        cr_expect_str_eq(json_string_value(json_array_get(ids, i)), want[i]);
    json_decref(ids);
    cr_assert_not_null(cont, "more to come");
    char query[900];
    snprintf(query, sizeof(query), "?limit=4&continuation=%s", cont);
    free(cont);
    ids = retry_page(&api, query, &redriven, &cont);
    cr_assert_eq(json_array_size(ids), 2);
    for (size_t i = 0; i < 2; i++)
        cr_expect_str_eq(json_string_value(json_array_get(ids, i)), want[4 + i]);
    cr_expect_null(cont, "the end");
    json_decref(ids);

    /* A continuation of another listing, and limits out of range, are refused. */
    json_t *page = NULL;
    cr_assert_eq(rs_send(&api, "GET", "/api/todolists?limit=1", NULL, &page), 200);
    const char *other = ws_str(page, "continuation");
    cr_assert_not_null(other);
    snprintf(query, sizeof(query), "/api/deadletters/retry?continuation=%s", other);
    json_t *j = NULL;
    cr_expect_eq(rs_send(&api, "POST", query, NULL, &j), 400);
    cr_expect_str_eq(ws_str(j, "error"), "invalid_field");
    json_decref(j);
    json_decref(page);
    cr_expect_eq(rs_send(&api, "POST", "/api/deadletters/retry?limit=0", NULL, NULL),
                 400);
    cr_expect_eq(rs_send(&api, "POST", "/api/deadletters/retry?limit=501", NULL, NULL),
                 400);

    for (int i = 0; i < 3; i++)
        view_replace(st.s, json_string_value(json_object_get(was[i], "id")), was[i]);
    ids = retry_page(&api, "", &redriven, &cont);
    cr_expect_eq(redriven, 6);
    cr_expect_eq(json_array_size(ids), 0);
    cr_expect_null(cont);
    json_decref(ids);
    ws_settle();
    for (int i = 0; i < 3; i++)
        check_fold(&api, lists[i]);
    dl = dead_letters(&api);
    cr_expect_eq(json_array_size(dl), 0);
    json_decref(dl);

    for (int i = 0; i < 3; i++)
        json_decref(was[i]);
    side_close(&st);
    feed_close(feed);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("redrive-all");
}

/* ---- handler serve ---- */

/* A plain HTTP request; body NULL sends no body and no Content-Length at all. */
static int serve_call(struct hostdrv_conn *c, const char *method, const char *path,
                      const char *const *headers, const char *body, json_t **json)
{
    struct hostdrv_reply r;
    if (hostdrv_request(c, method, path, headers, body, body != NULL ? strlen(body) : 0,
                        HOSTDRV_CONTENT_LENGTH, &r) != 0)
        return 0;
    if (json != NULL)
        *json = json_incref(r.client_json);
    int st = (int)r.status;
    hostdrv_reply_release(&r);
    return st;
}

static int serve_api_call(void *ctx, const char *method, const char *path,
                          const char *body, json_t **json)
{
    const char *h[] = {JSON_CT, NULL};
    return serve_call(ctx, method, path, body != NULL ? h : NULL, body, json);
}

static json_int_t view_version(struct rs_api *api, const char *list, json_int_t want)
{
    char path[96];
    snprintf(path, sizeof(path), "/api/todolists/%s", list);
    json_int_t got = -1;
    for (int64_t t0 = es_time_mono_ms(); es_time_mono_ms() - t0 < 5000;) {
        json_t *v = NULL;
        int code = rs_send(api, "GET", path, NULL, &v);
        got = code == 200 ? json_integer_value(json_object_get(v, "version")) : -1;
        json_decref(v);
        if (got >= want)
            break;
        es_time_sleep_ms(5);
    }
    return got;
}

Test(redrive, under_serve_a_post_without_a_body_redrives)
{
    if (ws_on_cosmos())
        cr_skip_test(
            "handler serve is run on SQLite here (its pump reads SQLite's feed)");
    char path[256], env_path[300];
    ws_store_name("redrive-serve", path, sizeof(path));
    snprintf(env_path, sizeof(env_path), "EVENT_STORE_PATH=%s", path);
    const char *env[] = {env_path, NULL};
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = env, .serve = true};
    struct hostdrv *h = NULL;
    cr_assert_eq(hostdrv_start(&o, &h), 0);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {serve_api_call, c};
    create_list(&api, "sv");
    cr_assert_eq(view_version(&api, "sv", 1), 1);
    struct side_store st;
    side_open("redrive-serve", &st);
    json_t *v1 = NULL;
    char *etag = NULL;
    cr_assert_eq(st.s->ops->view_get(st.s, "todolist:sv", &v1, &etag, NULL, NULL), ES_OK);
    free(etag);
    add_item(&api, "sv", "milk");
    cr_assert_eq(view_version(&api, "sv", 2), 2);
    /* The view loses version 2, whose dead letter the Projector would have written. */
    view_replace(st.s, "todolist:sv", v1);
    struct es_event_page p;
    cr_assert_eq(st.s->ops->read_stream(st.s, "todolist-sv", 2, 1, &p, NULL, NULL),
                 ES_OK);
    cr_assert_eq(p.n, 1);
    json_t *dead = json_pack("{s:s, s:s, s:o, s:s, s:i, s:s}", "id", "todolist-sv:2:dead",
                             "streamId", "todolist-sv", "event",
                             es_event_to_doc(&p.events[0]), "error", "an outage",
                             "attempts", 6, "failedAt", "2026-01-01T00:00:00.000Z");
    es_event_page_release(&p);
    cr_assert_eq(st.s->ops->deadletter_put(st.s, dead, NULL, NULL), ES_OK);
    json_decref(dead);
    cr_expect_eq(view_version(&api, "sv", 2), 1, "the view is behind");

    json_t *j = NULL;
    cr_expect_eq(serve_call(c, "POST", "/api/deadletters/todolist-sv:2:dead/retry", NULL,
                            NULL, &j),
                 200, "no body, no Content-Length: as curl -X POST sends it");
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 2);
    json_decref(j);
    check_fold(&api, "sv");
    const char *zero[] = {"Content-Length: 0", NULL};
    cr_expect_eq(serve_call(c, "POST", "/api/deadletters/todolist-sv:2:dead/retry", zero,
                            NULL, NULL),
                 404);
    j = NULL;
    cr_expect_eq(serve_call(c, "POST", "/api/deadletters/retry", NULL, NULL, &j), 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "redriven")), 0);
    cr_expect(json_is_null(json_object_get(j, "continuation")));
    json_decref(j);
    cr_expect_eq(serve_call(c, "GET", "/api/deadletters/retry", NULL, NULL, NULL), 404,
                 "POST only");

    json_decref(v1);
    side_close(&st);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("redrive-serve");
}

/* The dead-letter container unreachable: 503 store_unavailable, and nothing changes. */
Test(redrive, an_unreachable_store_is_503)
{
    if (!ws_on_cosmos())
        cr_skip_test("faults are injected by the Cosmos rig");
    const char *env[] = {"COSMOS_MAX_RETRIES=1", "COSMOS_RETRY_BUDGET_MS=200", NULL};
    struct hostdrv *h = ws_start_with("redrive-503", env);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    cr_assert_eq(cosmosrig_faults("[{\"path\":\"/colls/deadletters/\",\"count\":100,"
                                  "\"status\":503}]"),
                 0);
    json_t *j = NULL;
    cr_expect_eq(
        rs_send(&api, "POST", "/api/deadletters/todolist-x:1:dead/retry", NULL, &j), 503);
    cr_expect_str_eq(ws_str(j, "error"), "store_unavailable");
    json_decref(j);
    j = NULL;
    cr_expect_eq(rs_send(&api, "POST", "/api/deadletters/retry", NULL, &j), 503);
    cr_expect_str_eq(ws_str(j, "error"), "store_unavailable");
    json_decref(j);
    cr_assert_eq(cosmosrig_faults("[]"), 0);
    cr_expect_eq(
        rs_send(&api, "POST", "/api/deadletters/todolist-x:1:dead/retry", NULL, NULL),
        404);
    hostdrv_conn_free(c);
    ws_stop(h);
}

/*
 * Integration events under `handler serve`: with INTEGRATION_WEBHOOK_URL set,
 * a second pump feeds the Publisher from its own checkpoint and POSTs each
 * batch's CloudEvents to a receiver (tests/support/receiver.c, in this
 * process, on a free loopback port). Every public event of a random workload
 * arrives at least once and in stream order per list; while the receiver is
 * down, events are retried and then delivered (or, past the retry policy,
 * dead-lettered), and the Projector's views stay current all along. Unset,
 * the Publisher is not fed.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain/todo_integration.h"
#include "store/store.h"
#include "util/timeutil.h"
#include "../support/hostdrv.h"
#include "../support/receiver.h"
#include "read_side.h"

static int http_call(void *ctx, const char *method, const char *path, const char *body,
                     json_t **json)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    struct hostdrv_reply r;
    if (hostdrv_request(ctx, method, path, body != NULL ? h : NULL, body,
                        body != NULL ? strlen(body) : 0, HOSTDRV_CONTENT_LENGTH, &r) != 0)
        return 0;
    *json = json_incref(r.client_json);
    int st = (int)r.status;
    hostdrv_reply_release(&r);
    return st;
}

static struct hostdrv *serve(const char *store_path, int webhook_port)
{
    char env_path[256], env_url[128];
    const char *env[3] = {NULL, NULL, NULL};
    size_t k = 0;
    if (store_path != NULL) {
        snprintf(env_path, sizeof(env_path), "EVENT_STORE_PATH=%s", store_path);
        env[k++] = env_path;
    }
    if (webhook_port > 0) {
        snprintf(env_url, sizeof(env_url),
                 "INTEGRATION_WEBHOOK_URL=http://127.0.0.1:%d/events", webhook_port);
        env[k++] = env_url;
    }
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = env, .serve = true};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "handler serve did not become ready");
    return d;
}

static void stop(struct hostdrv *d)
{
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0, "handler exits 0 on SIGTERM");
    hostdrv_free(d);
}

static void drop_store(const char *path)
{
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char f[200];
        snprintf(f, sizeof(f), "%s%s", path, suffix[i]);
        unlink(f);
    }
}

/*
 * The CloudEvents the workload's lists should publish, by id, from their
 * events as the API serves them (the contract's mapping applied to them).
 */
static json_t *expected_events(struct rs_api *api, const struct rs_model *m)
{
    json_t *want = json_object();
    for (int l = 0; l < m->n_lists; l++) {
        char stream[64];
        snprintf(stream, sizeof(stream), "todolist-%s", m->lists[l]);
        json_t *events = rs_events(api, m->lists[l]);
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e)
        {
            struct todo_stored_event se = {
                stream,
                (int64_t)json_integer_value(json_object_get(e, "version")),
                json_string_value(json_object_get(e, "type")),
                1,
                json_object_get(e, "data"),
                json_object_get(e, "meta")};
            json_t *ce = NULL;
            cr_assert_eq(todo_integration_event(&se, &ce, NULL), ES_OK);
            if (ce != NULL)
                json_object_set_new(want, json_string_value(json_object_get(ce, "id")),
                                    ce);
        }
        json_decref(events);
    }
    return want;
}

/* Waits until the receiver holds every expected id (or 30 s pass); how many it holds. */
static size_t wait_for_all(struct receiver *r, json_t *want)
{
    int64_t t0 = es_time_mono_ms();
    size_t found = 0;
    do {
        json_t *got = receiver_events(r), *seen = json_object();
        size_t i;
        json_t *ce;
        json_array_foreach(got, i, ce)
        {
            json_object_set(seen, json_string_value(json_object_get(ce, "id")),
                            json_true());
        }
        found = 0;
        const char *id;
        json_t *v;
        json_object_foreach(want, id, v)
        {
            found += json_object_get(seen, id) != NULL;
        }
        json_decref(seen);
        json_decref(got);
        if (found == json_object_size(want))
            break;
        es_time_sleep_ms(50);
    } while (es_time_mono_ms() - t0 < 30000);
    return found;
}

/*
 * What the receiver got against what was expected: every event equal to its
 * expected CloudEvent, nothing unexpected, and per source the first arrival
 * of each id in increasing sequence (a redelivery may repeat an id later).
 */
static void check_received(json_t *got, json_t *want)
{
    json_t *first = json_object(), *last_seq = json_object();
    size_t i, dupes = 0;
    json_t *ce;
    json_array_foreach(got, i, ce)
    {
        const char *id = json_string_value(json_object_get(ce, "id"));
        json_t *w = json_object_get(want, id);
        cr_expect_not_null(w, "an event that was not expected: %s", id);
        if (w == NULL)
            continue;
        cr_expect(json_equal(ce, w), "%s arrived as it is published", id);
        if (json_object_get(first, id) != NULL) {
            dupes++;
            continue;
        }
        json_object_set(first, id, json_true());
        const char *source = json_string_value(json_object_get(ce, "source"));
        long seq = strtol(json_string_value(json_object_get(ce, "sequence")), NULL, 10);
        json_int_t prev = json_integer_value(json_object_get(last_seq, source));
        cr_expect_gt(seq, prev, "%s: %s arrived after sequence %lld", source, id,
                     (long long)prev);
        json_object_set_new(last_seq, source, json_integer(seq));
    }
    cr_expect_eq(json_object_size(first), json_object_size(want),
                 "every public event arrived: %zu of %zu", json_object_size(first),
                 json_object_size(want));
    cr_log_info("%zu events received, %zu of them again", json_array_size(got), dupes);
    json_decref(first);
    json_decref(last_seq);
}

Test(serve_publisher, every_public_event_of_a_workload_arrives_in_stream_order,
     .timeout = 300)
{
    struct receiver *r = receiver_start(0);
    cr_assert_not_null(r);
    struct hostdrv *d = serve(NULL, receiver_port(r));
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct rs_api api = {http_call, c};
    static struct rs_model m;
    rs_workload(&api, &m, 17, 8, 300, "pub");
    json_t *want = expected_events(&api, &m);
    cr_assert_gt(json_object_size(want), 300 / 2, "the workload published enough");
    size_t found = wait_for_all(r, want);
    cr_assert_eq(found, json_object_size(want), "%zu of %zu arrived", found,
                 json_object_size(want));
    /* Moves settle after their command; wait_for_all saw the settled ones only if the
     * workload's streams were complete: read them again now that the feed is quiet. */
    json_decref(want);
    es_time_sleep_ms(300);
    want = expected_events(&api, &m);
    cr_assert_eq(wait_for_all(r, want), json_object_size(want));
    json_t *got = receiver_events(r);
    check_received(got, want);
    char ct[128];
    cr_expect_gt(receiver_posts(r, ct, sizeof(ct)), 0);
    cr_expect_str_eq(ct, "application/cloudevents-batch+json");
    size_t moved = 0, i;
    json_t *ce;
    json_array_foreach(got, i, ce)
    {
        moved += strcmp(json_string_value(json_object_get(ce, "type")),
                        "todo.ItemMoved.v1") == 0;
    }
    cr_log_info("%d moves asked, %zu settled as todo.ItemMoved.v1", m.moves, moved);
    json_decref(got);
    json_decref(want);
    hostdrv_conn_free(c);
    stop(d);
    receiver_stop(r);
}

/* Milliseconds until GET path shows `version` (or -1 after 5 s). */
static int64_t wait_for_version(struct rs_api *api, const char *path, json_int_t version)
{
    int64_t t0 = es_time_mono_ms();
    while (es_time_mono_ms() - t0 < 5000) {
        json_t *v = NULL;
        int st = rs_send(api, "GET", path, NULL, &v);
        json_int_t got = json_integer_value(json_object_get(v, "version"));
        json_decref(v);
        if (st == 200 && got >= version)
            return es_time_mono_ms() - t0;
        es_time_sleep_ms(5);
    }
    return -1;
}

/*
 * The receiver is down: the Publisher's batches fail and are retried with the
 * function's backoff (1 s, 2 s, 4 s, ...), the Projector's views keep up with
 * every command meanwhile, and once the receiver is back every event
 * arrives, nothing dead-lettered.
 */
Test(serve_publisher, a_receiver_down_delays_only_the_events_never_the_views,
     .timeout = 300)
{
    int port = hostdrv_free_port();
    cr_assert_gt(port, 0);
    struct hostdrv *d = serve(NULL, port);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct rs_api api = {http_call, c};
    cr_assert_eq(
        rs_send(&api, "POST", "/api/todolists", "{\"id\":\"down\",\"name\":\"D\"}", NULL),
        201);
    int64_t worst = wait_for_version(&api, "/api/todolists/down", 1);
    for (int v = 2; v <= 15; v++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"task\":\"t%d\"}", v);
        cr_assert_eq(rs_send(&api, "POST", "/api/todolists/down/items", body, NULL), 201);
        int64_t ms = wait_for_version(&api, "/api/todolists/down", v);
        cr_assert_geq(ms, 0, "version %d never reached the view", v);
        worst = ms > worst ? ms : worst;
        es_time_sleep_ms(100);
    }
    cr_expect_lt(worst, 1000, "the view lagged %lld ms with the receiver down",
                 (long long)worst);
    char *err = hostdrv_read_output(d, true);
    cr_expect(strstr(err, "not delivered") != NULL,
              "the Publisher's batches failed while the receiver was down");
    free(err);

    struct receiver *r = receiver_start(port);
    cr_assert_not_null(r, "the receiver can listen on port %d again", port);
    static struct rs_model m = {.n_lists = 1, .lists = {"down"}};
    json_t *want = expected_events(&api, &m);
    cr_expect_eq(json_object_size(want), 15);
    cr_assert_eq(wait_for_all(r, want), 15, "the retried batch arrived");
    json_t *got = receiver_events(r);
    check_received(got, want);
    json_decref(got);
    json_decref(want);
    json_t *dead = NULL;
    cr_expect_eq(rs_send(&api, "GET", "/api/deadletters", NULL, &dead), 200);
    cr_expect_eq(json_array_size(json_object_get(dead, "deadLetters")), 0);
    json_decref(dead);
    hostdrv_conn_free(c);
    stop(d);
    receiver_stop(r);
}

/*
 * Down past the retry policy (5 retries, 1 s to 16 s apart): the batch's
 * events are dead-lettered, one per message, and the Publisher moves on, so
 * a later event is delivered once the receiver is back.
 */
Test(serve_publisher, a_receiver_down_past_the_retries_gets_dead_letters, .timeout = 300)
{
    int port = hostdrv_free_port();
    cr_assert_gt(port, 0);
    struct hostdrv *d = serve(NULL, port);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct rs_api api = {http_call, c};
    cr_assert_eq(
        rs_send(&api, "POST", "/api/todolists", "{\"id\":\"lost\",\"name\":\"L\"}", NULL),
        201);
    json_t *letters = NULL;
    int64_t t0 = es_time_mono_ms();
    while (es_time_mono_ms() - t0 < 90000) {
        json_t *dead = NULL;
        cr_assert_eq(rs_send(&api, "GET", "/api/deadletters", NULL, &dead), 200);
        if (json_array_size(json_object_get(dead, "deadLetters")) > 0) {
            letters = json_incref(json_object_get(dead, "deadLetters"));
            json_decref(dead);
            break;
        }
        json_decref(dead);
        es_time_sleep_ms(250);
    }
    cr_assert_not_null(letters, "no dead letter after 90 s");
    cr_assert_eq(json_array_size(letters), 1);
    json_t *dl = json_array_get(letters, 0);
    cr_expect_str_eq(json_string_value(json_object_get(dl, "id")),
                     "todolist-lost:1:Publisher:dead");
    cr_expect_str_eq(json_string_value(json_object_get(dl, "streamId")), "todolist-lost");
    cr_expect_str_eq(json_string_value(json_object_get(dl, "subscriber")), "Publisher");
    cr_expect_eq(json_integer_value(json_object_get(dl, "attempts")), 6);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(dl, "message"), "type")),
        "todo.TodoListCreated.v1");
    cr_log_info("dead-lettered after %lld ms: %s", (long long)(es_time_mono_ms() - t0),
                json_string_value(json_object_get(dl, "error")));
    json_decref(letters);

    struct receiver *r = receiver_start(port);
    cr_assert_not_null(r);
    cr_assert_eq(
        rs_send(&api, "PATCH", "/api/todolists/lost", "{\"name\":\"Found\"}", NULL), 200);
    static struct rs_model m = {.n_lists = 1, .lists = {"lost"}};
    json_t *want = expected_events(&api, &m);
    json_object_del(want, "todolist-lost:1");
    cr_expect_eq(wait_for_all(r, want), 1, "the next event is delivered");
    json_decref(want);
    hostdrv_conn_free(c);
    stop(d);
    receiver_stop(r);
}

/* Without INTEGRATION_WEBHOOK_URL the Publisher is never fed: no checkpoint of its own.
 */
Test(serve_publisher, unset_the_publisher_is_not_fed)
{
    char path[128];
    snprintf(path, sizeof(path), "/tmp/serve-nopub-%d.db", (int)getpid());
    struct hostdrv *d = serve(path, 0);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct rs_api api = {http_call, c};
    cr_assert_eq(rs_send(&api, "POST", "/api/todolists",
                         "{\"id\":\"quiet\",\"name\":\"Q\"}", NULL),
                 201);
    cr_expect_geq(wait_for_version(&api, "/api/todolists/quiet", 1), 0);
    hostdrv_conn_free(c);
    stop(d);
    struct es_store *s = NULL;
    cr_assert_eq(es_store_sqlite_open(path, &s, NULL), ES_OK);
    int64_t projector = 0, publisher = -1;
    cr_assert_eq(s->ops->checkpoint_get(s, "Projector", &projector, NULL, NULL), ES_OK);
    cr_assert_eq(s->ops->checkpoint_get(s, "Publisher", &publisher, NULL, NULL), ES_OK);
    cr_expect_gt(projector, 0, "the Projector was fed");
    cr_expect_eq(publisher, 0, "the Publisher was not");
    es_store_close(s);
    drop_store(path);
}

/* A URL that is not http(s) stops start-up, naming the setting. */
Test(serve_publisher, a_webhook_url_that_is_not_http_stops_start_up)
{
    const char *env[] = {"INTEGRATION_WEBHOOK_URL=ftp://127.0.0.1/events", NULL};
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = env, .serve = true};
    struct hostdrv *d = NULL;
    cr_expect_neq(hostdrv_start(&o, &d), 0, "handler serve refuses to start");
}

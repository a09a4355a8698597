/*
 * The read side under `handler serve`: the change-feed pump keeps the views
 * fresh (within one second of a command), and a handler killed mid-stream
 * and restarted neither loses nor duplicates anything in the views.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/timeutil.h"
#include "../support/hostdrv.h"
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

static struct hostdrv *serve(const char *store_path)
{
    char env_path[256];
    snprintf(env_path, sizeof(env_path), "EVENT_STORE_PATH=%s", store_path);
    const char *env[] = {store_path != NULL ? env_path : NULL, NULL};
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = env, .serve = true};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "handler serve did not become ready");
    return d;
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
        es_time_sleep_ms(2);
    }
    return -1;
}

Test(serve_read_side, a_view_reflects_a_command_within_one_second)
{
    struct hostdrv *d = serve(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct rs_api api = {http_call, c};
    int64_t worst = 0;
    cr_assert_eq(rs_send(&api, "POST", "/api/todolists",
                         "{\"id\":\"fresh\",\"name\":\"F\"}", NULL),
                 201);
    for (int v = 1; v <= 20; v++) {
        if (v > 1) {
            char body[64];
            snprintf(body, sizeof(body), "{\"task\":\"t%d\"}", v);
            cr_assert_eq(rs_send(&api, "POST", "/api/todolists/fresh/items", body, NULL),
                         201);
        }
        int64_t ms = wait_for_version(&api, "/api/todolists/fresh", v);
        cr_assert_geq(ms, 0, "version %d never reached the view", v);
        worst = ms > worst ? ms : worst;
    }
    cr_log_info("slowest of 20: the view caught up %lld ms after the command",
                (long long)worst);
    cr_expect_lt(worst, 1000, "the view lagged %lld ms", (long long)worst);
    /*
     * The pump runs the Projector: GET /api/projection reports it, once the batch
     * that wrote the view has ended (its figures are taken at the end).
     */
    json_t *j = NULL;
    for (int64_t t0 = es_time_mono_ms(); es_time_mono_ms() - t0 < 5000;) {
        json_decref(j);
        j = NULL;
        cr_expect_eq(rs_send(&api, "GET", "/api/projection", NULL, &j), 200);
        if (json_integer_value(json_object_get(j, "events")) >= 20)
            break;
        es_time_sleep_ms(5);
    }
    cr_expect_eq(json_integer_value(json_object_get(j, "events")), 20);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(j, "lastEvent"), "id")),
        "todolist-fresh:20");
    cr_expect(json_integer_value(json_object_get(j, "lagMs")) >= 0);
    json_decref(j);
    hostdrv_conn_free(c);
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
    hostdrv_free(d);
}

/*
 * Read-your-writes under serve: every command's ETag, sent back as
 * ?minVersion, gets a view at that version or later on the first read.
 */
Test(serve_read_side, min_version_reads_each_commands_own_write)
{
    struct hostdrv *d = serve(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    const char *h[] = {"Content-Type: application/json", NULL};
    for (int v = 1; v <= 20; v++) {
        struct hostdrv_reply r;
        char body[64];
        if (v == 1)
            snprintf(body, sizeof(body), "{\"id\":\"ryw\",\"name\":\"R\"}");
        else
            snprintf(body, sizeof(body), "{\"task\":\"t%d\"}", v);
        cr_assert_eq(
            hostdrv_request(c, "POST",
                            v == 1 ? "/api/todolists" : "/api/todolists/ryw/items", h,
                            body, strlen(body), HOSTDRV_CONTENT_LENGTH, &r),
            0);
        cr_assert_eq(r.status, 201);
        const char *tag = hostdrv_reply_header(&r, "ETag");
        cr_assert_not_null(tag);
        long long version = strtoll(tag + 1, NULL, 10);
        cr_assert_eq(version, v);
        hostdrv_reply_release(&r);
        char path[96];
        snprintf(path, sizeof(path), "/api/todolists/ryw?minVersion=%lld", version);
        cr_assert_eq(
            hostdrv_request(c, "GET", path, NULL, NULL, 0, HOSTDRV_CONTENT_LENGTH, &r),
            0);
        cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
        cr_expect_geq(json_integer_value(json_object_get(r.client_json, "version")),
                      version);
        cr_expect_eq(json_array_size(json_object_get(r.client_json, "items")),
                     (size_t)(v - 1));
        hostdrv_reply_release(&r);
    }
    hostdrv_conn_free(c);
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
    hostdrv_free(d);
}

/* Waits until every list's view reflects its whole stream (or is 404 when it should be).
 */
static void wait_caught_up(struct rs_api *api, const struct rs_model *m)
{
    int64_t t0 = es_time_mono_ms();
    for (int l = 0; l < m->n_lists; l++) {
        json_t *events = rs_events(api, m->lists[l]);
        json_int_t n = (json_int_t)json_array_size(events);
        bool deleted = false;
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e)
        {
            deleted = deleted || strcmp(json_string_value(json_object_get(e, "type")),
                                        "TodoListDeleted") == 0;
        }
        json_decref(events);
        char path[96];
        snprintf(path, sizeof(path), "/api/todolists/%s", m->lists[l]);
        while (es_time_mono_ms() - t0 < 30000) {
            json_t *v = NULL;
            int st = rs_send(api, "GET", path, NULL, &v);
            json_int_t got = json_integer_value(json_object_get(v, "version"));
            json_decref(v);
            if ((deleted && st == 404) || (!deleted && st == 200 && got >= n))
                break;
            es_time_sleep_ms(20);
        }
    }
}

struct burst {
    struct rs_api *api;
    struct rs_model *m;
    volatile bool stop;
    int steps;
};

/* Commands until the handler dies under it (a refused connection answers 0). */
static void *keep_sending(void *arg)
{
    struct burst *b = arg;
    for (int step = 0; !b->stop && step < 100000; step++) {
        json_t *probe = NULL;
        if (b->api->call(b->api->ctx, "GET", "/", NULL, &probe) == 0) {
            json_decref(probe);
            break;
        }
        json_decref(probe);
        rs_step(b->api, b->m, step, "sk");
        b->steps++;
    }
    return NULL;
}

Test(serve_read_side, a_kill_mid_stream_loses_and_duplicates_nothing, .timeout = 300)
{
    char path[128];
    snprintf(path, sizeof(path), "/tmp/serve-kill-%d.db", (int)getpid());
    struct hostdrv *d = serve(path);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct rs_api api = {http_call, c};
    static struct rs_model m;
    rs_workload(&api, &m, 7, 16, 0, "sk");
    /* Commands keep flowing, and the pump keeps delivering them, when the process dies.
     */
    struct burst b = {.api = &api, .m = &m};
    pthread_t t;
    pthread_create(&t, NULL, keep_sending, &b);
    es_time_sleep_ms(800);
    cr_expect_eq(hostdrv_stop(d, SIGKILL, 5000), 128 + SIGKILL);
    b.stop = true;
    pthread_join(t, NULL);
    hostdrv_conn_free(c);
    hostdrv_free(d);
    struct es_store *s = NULL;
    cr_assert_eq(es_store_sqlite_open(path, &s, NULL), ES_OK);
    int64_t checkpoint = 0;
    cr_assert_eq(s->ops->checkpoint_get(s, "Projector", &checkpoint, NULL, NULL), ES_OK);
    struct es_event_page rest;
    cr_assert_eq(s->ops->feed_read(s, checkpoint, 100000, &rest, NULL, NULL), ES_OK);
    cr_log_info("killed after %d commands; the pump's checkpoint was %zu events behind",
                b.steps, rest.n);
    es_event_page_release(&rest);
    es_store_close(s);

    d = serve(path);
    c = hostdrv_conn_new(d);
    api.ctx = c;
    for (int step = 100000; step < 100200; step++)
        rs_step(&api, &m, step, "sk");
    wait_caught_up(&api, &m);
    rs_check(&api, &m);
    hostdrv_conn_free(c);
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
    hostdrv_free(d);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char f[160];
        snprintf(f, sizeof(f), "%s%s", path, suffix[i]);
        unlink(f);
    }
}

/*
 * Hostile input on both faces of the handler: slow clients against `handler
 * serve`, text that is not text, values forged in the host's envelope and in
 * the change feed. Each case is a finding of an adversarial run; each must
 * get a clear answer, never a crash (the suite also runs under ASan), a hang
 * or a write the API would refuse.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "write_side.h"

static struct hostdrv *serve_with(const char *const *env)
{
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .env = env, .serve = true};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "handler serve did not become ready");
    return d;
}

/* A TCP connection to the handler from the loopback address `from`; -1 if refused. */
static int connect_from(const char *from, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons((uint16_t)port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
        connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Reads until the peer closes or timeout_ms passes; the bytes read, or -1 on timeout. */
static long read_until_closed(int fd, int timeout_ms, char *buf, size_t cap)
{
    size_t got = 0;
    int64_t end = es_time_mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - es_time_mono_ms());
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            continue;
        ssize_t n = recv(fd, buf + got, got + 1 < cap ? cap - got - 1 : 0, 0);
        if (n <= 0) {
            buf[got] = '\0';
            return (long)got;
        }
        got += (size_t)n;
    }
}

/*
 * Logs a raw answer of `handler serve` (status line, headers, body) for the
 * response validator, as the driver logs the answers it reads itself.
 */
static void log_raw(const char *method, const char *request, const char *resp)
{
    const char *target = strchr(request, ' ');
    const char *end = target != NULL ? strchr(target + 1, ' ') : NULL;
    const char *head_end = strstr(resp, "\r\n\r\n");
    if (end == NULL || head_end == NULL || strlen(resp) < 12)
        return;
    char path[512];
    snprintf(path, sizeof(path), "%.*s", (int)(end - target - 1), target + 1);
    json_t *headers = json_object();
    for (const char *line = strstr(resp, "\r\n") + 2; line < head_end;) {
        const char *eol = strstr(line, "\r\n");
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon != NULL) {
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            char *name = strndup(line, (size_t)(colon - line));
            json_object_set_new(headers, name, json_stringn(v, (size_t)(eol - v)));
            free(name);
        }
        line = eol + 2;
    }
    const char *body = head_end + 4;
    struct hostdrv_logged l = {"raw",   "api", NULL,
                               method,  path,  strtol(resp + 9, NULL, 10),
                               headers, body,  strlen(body)};
    hostdrv_log_response(&l);
    json_decref(headers);
}

/* One whole GET from `from`; the status, or 0 when it did not come within 2 s. */
static int get_from(const char *from, int port, const char *path)
{
    int fd = connect_from(from, port);
    if (fd < 0)
        return 0;
    char req[256], resp[4096];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             path);
    int status = 0;
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req) &&
        read_until_closed(fd, 2000, resp, sizeof(resp)) > 12)
        status = (int)strtol(resp + 9, NULL, 10);
    close(fd);
    return status;
}

struct trickle {
    int port, n, fds[64];
    volatile bool stop;
};

/* Opens n connections and feeds each a header line every 300 ms, never finishing. */
static void *trickle_headers(void *arg)
{
    struct trickle *t = arg;
    for (int i = 0; i < t->n; i++) {
        t->fds[i] = connect_from("127.0.0.1", t->port);
        if (t->fds[i] >= 0)
            send(t->fds[i], "GET /api/health HTTP/1.1\r\nHost: x\r\n", 35, MSG_NOSIGNAL);
    }
    while (!t->stop) {
        for (int i = 0; i < t->n; i++)
            if (t->fds[i] >= 0 &&
                send(t->fds[i], "X-Slow: a\r\n", 11, MSG_NOSIGNAL) < 0) {
                close(t->fds[i]);
                t->fds[i] = -1;
            }
        es_time_sleep_ms(300);
    }
    return NULL;
}

Test(hostile, a_trickling_client_cannot_lock_others_out_of_serve, .timeout = 60)
{
    const char *env[] = {"SERVE_HEADERS_TIMEOUT_MS=1500",
                         "SERVE_MAX_CONNECTIONS_PER_CLIENT=16",
                         "HANDLER_MAX_CONNECTIONS=48", NULL};
    struct hostdrv *d = serve_with(env);
    struct trickle t = {.port = hostdrv_port(d), .n = 60}; /* more than the cap */
    pthread_t th;
    pthread_create(&th, NULL, trickle_headers, &t);
    es_time_sleep_ms(300);
    /* While the trickle goes on, another client is served at once, every time. */
    int served = 0;
    for (int i = 0; i < 10; i++) {
        int64_t t0 = es_time_mono_ms();
        int st = get_from("127.0.0.2", hostdrv_port(d), "/api/health");
        cr_expect_eq(st, 200, "request %d: %d", i, st);
        cr_expect_lt(es_time_mono_ms() - t0, 1000, "request %d was prompt", i);
        served += st == 200;
        es_time_sleep_ms(200);
    }
    /* By now every trickling connection has been cut at its deadline. */
    t.stop = true;
    pthread_join(th, NULL);
    int open_left = 0;
    for (int i = 0; i < t.n; i++) {
        if (t.fds[i] < 0)
            continue;
        char buf[512];
        open_left += read_until_closed(t.fds[i], 500, buf, sizeof(buf)) < 0;
        close(t.fds[i]);
    }
    cr_expect_eq(open_left, 0, "%d trickling connection(s) still open", open_left);
    cr_expect_eq(served, 10);
    cr_expect_eq(get_from("127.0.0.1", hostdrv_port(d), "/api/health"), 200,
                 "the trickler's address is served again once it behaves");
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
    hostdrv_free(d);
}

/* Text that is not text is a bad field, never "out of memory, retry". */
Test(hostile, bytes_that_are_not_utf8_are_400_invalid_field_under_serve)
{
    struct hostdrv *d = serve_with(NULL);
    int port = hostdrv_port(d);
    const char *reqs[] = {
        "GET /api/todolists/%FF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /api/todolists/a/events?from=%FF HTTP/1.1\r\nHost: x\r\nConnection: "
        "close\r\n\r\n",
        "GET /api/todolists/a HTTP/1.1\r\nHost: x\r\nX-Bad: \xff\r\nConnection: "
        "close\r\n\r\n",
        "GET /api/todolists?continuation=%C3%28 HTTP/1.1\r\nHost: x\r\nConnection: "
        "close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        int fd = connect_from("127.0.0.1", port);
        cr_assert_geq(fd, 0);
        char resp[4096];
        send(fd, reqs[i], strlen(reqs[i]), MSG_NOSIGNAL);
        cr_assert_gt(read_until_closed(fd, 3000, resp, sizeof(resp)), 12, "case %zu", i);
        close(fd);
        log_raw("GET", reqs[i], resp);
        cr_expect_eq(strtol(resp + 9, NULL, 10), 400, "case %zu: %.40s", i, resp);
        cr_expect(strstr(resp, "\"invalid_field\"") != NULL, "case %zu: %s", i, resp);
    }
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
    hostdrv_free(d);
}

static struct hostdrv *host(void)
{
    return ws_start(NULL);
}

/* A NUL inside a route value would cut it short for every C function after it. */
Test(hostile, a_route_value_with_a_nul_is_refused_not_cut)
{
    struct hostdrv *d = host();
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "ab", "The short id");
    json_t *params = json_pack("{s:s%}", "id", "ab\0cd", (size_t)5);
    const char *h[] = {JSON_CT, NULL};
    struct hostdrv_http req = {.function = "RenameTodoList",
                               .method = "PATCH",
                               .path_query = "/api/todolists/ab%00cd",
                               .headers = h,
                               .body = "{\"name\":\"Hijacked\"}",
                               .params = params};
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_http(c, &req, &r), 0);
    cr_expect_eq(r.result.http_status, 400, "%s", r.result.http_body);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "invalid_field");
    hostdrv_reply_release(&r);
    json_t *all = ws_events(c, "ab");
    cr_expect_eq(json_array_size(all), 1, "list 'ab' was not touched");
    json_decref(all);
    json_decref(params);
    hostdrv_conn_free(c);
    ws_stop(d);
}

/* The documents of a list's stream, as the change feed would deliver them. */
static json_t *feed_docs(struct hostdrv_conn *c, const char *list)
{
    json_t *events = ws_events(c, list);
    json_t *docs = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        char stream[96], id[128];
        snprintf(stream, sizeof(stream), "todolist-%s", list);
        json_int_t v = json_integer_value(json_object_get(e, "version"));
        snprintf(id, sizeof(id), "%s:%lld", stream, (long long)v);
        json_array_append_new(docs, json_pack("{s:s, s:s, s:s, s:I, s:O, s:i, s:O, s:O}",
                                              "id", id, "kind", "event", "streamId",
                                              stream, "version", (json_int_t)v, "type",
                                              json_object_get(e, "type"), "schema", 1,
                                              "data", json_object_get(e, "data"), "meta",
                                              json_object_get(e, "meta")));
    }
    json_decref(events);
    return docs;
}

static int project(struct hostdrv_conn *c, json_t *docs, struct fn_retry *retry)
{
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_trigger(c, "Projector", "documents", docs, 2, retry, &r), 0);
    int st = (int)r.status;
    hostdrv_reply_release(&r);
    return st;
}

static size_t dead_letters(struct hostdrv_conn *c)
{
    struct hostdrv_reply r;
    cr_assert_eq(ws_send(c, "GET", "/api/deadletters", NULL, NULL, &r), 200);
    size_t n = json_array_size(json_object_get(r.client_json, "deadLetters"));
    hostdrv_reply_release(&r);
    return n;
}

Test(hostile, forged_retry_counts_and_versions_never_abort_the_projector)
{
    struct hostdrv *d = host();
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "feed", "Feed");
    free(ws_add(c, "feed", "one"));
    json_t *docs = feed_docs(c, "feed");
    /* RetryCount at INT64_MAX: adding one to it overflowed. */
    struct fn_retry huge = {
        .present = true, .retry_count = INT64_MAX, .max_retry_count = INT64_MAX};
    cr_expect_eq(project(c, docs, &huge), 200);
    /* Version 2^62: sized a gap read's allocation. */
    json_t *forged = json_deep_copy(docs);
    json_object_set_new(json_array_get(forged, 1), "version",
                        json_integer((json_int_t)1 << 62));
    struct fn_retry first = {.present = true, .retry_count = 0, .max_retry_count = 5};
    cr_expect_eq(project(c, forged, &first), 200, "malformed: dead-lettered at once");
    cr_expect_eq(dead_letters(c), 1);
    /* A version past the stream's end: never applied; dead-lettered on the last try. */
    json_object_set_new(json_array_get(forged, 1), "version", json_integer(1000));
    cr_expect_eq(project(c, forged, &first), 500, "retried while attempts remain");
    struct fn_retry last = {.present = true, .retry_count = 5, .max_retry_count = 5};
    cr_expect_eq(project(c, forged, &last), 200);
    cr_expect_eq(dead_letters(c), 3, "the failing stream's two events, one letter each");
    struct hostdrv_reply r;
    cr_assert_eq(ws_send(c, "GET", "/api/todolists/feed", NULL, NULL, &r), 200);
    cr_expect_eq(json_integer_value(json_object_get(r.client_json, "version")), 2,
                 "the view holds what the store holds");
    hostdrv_reply_release(&r);
    json_decref(forged);
    json_decref(docs);
    hostdrv_conn_free(c);
    ws_stop(d);
}

/* A forged move event reaches the reactor: the domain refuses what the API would. */
Test(hostile, a_forged_move_event_appends_nothing_the_api_would_refuse)
{
    struct hostdrv *d = host();
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "src", "Source");
    ws_create(c, "dst", "Target");
    free(ws_add(c, "src", "Milk"));
    struct hostdrv_reply r;
    const char *h[] = {JSON_CT, NULL};
    cr_assert_eq(
        ws_send(c, "PATCH", "/api/todolists/src", h, "{\"name\":\"Source 2\"}", &r), 200);
    hostdrv_reply_release(&r);
    json_t *docs = feed_docs(c, "src");
    cr_assert_eq(json_array_size(docs), 3);
    char long_task[5001];
    memset(long_task, 'x', sizeof(long_task) - 1);
    long_task[sizeof(long_task) - 1] = '\0';
    /* Version 3 forged as a move out: a path-like id, a self-move, a task of 5,000. */
    json_t *bad[] = {
        json_pack("{s:s, s:s, s:s, s:s}", "itemId", "../etc passwd", "task", "Milk",
                  "status", "To Do", "toListId", "dst"),
        json_pack("{s:s, s:s, s:s, s:s}", "itemId", "i1", "task", "Tea", "status",
                  "To Do", "toListId", "src"),
        json_pack("{s:s, s:s, s:s, s:s}", "itemId", "i2", "task", long_task, "status",
                  "To Do", "toListId", "dst"),
    };
    struct fn_retry last = {.present = true, .retry_count = 5, .max_retry_count = 5};
    for (size_t i = 0; i < 3; i++) {
        json_t *batch = json_pack("[O]", json_array_get(docs, 2));
        json_t *ev = json_array_get(batch, 0);
        json_object_set_new(ev, "type", json_string("ItemMovedOut"));
        json_object_set_new(ev, "data", bad[i]);
        /* Delivered as new: the view has not seen version 3 yet. */
        cr_expect_eq(project(c, batch, &last), 200, "case %zu", i);
        json_decref(batch);
    }
    json_t *src = ws_events(c, "src"), *dst = ws_events(c, "dst");
    cr_expect_eq(json_array_size(src), 3, "nothing appended to the source");
    cr_expect_eq(json_array_size(dst), 1, "nothing appended to the target");
    json_decref(src);
    json_decref(dst);
    json_decref(docs);
    hostdrv_conn_free(c);
    ws_stop(d);
}

/* Ids are up to 64 characters by contract, on every route. */
Test(hostile, ids_of_1_36_37_and_64_characters_work_on_every_route)
{
    struct hostdrv *d = host();
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    size_t lens[] = {1, 36, 37, 64};
    const char *h[] = {JSON_CT, NULL};
    for (size_t k = 0; k < 4; k++) {
        char id[65], other[65], path[256], body[256];
        memset(id, 'a' + (char)k, lens[k]);
        id[lens[k]] = '\0';
        memcpy(other, id, lens[k] + 1);
        other[0] = 'Z';
        struct hostdrv_reply r;
        snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"L%zu\"}", id, lens[k]);
        cr_assert_eq(ws_send(c, "POST", "/api/todolists", h, body, &r), 201, "%zu",
                     lens[k]);
        cr_expect_str_eq(ws_str(r.client_json, "id"), id, "the id as given, whole");
        hostdrv_reply_release(&r);
        snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"Other\"}", other);
        cr_expect_eq(ws_status(c, "POST", "/api/todolists", body), 201,
                     "an id sharing a prefix is another list");
        snprintf(path, sizeof(path), "/api/todolists/%s/items", id);
        cr_assert_eq(ws_send(c, "POST", path, h, "{\"task\":\"t\"}", &r), 201);
        char item[80];
        snprintf(item, sizeof(item), "%s", ws_str(r.client_json, "itemId"));
        hostdrv_reply_release(&r);
        snprintf(path, sizeof(path), "/api/todolists/%s/items/%s", id, item);
        cr_expect_eq(ws_status(c, "PATCH", path, "{\"status\":\"Done\"}"), 200);
        snprintf(path, sizeof(path), "/api/todolists/%s/items", id);
        snprintf(body, sizeof(body), "{\"itemIds\":[\"%s\"],\"status\":\"To Do\"}", item);
        cr_expect_eq(ws_status(c, "PATCH", path, body), 200);
        snprintf(path, sizeof(path), "/api/todolists/%s/items/%s/move", id, item);
        snprintf(body, sizeof(body), "{\"toListId\":\"%s\"}", other);
        cr_expect_eq(ws_status(c, "POST", path, body), 202);
        snprintf(path, sizeof(path), "/api/todolists/%s", id);
        cr_expect_eq(ws_status(c, "PATCH", path, "{\"name\":\"Renamed\"}"), 200);
        snprintf(path, sizeof(path), "/api/todolists/%s/events", id);
        cr_expect_eq(ws_status(c, "GET", path, NULL), 200);
        snprintf(path, sizeof(path), "/api/todolists/%s", id);
        int view = ws_status(c, "GET", path, NULL);
        cr_expect(view == 200 || view == 404, "the view route takes the id: %d", view);
        cr_expect_eq(ws_status(c, "DELETE", path, NULL), 200);
        json_t *all = ws_events(c, id);
        cr_expect_eq(json_array_size(all), 7, "id of %zu: every command reached it",
                     lens[k]);
        json_decref(all);
    }
    char id65[66];
    memset(id65, 'q', 65);
    id65[65] = '\0';
    char body[160];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"Too long\"}", id65);
    cr_expect_eq(ws_status(c, "POST", "/api/todolists", body), 400, "65 is one too many");
    hostdrv_conn_free(c);
    ws_stop(d);
}

Test(hostile, header_values_that_are_nearly_right_are_refused)
{
    struct hostdrv *d = host();
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "hdr", "Headers");
    struct hostdrv_reply r;
    const char *space[] = {"Content-Type: application/ +json", NULL};
    cr_expect_eq(ws_send(c, "PATCH", "/api/todolists/hdr", space, "{\"name\":\"x\"}", &r),
                 415);
    hostdrv_reply_release(&r);
    const char *ctl[] = {JSON_CT,
                         "X-Correlation-Id: a\x01"
                         "b",
                         NULL};
    cr_expect_eq(ws_send(c, "PATCH", "/api/todolists/hdr", ctl, "{\"name\":\"x\"}", &r),
                 400);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "invalid_field");
    hostdrv_reply_release(&r);
    json_t *all = ws_events(c, "hdr");
    cr_expect_eq(json_array_size(all), 1);
    json_decref(all);
    hostdrv_conn_free(c);
    ws_stop(d);
}

/* A body whose length is given two ways is refused, and its connection closed. */
Test(hostile, a_body_length_given_two_ways_is_refused_on_both_faces)
{
    const char *reqs[] = {
        "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nContent-Length: 27\r\n\r\n{}GET / HTTP/1.1\r\nHost: "
        "x\r\n\r\n",
        "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    };
    for (int face = 0; face < 2; face++) {
        struct hostdrv *d = face == 0 ? serve_with(NULL) : host();
        for (size_t i = 0; i < 2; i++) {
            char req[512], resp[4096];
            snprintf(req, sizeof(req), reqs[i], face == 0 ? "/api/todolists" : "/Echo");
            int fd = connect_from("127.0.0.1", hostdrv_port(d));
            cr_assert_geq(fd, 0);
            send(fd, req, strlen(req), MSG_NOSIGNAL);
            long n = read_until_closed(fd, 3000, resp, sizeof(resp));
            close(fd);
            if (face == 0 && n > 0)
                log_raw("POST", req, resp);
            cr_expect_gt(n, 0, "face %d case %zu: the connection was closed", face, i);
            cr_expect_eq(strtol(resp + 9, NULL, 10), 400, "face %d case %zu: %.60s", face,
                         i, resp);
            cr_expect(strstr(resp, "invalid_request") != NULL, "%s", resp);
            cr_expect(strstr(resp + 12, "HTTP/1.1") == NULL,
                      "one answer, nothing smuggled after it: %s", resp);
        }
        cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
        hostdrv_free(d);
    }
}

/* A continuation is one the API gave out, for that route, unedited; else 400. */
Test(hostile, forged_and_borrowed_continuations_are_refused)
{
    struct hostdrv *d = host();
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    /* Summaries come from the read side: project the three creates. */
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "page%d", i);
        ws_create(c, id, "Paged");
        json_t *docs = feed_docs(c, id);
        struct fn_retry retry = {.present = true, .max_retry_count = 5};
        cr_assert_eq(project(c, docs, &retry), 200);
        json_decref(docs);
    }
    struct hostdrv_reply r;
    cr_assert_eq(ws_send(c, "GET", "/api/todolists?limit=1", NULL, NULL, &r), 200);
    char token[512];
    snprintf(token, sizeof(token), "%s", ws_str(r.client_json, "continuation"));
    hostdrv_reply_release(&r);
    char path[700];
    snprintf(path, sizeof(path), "/api/todolists?limit=1&continuation=%s", token);
    cr_expect_eq(ws_status(c, "GET", path, NULL), 200, "the real one works");
    snprintf(path, sizeof(path), "/api/deadletters?continuation=%s", token);
    cr_expect_eq(ws_status(c, "GET", path, NULL), 400, "another route's is refused");
    token[strlen(token) / 2] = token[strlen(token) / 2] == 'A' ? 'B' : 'A';
    snprintf(path, sizeof(path), "/api/todolists?continuation=%s", token);
    cr_expect_eq(ws_status(c, "GET", path, NULL), 400, "an edited one is refused");
    /* base64url("after:zzz"): the store's own format, made up. */
    cr_expect_eq(ws_status(c, "GET", "/api/todolists?continuation=YWZ0ZXI6enp6", NULL),
                 400);
    hostdrv_conn_free(c);
    ws_stop(d);
}

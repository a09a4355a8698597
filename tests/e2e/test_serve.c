/*
 * `handler serve`: the app's routes served directly, with the envelope the
 * host would build, and JSON 404/413 for what matches no function.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/hostdrv.h"

static struct hostdrv *start_serve(const char *app_dir, const char *const *env)
{
    struct hostdrv_opts o = {.app_dir = app_dir, .env = env, .serve = true};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "handler serve did not become ready");
    return d;
}

static void stop_cleanly(struct hostdrv *d)
{
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0, "handler exits 0 on SIGTERM");
    hostdrv_free(d);
}

static const char *str_at(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

Test(serve, health_is_served_through_route_matching)
{
    struct hostdrv *d = start_serve(ES_APP_DIR, NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct hostdrv_reply r;
    cr_assert_eq(
        hostdrv_request(c, "GET", "/api/health", NULL, NULL, 0, HOSTDRV_CHUNKED, &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.content_type, "application/json");
    cr_expect_str_eq(str_at(r.client_json, "status"), "ok");
    hostdrv_reply_release(&r);
    cr_assert_eq(
        hostdrv_request(c, "GET", "/API/Health/", NULL, NULL, 0, HOSTDRV_CHUNKED, &r), 0);
    cr_expect_eq(r.status, 200, "routes match ignoring case and a trailing slash");
    hostdrv_reply_release(&r);
    char *out = hostdrv_read_output(d, false);
    cr_expect(strstr(out, "Health: [GET]") != NULL, "start-up lists the routes: %s", out);
    cr_expect(strstr(out, "executed 'Health' (succeeded") != NULL);
    free(out);
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

Test(serve, unmatched_routes_and_methods_get_json_404_as_under_the_host)
{
    struct hostdrv *d = start_serve(ES_APP_DIR, NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct {
        const char *method, *path;
        long status;
        const char *code;
    } cases[] = {{"GET", "/api/nothing", 404, "not_found"},
                 {"GET", "/health", 404, "not_found"},
                 {"GET", "/apihealth", 404, "not_found"},
                 {"POST", "/api/health", 404, "not_found"},
                 {"DELETE", "/api/health", 404, "not_found"},
                 {"PUT", "/api/todolists", 404, "not_found"},
                 {"GET", "/api/todolists/x/items", 404, "not_found"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_request(c, cases[i].method, cases[i].path, NULL, "{}", 2,
                                     HOSTDRV_CONTENT_LENGTH, &r),
                     0);
        cr_expect_eq(r.status, cases[i].status, "%s %s", cases[i].method, cases[i].path);
        cr_expect_str_eq(str_at(r.client_json, "error"), cases[i].code);
        hostdrv_reply_release(&r);
    }
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

Test(serve, the_function_receives_the_envelope_the_host_would_build)
{
    struct hostdrv *d = start_serve(ES_TESTAPP_DIR, NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    const char *headers[] = {"Content-Type: application/json", "X-Trace: a", "X-Trace: b",
                             NULL};
    const char body[] = "{\"name\":\"Groceries\"}";
    enum hostdrv_framing framings[] = {HOSTDRV_CONTENT_LENGTH, HOSTDRV_CHUNKED};
    for (int i = 0; i < 2; i++) {
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_request(c, "PATCH",
                                     "/api/test/echo/ab%2Dc/more?x=1&x=2&y=a+b", headers,
                                     body, strlen(body), framings[i], &r),
                     0);
        cr_expect_eq(r.status, 200);
        json_t *e = r.client_json;
        cr_assert(json_is_object(e), "%s", r.body);
        cr_expect_str_eq(str_at(e, "method"), "PATCH");
        cr_expect(strstr(str_at(e, "url"), "/api/test/echo/ab%2Dc/more?x=1&x=2&y=a+b") !=
                  NULL);
        cr_expect_str_eq(str_at(json_object_get(e, "params"), "id"), "ab-c");
        cr_expect_str_eq(str_at(json_object_get(e, "params"), "rest"), "more");
        cr_expect_str_eq(str_at(json_object_get(e, "query"), "x"), "1,2");
        cr_expect_str_eq(str_at(json_object_get(e, "query"), "y"), "a b");
        cr_expect_str_eq(str_at(e, "metaId"), "ab-c");
        if (framings[i] == HOSTDRV_CONTENT_LENGTH)
            cr_expect_str_eq(str_at(e, "body"), body);
        else
            cr_expect_null(str_at(e, "body"),
                           "a chunked body is left out, as by the host");
        cr_expect_eq(
            json_array_size(json_object_get(json_object_get(e, "headers"), "X-Trace")),
            2);
        hostdrv_reply_release(&r);
    }
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

Test(serve, oversize_bodies_get_413)
{
    const char *env[] = {"MAX_BODY_BYTES=4096", NULL};
    struct hostdrv *d = start_serve(ES_TESTAPP_DIR, env);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    char big[10000];
    memset(big, 'a', sizeof(big));
    enum hostdrv_framing framings[] = {HOSTDRV_CONTENT_LENGTH, HOSTDRV_CHUNKED};
    for (int i = 0; i < 2; i++) {
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_request(c, "POST", "/api/test/echo/1", NULL, big,
                                     sizeof(big), framings[i], &r),
                     0);
        cr_expect_eq(r.status, 413, "framing %d", i);
        cr_expect_str_eq(str_at(r.client_json, "error"), "payload_too_large");
        cr_expect(strstr(str_at(r.client_json, "message"), "MAX_BODY_BYTES (4096") !=
                      NULL,
                  "the limit quoted is the body's: %s", str_at(r.client_json, "message"));
        hostdrv_reply_release(&r);
    }
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

Test(serve, refuses_to_start_when_a_function_json_has_no_implementation)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "dir=$(mktemp -d) && cp -r %s/. \"$dir\" && mkdir \"$dir/Ghost\" && "
             "cp %s/Health/function.json \"$dir/Ghost/\" && "
             "%s/handler serve --port 0 --app \"$dir\" 2>&1 | grep -q \"function 'Ghost' "
             "has a "
             "function.json but no implementation\"; rc=$?; rm -rf \"$dir\"; exit $rc",
             ES_APP_DIR, ES_APP_DIR, ES_APP_DIR);
    cr_expect_eq(system(cmd), 0);
}

/* As under the host, a chunked command body never reaches the function: 411. */
Test(serve, a_chunked_command_body_is_411_length_required)
{
    struct hostdrv *d = start_serve(ES_APP_DIR, NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    const char *h[] = {"Content-Type: application/json", NULL};
    const char body[] = "{\"id\":\"chunky\",\"name\":\"Chunky\"}";
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_request(c, "POST", "/api/todolists", h, body, strlen(body),
                                 HOSTDRV_CHUNKED, &r),
                 0);
    cr_expect_eq(r.status, 411);
    cr_expect_str_eq(str_at(r.client_json, "error"), "length_required");
    hostdrv_reply_release(&r);
    cr_assert_eq(hostdrv_request(c, "POST", "/api/todolists", h, body, strlen(body),
                                 HOSTDRV_CONTENT_LENGTH, &r),
                 0);
    cr_expect_eq(r.status, 201, "the same body with Content-Length: %s", r.body);
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

/* Location follows the request's own path, so a custom routePrefix carries over. */
Test(serve, location_honours_a_custom_route_prefix)
{
    char dir[] = "/tmp/es-prefix-XXXXXX", cmd[1024];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd),
             "cp -r %s/. %s && sed -i 's/\"routePrefix\": \"api\"/\"routePrefix\": "
             "\"v1\\/lists-api\"/' %s/host.json && grep -q lists-api %s/host.json",
             ES_APP_DIR, dir, dir, dir);
    cr_assert_eq(system(cmd), 0);
    const char *args[] = {"--app", dir, NULL};
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .args = args, .serve = true};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    const char *h[] = {"Content-Type: application/json", NULL};
    const char body[] = "{\"id\":\"prefixed\",\"name\":\"P\"}";
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_request(c, "POST", "/v1/lists-api/todolists", h, body,
                                 strlen(body), HOSTDRV_CONTENT_LENGTH, &r),
                 0);
    cr_expect_eq(r.status, 201, "%s", r.body);
    cr_expect_str_eq(hostdrv_reply_header(&r, "Location"),
                     "/v1/lists-api/todolists/prefixed");
    hostdrv_reply_release(&r);
    cr_assert_eq(hostdrv_request(c, "GET", "/v1/lists-api/todolists/prefixed/events",
                                 NULL, NULL, 0, HOSTDRV_CONTENT_LENGTH, &r),
                 0);
    cr_expect_eq(r.status, 200);
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    stop_cleanly(d);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

/*
 * The embedded store needs no libcurl: the handler serving it never maps it
 * (util/curlapi.h), which keeps the idle process small.
 */
Test(serve, the_embedded_store_never_loads_libcurl)
{
    struct hostdrv *d = start_serve(ES_APP_DIR, NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_request(c, "GET", "/api/todolists", NULL, NULL, 0,
                                 HOSTDRV_CONTENT_LENGTH, &r),
                 0);
    cr_expect_eq(r.status, 200);
    hostdrv_reply_release(&r);
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)hostdrv_pid(d));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    int libs = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        cr_expect_null(strstr(line, "libcurl"), "mapped: %s", line);
        libs += strstr(line, "libsqlite3") != NULL;
    }
    fclose(f);
    cr_expect_gt(libs, 0, "the maps were read: libsqlite3 is in them");
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

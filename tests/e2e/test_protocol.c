/*
 * The handler driven exactly as the Functions host drives it (tests/support/
 * hostdrv): readiness, both body framings, concurrency over keep-alive,
 * malformed and oversize envelopes, triggers, and shutdown.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "util/jsonutil.h"
#include "util/timeutil.h"
#include "../support/hostdrv.h"

static struct hostdrv *start(const char *const *env)
{
    struct hostdrv_opts o = {.app_dir = ES_TESTAPP_DIR, .env = env};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "handler did not become ready");
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

Test(protocol, answers_readiness_pings_and_serves_health)
{
    struct hostdrv *d = start(NULL);
    cr_log_info("ready after %lld ms", (long long)hostdrv_ready_ms(d));
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_request(c, "GET", "/", NULL, NULL, 0, HOSTDRV_CHUNKED, &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect(json_is_object(r.client_json), "GET / answers JSON");
    hostdrv_reply_release(&r);

    struct hostdrv_http req = {
        .function = "Health", .method = "GET", .path_query = "/api/health"};
    cr_assert_eq(hostdrv_http(c, &req, &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect(r.result.ok, "host accepts the reply: %s", r.result.failure);
    cr_expect_eq(r.result.http_status, 200);
    cr_expect_str_eq(str_at(r.client_json, "status"), "ok");
    cr_expect_not_null(str_at(r.client_json, "version"));
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

static json_t *echo_envelope(const char *body)
{
    json_t *params = json_pack("{s:s}", "id", "7");
    char length[24];
    snprintf(length, sizeof(length), "%zu", strlen(body));
    struct invoke_header h[] = {{"Host", "localhost:7071"},
                                {"Content-Type", "application/json"},
                                {"X-Trace", "a"},
                                {"x-trace", "b"},
                                {"Content-Length", length}};
    struct invoke_http_spec spec = {.function_name = "Echo",
                                    .binding = "req",
                                    .method = "POST",
                                    .url =
                                        "http://localhost:7071/api/test/echo/7?q=1&q=2",
                                    .headers = h,
                                    .n_headers = 5,
                                    .params = params,
                                    .body = body,
                                    .body_len = strlen(body)};
    json_t *env = invoke_http_envelope_new(&spec);
    json_decref(params);
    return env;
}

static void check_echo(struct hostdrv_reply *r, const char *body)
{
    cr_expect_eq(r->status, 200);
    cr_assert(r->result.ok, "%s", r->result.failure);
    json_t *e = r->client_json;
    cr_assert(json_is_object(e), "echo body is JSON: %s", r->result.http_body);
    cr_expect_str_eq(str_at(e, "method"), "POST");
    cr_expect_str_eq(str_at(e, "url"), "http://localhost:7071/api/test/echo/7?q=1&q=2");
    cr_expect_str_eq(str_at(json_object_get(e, "query"), "q"), "1,2");
    cr_expect_eq(
        json_array_size(json_object_get(json_object_get(e, "headers"), "X-Trace")), 2);
    cr_expect_str_eq(str_at(json_object_get(e, "params"), "id"), "7");
    cr_expect_str_eq(str_at(e, "metaId"), "7", "Metadata.id decoded from \"\\\"7\\\"\"");
    cr_expect_str_eq(str_at(e, "body"), body);
    cr_expect_str_eq(str_at(e, "contentType"), "application/json");
    cr_expect_str_eq(str_at(json_object_get(e, "sys"), "MethodName"), "Echo");
    cr_expect_str_eq(json_string_value(json_array_get(r->result.logs, 0)),
                     "echo POST http://localhost:7071/api/test/echo/7?q=1&q=2");
}

Test(protocol, chunked_and_content_length_envelopes_are_read_alike)
{
    struct hostdrv *d = start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    /* Large enough to span many chunks of the driver's 1 KiB reads. */
    char body[20000];
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    memcpy(body, "{\"k\":\"", 6);
    memcpy(body + sizeof(body) - 3, "\"}", 2);
    json_t *env = echo_envelope(body);
    size_t len = 0;
    char *text = es_json_dumps(env, &len);
    enum hostdrv_framing framings[] = {HOSTDRV_CHUNKED, HOSTDRV_CONTENT_LENGTH};
    for (int i = 0; i < 2; i++) {
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_post(c, "/Echo", text, len, framings[i], "res", &r), 0);
        check_echo(&r, body);
        hostdrv_reply_release(&r);
    }
    free(text);
    json_decref(env);
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

struct worker {
    struct hostdrv *d;
    int index;
    int ok;
    long connects;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    struct hostdrv_conn *c = hostdrv_conn_new(w->d);
    for (int i = 0; i < 10; i++) {
        char body[64], path[96];
        snprintf(body, sizeof(body), "{\"worker\":%d,\"i\":%d}", w->index, i);
        snprintf(path, sizeof(path), "/api/test/echo/%d", w->index);
        struct hostdrv_http req = {
            .function = "Echo", .method = "POST", .path_query = path, .body = body};
        struct hostdrv_reply r;
        if (hostdrv_http(c, &req, &r) == 0 && r.result.ok &&
            r.result.http_status == 200 &&
            strcmp(str_at(r.client_json, "body"), body) == 0)
            w->ok++;
        hostdrv_reply_release(&r);
    }
    w->connects = hostdrv_conn_connects(c);
    hostdrv_conn_free(c);
    return NULL;
}

Test(protocol, serves_64_concurrent_clients_over_keep_alive)
{
    struct hostdrv *d = start(NULL);
    enum { N = 64 };
    struct worker w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.d = d, .index = i};
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    int ok = 0;
    long connects = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
        connects += w[i].connects;
    }
    cr_expect_eq(ok, N * 10, "every invocation answered correctly");
    cr_expect_eq(connects, N,
                 "each client kept one connection open for all its requests");
    stop_cleanly(d);
}

Test(protocol, malformed_envelopes_get_a_json_error_and_the_handler_stays_up)
{
    struct hostdrv *d = start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    const char *bad[] = {"{\"Data\":",
                         "not json at all",
                         "[]",
                         "{\"Metadata\":{}}",
                         "{\"Data\":\"x\"}",
                         "{\"Data\":{\"req\":{\"Method\":1,\"Url\":\"u\"}}}",
                         "\xff\xfe{}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hostdrv_reply r;
        cr_assert_eq(
            hostdrv_post(c, "/Echo", bad[i], strlen(bad[i]), HOSTDRV_CHUNKED, "res", &r),
            0);
        cr_expect_eq(r.status, 400, "case %zu", i);
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        cr_expect_str_eq(str_at(j, "error"), "invalid_envelope", "case %zu: %s", i,
                         r.body);
        json_decref(j);
        hostdrv_reply_release(&r);

        struct hostdrv_http ok = {
            .function = "Health", .method = "GET", .path_query = "/api/health"};
        cr_assert_eq(hostdrv_http(c, &ok, &r), 0);
        cr_expect(r.result.ok && r.result.http_status == 200, "next invocation works");
        hostdrv_reply_release(&r);
    }
    char *err = hostdrv_read_output(d, true);
    cr_expect(strstr(err, "invalid invocation envelope") != NULL,
              "refusals are logged to stderr");
    free(err);
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

Test(protocol, oversize_envelopes_get_413_and_the_connection_stays_usable)
{
    const char *env[] = {"MAX_ENVELOPE_BYTES=65536", "MAX_TRIGGER_ENVELOPE_BYTES=65536",
                         NULL};
    struct hostdrv *d = start(env);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    size_t len = 200000;
    char *big = malloc(len + 1);
    memset(big, ' ', len);
    big[len] = '\0';
    big[0] = '{';
    big[len - 1] = '}';
    enum hostdrv_framing framings[] = {HOSTDRV_CONTENT_LENGTH, HOSTDRV_CHUNKED};
    for (int i = 0; i < 2; i++) {
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_post(c, "/Echo", big, len, framings[i], "res", &r), 0);
        cr_expect(r.result.ok, "an oversize HTTP invocation is still a 200 to the host");
        cr_expect_eq(r.result.http_status, 413, "framing %d", i);
        cr_expect_str_eq(str_at(r.client_json, "error"), "payload_too_large");
        hostdrv_reply_release(&r);
        /* A trigger gets a note of the refused batch instead (Fail retries non-arrays).
         */
        cr_assert_eq(hostdrv_post(c, "/Fail", big, len, framings[i], NULL, &r), 0);
        cr_expect_eq(r.status, 500, "the trigger function saw the note: %s", r.body);
        hostdrv_reply_release(&r);
    }
    /* Exactly at the cap is accepted (the check is inclusive). */
    json_t *e = echo_envelope("{}");
    size_t elen = 0;
    char *text = es_json_dumps(e, &elen);
    memcpy(big, text, elen);
    memset(big + elen, ' ', 65536 - elen);
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_post(c, "/Echo", big, 65536, HOSTDRV_CHUNKED, "res", &r), 0);
    check_echo(&r, "{}");
    hostdrv_reply_release(&r);
    cr_expect_eq(hostdrv_conn_connects(c), 1, "refusals did not cost the connection");
    free(text);
    json_decref(e);
    free(big);
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

Test(protocol, unknown_functions_and_wrong_methods_get_json_errors)
{
    struct hostdrv *d = start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct {
        const char *method, *path;
        long status;
        const char *code;
    } cases[] = {{"POST", "/NoSuchFunction", 404, "not_found"},
                 {"POST", "/Health/extra", 404, "not_found"},
                 {"GET", "/Health", 405, "method_not_allowed"},
                 {"POST", "/", 405, "method_not_allowed"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_request(c, cases[i].method, cases[i].path, NULL, "{}", 2,
                                     HOSTDRV_CONTENT_LENGTH, &r),
                     0);
        cr_expect_eq(r.status, cases[i].status, "%s %s", cases[i].method, cases[i].path);
        cr_expect_str_eq(str_at(r.client_json, "error"), cases[i].code);
        cr_expect(strstr(r.content_type, "application/json") != NULL);
        hostdrv_reply_release(&r);
    }
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

Test(protocol, trigger_batches_complete_or_ask_for_a_retry)
{
    struct hostdrv *d = start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    json_t *docs = json_pack("[{s:s, s:s, s:s}]", "id", "todolist-1:1", "streamId",
                             "todolist-1", "kind", "event");
    for (int levels = 0; levels <= 2; levels++) {
        struct fn_retry retry = {.present = true, .retry_count = 0, .max_retry_count = 2};
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_trigger(c, "Fail", "documents", docs, levels, &retry, &r),
                     0);
        cr_expect_eq(r.status, 200, "levels=%d", levels);
        cr_expect(r.result.ok);
        const char *log = json_string_value(json_array_get(r.result.logs, 0));
        cr_expect(log != NULL && strstr(log, "size 1 retry 0/2") != NULL, "%s", log);
        hostdrv_reply_release(&r);
    }
    json_t *bad = json_string("not documents");
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_trigger(c, "Fail", "documents", bad, 2, NULL, &r), 0);
    cr_expect_eq(r.status, 500, "a failed batch is a non-2xx so the host retries it");
    cr_expect_not(r.result.ok);
    hostdrv_reply_release(&r);
    json_decref(bad);
    json_decref(docs);
    hostdrv_conn_free(c);
    stop_cleanly(d);
}

struct slow_call {
    struct hostdrv *d;
    struct hostdrv_reply reply;
    int rc;
};

static void *call_sleep(void *arg)
{
    struct slow_call *s = arg;
    struct hostdrv_conn *c = hostdrv_conn_new(s->d);
    struct hostdrv_http req = {
        .function = "Sleep", .method = "GET", .path_query = "/api/test/sleep?ms=1500"};
    s->rc = hostdrv_http(c, &req, &s->reply);
    hostdrv_conn_free(c);
    return NULL;
}

Test(protocol, sigterm_finishes_the_invocation_in_flight_then_exits_0)
{
    struct hostdrv *d = start(NULL);
    struct slow_call s = {.d = d};
    pthread_t t;
    pthread_create(&t, NULL, call_sleep, &s);
    es_time_sleep_ms(400);
    int64_t t0 = es_time_mono_ms();
    int status = hostdrv_stop(d, SIGTERM, 10000);
    int64_t waited = es_time_mono_ms() - t0;
    pthread_join(t, NULL);
    cr_expect_eq(status, 0, "exit status");
    cr_expect_geq(waited, 500, "shutdown waited for the invocation (%lld ms)",
                  (long long)waited);
    cr_assert_eq(s.rc, 0, "the in-flight invocation got its reply");
    cr_expect(s.reply.result.ok);
    cr_expect_eq(s.reply.result.http_status, 200);
    cr_expect_eq(json_integer_value(json_object_get(s.reply.client_json, "slept")), 1500);
    hostdrv_reply_release(&s.reply);
    hostdrv_free(d);
}

Test(protocol, sigint_on_an_idle_handler_exits_0)
{
    struct hostdrv *d = start(NULL);
    cr_expect_eq(hostdrv_stop(d, SIGINT, 5000), 0);
    char *out = hostdrv_read_output(d, false);
    cr_expect(strstr(out, "stopped") != NULL, "%s", out);
    free(out);
    hostdrv_free(d);
}

Test(protocol, secrets_never_reach_the_logs)
{
    /*
     * Whatever the handler makes of the setting - serve or refuse - the key stays out.
     * It listens on a free port: a fixed one could answer another test's connections.
     */
    char cmd[1024];
    snprintf(
        cmd, sizeof(cmd),
        "out=$(FUNCTIONS_CUSTOMHANDLER_PORT=%d HANDLER_LOG_LEVEL=debug "
        "CosmosDB='AccountEndpoint=https://127.0.0.1:1/;"
        "AccountKey=U3VwZXJTZWNyZXRLZXlWYWx1ZQ==;' timeout -s TERM 1 %s/handler 2>&1); "
        "echo \"$out\" | grep -q 127.0.0.1 && ! echo \"$out\" | grep -q U3VwZXJTZWNy",
        hostdrv_free_port(), ES_APP_DIR);
    cr_expect_eq(system(cmd), 0, "the endpoint is logged, the key is not");
}

/* A second handler on a port already served refuses to start (it would share the
 * traffic). */
Test(protocol, a_port_in_use_stops_start_up)
{
    struct hostdrv *d = start(NULL);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "FUNCTIONS_CUSTOMHANDLER_PORT=%d timeout 10 %s/handler 2>&1 | "
             "grep -q 'cannot listen on 127.0.0.1:%d'",
             hostdrv_port(d), ES_TESTAPP_DIR, hostdrv_port(d));
    cr_expect_eq(system(cmd), 0, "the second handler says the port is taken");
    snprintf(cmd, sizeof(cmd),
             "FUNCTIONS_CUSTOMHANDLER_PORT=%d timeout 10 %s/handler >/dev/null 2>&1",
             hostdrv_port(d), ES_TESTAPP_DIR);
    int st = system(cmd);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "exit status 2, got %d", st);
    stop_cleanly(d);
}

Test(protocol, bad_settings_stop_start_up_with_a_clear_message)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "FUNCTIONS_CUSTOMHANDLER_PORT=1 MAX_BODY_BYTES=lots %s/handler 2>&1 | "
             "grep -q \"invalid setting 'MAX_BODY_BYTES'\"",
             ES_APP_DIR);
    cr_expect_eq(system(cmd), 0, "the message names the setting");
    snprintf(cmd, sizeof(cmd), "MAX_BODY_BYTES=lots %s/handler >/dev/null 2>&1",
             ES_APP_DIR);
    int st = system(cmd);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "exit status 2");
    snprintf(cmd, sizeof(cmd),
             "env -u FUNCTIONS_CUSTOMHANDLER_PORT %s/handler 2>&1 | "
             "grep -q 'FUNCTIONS_CUSTOMHANDLER_PORT is not set'",
             ES_APP_DIR);
    cr_expect_eq(system(cmd), 0, "host mode without a port explains itself");
}

/* Health is anonymous: it says status and version, and nothing about the deployment. */
Test(protocol, health_reveals_nothing_about_the_deployment)
{
    const char *env[] = {
        "CosmosDB__accountEndpoint=https://private-account-x.documents.azure.com:443/",
        "IDENTITY_ENDPOINT=http://127.0.0.1:1/msi/token", "IDENTITY_HEADER=not-used",
        "COSMOS_RETRY_BUDGET_MS=0", NULL};
    struct hostdrv *d = start(env);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct hostdrv_http req = {
        .function = "Health", .method = "GET", .path_query = "/api/health"};
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_http(c, &req, &r), 0);
    cr_expect_eq(r.result.http_status, 200);
    cr_assert(json_is_object(r.client_json), "%s", r.result.http_body);
    cr_expect_eq(json_object_size(r.client_json), 2, "only status and version: %s",
                 r.result.http_body);
    cr_expect_str_eq(str_at(r.client_json, "status"), "ok");
    cr_expect_not_null(str_at(r.client_json, "version"));
    cr_expect(strstr(r.result.http_body, "private-account-x") == NULL);
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    hostdrv_stop(d, SIGKILL, 5000);
    hostdrv_free(d);
}

/* On an Azure plan the embedded store would be per instance and lost: refuse to start. */
Test(protocol, an_azure_plan_without_a_cosmos_setting_stops_start_up)
{
    char cmd[1024];
    snprintf(
        cmd, sizeof(cmd),
        "out=$(env -u CosmosDB -u CosmosDB__accountEndpoint WEBSITE_INSTANCE_ID=abc "
        "FUNCTIONS_CUSTOMHANDLER_PORT=%d timeout 10 %s/handler 2>&1; echo \"exit=$?\"); "
        "echo \"$out\" | grep -q \"missing setting 'CosmosDB__accountEndpoint'\" && "
        "echo \"$out\" | grep -q WEBSITE_INSTANCE_ID && echo \"$out\" | grep -q exit=2",
        hostdrv_free_port(), ES_APP_DIR);
    cr_expect_eq(system(cmd), 0, "exit 2, naming the missing setting");
}

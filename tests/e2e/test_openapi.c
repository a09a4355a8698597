/*
 * GET /api/openapi.json: the document of docs/openapi.json, byte for byte,
 * through the host protocol and under `handler serve`; and every HTTP route
 * of functions/ documented there, anonymous exactly where its function.json
 * says authLevel "anonymous".
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../support/hostdrv.h"

#define DOC_PATH ES_SOURCE_DIR "/docs/openapi.json"

static char *read_doc(size_t *len)
{
    FILE *f = fopen(DOC_PATH, "rb");
    cr_assert_not_null(f, "cannot open %s", DOC_PATH);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    cr_assert_not_null(text);
    cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    text[n] = '\0';
    *len = (size_t)n;
    return text;
}

static void expect_the_document(long status, const char *content_type, const char *body,
                                size_t body_len, const char *face)
{
    size_t len = 0;
    char *doc = read_doc(&len);
    cr_expect_eq(status, 200, "%s", face);
    cr_expect_str_eq(content_type != NULL ? content_type : "", "application/json", "%s",
                     face);
    cr_expect_eq(body_len, len, "%s: %zu bytes served, %zu in the file", face, body_len,
                 len);
    cr_expect(body_len == len && memcmp(body, doc, len) == 0,
              "%s: the served document is docs/openapi.json as built", face);
    free(doc);
}

Test(openapi, the_document_is_served_through_the_host_protocol)
{
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "handler did not become ready");
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_call(c, "GET", "/api/openapi.json", NULL, NULL, &r), 0);
    expect_the_document(r.result.http_status, hostdrv_reply_header(&r, "Content-Type"),
                        r.result.http_body, r.result.http_body_len, "host");
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
    hostdrv_free(d);
}

Test(openapi, the_document_is_served_by_handler_serve)
{
    struct hostdrv_opts o = {.app_dir = ES_APP_DIR, .serve = true};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "handler serve did not become ready");
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct hostdrv_reply r;
    cr_assert_eq(hostdrv_request(c, "GET", "/api/openapi.json", NULL, NULL, 0,
                                 HOSTDRV_CHUNKED, &r),
                 0);
    expect_the_document(r.status, r.content_type, r.body, r.body_len, "serve");
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
    hostdrv_free(d);
}

/* The operation's security: NULL when it has none of its own (the document's applies). */
static json_t *operation_security(json_t *doc, const char *route, const char *method)
{
    char path[300], lower[16];
    snprintf(path, sizeof(path), "/%s", route);
    size_t i = 0;
    for (; method[i] != '\0' && i + 1 < sizeof(lower); i++)
        lower[i] =
            (char)(method[i] >= 'A' && method[i] <= 'Z' ? method[i] + 32 : method[i]);
    lower[i] = '\0';
    json_t *op =
        json_object_get(json_object_get(json_object_get(doc, "paths"), path), lower);
    cr_expect_not_null(op, "%s %s (functions/) is not in docs/openapi.json", method,
                       path);
    return json_object_get(op, "security");
}

Test(openapi, every_http_route_is_documented_with_its_auth_level)
{
    json_t *doc = json_load_file(DOC_PATH, 0, NULL);
    cr_assert_not_null(doc);
    cr_assert(json_array_size(json_object_get(doc, "security")) > 0,
              "the document requires a function key by default");
    DIR *dir = opendir(ES_SOURCE_DIR "/functions");
    cr_assert_not_null(dir);
    struct dirent *de;
    int routes = 0;
    while ((de = readdir(dir)) != NULL) {
        char path[1024];
        snprintf(path, sizeof(path), ES_SOURCE_DIR "/functions/%s/function.json",
                 de->d_name);
        json_t *fj = de->d_name[0] != '.' ? json_load_file(path, 0, NULL) : NULL;
        size_t i, k;
        json_t *b, *m;
        json_array_foreach(json_object_get(fj, "bindings"), i, b)
        {
            if (strcasecmp(json_string_value(json_object_get(b, "type")), "httpTrigger"))
                continue;
            const char *route = json_string_value(json_object_get(b, "route"));
            const char *auth = json_string_value(json_object_get(b, "authLevel"));
            json_array_foreach(json_object_get(b, "methods"), k, m)
            {
                json_t *sec = operation_security(doc, route, json_string_value(m));
                bool anonymous = json_is_array(sec) && json_array_size(sec) == 0;
                cr_expect_eq(anonymous, strcmp(auth, "anonymous") == 0,
                             "%s %s: authLevel %s, but the document %s",
                             json_string_value(m), route, auth,
                             anonymous ? "makes it anonymous"
                                       : "asks for a function key");
                routes++;
            }
        }
        json_decref(fj);
    }
    closedir(dir);
    cr_expect_geq(routes, 15, "%d routes found in functions/", routes);
    json_decref(doc);
}

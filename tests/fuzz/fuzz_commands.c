/*
 * libFuzzer: command request bodies through the whole command pipeline - the
 * envelope an HTTP trigger would send, with the input as the body of one of
 * the command routes (the first byte picks which), dispatched to the real
 * functions over an embedded store in a temporary file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "es/engine.h"
#include "functions/registry.h"
#include "invoke/invoke.h"
#include "util/jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct invoke_app app;
static struct fn_services svc;
static struct es_config cfg;

static void setup(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/fuzz-commands-%d.db", (int)getpid());
    unlink(path);
    setenv("EVENT_STORE_PATH", path, 1);
    if (es_config_load(&cfg, NULL) != ES_OK ||
        es_app_store_open(&cfg, &svc.store, NULL) != ES_OK)
        abort();
    struct es_engine_opts eo = {svc.store, 100, 10, 3, 0, 0};
    svc.engine = es_engine_new(&eo);
    svc.cfg = &cfg;
    svc.version = "fuzz";
    app.fns = &fn_app_table;
    app.svc = &svc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct {
        const char *fn, *method, *id, *item;
    } routes[] = {
        {"CreateTodoList", "POST", NULL, NULL},  {"RenameTodoList", "PATCH", "f", NULL},
        {"AddItem", "POST", "f", NULL},          {"UpdateItem", "PATCH", "f", "i"},
        {"SetItemStatuses", "PATCH", "f", NULL}, {"MoveItem", "POST", "f", "i"},
        {"DeleteTodoList", "DELETE", "f", NULL}, {"GetTodoListEvents", "GET", "f", NULL},
    };
    if (app.fns == NULL)
        setup();
    if (size < 1)
        return 0;
    const size_t n_routes = sizeof(routes) / sizeof(routes[0]);
    size_t r = data[0] % n_routes;
    json_t *params = json_object();
    if (routes[r].id != NULL)
        json_object_set_new(params, "id", json_string(routes[r].id));
    if (routes[r].item != NULL)
        json_object_set_new(params, "itemId", json_string(routes[r].item));
    struct invoke_header h[] = {{"Content-Type", "application/json"},
                                {"If-Match", (data[0] & 0x80) ? "\"1\"" : "*"},
                                {"Idempotency-Key", "fuzz-key"}};
    struct invoke_http_spec spec = {.function_name = routes[r].fn,
                                    .binding = "req",
                                    .method = routes[r].method,
                                    .url =
                                        "http://localhost/api/todolists/f?from=1&limit=5",
                                    .headers = h,
                                    .n_headers = (data[0] & 0x40) ? 3 : 1,
                                    .params = params,
                                    .body = (const char *)data + 1,
                                    .body_len = size - 1};
    json_t *env = invoke_http_envelope_new(&spec);
    size_t len = 0;
    char *text = env != NULL ? es_json_dumps(env, &len) : NULL;
    if (text != NULL) {
        struct invoke_reply reply;
        invoke_dispatch(&app, routes[r].fn, "fuzz", text, len, &reply);
        invoke_reply_release(&reply);
    }
    free(text);
    json_decref(env);
    json_decref(params);
    return 0;
}

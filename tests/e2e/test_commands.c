/*
 * The write side through the host protocol: every command, the documented
 * errors (each appending nothing), idempotency, If-Match and the events API.
 */
#include "write_side.h"

static struct hostdrv *d;
static struct hostdrv_conn *c;

static void setup(void)
{
    d = ws_start(NULL);
    c = hostdrv_conn_new(d);
}

static void teardown(void)
{
    hostdrv_conn_free(c);
    ws_stop(d);
}

TestSuite(commands, .init = setup, .fini = teardown);

Test(commands, the_whole_api_in_one_story)
{
    const char *h[] = {JSON_CT, NULL};
    struct hostdrv_reply r;
    cr_assert_eq(
        ws_send(c, "POST", "/api/todolists", h, "{\"name\":\"  Groceries \\t\"}", &r),
        201);
    const char *id = ws_str(r.client_json, "id");
    char list[64];
    snprintf(list, sizeof(list), "%s", id);
    cr_expect_eq(strlen(list), 36, "a generated id is a UUID");
    char loc[128];
    snprintf(loc, sizeof(loc), "/api/todolists/%s", list);
    cr_expect_str_eq(hostdrv_reply_header(&r, "Location"), loc);
    cr_expect_str_eq(hostdrv_reply_header(&r, "ETag"), "\"1\"");
    cr_expect_str_eq(hostdrv_reply_header(&r, "Content-Type"), "application/json");
    cr_expect_eq(json_integer_value(json_object_get(r.client_json, "version")), 1);
    cr_expect_str_eq(
        ws_str(json_array_get(json_object_get(r.client_json, "events"), 0), "type"),
        "TodoListCreated");
    const char *log = json_string_value(json_array_get(r.result.logs, 0));
    cr_expect(log != NULL && strstr(log, "store round trip") != NULL, "%s", log);
    hostdrv_reply_release(&r);

    char *milk = ws_add(c, list, "Milk");
    char *bread = ws_add(c, list, "Bread");
    char *eggs = ws_add(c, list, "Eggs");
    cr_assert(milk && bread && eggs);

    char path[256], body[512];
    snprintf(path, sizeof(path), "/api/todolists/%s/items/%s", list, milk);
    cr_assert_eq(
        ws_send(c, "PATCH", path, h, "{\"task\":\"Oat milk\",\"status\":\"Done\"}", &r),
        200);
    json_t *evs = json_object_get(r.client_json, "events");
    cr_expect_str_eq(ws_str(json_array_get(evs, 0), "type"), "TaskRenamed");
    cr_expect_str_eq(ws_str(json_array_get(evs, 1), "type"), "ItemStatusChanged");
    cr_expect_str_eq(hostdrv_reply_header(&r, "ETag"), "\"6\"");
    hostdrv_reply_release(&r);
    cr_assert_eq(ws_send(c, "PATCH", path, h, "{\"status\":\"Done\"}", &r), 200);
    cr_expect_eq(json_array_size(json_object_get(r.client_json, "events")), 0,
                 "no change, no event");
    cr_expect_eq(json_integer_value(json_object_get(r.client_json, "version")), 6);
    hostdrv_reply_release(&r);

    snprintf(path, sizeof(path), "/api/todolists/%s/items", list);
    snprintf(body, sizeof(body),
             "{\"itemIds\":[\"%s\",\"%s\",\"%s\",\"%s\"],\"status\":\"Done\"}", milk,
             bread, eggs, bread);
    cr_assert_eq(ws_send(c, "PATCH", path, h, body, &r), 200);
    cr_expect_eq(json_array_size(json_object_get(r.client_json, "events")), 2,
                 "two changed; milk was already done; bread counted once");
    hostdrv_reply_release(&r);

    snprintf(path, sizeof(path), "/api/todolists/%s/items/%s", list, eggs);
    cr_expect_eq(ws_status(c, "DELETE", path, NULL), 200);
    cr_expect_eq(ws_status(c, "DELETE", path, NULL), 404, "already removed");

    ws_create(c, "other-list", "Other");
    snprintf(path, sizeof(path), "/api/todolists/%s/items/%s/move", list, bread);
    cr_assert_eq(ws_send(c, "POST", path, h, "{\"toListId\":\"other-list\"}", &r), 202);
    cr_expect_str_eq(
        ws_str(json_array_get(json_object_get(r.client_json, "events"), 0), "type"),
        "ItemMovedOut");
    hostdrv_reply_release(&r);

    snprintf(path, sizeof(path), "/api/todolists/%s", list);
    cr_expect_eq(ws_status(c, "PATCH", path, "{\"name\":\"Food\"}"), 200);
    cr_assert_eq(ws_send(c, "DELETE", path, NULL, NULL, &r), 200);
    cr_expect_str_eq(
        ws_str(json_array_get(json_object_get(r.client_json, "events"), 0), "type"),
        "TodoListDeleted");
    hostdrv_reply_release(&r);
    cr_expect_eq(ws_status(c, "PATCH", path, "{\"name\":\"Again\"}"), 410);
    snprintf(path, sizeof(path), "/api/todolists/%s/items", list);
    cr_expect_eq(ws_status(c, "POST", path, "{\"task\":\"late\"}"), 410);
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"Reborn\"}", list);
    cr_expect_eq(ws_status(c, "POST", "/api/todolists", body), 409,
                 "a deleted id stays taken");

    json_t *all = ws_events(c, list);
    cr_expect_eq(ws_check_gap_free(all), 12);
    const char *types[] = {"TodoListCreated",   "ItemAdded",         "ItemAdded",
                           "ItemAdded",         "TaskRenamed",       "ItemStatusChanged",
                           "ItemStatusChanged", "ItemStatusChanged", "ItemRemoved",
                           "ItemMovedOut",      "TodoListRenamed",   "TodoListDeleted"};
    for (size_t i = 0; i < 12; i++)
        cr_expect_str_eq(ws_str(json_array_get(all, i), "type"), types[i], "event %zu",
                         i + 1);
    json_t *first = json_array_get(all, 0);
    cr_expect_str_eq(ws_str(json_object_get(first, "data"), "name"), "Groceries",
                     "trimmed");
    json_t *meta = json_object_get(first, "meta");
    cr_expect_not_null(ws_str(meta, "correlationId"));
    cr_expect(json_is_null(json_object_get(meta, "causationId")));
    json_decref(all);
    free(milk);
    free(bread);
    free(eggs);
}

Test(commands, the_events_api_pages_and_checks_its_parameters)
{
    ws_create(c, "paged", "Paged");
    for (int i = 0; i < 4; i++) {
        char task[16];
        snprintf(task, sizeof(task), "t%d", i);
        free(ws_add(c, "paged", task));
    }
    struct hostdrv_reply r;
    cr_assert_eq(
        ws_send(c, "GET", "/api/todolists/paged/events?from=2&limit=3", NULL, NULL, &r),
        200);
    json_t *evs = json_object_get(r.client_json, "events");
    cr_expect_eq(json_array_size(evs), 3);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(evs, 0), "version")),
                 2);
    cr_expect_eq(json_integer_value(json_object_get(r.client_json, "next")), 5);
    hostdrv_reply_release(&r);
    cr_assert_eq(ws_send(c, "GET", "/api/todolists/paged/events?from=5", NULL, NULL, &r),
                 200);
    cr_expect_eq(json_array_size(json_object_get(r.client_json, "events")), 1);
    cr_expect(json_is_null(json_object_get(r.client_json, "next")),
              "the end of the stream");
    hostdrv_reply_release(&r);
    cr_assert_eq(ws_send(c, "GET", "/api/todolists/paged/events?from=50", NULL, NULL, &r),
                 200);
    cr_expect_eq(json_array_size(json_object_get(r.client_json, "events")), 0);
    hostdrv_reply_release(&r);
    const char *bad[] = {"from=0",  "from=-1",    "from=x",
                         "limit=0", "limit=1001", "limit=2.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/todolists/paged/events?%s", bad[i]);
        cr_assert_eq(ws_send(c, "GET", path, NULL, NULL, &r), 400, "%s", bad[i]);
        cr_expect_str_eq(ws_str(r.client_json, "error"), "invalid_field");
        hostdrv_reply_release(&r);
    }
    cr_expect_eq(ws_status(c, "GET", "/api/todolists/nobody/events", NULL), 404);
    cr_expect_eq(ws_status(c, "GET", "/api/todolists/bad%21id/events", NULL), 400);
}

struct bad_case {
    const char *method, *path;
    const char *content_type; /* NULL for none */
    const char *extra_header;
    const char *body;
    int status;
    const char *code;
};

Test(commands, bad_input_gets_its_documented_error_and_appends_nothing)
{
    ws_create(c, "L1", "List");
    char *item = ws_add(c, "L1", "Milk");
    char item_path[128], move_path[160];
    snprintf(item_path, sizeof(item_path), "/api/todolists/L1/items/%s", item);
    snprintf(move_path, sizeof(move_path), "%s/move", item_path);
    char long_name[80], long_key[160],
        many_ids[4096] = "{\"status\":\"Done\",\"itemIds\":[";
    snprintf(long_name, sizeof(long_name), "{\"name\":\"%051d\"}", 0);
    snprintf(long_key, sizeof(long_key), "Idempotency-Key: %0129d", 0);
    for (int i = 0; i < 51; i++) {
        size_t n = strlen(many_ids);
        snprintf(many_ids + n, sizeof(many_ids) - n, "%s\"id%d\"", i ? "," : "", i);
    }
    size_t n = strlen(many_ids);
    snprintf(many_ids + n, sizeof(many_ids) - n, "]}");
    const char *ct = JSON_CT;
    struct bad_case cases[] = {
        {"PATCH", "/api/todolists/L1", ct, NULL, "{\"name\":", 400, "invalid_json"},
        {"PATCH", "/api/todolists/L1", ct, NULL, "[\"name\"]", 400, "invalid_json"},
        {"PATCH", "/api/todolists/L1", ct, NULL, "", 400, "invalid_json"},
        {"PATCH", "/api/todolists/L1", "Content-Type: text/plain", NULL,
         "{\"name\":\"x\"}", 415, "unsupported_media_type"},
        {"PATCH", "/api/todolists/L1", NULL, NULL, "{\"name\":\"x\"}", 415,
         "unsupported_media_type"},
        {"PATCH", "/api/todolists/L1", ct, NULL, "{}", 400, "invalid_field"},
        {"PATCH", "/api/todolists/L1", ct, NULL, "{\"name\":42}", 400, "invalid_field"},
        {"PATCH", "/api/todolists/L1", ct, NULL, "{\"name\":\" \\t\\r\\n \"}", 400,
         "invalid_field"},
        {"PATCH", "/api/todolists/L1", ct, NULL, long_name, 400, "invalid_field"},
        {"PATCH", "/api/todolists/L%20X", ct, NULL, "{\"name\":\"x\"}", 400,
         "invalid_field"},
        {"PATCH", "/api/todolists/L1", ct, "If-Match: abc", "{\"name\":\"x\"}", 400,
         "invalid_field"},
        {"PATCH", "/api/todolists/L1", ct, "If-Match: W/1", "{\"name\":\"x\"}", 400,
         "invalid_field"},
        {"PATCH", "/api/todolists/L1", ct, "If-Match: \"\"", "{\"name\":\"x\"}", 400,
         "invalid_field"},
        {"PATCH", "/api/todolists/L1", ct, "If-Match: 9223372036854775807",
         "{\"name\":\"x\"}", 412, "precondition_failed"},
        {"PATCH", "/api/todolists/L1", ct, "If-Match: \"99999999999999999999999\"",
         "{\"name\":\"x\"}", 412, "precondition_failed"},
        /* A body sent chunked never reaches the function under the host: 411, first. */
        {"POST", "/api/todolists/L1/items", ct, "Transfer-Encoding: chunked",
         "{\"task\":\"Chunked\"}", 411, "length_required"},
        {"POST", "/api/todolists/L1/items", "Content-Type: text/plain",
         "Transfer-Encoding: chunked", "{\"task\":\"Chunked\"}", 411, "length_required"},
        {"PATCH", "/api/todolists/nope", ct, "Transfer-Encoding: chunked",
         "{\"name\":\"x\"}", 411, "length_required"},
        {"PATCH", "/api/todolists/L1", ct, "Idempotency-Key: a b", "{\"name\":\"x\"}",
         400, "invalid_field"},
        {"PATCH", "/api/todolists/L1", ct, long_key, "{\"name\":\"x\"}", 400,
         "invalid_field"},
        {"PATCH", "/api/todolists/nope", ct, NULL, "{\"name\":\"x\"}", 404, "not_found"},
        {"POST", "/api/todolists/L1/items", ct, NULL, "{\"task\":\"Milk\"}", 409,
         "task_exists"},
        {"POST", "/api/todolists/L1/items", ct, NULL, "{\"task\":[]}", 400,
         "invalid_field"},
        {"POST", "/api/todolists", ct, NULL, "{\"name\":\"x\",\"id\":\"L1\"}", 409,
         "list_exists"},
        {"POST", "/api/todolists", ct, NULL, "{\"name\":\"x\",\"id\":\"a/b\"}", 400,
         "invalid_field"},
        {"POST", "/api/todolists", ct, NULL, "{\"name\":\"x\",\"id\":7}", 400,
         "invalid_field"},
        {"PATCH", item_path, ct, NULL, "{}", 400, "invalid_field"},
        {"PATCH", item_path, ct, NULL, "{\"status\":\"done\"}", 400, "invalid_field"},
        {"PATCH", "/api/todolists/L1/items/unknown", ct, NULL, "{\"status\":\"Done\"}",
         404, "not_found"},
        {"DELETE", "/api/todolists/L1/items/unknown", NULL, NULL, NULL, 404, "not_found"},
        {"PATCH", "/api/todolists/L1/items", ct, NULL,
         "{\"itemIds\":[],\"status\":\"Done\"}", 400, "invalid_field"},
        {"PATCH", "/api/todolists/L1/items", ct, NULL,
         "{\"itemIds\":[1],\"status\":\"Done\"}", 400, "invalid_field"},
        {"PATCH", "/api/todolists/L1/items", ct, NULL, many_ids, 400, "invalid_field"},
        {"PATCH", "/api/todolists/L1/items", ct, NULL,
         "{\"itemIds\":[\"nope\"],\"status\":\"Done\"}", 404, "not_found"},
        {"POST", move_path, ct, NULL, "{\"toListId\":\"L1\"}", 400, "invalid_target"},
        {"POST", move_path, ct, NULL, "{\"toListId\":\"no way\"}", 400, "invalid_field"},
        {"POST", move_path, ct, NULL, "{}", 400, "invalid_field"},
        /* Precedence: 415 before invalid_json, invalid_json before invalid_field. */
        {"PATCH", "/api/todolists/bad%20id", "Content-Type: text/plain", NULL, "{", 415,
         "unsupported_media_type"},
        {"PATCH", "/api/todolists/bad%20id", ct, NULL, "{", 400, "invalid_json"},
        {"PATCH", "/api/todolists/nope", ct, "If-Match: \"9\"", "{\"name\":\"x\"}", 404,
         "not_found"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *bc = &cases[i];
        const char *h[3] = {NULL, NULL, NULL};
        size_t k = 0;
        if (bc->content_type)
            h[k++] = bc->content_type;
        if (bc->extra_header)
            h[k++] = bc->extra_header;
        struct hostdrv_reply r;
        int status = ws_send(c, bc->method, bc->path, h, bc->body, &r);
        cr_expect_eq(status, bc->status, "case %zu (%s %s %s): got %d %s", i, bc->method,
                     bc->path, bc->body ? bc->body : "", status, r.result.http_body);
        cr_expect_str_eq(ws_str(r.client_json, "error"), bc->code, "case %zu", i);
        cr_expect_not_null(ws_str(r.client_json, "message"), "case %zu", i);
        hostdrv_reply_release(&r);
    }
    json_t *all = ws_events(c, "L1");
    cr_expect_eq(json_array_size(all), 2, "only the create and the add were appended");
    json_decref(all);
    free(item);
}

Test(commands, body_size_limit_is_inclusive_and_413_wins)
{
    ws_create(c, "big", "Big");
    size_t limit = 1 << 20;
    char *body = malloc(limit + 2);
    memset(body, ' ', limit + 1);
    memcpy(body, "{\"name\":\"Huge\"}", 15);
    body[limit] = '\0';
    cr_expect_eq(ws_status(c, "PATCH", "/api/todolists/big", body), 200,
                 "exactly MAX_BODY_BYTES is accepted");
    body[limit] = ' ';
    body[limit + 1] = '\0';
    const char *h[] = {"Content-Type: text/plain", NULL};
    struct hostdrv_reply r;
    cr_expect_eq(ws_send(c, "PATCH", "/api/todolists/big", h, body, &r), 413,
                 "one byte more is 413, before the media type is looked at");
    cr_expect_str_eq(ws_str(r.client_json, "error"), "payload_too_large");
    hostdrv_reply_release(&r);
    free(body);
    json_t *all = ws_events(c, "big");
    cr_expect_eq(json_array_size(all), 2);
    json_decref(all);
}

Test(commands, a_repeated_idempotency_key_returns_the_same_answer_once_appended)
{
    const char *h[] = {JSON_CT, "Idempotency-Key: create-42", NULL};
    struct hostdrv_reply first, again;
    cr_assert_eq(ws_send(c, "POST", "/api/todolists", h, "{\"name\":\"Keyed\"}", &first),
                 201);
    cr_assert_eq(ws_send(c, "POST", "/api/todolists", h, "{\"name\":\"Keyed\"}", &again),
                 201);
    cr_expect_str_eq(again.result.http_body, first.result.http_body, "identical body");
    cr_expect_str_eq(hostdrv_reply_header(&again, "ETag"),
                     hostdrv_reply_header(&first, "ETag"));
    cr_expect_str_eq(hostdrv_reply_header(&again, "Location"),
                     hostdrv_reply_header(&first, "Location"));
    char id[64];
    snprintf(id, sizeof(id), "%s", ws_str(first.client_json, "id"));
    hostdrv_reply_release(&first);
    hostdrv_reply_release(&again);
    json_t *all = ws_events(c, id);
    cr_expect_eq(json_array_size(all), 1, "appended once");
    cr_expect_str_eq(
        ws_str(json_object_get(json_array_get(all, 0), "meta"), "idempotencyKey"),
        "create-42");
    json_decref(all);

    struct hostdrv_reply other;
    cr_assert_eq(
        ws_send(c, "POST", "/api/todolists", h, "{\"name\":\"Different\"}", &other), 422);
    cr_expect_str_eq(ws_str(other.client_json, "error"), "idempotency_key_reuse");
    hostdrv_reply_release(&other);

    /* The same key on two lists is two commands. */
    ws_create(c, "k-a", "A");
    ws_create(c, "k-b", "B");
    const char *hk[] = {JSON_CT, "Idempotency-Key: add-1", NULL};
    struct hostdrv_reply ra, rb;
    cr_expect_eq(
        ws_send(c, "POST", "/api/todolists/k-a/items", hk, "{\"task\":\"x\"}", &ra), 201);
    cr_expect_eq(
        ws_send(c, "POST", "/api/todolists/k-b/items", hk, "{\"task\":\"x\"}", &rb), 201);
    struct hostdrv_reply ra2;
    cr_expect_eq(
        ws_send(c, "POST", "/api/todolists/k-a/items", hk, "{\"task\":\"x\"}", &ra2), 201,
        "the repeat is answered from the receipt, not refused as task_exists");
    cr_expect_str_eq(ws_str(ra2.client_json, "itemId"), ws_str(ra.client_json, "itemId"));
    hostdrv_reply_release(&ra);
    hostdrv_reply_release(&rb);
    hostdrv_reply_release(&ra2);
}

Test(commands, if_match_turns_a_stale_version_into_412)
{
    ws_create(c, "im", "IfMatch");
    const char *stale[] = {JSON_CT, "If-Match: \"0\"", NULL};
    struct hostdrv_reply r;
    cr_assert_eq(ws_send(c, "PATCH", "/api/todolists/im", stale, "{\"name\":\"x\"}", &r),
                 412);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "precondition_failed");
    cr_expect_str_eq(hostdrv_reply_header(&r, "ETag"), "\"1\"",
                     "the 412 names the current version");
    hostdrv_reply_release(&r);
    const char *forms[] = {"If-Match: \"1\"", "If-Match: W/\"2\"", "If-Match: 3",
                           "If-Match: *"};
    for (size_t i = 0; i < 4; i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"name\":\"name %zu\"}", i);
        const char *h[] = {JSON_CT, forms[i], NULL};
        cr_expect_eq(ws_send(c, "PATCH", "/api/todolists/im", h, body, &r), 200, "%s",
                     forms[i]);
        hostdrv_reply_release(&r);
    }
    json_t *all = ws_events(c, "im");
    cr_expect_eq(json_array_size(all), 5);
    json_decref(all);
}

Test(commands, the_correlation_id_header_reaches_the_events)
{
    ws_create(c, "corr", "Corr");
    const char *h[] = {JSON_CT, "X-Correlation-Id: trace-123", NULL};
    struct hostdrv_reply r;
    cr_assert_eq(
        ws_send(c, "POST", "/api/todolists/corr/items", h, "{\"task\":\"t\"}", &r), 201);
    hostdrv_reply_release(&r);
    json_t *all = ws_events(c, "corr");
    cr_expect_str_eq(
        ws_str(json_object_get(json_array_get(all, 1), "meta"), "correlationId"),
        "trace-123");
    json_decref(all);
}

/* A body within MAX_BODY_BYTES never meets the envelope cap, however it escapes. */
Test(commands, a_full_body_of_backslashes_fits_the_default_envelope)
{
    ws_create(c, "slashes", "Slashes");
    size_t limit = 1 << 20;
    char *body = malloc(limit + 1);
    /* {"name":"\\\\...\\"}: every backslash doubles in Body and again in Metadata. */
    memset(body, '\\', limit);
    memcpy(body, "{\"name\":\"", 9);
    memcpy(body + limit - 3, "a\"}", 3); /* an even run of backslashes: valid JSON */
    body[limit] = '\0';
    struct hostdrv_reply r;
    const char *h[] = {JSON_CT, NULL};
    int st = ws_send(c, "PATCH", "/api/todolists/slashes", h, body, &r);
    cr_expect_eq(st, 400,
                 "judged by the function (a 50-character name), not refused "
                 "as an oversize envelope: %d",
                 st);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "invalid_field");
    hostdrv_reply_release(&r);
    free(body);
}

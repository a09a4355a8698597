/*
 * The write side through the host protocol: every command, the documented
 * errors (each appending nothing), idempotency, If-Match and the events API.
 */
#include "write_side.h"
#include "../support/fixtures.h"

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

#define API_ERRORS_FILE ES_DATA_DIR "/api_errors.json"

/*
 * A text field of an api_errors.json case (fixture_text's forms) with each
 * "{item}" replaced by item; malloc'd, NULL when the field is not text.
 */
static char *case_text(const json_t *v, const char *item)
{
    char *s = fixture_text(v, NULL);
    const char *at;
    while (s != NULL && (at = strstr(s, "{item}")) != NULL) {
        size_t n = strlen(s) + strlen(item) + 1;
        char *out = malloc(n);
        cr_assert_not_null(out);
        snprintf(out, n, "%.*s%s%s", (int)(at - s), s, item, at + strlen("{item}"));
        free(s);
        s = out;
    }
    return s;
}

/* Checks that case i of api_errors.json has only the keys the file describes. */
static void expect_known_keys(size_t i, const json_t *bc)
{
    static const char *const keys[] = {"method", "path",  "headers", "body",
                                       "status", "error", "why",     NULL};
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)bc, k, v)
    {
        const char *const *a = keys;
        while (*a != NULL && strcmp(*a, k) != 0)
            a++;
        cr_assert_not_null(*a, "api_errors.json case %zu: unknown key '%s'", i, k);
    }
}

/* The "Name: value" lines of a case's headers into h (malloc'd; h[n] stays NULL). */
static size_t case_headers(size_t i, const json_t *headers, const char *item, char **h,
                           size_t cap)
{
    size_t n = 0;
    const char *k;
    const json_t *v;
    cr_assert(headers == NULL || json_is_object(headers),
              "api_errors.json case %zu: headers is an object", i);
    json_object_foreach((json_t *)headers, k, v)
    {
        char *value = case_text(v, item);
        cr_assert(value != NULL && n + 1 < cap, "api_errors.json case %zu: header %s", i,
                  k);
        size_t len = strlen(k) + strlen(value) + 3;
        h[n] = malloc(len);
        cr_assert_not_null(h[n]);
        snprintf(h[n++], len, "%s: %s", k, value);
        free(value);
    }
    return n;
}

/* Sends case i of api_errors.json and checks its answer. */
static void send_bad_case(size_t i, const json_t *bc, const char *item)
{
    expect_known_keys(i, bc);
    const char *method = json_string_value(json_object_get(bc, "method"));
    const char *code = json_string_value(json_object_get(bc, "error"));
    const json_t *body = json_object_get(bc, "body");
    int want = (int)json_integer_value(json_object_get(bc, "status"));
    char *path = case_text(json_object_get(bc, "path"), item);
    char *text = json_is_null(body) ? NULL : case_text(body, item);
    cr_assert(method != NULL && code != NULL && path != NULL && want >= 400 &&
                  (json_is_null(body) || text != NULL),
              "api_errors.json case %zu: needs method, path, body (text or null), status "
              "and error",
              i);
    char *h[8] = {NULL};
    size_t nh = case_headers(i, json_object_get(bc, "headers"), item, h, 8);
    struct hostdrv_reply r;
    int status = ws_send(c, method, path, (const char *const *)h, text, &r);
    cr_expect_eq(status, want, "api_errors.json case %zu (%s %s %.200s): got %d %s", i,
                 method, path, text ? text : "", status, r.result.http_body);
    cr_expect_str_eq(ws_str(r.client_json, "error"), code, "api_errors.json case %zu", i);
    cr_expect_not_null(ws_str(r.client_json, "message"), "api_errors.json case %zu", i);
    hostdrv_reply_release(&r);
    for (size_t j = 0; j < nh; j++)
        free(h[j]);
    free(path);
    free(text);
}

/* The cases are tests/data/api_errors.json (its description says how to read them). */
Test(commands, bad_input_gets_its_documented_error_and_appends_nothing)
{
    json_error_t jerr;
    json_t *file = json_load_file(API_ERRORS_FILE, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(file, "%s: %s (line %d)", API_ERRORS_FILE, jerr.text, jerr.line);
    const json_t *cases = json_object_get(file, "cases");
    cr_assert_gt(json_array_size(cases), 0, "%s: no cases: nothing would be checked",
                 API_ERRORS_FILE);
    ws_create(c, "L1", "List");
    char *item = ws_add(c, "L1", "Milk");
    cr_assert_not_null(item);
    size_t i;
    const json_t *bc;
    json_array_foreach(cases, i, bc)
    {
        send_bad_case(i, bc, item);
    }
    json_t *all = ws_events(c, "L1");
    cr_expect_eq(json_array_size(all), 2, "only the create and the add were appended");
    json_decref(all);
    free(item);
    json_decref(file);
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

/* 1,000 items, the most a list holds (docs/api.md): one more is refused, nothing else. */
Test(commands, a_full_list_refuses_one_more_item_and_takes_every_other_command,
     .timeout = 300)
{
    ws_create(c, "full", "Full");
    char *first = NULL, *last = NULL;
    for (int i = 0; i < 1000; i++) {
        char task[16];
        snprintf(task, sizeof(task), "item %d", i);
        char *id = ws_add(c, "full", task);
        cr_assert_not_null(id, "item %d", i);
        if (i == 0)
            first = id;
        else {
            free(last);
            last = id;
        }
    }
    const char *h[] = {JSON_CT, NULL};
    struct hostdrv_reply r;
    cr_expect_eq(
        ws_send(c, "POST", "/api/todolists/full/items", h, "{\"task\":\"one more\"}", &r),
        409);
    cr_expect_str_eq(ws_str(r.client_json, "error"), "list_full");
    hostdrv_reply_release(&r);
    char path[128], body[160];
    snprintf(path, sizeof(path), "/api/todolists/full/items/%s", last);
    cr_expect_eq(ws_status(c, "PATCH", path, "{\"status\":\"Done\"}"), 200, "update");
    snprintf(body, sizeof(body), "{\"itemIds\":[\"%s\"],\"status\":\"In Progress\"}",
             last);
    cr_expect_eq(ws_status(c, "PATCH", "/api/todolists/full/items", body), 200,
                 "set statuses");
    cr_expect_eq(
        ws_status(c, "PATCH", "/api/todolists/full", "{\"name\":\"Still full\"}"), 200,
        "rename");
    snprintf(path, sizeof(path), "/api/todolists/full/items/%s", first);
    cr_expect_eq(ws_status(c, "DELETE", path, NULL), 200, "remove");
    char *again = ws_add(c, "full", "one more");
    cr_expect_not_null(again, "room for one again");
    free(again);
    free(first);
    free(last);
}

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "invoke/invoke.h"
#include "util/jsonutil.h"

static json_t *last_payload;
static int runs;

static void created(struct fn_ctx *ctx, const struct fn_http_request *req,
                    struct fn_http_response *res)
{
    (void)ctx;
    (void)req;
    fn_reply_json(res, 201, json_object());
}

static enum es_status projector(struct fn_ctx *ctx, json_t *payload)
{
    cr_expect(!ctx->retry.present, "run as on its last attempt");
    runs++;
    json_decref(last_payload);
    last_payload = json_incref(payload);
    return ES_OK;
}

static const struct fn_def d_created = {"Create", FN_HTTP, "req", "res", created, NULL};
static const struct fn_def d_proj = {"Projector", FN_TRIGGER, "documents",
                                     NULL,        NULL,       projector};
static const struct fn_def *const defs[] = {&d_created, &d_proj};
static const struct fn_table table = {defs, 2};
static struct es_config cfg;
static const struct fn_services svc = {.cfg = &cfg, .version = "test"};
static const struct invoke_app app = {.fns = &table, .svc = &svc};

static void forget(void)
{
    json_decref(last_payload);
    last_payload = NULL;
    runs = 0;
}

TestSuite(oversize, .fini = forget);

/* The ids a scanner of at most max ids finds in text fed in pieces of step bytes. */
static json_t *scan_ids(const char *text, size_t step, size_t max)
{
    struct invoke_id_scan *scan = invoke_id_scan_new(max);
    cr_assert_not_null(scan);
    size_t len = strlen(text);
    for (size_t at = 0; at < len; at += step)
        invoke_id_scan_feed(scan, text + at, len - at < step ? len - at : step);
    struct invoke_reply r;
    invoke_reply_oversize(&app, "Projector", "inv-1", len, 10, scan, &r);
    cr_expect_eq(r.host_status, 200, "the function completed: %s", r.body);
    invoke_reply_release(&r);
    invoke_id_scan_free(scan);
    cr_assert(json_is_object(last_payload));
    return json_object_get(last_payload, "documentIds");
}

Test(oversize, an_http_envelope_answers_the_client_413)
{
    struct invoke_reply r;
    invoke_reply_oversize(&app, "Create", NULL, 5000, 4096, NULL, &r);
    cr_expect_eq(r.host_status, 200);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    json_t *res = json_object_get(json_object_get(j, "Outputs"), "res");
    cr_expect_eq(json_integer_value(json_object_get(res, "statusCode")), 413);
    const char *body = json_string_value(json_object_get(res, "body"));
    cr_expect(strstr(body, "payload_too_large") != NULL, "%s", body);
    cr_expect(strstr(body, "5000") != NULL && strstr(body, "4096") != NULL,
              "names the size and the limit: %s", body);
    json_decref(j);
    invoke_reply_release(&r);
}

Test(oversize, an_unknown_function_is_404_to_the_host)
{
    struct invoke_reply r;
    invoke_reply_oversize(&app, "Nope", NULL, 5000, 4096, NULL, &r);
    cr_expect_eq(r.host_status, 404);
    invoke_reply_release(&r);
}

/* A trigger batch over the cap is handed over as a note naming the ids it held. */
Test(oversize, a_trigger_envelope_reaches_the_function_as_a_note_with_the_ids)
{
    /* The documents as bundle v4 sends them: encoded twice, ids and all. */
    json_t *docs = json_pack(
        "[{s:s, s:s, s:I}, {s:s, s:s, s:I}, {s:s, s:s, s:I}]", "id", "todolist-a:7",
        "streamId", "todolist-a", "version", (json_int_t)7, "id", "todolist-b:1",
        "streamId", "todolist-b", "version", (json_int_t)1, "id", "todolist-a:snapshot",
        "streamId", "todolist-a", "version", (json_int_t)7);
    json_t *env = invoke_trigger_envelope_new("Projector", "documents", docs, 2, NULL);
    char *text = es_json_dumps(env, NULL);
    json_t *ids = scan_ids(text, 7, 10);
    cr_expect_eq(runs, 1);
    cr_expect(strstr(json_string_value(json_object_get(last_payload, "error")),
                     "MAX_TRIGGER_ENVELOPE_BYTES") != NULL);
    cr_expect_eq(json_integer_value(json_object_get(last_payload, "envelopeBytes")),
                 (json_int_t)strlen(text));
    cr_expect_eq(json_integer_value(json_object_get(last_payload, "limit")), 10);
    cr_expect_eq(json_array_size(ids), 2, "event ids only, once each");
    cr_expect_str_eq(json_string_value(json_array_get(ids, 0)), "todolist-a:7");
    cr_expect_str_eq(json_string_value(json_array_get(ids, 1)), "todolist-b:1");
    free(text);
    json_decref(env);
    json_decref(docs);
}

/* Every way a chunk boundary can fall: inside the key, the value, an escape. */
Test(oversize, ids_are_found_whatever_the_chunk_size)
{
    const char *text = "{\"Data\":{\"documents\":\"[{\\\"id\\\":\\\"s-1:12\\\"},"
                       "{\\\"id\\\":\\\"s_2:3\\\"}]\"}}";
    for (size_t step = 1; step <= strlen(text); step++) {
        json_t *ids = scan_ids(text, step, 10);
        cr_assert_eq(json_array_size(ids), 2, "step %zu", step);
        cr_expect_str_eq(json_string_value(json_array_get(ids, 0)), "s-1:12");
        cr_expect_str_eq(json_string_value(json_array_get(ids, 1)), "s_2:3");
    }
}

Test(oversize, only_event_shaped_ids_are_kept)
{
    const char *text =
        "[{\"id\":\"a:1\"},{\"id\":\"a:b\"},{\"id\":\"a:1:2\"},{\"id\":\":5\"},"
        "{\"id\":\"a:\"},{\"id\":\"a b:1\"},{\"id\":\"a:12345678901234567890\"},"
        "{\"xid\":\"a:2\"},{\"id\":\"a:1\"},{\"id\":\"b:1234567890123456789\"}]";
    json_t *ids = scan_ids(text, 5, 10);
    cr_assert_eq(json_array_size(ids), 2, "a:1 once, and the 19-digit version");
    cr_expect_str_eq(json_string_value(json_array_get(ids, 0)), "a:1");
    cr_expect_str_eq(json_string_value(json_array_get(ids, 1)), "b:1234567890123456789");
}

Test(oversize, the_note_holds_at_most_the_ids_asked_for)
{
    json_t *ids = scan_ids("{\"id\":\"a:1\"}{\"id\":\"a:2\"}{\"id\":\"a:3\"}", 3, 2);
    cr_expect_eq(json_array_size(ids), 2);
}

Test(oversize, without_a_scan_the_note_lists_no_ids)
{
    struct invoke_reply r;
    invoke_reply_oversize(&app, "Projector", "inv-1", 500, 10, NULL, &r);
    cr_expect_eq(r.host_status, 200);
    invoke_reply_release(&r);
    cr_assert(json_is_object(last_payload));
    cr_expect_eq(json_array_size(json_object_get(last_payload, "documentIds")), 0);
}

/*
 * dispatch.c - running a function on an envelope and building the reply.
 *
 * Every path ends in a JSON reply. What the host sees:
 *   200  the function ran (an HTTP function's status is in Outputs.<res>)
 *   400  the envelope is unusable (not JSON, no Data, a mistyped field)
 *   404  no function of that name
 *   500  a trigger function asked for its batch to be retried
 * A non-2xx makes the host discard Outputs and Logs, so such replies are
 * also written to stderr, where the host records them as errors.
 */
#include "invoke.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/ids.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "internal.h"

void invoke_reply_release(struct invoke_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static void set_reply(struct invoke_reply *out, int status, json_t *body_new)
{
    out->host_status = status;
    out->body = es_json_dumps(body_new, &out->body_len);
    json_decref(body_new);
    if (out->body == NULL) {
        /* Last resort that needs no allocation by jansson. */
        static const char oom[] =
            "{\"error\":\"out_of_memory\",\"message\":\"out of memory\"}";
        out->host_status = 503;
        out->body = strdup(oom);
        out->body_len = out->body != NULL ? sizeof(oom) - 1 : 0;
    }
}

void invoke_reply_host_error(int host_status, const char *code, const char *message,
                             struct invoke_reply *out)
{
    set_reply(out, host_status,
              json_pack("{s:s, s:s}", "error", code, "message", message));
}

/* {"Outputs": outputs, "Logs": logs, "ReturnValue": null}; steals both. */
static void reply_outputs(struct invoke_reply *out, json_t *outputs, json_t *logs)
{
    set_reply(out, 200,
              json_pack("{s:o, s:o, s:n}", "Outputs", outputs ? outputs : json_object(),
                        "Logs", logs ? logs : json_array(), "ReturnValue"));
}

/* Appends v compactly (a small object or array; NULL writes `empty`). */
static enum es_status write_json(struct es_buf *b, const json_t *v, const char *empty)
{
    if (v == NULL)
        return es_buf_adds(b, empty);
    size_t len = 0;
    char *text = es_json_dumps(v, &len);
    enum es_status st = text != NULL ? es_buf_add(b, text, len) : ES_ENOMEM;
    free(text);
    return st;
}

/*
 * Replies {"Outputs": {<binding>: {statusCode, headers, body}}, "Logs": [...],
 * "ReturnValue": null} for an HTTP function's response, then releases res.
 * Written straight into one buffer: the body can be large, and a tree would
 * copy it twice.
 */
static void reply_http(struct invoke_reply *out, const struct fn_def *def,
                       struct fn_http_response *res, json_t *logs)
{
    struct es_buf b;
    es_buf_init(&b, SIZE_MAX);
    enum es_status st = es_buf_adds(&b, "{\"Outputs\":{");
    if (st == ES_OK)
        st = es_json_write_string(&b, def->output_binding, strlen(def->output_binding));
    if (st == ES_OK)
        st = es_buf_addf(&b, ":{\"statusCode\":%d,\"headers\":", res->status);
    if (st == ES_OK)
        st = write_json(&b, res->headers, "{}");
    if (st == ES_OK)
        st = es_buf_adds(&b, ",\"body\":");
    if (st == ES_OK)
        st = es_json_write_string(&b, res->body != NULL ? res->body : "", res->body_len);
    if (st == ES_OK)
        st = es_buf_adds(&b, "}},\"Logs\":");
    if (st == ES_OK)
        st = write_json(&b, json_array_size(logs) > 0 ? logs : NULL, "[]");
    if (st == ES_OK)
        st = es_buf_adds(&b, ",\"ReturnValue\":null}");
    fn_http_response_release(res);
    json_decref(logs);
    if (st != ES_OK) {
        es_buf_release(&b);
        if (st == ES_EJSON)
            invoke_reply_host_error(500, "internal_error",
                                    "the function's response body is not UTF-8", out);
        else
            invoke_reply_host_error(503, "out_of_memory", "out of memory", out);
        return;
    }
    out->host_status = 200;
    out->body = es_buf_take(&b, &out->body_len);
}

void invoke_reply_http(struct invoke_reply *out, const struct fn_def *def,
                       struct fn_http_response *res)
{
    reply_http(out, def, res, NULL);
}

/* True when every string of obj (one level, or in arrays below it) holds no NUL. */
static bool strings_whole(const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v))
            return false;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (json_is_string(e) &&
                strlen(json_string_value(e)) != json_string_length(e))
                return false;
        }
    }
    return true;
}

static void run_http(const struct fn_def *def, struct fn_ctx *ctx,
                     const struct fn_http_request *req, struct invoke_reply *out)
{
    struct fn_http_response res = {.status = 500};
    /* A NUL inside a route value, query value or header would cut it short
     * for every C function after it: the request is refused as it is. */
    if (!strings_whole(req->params) || !strings_whole(req->query) ||
        !strings_whole(req->headers)) {
        es_log_debug("function '%s' invocation %s: a request value holds a NUL",
                     def->name, ctx->invocation_id);
        fn_reply_error(&res, ES_EFIELD,
                       "a route value, query value or header holds a NUL character");
    } else {
        def->http(ctx, req, &res);
    }
    reply_http(out, def, &res, json_incref(ctx->logs));
}

static void run_http_envelope(const struct fn_def *def, struct fn_ctx *ctx,
                              const struct invoke_envelope *env, struct invoke_reply *out)
{
    struct es_error err = {0};
    struct fn_http_request req;
    enum es_status st = invoke_http_request_parse(env, def->trigger_binding, &req, &err);
    if (st != ES_OK) {
        es_log_error("function '%s' invocation %s: %s", def->name, ctx->invocation_id,
                     err.message);
        if (st == ES_ENOMEM)
            invoke_reply_host_error(503, "out_of_memory", err.message, out);
        else
            invoke_reply_host_error(400, "invalid_envelope", err.message, out);
        return;
    }
    run_http(def, ctx, &req, out);
}

/* Runs a trigger function and replies: the Logs, or 500 so that the host retries. */
static void trigger_on(const struct fn_def *def, struct fn_ctx *ctx, json_t *payload,
                       struct invoke_reply *out)
{
    enum es_status st = def->trigger(ctx, payload);
    json_t *outputs = ctx->outputs;
    ctx->outputs = NULL;
    if (st == ES_OK) {
        reply_outputs(out, outputs, json_incref(ctx->logs));
        return;
    }
    json_decref(outputs);
    char msg[256];
    snprintf(msg, sizeof(msg), "function '%s' failed: %s; the batch will be retried",
             def->name, es_status_message(st));
    size_t i;
    json_t *line;
    json_array_foreach(ctx->logs, i, line)
    {
        es_log_error("function '%s' invocation %s: %s", def->name, ctx->invocation_id,
                     json_string_value(line));
    }
    es_log_error("%s (invocation %s)", msg, ctx->invocation_id);
    invoke_reply_host_error(500, es_status_name(st), msg, out);
}

static void run_trigger(const struct fn_def *def, struct fn_ctx *ctx,
                        const struct invoke_envelope *env, struct invoke_reply *out)
{
    json_t *raw = json_object_get(env->data, def->trigger_binding);
    if (raw == NULL) {
        char msg[256];
        snprintf(msg, sizeof(msg), "invalid invocation envelope: 'Data.%s' is missing",
                 def->trigger_binding);
        es_log_error("function '%s' invocation %s: %s", def->name, ctx->invocation_id,
                     msg);
        invoke_reply_host_error(400, "invalid_envelope", msg, out);
        return;
    }
    /* Deep enough for v4's two string levels plus one more of slack. */
    json_t *payload = es_json_unwrap(raw, 4);
    if (payload == NULL) {
        invoke_reply_host_error(503, "out_of_memory", "out of memory", out);
        return;
    }
    trigger_on(def, ctx, payload, out);
    json_decref(payload);
}

void invoke_dispatch(const struct invoke_app *app, const char *name,
                     const char *invocation_id, const char *buf, size_t len,
                     struct invoke_reply *out)
{
    memset(out, 0, sizeof(*out));
    const struct fn_def *def = fn_table_find(app->fns, name);
    if (def == NULL) {
        char msg[320];
        snprintf(msg, sizeof(msg), "no function named '%.200s'", name);
        es_log_error("%s", msg);
        invoke_reply_host_error(404, "not_found", msg, out);
        return;
    }
    char generated[ES_UUID_STR_LEN + 1];
    if (invocation_id == NULL || invocation_id[0] == '\0')
        invocation_id = es_uuid4(generated);

    struct fn_ctx ctx = {
        .function_name = def->name,
        .invocation_id = invocation_id,
        .svc = app->svc,
        .logs = json_array(),
    };
    if (ctx.logs == NULL) {
        invoke_reply_host_error(503, "out_of_memory", "out of memory", out);
        return;
    }
    struct invoke_fast fast;
    if (def->kind == FN_HTTP && invoke_http_fast(buf, len, def->trigger_binding, &fast)) {
        ctx.metadata_text = fast.metadata_text;
        ctx.metadata_len = fast.metadata_len;
        run_http(def, &ctx, &fast.req, out);
        invoke_fast_release(&fast);
        json_decref(ctx.logs);
        return;
    }

    struct es_error err = {0};
    struct invoke_envelope env;
    enum es_status st = invoke_envelope_parse(buf, len, &env, &err);
    if (st == ES_OK && (st = invoke_retry_parse(env.metadata, &ctx.retry)) != ES_OK) {
        invoke_envelope_release(&env);
        es_error_set(&err, st, "cannot read the RetryContext: out of memory");
    }
    if (st != ES_OK) {
        es_log_error("function '%s' invocation %s: %s", def->name, invocation_id,
                     err.message);
        /* Out of memory is not the host's fault: a 503 it retries, not a 400. */
        if (st == ES_ENOMEM)
            invoke_reply_host_error(503, "out_of_memory", err.message, out);
        else
            invoke_reply_host_error(400, "invalid_envelope", err.message, out);
        json_decref(ctx.logs);
        return;
    }
    ctx.metadata = env.metadata;
    if (def->kind == FN_HTTP)
        run_http_envelope(def, &ctx, &env, out);
    else
        run_trigger(def, &ctx, &env, out);
    json_decref(ctx.logs);
    invoke_envelope_release(&env);
}

void invoke_run_trigger(const struct invoke_app *app, const struct fn_def *def,
                        const char *invocation_id, const struct fn_retry *retry,
                        json_t *payload, struct invoke_reply *out)
{
    memset(out, 0, sizeof(*out));
    char generated[ES_UUID_STR_LEN + 1];
    struct fn_ctx ctx = {
        .function_name = def->name,
        .invocation_id = invocation_id != NULL && invocation_id[0] != '\0'
                             ? invocation_id
                             : es_uuid4(generated),
        .svc = app->svc,
        .retry = *retry,
        .logs = json_array(),
    };
    if (ctx.logs == NULL) {
        invoke_reply_host_error(503, "out_of_memory", "out of memory", out);
        return;
    }
    trigger_on(def, &ctx, payload, out);
    json_decref(ctx.logs);
}

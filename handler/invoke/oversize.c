/*
 * oversize.c - envelopes over their cap, which are read but not kept.
 *
 * An HTTP function's client gets 413. A trigger batch cannot be answered that
 * way: the host would retry the same batch, then move past it, and its events
 * would be skipped without a trace. So while the envelope streams past, a
 * scanner notes every value of an "id" key that looks like an event id
 * ("<stream>:<version>"), at whatever depth of JSON-in-a-string it is encoded
 * (backslashes are skipped, so \\\"id\\\":\\\"x:1\\\" reads as "id":"x:1"),
 * and the trigger function is then run once, as on its last attempt, with a
 * payload that is not a batch but a note of what was refused:
 *   {"error": "...", "envelopeBytes": N, "limit": L, "documentIds": [...]}
 * A trigger that cannot read it as documents dead-letters it whole, ids and
 * all, so the events can be found and redriven.
 */
#include "invoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "internal.h"

#define ID_VALUE_MAX 200

static const char KEY[] = "\"id\":\"";
#define KEY_LEN (sizeof(KEY) - 1)

struct invoke_id_scan {
    size_t max_ids;
    json_t *ids;  /* array, in the order met */
    json_t *seen; /* the same ids as keys */
    char window[KEY_LEN];
    size_t filled; /* bytes in window so far (up to KEY_LEN) */
    bool in_value;
    char value[ID_VALUE_MAX + 1];
    size_t value_len;
    bool failed; /* an id could not be noted for want of memory: the list is not whole */
};

struct invoke_id_scan *invoke_id_scan_new(size_t max_ids)
{
    struct invoke_id_scan *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->max_ids = max_ids;
    s->ids = json_array();
    s->seen = json_object();
    if (s->ids == NULL || s->seen == NULL) {
        invoke_id_scan_free(s);
        return NULL;
    }
    return s;
}

void invoke_id_scan_free(struct invoke_id_scan *s)
{
    if (s == NULL)
        return;
    json_decref(s->ids);
    json_decref(s->seen);
    free(s);
}

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == ':';
}

/* "<stream>:<version>": one colon, a stream of [A-Za-z0-9_-], 1-19 digits. */
static bool event_id_shaped(const char *v, size_t n)
{
    const char *colon = memchr(v, ':', n);
    if (colon == NULL || colon == v ||
        memchr(colon + 1, ':', n - (size_t)(colon - v) - 1))
        return false;
    size_t digits = n - (size_t)(colon - v) - 1;
    if (digits < 1 || digits > 19)
        return false;
    for (const char *p = colon + 1; p < v + n; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static void finish_value(struct invoke_id_scan *s)
{
    s->in_value = false;
    s->value[s->value_len] = '\0';
    if (!event_id_shaped(s->value, s->value_len) ||
        json_array_size(s->ids) >= s->max_ids ||
        json_object_get(s->seen, s->value) != NULL)
        return;
    if (json_object_set_new(s->seen, s->value, json_true()) != 0 ||
        json_array_append_new(s->ids, json_stringn(s->value, s->value_len)) != 0)
        s->failed = true;
}

void invoke_id_scan_feed(struct invoke_id_scan *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\\')
            continue;
        if (s->in_value) {
            if (c == '"')
                finish_value(s);
            else if (id_char(c) && s->value_len < ID_VALUE_MAX)
                s->value[s->value_len++] = c;
            else
                s->in_value = false;
            continue;
        }
        if (s->filled < KEY_LEN) {
            s->window[s->filled++] = c;
        } else {
            memmove(s->window, s->window + 1, KEY_LEN - 1);
            s->window[KEY_LEN - 1] = c;
        }
        if (s->filled == KEY_LEN && memcmp(s->window, KEY, KEY_LEN) == 0) {
            s->in_value = true;
            s->value_len = 0;
        }
    }
}

void invoke_reply_oversize(const struct invoke_app *app, const char *name,
                           const char *invocation_id, size_t bytes, size_t max_bytes,
                           const struct invoke_id_scan *scan, struct invoke_reply *out)
{
    memset(out, 0, sizeof(*out));
    const struct fn_def *def = fn_table_find(app->fns, name);
    if (def == NULL) {
        invoke_reply_host_error(404, "not_found", "no such function", out);
        return;
    }
    char msg[200];
    snprintf(msg, sizeof(msg), "the invocation envelope is %zu bytes; the limit is %zu",
             bytes, max_bytes);
    es_log_warn("function '%s': %s", def->name, msg);
    if (def->kind == FN_HTTP) {
        struct fn_http_response res = {0};
        fn_reply_error(&res, ES_ETOOBIG, "request too large: %s", msg);
        invoke_reply_http(out, def, &res);
        return;
    }
    char why[400];
    snprintf(why, sizeof(why),
             "%s (MAX_TRIGGER_ENVELOPE_BYTES): the batch was not read; its documents "
             "are listed by id",
             msg);
    if (scan != NULL && scan->failed) {
        /* A note with an id missing would hide that event for good: the host retries. */
        invoke_reply_host_error(503, "out_of_memory", "out of memory", out);
        return;
    }
    json_t *ids = scan != NULL ? json_incref(scan->ids) : json_array();
    json_t *note =
        json_pack("{s:s, s:I, s:I, s:o}", "error", why, "envelopeBytes",
                  (json_int_t)bytes, "limit", (json_int_t)max_bytes, "documentIds", ids);
    if (note == NULL) {
        invoke_reply_host_error(503, "out_of_memory", "out of memory", out);
        return;
    }
    /* As on its last attempt: the host would only send the same envelope again. */
    struct fn_retry last = {.present = false};
    invoke_run_trigger(app, def, invocation_id, &last, note, out);
    json_decref(note);
}

/*
 * Publisher - the Cosmos DB trigger on the events container that publishes
 * the to-do lists' integration events: each batch of the change feed in, the
 * CloudEvents of its public events out, as Outputs.integrationEvents (a
 * Service Bus topic under Azure, the INTEGRATION_WEBHOOK_URL under `handler
 * serve`). A subscriber of its own, beside the Projector: its own leases
 * (prefix "publisher-") or checkpoint, so neither waits for the other.
 *
 * What is published is the domain's mapping (domain/todo_integration.c): this
 * file only decodes, orders and hands over. Per batch:
 *   - only kind "event" documents count; receipts and snapshots are ignored;
 *   - a document that does not decode as an event is skipped: the Projector
 *     reads the same change feed and dead-letters it;
 *   - events are put in stream order (stream id, then version) and a
 *     version delivered twice in one batch is published once;
 *   - an event whose public mapping cannot be built (a field missing or out
 *     of syntax, a schema the mapping does not know) is dead-lettered at once
 *     as "{eventId}:publish:dead" - no retry changes stored data - and the
 *     rest of the batch is published;
 *   - out of memory, or a dead letter that cannot be written, fails the
 *     invocation, so the host sends the batch again (the function.json retry
 *     policy) and nothing of it is sent: the host drops the Outputs of a failed
 *     invocation.
 * Delivery is at least once: a batch sent again is published again, with the
 * same CloudEvent ids.
 *
 * Dead-letter document (as the Projector's, docs/read-side.md):
 *   id "{eventId}:publish:dead", streamId, subscriber "Publisher", event (the
 *   document as delivered), error, attempts, failedAt.
 */
#include <stdlib.h>
#include <string.h>

#include "domain/todo_integration.h"
#include "invoke/fn.h"
#include "store/store.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

#define OUTPUT_BINDING "integrationEvents"

struct publish_report {
    unsigned documents, events, skipped, published, dead_lettered;
};

static enum es_status dead_letter(struct fn_ctx *ctx, const struct es_event *e,
                                  const char *why, struct es_error *err)
{
    char id[ES_DOC_ID_MAX], eid[ES_DOC_ID_MAX], now[40];
    if (es_event_id(e->stream_id, e->version, eid, sizeof(eid)) != ES_OK ||
        es_fmt(id, sizeof(id), "%s:publish:dead", eid) != ES_OK)
        return es_error_set(err, ES_EINVAL,
                            "cannot dead-letter an event of stream '%.80s...': the id is "
                            "too long",
                            e->stream_id);
    es_time_rfc3339_ms(es_time_now_ms(), now, sizeof(now));
    json_t *doc = es_event_to_doc(e);
    json_t *dl = doc != NULL
                     ? json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:s}", "id", id,
                                 "streamId", e->stream_id, "subscriber", "Publisher",
                                 "event", doc, "error", why, "attempts",
                                 (json_int_t)ctx->retry.retry_count + 1, "failedAt", now)
                     : NULL;
    if (dl == NULL)
        return ES_ENOMEM;
    struct es_store *s = ctx->svc->store;
    struct es_io io = {0};
    enum es_status st = s->ops->deadletter_put(s, dl, &io, err);
    json_decref(dl);
    if (st == ES_OK)
        es_log_error("dead letter %s (stream '%s'): %s", id, e->stream_id, why);
    return st;
}

/* Decodes the batch's events into out (sorted, duplicates dropped); *n_out set. */
static enum es_status collect(const json_t *docs, struct es_event *out, size_t *n_out,
                              struct publish_report *rep)
{
    size_t i, n = 0;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        if (kind == NULL || strcmp(kind, "event") != 0)
            continue;
        struct es_error bad = {0};
        enum es_status st = es_event_from_doc(doc, &out[n], &bad);
        if (st == ES_ENOMEM) {
            *n_out = n;
            return st;
        }
        if (st != ES_OK) {
            rep->skipped++;
            continue;
        }
        n++;
    }
    qsort(out, n, sizeof(out[0]), es_event_cmp);
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        if (kept > 0 && out[k].version == out[kept - 1].version &&
            strcmp(out[k].stream_id, out[kept - 1].stream_id) == 0) {
            es_event_release(&out[k]);
            continue;
        }
        out[kept++] = out[k];
    }
    *n_out = kept;
    rep->events = (unsigned)kept;
    return ES_OK;
}

/* The CloudEvents of the events, in their order; dead-letters what cannot map. */
static enum es_status publish(struct fn_ctx *ctx, const struct es_event *evs, size_t n,
                              json_t *messages, struct publish_report *rep,
                              struct es_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct es_event *e = &evs[i];
        struct todo_stored_event se = {e->stream_id, e->version, e->type,
                                       e->schema,    e->data,    e->meta};
        json_t *ce = NULL;
        struct es_error why = {0};
        enum es_status st = todo_integration_event(&se, &ce, &why);
        if (st == ES_EFIELD) {
            if ((st = dead_letter(ctx, e, why.message, err)) != ES_OK)
                return st;
            rep->dead_lettered++;
            continue;
        }
        if (st != ES_OK)
            return st;
        if (ce != NULL && json_array_append_new(messages, ce) != 0)
            return ES_ENOMEM;
        rep->published += ce != NULL;
    }
    return ES_OK;
}

static void log_report(struct fn_ctx *ctx, const struct publish_report *r)
{
    json_t *line = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I}", "documents", (json_int_t)r->documents, "events",
        (json_int_t)r->events, "skipped", (json_int_t)r->skipped, "published",
        (json_int_t)r->published, "deadLettered", (json_int_t)r->dead_lettered, "attempt",
        (json_int_t)ctx->retry.retry_count + 1);
    char *text = line != NULL ? es_json_dumps(line, NULL) : NULL;
    json_decref(line);
    fn_log(ctx, "Publisher %s", text != NULL ? text : "{}");
    free(text);
}

static enum es_status publisher(struct fn_ctx *ctx, json_t *payload)
{
    struct publish_report rep = {0};
    struct es_error err = {0};
    if (!json_is_array(payload)) {
        /* The Projector dead-letters an undecodable or oversize batch, with its ids. */
        fn_log(ctx, "Publisher: the trigger payload is not an array of documents; "
                    "nothing is published");
        return ES_OK;
    }
    rep.documents = (unsigned)json_array_size(payload);
    size_t n = 0;
    struct es_event *evs = calloc(json_array_size(payload) + 1, sizeof(*evs));
    json_t *messages = json_array();
    enum es_status st = evs != NULL && messages != NULL ? ES_OK : ES_ENOMEM;
    if (st == ES_OK)
        st = collect(payload, evs, &n, &rep);
    if (st == ES_OK)
        st = publish(ctx, evs, n, messages, &rep, &err);
    if (st == ES_OK) {
        ctx->outputs = json_pack("{s:O}", OUTPUT_BINDING, messages);
        st = ctx->outputs != NULL ? ES_OK : ES_ENOMEM;
    }
    log_report(ctx, &rep);
    if (st != ES_OK)
        fn_log(ctx, "Publisher: %s",
               err.message[0] ? err.message : es_status_message(st));
    for (size_t i = 0; i < n; i++)
        es_event_release(&evs[i]);
    free(evs);
    json_decref(messages);
    return st;
}

const struct fn_def fn_publisher = {
    .name = "Publisher",
    .kind = FN_TRIGGER,
    .trigger_binding = "documents",
    .output_binding = OUTPUT_BINDING,
    .trigger = publisher,
};

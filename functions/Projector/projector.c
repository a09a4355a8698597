/*
 * Projector - the Cosmos DB trigger on the events container: folds each batch
 * of the change feed into the views and runs the reactors (handler/es/
 * projector.c, functions/readside.c). While the function.json retry policy
 * has attempts left, a failure answers the host with a non-2xx so that it
 * sends the batch again; on the last attempt (or with no retry policy) the
 * failing streams' events are dead-lettered and the batch completes.
 */
#include <stdlib.h>

#include "functions/readside.h"
#include "util/jsonutil.h"

static bool is_last_attempt(const struct fn_retry *r)
{
    if (!r->present)
        return true; /* no retry policy: the host will not send the batch again */
    return r->max_retry_count >= 0 && r->retry_count >= r->max_retry_count;
}

static enum es_status projector(struct fn_ctx *ctx, json_t *payload)
{
    struct es_projector_opts opts = readside_opts(ctx->svc);
    struct es_batch_report rep;
    struct es_error err = {0};
    bool last = is_last_attempt(&ctx->retry);
    enum es_status st =
        es_project_batch(&opts, payload, last, ctx->retry.retry_count, &rep, &err);
    /* One structured line per batch: Application Insights keeps it in traces, and
     * docs/operations.md's queries chart it (lagMs: now minus the newest event). */
    json_t *line = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:f, s:I, s:I}",
        "documents", (json_int_t)rep.documents, "events", (json_int_t)rep.events,
        "streams", (json_int_t)rep.streams, "gapEvents", (json_int_t)rep.gap_events,
        "viewsWritten", (json_int_t)rep.views_written, "viewRetries",
        (json_int_t)rep.view_retries, "reactions", (json_int_t)rep.reactions,
        "failedStreams", (json_int_t)rep.failed_streams, "deadLettered",
        (json_int_t)rep.dead_lettered, "attempt", (json_int_t)ctx->retry.retry_count + 1,
        "last", last, "roundTrips", (json_int_t)rep.io.round_trips, "requestCharge",
        rep.io.request_charge, "durationMs", (json_int_t)rep.duration_ms, "lagMs",
        (json_int_t)rep.lag_ms);
    char *text = line != NULL ? es_json_dumps(line, NULL) : NULL;
    json_decref(line);
    fn_log(ctx, "Projector %s", text != NULL ? text : "{}");
    free(text);
    if (st != ES_OK)
        fn_log(ctx, "Projector: %s", err.message);
    return st;
}

const struct fn_def fn_projector = {
    .name = "Projector",
    .kind = FN_TRIGGER,
    .trigger_binding = "documents",
    .trigger = projector,
};

/*
 * Projector - the Cosmos DB trigger on the events container: folds each batch
 * of the change feed into the views and runs the reactors (handler/es/
 * projector.c, functions/readside.c). While the function.json retry policy
 * has attempts left, a failure answers the host with a non-2xx so that it
 * sends the batch again; on the last attempt (or with no retry policy) the
 * failing streams' events are dead-lettered and the batch completes.
 */
#include "functions/readside.h"

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
    fn_log(
        ctx,
        "Projector: %u document(s), %u event(s) in %u stream(s); %u gap event(s) read; "
        "%u "
        "view(s) written (%u re-read after 412); %u reaction(s); %u failed stream(s), %u "
        "dead-lettered; attempt %lld%s; %u store round trip(s), %.2f RU",
        rep.documents, rep.events, rep.streams, rep.gap_events, rep.views_written,
        rep.view_retries, rep.reactions, rep.failed_streams, rep.dead_lettered,
        (long long)ctx->retry.retry_count + 1, last ? " (last)" : "", rep.io.round_trips,
        rep.io.request_charge);
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

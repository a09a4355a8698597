/*
 * GetProjection - GET /api/projection : how far this instance's read side
 * has got, for operators (function-level auth in Azure). The figures are the
 * Projector's in this process since it started (es_projection_stats); under
 * `handler serve` they are the change-feed pump's, which runs the same
 * function. On Azure each instance answers for the leases it holds: a figure
 * for the whole app is the Kusto query of docs/operations.md.
 *
 *   {"batches", "failedBatches", "events", "deadLettered", "eventsPerSecond",
 *    "lastBatchAt", "lastEvent": {"id", "occurredAt"} | null,
 *    "lagMs", "lagP50Ms", "lagP99Ms"}  (the lags null until a batch had events)
 */
#include "es/projector.h"
#include "invoke/fn.h"
#include "util/timeutil.h"

/* A figure, or null when there is none yet (negative). */
static json_t *ms_or_null(int64_t ms)
{
    return ms >= 0 ? json_integer((json_int_t)ms) : json_null();
}

static json_t *time_or_null(int64_t epoch_ms)
{
    char text[40];
    return epoch_ms > 0 ? json_string(es_time_rfc3339_ms(epoch_ms, text, sizeof(text)))
                        : json_null();
}

static void get_projection(struct fn_ctx *ctx, const struct fn_http_request *req,
                           struct fn_http_response *res)
{
    (void)ctx;
    (void)req;
    struct es_projection_stats s;
    es_projection_stats_get(&s);
    json_t *last = s.last_event_id[0] != '\0'
                       ? json_pack("{s:s, s:o}", "id", s.last_event_id, "occurredAt",
                                   time_or_null(s.last_event_ms))
                       : json_null();
    fn_reply_json(res, 200,
                  json_pack("{s:I, s:I, s:I, s:I, s:f, s:o, s:o, s:o, s:o, s:o}",
                            "batches", (json_int_t)s.batches, "failedBatches",
                            (json_int_t)s.failed_batches, "events", (json_int_t)s.events,
                            "deadLettered", (json_int_t)s.dead_lettered,
                            "eventsPerSecond", s.events_per_s, "lastBatchAt",
                            time_or_null(s.last_batch_ms), "lastEvent", last, "lagMs",
                            ms_or_null(s.lag_ms), "lagP50Ms", ms_or_null(s.lag_p50_ms),
                            "lagP99Ms", ms_or_null(s.lag_p99_ms)));
}

const struct fn_def fn_get_projection = {
    .name = "GetProjection",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = get_projection,
};

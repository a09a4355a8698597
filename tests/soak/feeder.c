/*
 * feeder.c - the soak's change-feed thread: reads the rig's change feed of
 * the events container (tests/support/feed) and invokes the Projector with
 * each batch exactly as the Functions host does - the documents JSON-encoded
 * twice, a RetryContext, one batch at a time. A batch the Projector fails is
 * delivered again with the next RetryCount after a backoff, up to the
 * function's policy (5 retries), as the host does; on the last one the
 * Projector dead-letters what still fails. Some batches are delivered twice
 * at once, and now and then a recent batch is delivered again later, as a
 * host that lost its lease would: the views must not change either way.
 *
 * The feed's own reads are not faulted (faults.c scopes its rules to the
 * handler's requests), so the feed delivers everything, and the event ids it
 * carried are kept to compare with the streams at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"
#include "../support/feed.h"
#include "soak.h"

#define REPLAY_RING     8
#define IDLE_READS_DONE 3   /* empty reads in a row that end the drain */
#define READ_ERRORS_MAX 300 /* failed reads in a row (30 s) that end the feed */

struct feeder {
    struct soak *s;
    size_t max_items;    /* the trigger's maxItemsPerInvocation */
    int max_retry_count; /* the function's retry policy */
    struct hostdrv_conn *conn;
    struct feed *feed;
    unsigned rnd;
    json_t *ring[REPLAY_RING]; /* recent batches, for late redelivery */
    size_t ring_at;
};

static unsigned feeder_rand(struct feeder *f, unsigned bound)
{
    f->rnd = f->rnd * 1103515245u + 12345u;
    return bound ? (f->rnd >> 8) % bound : 0;
}

/* The events in a batch; *commands those not from a reaction (no causationId). */
static long count_events(json_t *batch, long *commands)
{
    long n = 0, c = 0;
    size_t i;
    json_t *doc;
    json_array_foreach(batch, i, doc)
    {
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        if (kind == NULL || strcmp(kind, "event") != 0)
            continue;
        n++;
        c +=
            !json_is_string(json_object_get(json_object_get(doc, "meta"), "causationId"));
    }
    if (commands != NULL)
        *commands = c;
    return n;
}

/* Invokes the Projector with batch until it succeeds or the retry policy ends. */
static void deliver(struct feeder *f, json_t *batch)
{
    struct soak_feed_stats *st = &f->s->feed;
    for (int64_t attempt = 0; attempt <= f->max_retry_count; attempt++) {
        struct fn_retry retry = {.present = true,
                                 .retry_count = attempt,
                                 .max_retry_count = f->max_retry_count};
        struct hostdrv_reply r;
        int64_t t0 = es_time_mono_ms();
        int rc = hostdrv_trigger(f->conn, "Projector", "documents", batch, 2, &retry, &r);
        st->invocation_ms += es_time_mono_ms() - t0;
        bool ok = rc == 0 && r.result.ok;
        hostdrv_reply_release(&r);
        st->invocations++;
        if (ok)
            return;
        if (rc != 0)
            st->no_answer++;
        st->failed_invocations++;
        /* The host waits 1 s, 2 s ... up to 1 min; half that here, still far longer
         * than a burst of faults. */
        es_time_sleep_ms(500 << attempt);
    }
}

static void remember(struct feeder *f, json_t *batch)
{
    json_decref(f->ring[f->ring_at]);
    f->ring[f->ring_at] = json_incref(batch);
    f->ring_at = (f->ring_at + 1) % REPLAY_RING;
}

static void note_ids(struct feeder *f, json_t *batch)
{
    size_t i;
    json_t *doc;
    json_array_foreach(batch, i, doc)
    {
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        const char *id = json_string_value(json_object_get(doc, "id"));
        if (kind != NULL && strcmp(kind, "event") == 0 && id != NULL)
            json_object_set_new(f->s->feed.event_ids, id, json_true());
    }
}

static void handle(struct feeder *f, json_t *batch)
{
    struct soak_feed_stats *st = &f->s->feed;
    long from_commands = 0;
    long events = count_events(batch, &from_commands);
    st->batches++;
    st->events_delivered += events;
    note_ids(f, batch);
    deliver(f, batch);
    atomic_fetch_add(&f->s->fed_events, from_commands);
    if (feeder_rand(f, 10) == 0) {
        st->batches_twice++;
        st->events_redelivered += events;
        deliver(f, batch);
    }
    remember(f, batch);
    if (feeder_rand(f, 12) == 0) {
        json_t *old = f->ring[feeder_rand(f, REPLAY_RING)];
        if (old != NULL) {
            st->batches_replayed++;
            st->events_redelivered += count_events(old, NULL);
            deliver(f, old);
        }
    }
}

/*
 * What the host reads from the Projector's function.json: the batch size the
 * trigger asks the feed for (maxItemsPerInvocation; 100 when unset) and the
 * retry policy's maxRetryCount. False when the file cannot be read.
 */
static bool read_function_json(struct feeder *f)
{
    json_t *fj = json_load_file(ES_APP_DIR "/Projector/function.json", 0, NULL);
    json_t *trigger = json_array_get(json_object_get(fj, "bindings"), 0);
    json_t *items = json_object_get(trigger, "maxItemsPerInvocation");
    json_t *retries = json_object_get(json_object_get(fj, "retry"), "maxRetryCount");
    bool ok = fj != NULL && json_is_integer(retries);
    f->max_items = json_is_integer(items) && json_integer_value(items) > 0
                       ? (size_t)json_integer_value(items)
                       : 100;
    f->max_retry_count = ok ? (int)json_integer_value(retries) : 0;
    json_decref(fj);
    return ok;
}

void *soak_feeder_run(void *arg)
{
    struct soak *s = arg;
    struct feeder f = {.s = s, .rnd = s->o.seed * 7u + 3u};
    if (!read_function_json(&f)) {
        fprintf(stderr, "soak: cannot read " ES_APP_DIR "/Projector/function.json\n");
        s->feed.read_errors++;
        atomic_store(&s->stop_load, true);
        return NULL;
    }
    f.conn = hostdrv_conn_new(s->h);
    f.feed = feed_open_cosmos(s->db);
    if (f.conn == NULL || f.feed == NULL) {
        s->feed.read_errors++;
        atomic_store(&s->stop_load, true);
        goto out;
    }
    for (int idle = 0, errors = 0; idle < IDLE_READS_DONE && errors < READ_ERRORS_MAX;) {
        /*
         * The host asks the feed for up to maxItemsPerInvocation documents and hands
         * over what came: full batches while it is behind, smaller ones once it has
         * caught up. One ask in four is for fewer, so batch boundaries also fall at
         * other places.
         */
        size_t ask = feeder_rand(&f, 4) == 0 ? 1 + feeder_rand(&f, (unsigned)f.max_items)
                                             : f.max_items;
        json_t *batch = feed_next(f.feed, ask);
        if (batch == NULL) {
            s->feed.read_errors++;
            errors++;
            es_time_sleep_ms(100);
            continue;
        }
        errors = 0;
        if (json_array_size(batch) > 0) {
            idle = 0;
            handle(&f, batch);
        } else if (atomic_load(&s->drain)) {
            idle++;
            es_time_sleep_ms(50);
        } else {
            es_time_sleep_ms(20);
        }
        json_decref(batch);
    }
out:
    for (size_t i = 0; i < REPLAY_RING; i++)
        json_decref(f.ring[i]);
    feed_close(f.feed);
    hostdrv_conn_free(f.conn);
    return NULL;
}

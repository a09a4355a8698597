/*
 * soak.h - the load-and-soak program (make soak): the handler in host mode on
 * the local Cosmos rig, many clients sending the read-side workload's mixed
 * commands, the change feed delivered to the Projector all along (some
 * batches twice), and faults rotated through the rig's fault rules; then the
 * invariants, and a summary of figures.
 *
 *   soak.c     options, start-up, the run, the summary
 *   clients.c  client threads: commands with correlation ids, idempotency
 *              keys and If-Match, every answer recorded
 *   feeder.c   the change feed to the Projector, as the host delivers it
 *   faults.c   fault rules rotated through the rig
 *   checks.c   the invariants over what the store holds at the end
 *
 * docs/soak.md says what it checks and how to run a long one.
 */
#ifndef ES_SOAK_H
#define ES_SOAK_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The read-side checks report here instead of to Criterion (read_side.h). */
void soak_check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void soak_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define RS_EXPECT(cond, ...) soak_check((cond) ? true : false, __VA_ARGS__)
#define RS_ASSERT(cond, ...) soak_check((cond) ? true : false, __VA_ARGS__)
#define RS_LOG(...)          soak_log(__VA_ARGS__)
#include "../e2e/read_side.h"
#include "../support/hostdrv.h"

#define SOAK_MODELS_MAX 64 /* models (generations of lists) per client */

struct soak_opts {
    int seconds;        /* SOAK_SECONDS: how long the load runs (180) */
    long max_commands;  /* SOAK_MAX_COMMANDS: and at most this many commands (200000) */
    int clients;        /* SOAK_CLIENTS: client threads, one connection each (16) */
    unsigned seed;      /* SOAK_SEED: seeds the models (1) */
    bool rss_check;     /* SOAK_RSS_CHECK: off by default in sanitizer builds */
    int cache_streams;  /* STATE_CACHE_STREAMS given to the handler (256) */
    int snapshot_every; /* SNAPSHOT_EVERY given to the handler (25) */
    long max_lag;       /* SOAK_MAX_LAG: acknowledged events the feed may trail (1000) */
    int outage_every;   /* SOAK_OUTAGE_EVERY: one fault rotation in this many (12) */
    int replica_lag_ms; /* SOAK_REPLICA_LAG_MS: the rig's replicas lag this much (0) */
    int handlers;       /* SOAK_HANDLERS: handler processes on one store (1) */
};

#define SOAK_HANDLERS_MAX 4

/* One command as sent and as finally answered. */
struct soak_cmd {
    char corr[24];     /* X-Correlation-Id: unique, "c<client>-<seq>" */
    char list[32];     /* the list it addressed */
    int status;        /* final client status; 0 when nothing came back */
    unsigned attempts; /* sends: a keyed command is sent again after a 503 */
    bool keyed;        /* it carried an Idempotency-Key */
    bool said_maybe;   /* a send was answered 503 saying it may have been applied */
    bool wrong_404;    /* answered "the list does not exist" after its create was acked */
    json_t *events;    /* when acknowledged: the answer's "events" (owned) */
};

struct soak_client {
    int index;
    struct soak *s;
    struct hostdrv_conn *conn;                     /* to conns[0], for reads */
    struct hostdrv_conn *conns[SOAK_HANDLERS_MAX]; /* one per handler: sends take turns */
    struct rs_model *models[SOAK_MODELS_MAX];
    int n_models;
    unsigned rnd;          /* the client's own choices (keys, If-Match) */
    long step;             /* commands of the workload so far */
    long seq;              /* correlation sequence */
    json_t *versions;      /* list id -> last acknowledged version */
    json_t *created;       /* list ids whose create was acknowledged */
    struct soak_cmd *cmds; /* every command, in order */
    size_t n_cmds, cap_cmds;
    uint32_t *lat_us; /* every send's latency */
    size_t n_lat, cap_lat;
    long by_status[600]; /* final statuses; [0] no answer */
    long sends, retried, keyed, if_match;
    long waited_ms; /* held back while the read side was SOAK_MAX_LAG behind */
};

struct soak_feed_stats {
    long batches, invocations, failed_invocations, no_answer;
    long events_delivered, events_redelivered, batches_twice, batches_replayed;
    long read_errors;
    long invocation_ms; /* time spent in Projector invocations */
    json_t *event_ids;  /* every event id the feed carried (a set) */
};

struct soak_rss {
    long start_kb, warm_kb, peak_kb, end_kb;
    long samples;
    double warm_at_s;
    struct soak_rss_point {
        float at_s;
        long kb;
    } * series; /* every sample, for the summary's series */
    size_t n_series, cap_series;
};

struct soak {
    struct soak_opts o;
    struct hostdrv *h; /* handler 0: the feed, the checks, the memory figure */
    struct hostdrv *hs[SOAK_HANDLERS_MAX]; /* all of them; clients take turns */
    char db[64];
    int64_t started_ms;
    atomic_bool stop_load;   /* clients stop */
    atomic_bool stop_faults; /* the fault thread stops */
    atomic_bool drain;       /* the feeder empties the feed, then stops */
    atomic_bool stop_sampler;
    atomic_bool handler_died;
    atomic_long commands;               /* commands started, against max_commands */
    atomic_long acked_events;           /* events the clients' acknowledgements list */
    atomic_long fed_events;             /* events of commands (not reactions) fed once */
    long lag_max, lag_sum, lag_samples; /* acked_events - fed_events, sampled */
    struct soak_client *clients;
    struct soak_feed_stats feed;
    long fault_rotations, outages;
    pthread_mutex_t rss_lock;
    struct soak_rss rss;
};

/* clients.c */
void *soak_client_run(void *arg);
/* rs_api.call for the checks' reads; ctx is a hostdrv_conn. The status, *json the body.
 */
int soak_get(void *ctx, const char *method, const char *path, const char *body,
             json_t **json);
void soak_client_release(struct soak_client *c);

/* feeder.c: delivers the feed until s->drain is set and the feed stays empty. */
void *soak_feeder_run(void *arg);

/* faults.c: rotates rule sets until s->stop_faults, then clears the rules. */
void *soak_faults_run(void *arg);

/* checks.c: every invariant; returns the number of failures found. */
struct soak_results {
    long lists, events, acked, acked_events, refused, unanswered;
    long landed_without_ack; /* 503 or no answer, yet its events are there */
    long said_maybe;         /* 503s that said the command may have been applied */
    long moves, dead_letters, feed_event_ids;
    long failures_streams, failures_acks, failures_read_side, failures_feed;
};
void soak_check_all(struct soak *s, struct soak_results *out);

/* Failures noted by soak_check so far. */
long soak_failures(void);

#endif

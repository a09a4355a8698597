/*
 * soak.c - load and soak, loopback only, bounded in time and in commands
 * (soak.h lists the parts; docs/soak.md says what is checked and why).
 *
 * The run: start the local Cosmos rig and the handler in host mode on it;
 * start the memory sampler, the feeder, the fault thread and the clients;
 * after SOAK_SECONDS (or SOAK_MAX_COMMANDS) stop the clients, clear the fault
 * rules, drain the feed; check every invariant; stop the handler with
 * SIGTERM; print the figures. Exit status 0 only when every check held.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "../support/cosmosrig.h"
#include "soak.h"

#define FAILURES_SHOWN 60
#define RSS_EVERY_MS   2000
#define PROGRESS_EVERY 15 /* seconds */

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED true
#else
#define SANITIZED false
#endif

static atomic_long failures;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

void soak_check(bool ok, const char *fmt, ...)
{
    if (ok)
        return;
    long n = atomic_fetch_add(&failures, 1) + 1;
    if (n > FAILURES_SHOWN)
        return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&print_lock);
    printf("FAIL: ");
    vprintf(fmt, ap);
    printf(n == FAILURES_SHOWN ? "\n(further failures are counted, not shown)\n" : "\n");
    fflush(stdout);
    pthread_mutex_unlock(&print_lock);
    va_end(ap);
}

void soak_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&print_lock);
    printf("soak: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    pthread_mutex_unlock(&print_lock);
    va_end(ap);
}

long soak_failures(void)
{
    return atomic_load(&failures);
}

static long env_long(const char *name, long fallback, long lo, long hi)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return fallback;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "soak: %s must be an integer in %ld..%ld\n", name, lo, hi);
        exit(2);
    }
    return n;
}

static void load_opts(struct soak_opts *o)
{
    o->seconds = (int)env_long("SOAK_SECONDS", 180, 1, 7 * 24 * 3600);
    o->max_commands = env_long("SOAK_MAX_COMMANDS", 200000, 1, 100000000);
    o->clients = (int)env_long("SOAK_CLIENTS", 16, 1, 256);
    o->seed = (unsigned)env_long("SOAK_SEED", 1, 0, 1000000000);
    o->rss_check = env_long("SOAK_RSS_CHECK", SANITIZED ? 0 : 1, 0, 1) != 0;
    o->cache_streams = (int)env_long("SOAK_CACHE_STREAMS", 256, 1, 1000000);
    o->snapshot_every = (int)env_long("SOAK_SNAPSHOT_EVERY", 25, 0, 1000000);
    o->max_lag = env_long("SOAK_MAX_LAG", 5000, 1, 100000000);
    o->outage_every = (int)env_long("SOAK_OUTAGE_EVERY", 12, 1, 1000000);
    o->replica_lag_ms = (int)env_long("SOAK_REPLICA_LAG_MS", 0, 0, 60000);
    o->handlers = (int)env_long("SOAK_HANDLERS", 1, 1, SOAK_HANDLERS_MAX);
}

static double mib(long kb)
{
    return (double)kb / 1024.0;
}

static double elapsed_s(const struct soak *s)
{
    return (double)(es_time_mono_ms() - s->started_ms) / 1000.0;
}

/* VmRSS of pid in KiB; -1 when the process is gone or a zombie (it died). */
static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    bool zombie = false;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "State:", 6) == 0)
            zombie = strchr(line, 'Z') != NULL;
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    }
    if (f != NULL)
        fclose(f);
    return zombie ? -1 : kb;
}

static void rss_sample(struct soak *s, bool final)
{
    for (int i = 1; i < s->o.handlers; i++)
        if (rss_kb(hostdrv_pid(s->hs[i])) < 0)
            atomic_store(&s->handler_died, true);
    long kb = rss_kb(hostdrv_pid(s->h));
    if (kb < 0) {
        atomic_store(&s->handler_died, true);
        return;
    }
    double warm_up = s->o.seconds / 6.0 < 5.0 ? 5.0 : s->o.seconds / 6.0;
    pthread_mutex_lock(&s->rss_lock);
    struct soak_rss *r = &s->rss;
    r->samples++;
    r->peak_kb = kb > r->peak_kb ? kb : r->peak_kb;
    if (r->n_series == r->cap_series) {
        size_t cap = r->cap_series ? r->cap_series * 2 : 256;
        struct soak_rss_point *p = realloc(r->series, cap * sizeof(*p));
        if (p != NULL) {
            r->series = p;
            r->cap_series = cap;
        }
    }
    if (r->n_series < r->cap_series)
        r->series[r->n_series++] = (struct soak_rss_point){(float)elapsed_s(s), kb};
    if (r->warm_kb == 0 && elapsed_s(s) >= warm_up) {
        r->warm_kb = kb;
        r->warm_at_s = elapsed_s(s);
    }
    if (final)
        r->end_kb = kb;
    pthread_mutex_unlock(&s->rss_lock);
    if (!final && !atomic_load(&s->stop_load)) {
        long lag = atomic_load(&s->acked_events) - atomic_load(&s->fed_events);
        s->lag_max = lag > s->lag_max ? lag : s->lag_max;
        s->lag_sum += lag;
        s->lag_samples++;
    }
}

static void *sampler_run(void *arg)
{
    struct soak *s = arg;
    while (!atomic_load(&s->stop_sampler)) {
        rss_sample(s, false);
        for (int i = 0; i < RSS_EVERY_MS / 50 && !atomic_load(&s->stop_sampler); i++)
            es_time_sleep_ms(50);
    }
    return NULL;
}

/* The clients' counters added up. */
struct totals {
    long commands, sends, retried, keyed, if_match, waited_ms, acked;
    long by_status[600];
};

static void add_up(const struct soak *s, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int c = 0; c < s->o.clients; c++) {
        const struct soak_client *cl = &s->clients[c];
        t->commands += (long)cl->n_cmds;
        t->sends += cl->sends;
        t->retried += cl->retried;
        t->keyed += cl->keyed;
        t->if_match += cl->if_match;
        t->waited_ms += cl->waited_ms;
        for (int st = 0; st < 600; st++)
            t->by_status[st] += cl->by_status[st];
    }
    for (int st = 200; st < 300; st++)
        t->acked += t->by_status[st];
}

/* Runs the load until the time or the command budget is spent. */
static void run_load(struct soak *s, pthread_t *clients)
{
    int next_report = PROGRESS_EVERY;
    while (elapsed_s(s) < s->o.seconds && !atomic_load(&s->handler_died) &&
           !atomic_load(&s->stop_load) && atomic_load(&s->commands) < s->o.max_commands) {
        es_time_sleep_ms(100);
        if (elapsed_s(s) >= next_report) {
            next_report += PROGRESS_EVERY;
            soak_log(
                "%4.0f s: %ld commands, %ld events acknowledged, %ld fed; rss %.1f MiB",
                elapsed_s(s), atomic_load(&s->commands), atomic_load(&s->acked_events),
                atomic_load(&s->fed_events), mib(s->rss.peak_kb));
        }
    }
    atomic_store(&s->stop_load, true);
    for (int c = 0; c < s->o.clients; c++)
        pthread_join(clients[c], NULL);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void latency(const struct soak *s, double *p50, double *p99, double *max)
{
    size_t n = 0;
    for (int c = 0; c < s->o.clients; c++)
        n += s->clients[c].n_lat;
    uint32_t *all = calloc(n + 1, sizeof(*all));
    *p50 = *p99 = *max = 0;
    if (all == NULL || n == 0) {
        free(all);
        return;
    }
    size_t k = 0;
    for (int c = 0; c < s->o.clients; c++)
        for (size_t i = 0; i < s->clients[c].n_lat; i++)
            all[k++] = s->clients[c].lat_us[i];
    qsort(all, n, sizeof(*all), cmp_u32);
    *p50 = all[n / 2] / 1000.0;
    *p99 = all[n * 99 / 100] / 1000.0;
    *max = all[n - 1] / 1000.0;
    free(all);
}

static void print_counts(const char *label, json_t *obj)
{
    printf("  %-22s", label);
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach(obj, k, v)
    {
        printf("%s%s: %lld", first ? "" : ", ", k, (long long)json_integer_value(v));
        first = false;
    }
    printf("%s\n", first ? "none" : "");
}

struct ending {
    double load_s, drain_s, check_s;
    int exit_status;
    bool sanitizer_report;
    long stderr_lines;
    json_t *rig_stats;
    json_t *projection; /* handler 0's GET /api/projection after the drain */
    struct soak_results res;
};

static const char *verdict(long failed)
{
    return failed == 0 ? "ok" : "FAILED";
}

static bool rss_ok(const struct soak *s)
{
    const struct soak_rss *r = &s->rss;
    return !s->o.rss_check ||
           (r->warm_kb > 0 &&
            (double)r->end_kb <= (double)r->warm_kb * 1.25 + 8 * 1024.0);
}

static void print_traffic(const struct soak *s, const struct ending *e,
                          const struct totals *t)
{
    double p50, p99, max;
    latency(s, &p50, &p99, &max);
    printf("  %-22s%.1f s of load, then %.1f s to drain the feed and %.1f s of checks\n",
           "duration", e->load_s, e->drain_s, e->check_s);
    printf("  %-22s%d, each on its own keep-alive connection; seed %u\n", "clients",
           s->o.clients, s->o.seed);
    printf("  %-22s%ld sent (%ld sends: %ld keyed retries after 503), %ld acknowledged\n",
           "commands", t->commands, t->sends, t->retried, t->acked);
    printf("  %-22s", "by final status");
    for (int st = 0; st < 600; st++) {
        if (t->by_status[st] > 0 && st == 0)
            printf("no answer: %ld  ", t->by_status[st]);
        else if (t->by_status[st] > 0)
            printf("%d: %ld  ", st, t->by_status[st]);
    }
    printf("\n");
    printf("  %-22s%ld with Idempotency-Key, %ld with If-Match\n", "headers", t->keyed,
           t->if_match);
    printf("  %-22s%.1f commands/s\n", "throughput",
           e->load_s > 0 ? (double)t->commands / e->load_s : 0);
    printf("  %-22sp50 %.1f ms, p99 %.1f ms, max %.1f ms (per send)\n", "latency", p50,
           p99, max);
}

static void print_summary(const struct soak *s, const struct ending *e)
{
    struct totals t;
    add_up(s, &t);
    const struct soak_results *r = &e->res;
    const struct soak_feed_stats *f = &s->feed;
    const struct soak_rss *m = &s->rss;
    printf("\nsoak: summary\n");
    print_traffic(s, e, &t);
    json_t *stats = e->rig_stats;
    printf("  %-22s%lld in %ld rotations of the rules, %ld of them outages\n",
           "faults fired",
           (long long)json_integer_value(json_object_get(stats, "faultsFired")),
           s->fault_rotations, s->outages);
    print_counts("faults by kind", json_object_get(stats, "faultsByKind"));
    printf("  %-22s%lld answered, %lld dropped\n", "rig requests",
           (long long)json_integer_value(json_object_get(stats, "requests")),
           (long long)json_integer_value(json_object_get(stats, "dropped")));
    print_counts("rig requests by kind", json_object_get(stats, "byKind"));
    printf("  %-22s%ld batches in %ld invocations, %ld failed and retried; "
           "%.1f ms per invocation\n",
           "projector", f->batches, f->invocations, f->failed_invocations,
           f->invocations ? (double)f->invocation_ms / (double)f->invocations : 0.0);
    printf("  %-22s%ld delivered, %ld redelivered (%ld batches twice at once, "
           "%ld replayed later)\n",
           "events to projector", f->events_delivered, f->events_redelivered,
           f->batches_twice, f->batches_replayed);
    long waited = t.waited_ms;
    json_t *pj = e->projection;
    printf("  %-22sp50 %lld ms, p99 %lld ms from an event to its batch's end (handler 0, "
           "last 1,000 batches; GET /api/projection)\n",
           "projection lag",
           (long long)json_integer_value(json_object_get(pj, "lagP50Ms")),
           (long long)json_integer_value(json_object_get(pj, "lagP99Ms")));
    printf("  %-22smean %ld, max %ld events behind the acknowledgements; clients held "
           "back %.0f%% of the time (SOAK_MAX_LAG %ld)\n",
           "feed lag", s->lag_samples ? s->lag_sum / s->lag_samples : 0, s->lag_max,
           e->load_s > 0 ? 100.0 * (double)waited / 1000.0 / e->load_s / s->o.clients : 0,
           s->o.max_lag);
    printf("  %-22sstart %.1f MiB, after warm-up (%.0f s) %.1f MiB, peak %.1f MiB, "
           "end %.1f MiB (%ld samples); limit %.1f MiB: %s\n",
           "memory (VmRSS)", mib(m->start_kb), m->warm_at_s, mib(m->warm_kb),
           mib(m->peak_kb), mib(m->end_kb), m->samples, mib(m->warm_kb) * 1.25 + 8.0,
           !s->o.rss_check ? "not checked (sanitizer build or SOAK_RSS_CHECK=0)"
           : rss_ok(s)     ? "ok"
                           : "FAILED");
    printf("  %-22s", "memory series (MiB)");
    for (int i = 0; i <= 10 && m->n_series > 0; i++) {
        const struct soak_rss_point *p = &m->series[(m->n_series - 1) * (size_t)i / 10];
        printf("%s%.0fs %.1f", i ? ", " : "", (double)p->at_s, mib(p->kb));
    }
    printf("\n");
    printf("  invariants\n");
    printf("    %-52s%s (%ld lists, %ld events)\n",
           "streams gap-free, every event from a command", verdict(r->failures_streams),
           r->lists, r->events);
    printf("    %-52s%s (%ld acks, %ld events; %ld refused; %ld unanswered, "
           "of which %ld landed; %ld were told they may have)\n",
           "acknowledged events stored exactly once", verdict(r->failures_acks), r->acked,
           r->acked_events, r->refused, r->unanswered, r->landed_without_ack,
           r->said_maybe);
    printf("    %-52s%s (%ld moves)\n", "views = folds, index, moves once, no item twice",
           verdict(r->failures_read_side), r->moves);
    printf("    %-52s%s (%ld event ids)\n", "the change feed carried every event",
           verdict(r->failures_feed), r->feed_event_ids);
    printf("    %-52s%s (%ld)\n", "no dead letters", verdict(r->dead_letters),
           r->dead_letters);
    printf("    %-52s%s (exit %d on SIGTERM, %s, %ld stderr lines)\n",
           "handler alive throughout, clean exit",
           atomic_load(&s->handler_died) || e->exit_status != 0 || e->sanitizer_report ||
                   f->no_answer > 0 || t.by_status[0] > 0
               ? "FAILED"
               : "ok",
           e->exit_status,
           e->sanitizer_report ? "a sanitizer report" : "no sanitizer report",
           e->stderr_lines);
}

/*
 * The run must end: a handler that stops answering would hold every client
 * and the feeder in 60-second timeouts. Past the load, the drain and the
 * checks' generous allowance, the watchdog stops the handler and the rig by
 * their pids and exits.
 */
static void *watchdog_run(void *arg)
{
    struct soak *s = arg;
    int64_t deadline = es_time_mono_ms() + (int64_t)s->o.seconds * 1000 + 20 * 60 * 1000;
    while (es_time_mono_ms() < deadline)
        es_time_sleep_ms(1000);
    fprintf(stderr, "soak: watchdog: the run did not end 20 minutes after the load; "
                    "stopping the handler and the rig\n");
    for (int i = 0; i < s->o.handlers; i++)
        kill(hostdrv_pid(s->hs[i]), SIGKILL);
    const char *rig = getenv("COSMOS_RIG_PID");
    if (rig != NULL)
        kill((pid_t)strtol(rig, NULL, 10), SIGKILL);
    _exit(3);
}

/* Starts the rig and the handler on a fresh database; false with a message. */
static bool start(struct soak *s)
{
    if (!cosmosrig_available()) {
        fprintf(stderr, "soak: the Cosmos rig is not installed: run 'make rig' first\n");
        return false;
    }
    /* The rig's replicas lag (and the test feed waits the lag out before "empty"). */
    char lag[32];
    snprintf(lag, sizeof(lag), "%d", s->o.replica_lag_ms);
    setenv("ES_TEST_COSMOS_LAG_MS", lag, 1);
    if (cosmosrig_start_shared() < 0)
        return false;
    snprintf(s->db, sizeof(s->db), "soak-%d", (int)getpid());
    if (cosmosrig_init_db(s->db) != 0)
        return false;
    struct cosmosrig_env ce;
    cosmosrig_env_for(s->db, &ce);
    char cache[64], snap[64];
    snprintf(cache, sizeof(cache), "STATE_CACHE_STREAMS=%d", s->o.cache_streams);
    snprintf(snap, sizeof(snap), "SNAPSHOT_EVERY=%d", s->o.snapshot_every);
    const char *env[COSMOSRIG_ENV_MAX + 3];
    size_t k = 0;
    for (const char *const *e = ce.list; *e != NULL; e++)
        env[k++] = *e;
    env[k++] = cache;
    env[k++] = snap;
    env[k] = NULL;
    struct hostdrv_opts ho = {.app_dir = ES_APP_DIR, .env = env};
    for (int i = 0; i < s->o.handlers; i++)
        if (hostdrv_start(&ho, &s->hs[i]) != 0) {
            fprintf(stderr, "soak: handler %d did not start\n", i);
            return false;
        }
    s->h = s->hs[0];
    s->rss.start_kb = rss_kb(hostdrv_pid(s->h));
    return true;
}

/* Stops the handlers (SIGTERM) and reads what they left on stderr. */
static void stop_handler(struct soak *s, struct ending *e)
{
    for (int i = 0; i < s->o.handlers; i++) {
        int status = hostdrv_stop(s->hs[i], SIGTERM, 30000);
        if (status != 0)
            e->exit_status = status;
        char *err = hostdrv_read_output(s->hs[i], true);
        e->sanitizer_report = e->sanitizer_report ||
                              (err != NULL && (strstr(err, "Sanitizer") != NULL ||
                                               strstr(err, "runtime error") != NULL));
        for (const char *p = err; p != NULL && *p != '\0'; p++)
            e->stderr_lines += *p == '\n';
        free(err);
    }
    soak_check(!atomic_load(&s->handler_died), "the handler died during the run");
    soak_check(e->exit_status == 0, "the handler exited %d on SIGTERM", e->exit_status);
    soak_check(!e->sanitizer_report, "the handler's stderr has a sanitizer report");
    soak_check(s->feed.no_answer == 0, "the Projector did not answer %ld time(s)",
               s->feed.no_answer);
    soak_check(s->feed.read_errors == 0, "the change feed could not be read %ld time(s)",
               s->feed.read_errors);
    long no_answer = 0;
    for (int c = 0; c < s->o.clients; c++)
        no_answer += s->clients[c].by_status[0];
    soak_check(no_answer == 0, "%ld command(s) got no answer from the handler",
               no_answer);
}

int main(void)
{
    static struct soak s;
    struct ending e = {0};
    pthread_t watchdog, sampler, feeder, faulter, *threads = NULL;
    load_opts(&s.o);
    setvbuf(stdout, NULL, _IOLBF, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_mutex_init(&s.rss_lock, NULL);
    printf(
        "soak: %d s or %ld commands, %d clients, seed %u, max lag %ld, an outage every "
        "%d fault rotations; %d handler(s) with STATE_CACHE_STREAMS=%d "
        "SNAPSHOT_EVERY=%d; "
        "replicas %d ms behind%s\n",
        s.o.seconds, s.o.max_commands, s.o.clients, s.o.seed, s.o.max_lag,
        s.o.outage_every, s.o.handlers, s.o.cache_streams, s.o.snapshot_every,
        s.o.replica_lag_ms, SANITIZED ? " (sanitizer build)" : "");
    s.feed.event_ids = json_object();
    s.clients = calloc((size_t)s.o.clients, sizeof(*s.clients));
    threads = calloc((size_t)s.o.clients, sizeof(*threads));
    if (s.clients == NULL || threads == NULL || !start(&s)) {
        cosmosrig_stop_shared();
        return 1;
    }
    s.started_ms = es_time_mono_ms();
    pthread_create(&watchdog, NULL, watchdog_run, &s);
    pthread_detach(watchdog);
    pthread_create(&sampler, NULL, sampler_run, &s);
    pthread_create(&feeder, NULL, soak_feeder_run, &s);
    pthread_create(&faulter, NULL, soak_faults_run, &s);
    for (int c = 0; c < s.o.clients; c++) {
        s.clients[c].index = c;
        s.clients[c].s = &s;
        pthread_create(&threads[c], NULL, soak_client_run, &s.clients[c]);
    }
    run_load(&s, threads);
    e.load_s = elapsed_s(&s);
    soak_log("load stopped after %.1f s; clearing the faults, draining the feed",
             e.load_s);
    atomic_store(&s.stop_faults, true);
    pthread_join(faulter, NULL);
    atomic_store(&s.drain, true);
    pthread_join(feeder, NULL);
    atomic_store(&s.stop_sampler, true);
    pthread_join(sampler, NULL);
    rss_sample(&s, true);
    struct hostdrv_conn *pc = hostdrv_conn_new(s.h);
    if (pc == NULL || soak_get(pc, "GET", "/api/projection", NULL, &e.projection) != 200)
        soak_check(false, "GET /api/projection did not answer 200");
    hostdrv_conn_free(pc);
    /* The checks read through handler 0 what the others wrote: replicas first catch up.
     */
    if (s.o.handlers > 1 && s.o.replica_lag_ms > 0)
        es_time_sleep_ms(s.o.replica_lag_ms + 100);
    e.drain_s = elapsed_s(&s) - e.load_s;
    soak_log("checking the invariants");
    soak_check_all(&s, &e.res);
    e.check_s = elapsed_s(&s) - e.load_s - e.drain_s;
    soak_check(rss_ok(&s), "the handler's memory grew from %.1f MiB to %.1f MiB",
               mib(s.rss.warm_kb), mib(s.rss.end_kb));
    stop_handler(&s, &e);
    e.rig_stats = cosmosrig_stats();
    print_summary(&s, &e);
    long failed = soak_failures();
    printf("soak: %s (%ld failure%s)\n", failed == 0 ? "PASS" : "FAIL", failed,
           failed == 1 ? "" : "s");
    json_decref(e.rig_stats);
    json_decref(e.projection);
    for (int i = 0; i < s.o.handlers; i++)
        hostdrv_free(s.hs[i]);
    cosmosrig_stop_shared();
    for (int c = 0; c < s.o.clients; c++)
        soak_client_release(&s.clients[c]);
    free(s.clients);
    free(threads);
    json_decref(s.feed.event_ids);
    free(s.rss.series);
    pthread_mutex_destroy(&s.rss_lock);
    curl_global_cleanup();
    return failed == 0 ? 0 : 1;
}

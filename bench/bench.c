/*
 * bench.c - the measurements behind `make bench`, each printed as one JSON
 * line {"metric", "value", "unit"} for bench/run.sh to tabulate:
 *   startup             exec to the first answered GET / (median of 20), and
 *                       resident memory idle and under a command load
 *   commands STORE      command mix through the host protocol from 8 clients:
 *                       throughput and p50/p99 latency
 *   roundtrips STORE    store round trips and request charge of one command,
 *                       cold (new process) and warm, and the median time of a
 *                       few more warm commands, at stream lengths 10, 1,000
 *                       and 10,000; and (ours) the cold command on 10,000
 *                       events with no snapshot
 *   projector           events per second folded into views, and view writes
 *                       per batch against the views a batch touches
 *   projector_rig       the Projector on the rig with 5 ms per request
 *   rebuild_rig         `handler rebuild` on the rig with 5 ms per request, one
 *                       request at a time and at the default parallelism
 * STORE is sqlite or cosmos (our handler on that store), or baseline: the
 * original sample's algorithm as a Node.js handler on the official SDK
 * (bench/baseline), on the same Cosmos rig. Everything runs on loopback; cosmos
 * and baseline use the local rig (tests/support), whose /__rig/stats counts the
 * baseline's round trips and request charge (the SDK's requests are not ours to
 * count), and cross-checks the figures our handler logs.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "../tests/support/cosmosrig.h"
#include "../tests/support/feed.h"
#include "../tests/support/hostdrv.h"

#define BASELINE_DIR ES_SOURCE_DIR "/bench/baseline"

enum store { STORE_SQLITE, STORE_COSMOS, STORE_BASELINE };
static enum store store_kind;
static char work_dir[] = "/tmp/es-bench-XXXXXX"; /* SQLite files; removed at exit */

static void metric(const char *name, double value, const char *unit)
{
    printf("{\"metric\":\"%s\",\"value\":%.3f,\"unit\":\"%s\"}\n", name, value, unit);
    fflush(stdout);
}

static void die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

/*
 * A handler on the store under test; `name` names its store (shared across
 * restarts). `baseline` starts the Node baseline instead of our handler, on the
 * same database; `extra` is one more "NAME=value" setting, or NULL.
 */
static struct hostdrv *start_app(const char *name, bool baseline,
                                 const char *const *extra)
{
    static char env1[sizeof(((struct cosmosrig_env *)0)->conn)],
        env2[sizeof(((struct cosmosrig_env *)0)->db)];
    const char *env[8] = {NULL};
    if (store_kind != STORE_SQLITE) {
        char db[128];
        snprintf(db, sizeof(db), "bench-%s-%d", name, (int)getpid());
        if (cosmosrig_init_db(db) != 0)
            die("cannot create the Cosmos database");
        struct cosmosrig_env ce;
        cosmosrig_env_for(db, &ce);
        snprintf(env1, sizeof(env1), "%s", ce.conn);
        snprintf(env2, sizeof(env2), "%s", ce.db);
    } else {
        snprintf(env1, sizeof(env1), "EVENT_STORE_PATH=%s/%s.db", work_dir, name);
        env2[0] = '\0';
    }
    size_t n = 0;
    env[n++] = env1;
    if (env2[0])
        env[n++] = env2;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 7; i++)
        env[n++] = extra[i];
    struct hostdrv_opts o = {.app_dir = baseline ? BASELINE_DIR : ES_APP_DIR, .env = env};
    struct hostdrv *d = NULL;
    if (hostdrv_start(&o, &d) != 0)
        die("the handler did not start");
    return d;
}

static struct hostdrv *start(const char *name)
{
    return start_app(name, store_kind == STORE_BASELINE, NULL);
}

static void stop(struct hostdrv *d)
{
    hostdrv_stop(d, SIGTERM, 10000);
    hostdrv_free(d);
}

static int call(struct hostdrv_conn *c, const char *method, const char *path,
                const char *body, json_t **json)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    struct hostdrv_reply r;
    if (hostdrv_call(c, method, path, body ? h : NULL, body, &r) != 0)
        return 0;
    int st = r.result.http_status;
    if (json != NULL)
        *json = json_incref(r.client_json);
    hostdrv_reply_release(&r);
    return st;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kb;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- commands ---- */

struct client {
    struct hostdrv *d;
    int index, n;
    int64_t *lat_us;
    int ok;
};

static void *client_run(void *arg)
{
    struct client *cl = arg;
    struct hostdrv_conn *c = hostdrv_conn_new(cl->d);
    char list[32], path[128], body[128];
    snprintf(list, sizeof(list), "b%d", cl->index);
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"bench\"}", list);
    call(c, "POST", "/api/todolists", body, NULL);
    char item[64] = "";
    for (int i = 0; i < cl->n; i++) {
        struct timespec ts0, ts1;
        clock_gettime(CLOCK_MONOTONIC, &ts0);
        int st;
        if (i % 4 != 3 || item[0] == '\0') {
            snprintf(path, sizeof(path), "/api/todolists/%s/items", list);
            snprintf(body, sizeof(body), "{\"task\":\"task %d\"}", i);
            json_t *j = NULL;
            st = call(c, "POST", path, body, &j);
            const char *id = json_string_value(json_object_get(j, "itemId"));
            if (id != NULL)
                snprintf(item, sizeof(item), "%s", id);
            json_decref(j);
        } else {
            snprintf(path, sizeof(path), "/api/todolists/%s/items/%s", list, item);
            st = call(c, "PATCH", path,
                      i % 8 == 3 ? "{\"status\":\"Done\"}" : "{\"status\":\"To Do\"}",
                      NULL);
        }
        clock_gettime(CLOCK_MONOTONIC, &ts1);
        cl->lat_us[i] =
            (ts1.tv_sec - ts0.tv_sec) * 1000000 + (ts1.tv_nsec - ts0.tv_nsec) / 1000;
        cl->ok += st == 201 || st == 200;
    }
    hostdrv_conn_free(c);
    return NULL;
}

static void bench_commands(const char *store)
{
    enum { CLIENTS = 8, EACH = 250 };
    struct hostdrv *d = start("commands");
    struct client cl[CLIENTS];
    pthread_t t[CLIENTS];
    static int64_t lat[CLIENTS * EACH];
    int64_t t0 = es_time_mono_ms();
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (struct client){.d = d, .index = i, .n = EACH, .lat_us = lat + i * EACH};
        pthread_create(&t[i], NULL, client_run, &cl[i]);
    }
    int ok = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(t[i], NULL);
        ok += cl[i].ok;
    }
    double secs = (double)(es_time_mono_ms() - t0) / 1000.0;
    qsort(lat, CLIENTS * EACH, sizeof(lat[0]), cmp_i64);
    char name[96];
    snprintf(name, sizeof(name), "commands_%s_per_s", store);
    metric(name, (double)ok / secs, "commands/s");
    snprintf(name, sizeof(name), "commands_%s_p50", store);
    metric(name, (double)lat[CLIENTS * EACH / 2] / 1000.0, "ms");
    snprintf(name, sizeof(name), "commands_%s_p99", store);
    metric(name, (double)lat[CLIENTS * EACH * 99 / 100] / 1000.0, "ms");
    snprintf(name, sizeof(name), "commands_%s_succeeded", store);
    metric(name, ok, "of 2000");
    stop(d);
}

/* ---- round trips ---- */

/* Gives list `id` `events` events (a create, items, then mass status updates). */
static void make_list(struct hostdrv_conn *c, const char *id, int events)
{
    char body[4096], path[128];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"n\"}", id);
    call(c, "POST", "/api/todolists", body, NULL);
    int items = events - 1 < 50 ? events - 1 : 50;
    static char ids[50][40];
    snprintf(path, sizeof(path), "/api/todolists/%s/items", id);
    for (int i = 0; i < items; i++) {
        snprintf(body, sizeof(body), "{\"task\":\"t%d\"}", i);
        json_t *j = NULL;
        call(c, "POST", path, body, &j);
        snprintf(ids[i], sizeof(ids[i]), "%s",
                 json_string_value(json_object_get(j, "itemId")));
        json_decref(j);
    }
    /* Mass updates of up to 50 items, each changing every item's status: n events. */
    for (int done = 1 + items, round = 0, n; done < events; done += n, round++) {
        n = events - done < 50 ? events - done : 50;
        size_t at = (size_t)snprintf(body, sizeof(body), "{\"itemIds\":[");
        for (int i = 0; i < n; i++)
            at += (size_t)snprintf(body + at, sizeof(body) - at, "%s\"%s\"", i ? "," : "",
                                   ids[i]);
        snprintf(body + at, sizeof(body) - at, "],\"status\":\"%s\"}",
                 round % 2 ? "To Do" : "Done");
        call(c, "PATCH", path, body, NULL);
    }
}

/* The number before `what` in the command's log line. */
static double figure(const char *log, const char *what)
{
    const char *p = log ? strstr(log, what) : NULL;
    if (p == NULL)
        return -1;
    while (p > log && p[-1] == ' ')
        p--;
    while (p > log && (p[-1] == '.' || (p[-1] >= '0' && p[-1] <= '9')))
        p--;
    return strtod(p, NULL);
}

/* Requests the rig has served and their request charge, so far. */
static void rig_counters(double *requests, double *charge)
{
    json_t *s = cosmosrig_stats();
    *requests = json_number_value(json_object_get(s, "requests"));
    *charge = json_number_value(json_object_get(s, "requestCharge"));
    json_decref(s);
}

/*
 * Renames list `id` to `name` and reports the command's store round trips and
 * request charge: from our handler's log line, or from the rig's counters for
 * the baseline (on the rig, our log line is checked against them). Returns the
 * command's time in ms, or -1.
 */
static double one_command(struct hostdrv *d, const char *id, const char *name,
                          const char *store, const char *phase, int length)
{
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    char path[96], body[64];
    snprintf(path, sizeof(path), "/api/todolists/%s", id);
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct hostdrv_reply r;
    double req0 = 0, ru0 = 0, req1 = 0, ru1 = 0, ms = -1;
    if (store_kind != STORE_SQLITE)
        rig_counters(&req0, &ru0);
    int64_t t0 = now_us();
    if (hostdrv_call(c, "PATCH", path, h, body, &r) == 0) {
        ms = (double)(now_us() - t0) / 1000.0;
        if (store_kind != STORE_SQLITE)
            rig_counters(&req1, &ru1);
        const char *log = json_string_value(json_array_get(r.result.logs, 0));
        double trips = figure(log, "store round trip"), charge = figure(log, "RU");
        if (store_kind == STORE_BASELINE) {
            trips = req1 - req0;
            charge = ru1 - ru0;
        } else if (store_kind == STORE_COSMOS && trips != req1 - req0)
            fprintf(stderr,
                    "bench: the handler logged %.0f round trips, the rig saw %.0f\n",
                    trips, req1 - req0);
        if (phase != NULL) {
            char m[96];
            snprintf(m, sizeof(m), "roundtrips_%s_%s_len%d", store, phase, length);
            metric(m, trips, "round trips");
            snprintf(m, sizeof(m), "charge_%s_%s_len%d", store, phase, length);
            metric(m, charge, "RU");
        }
        if (r.result.http_status != 200)
            ms = -1;
    }
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    return ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median time of `n` more warm commands on list `id` (at most 20). */
static void warm_median(struct hostdrv *d, const char *id, const char *store, int length,
                        int n)
{
    double ms[20];
    int got = 0;
    for (int i = 0; i < n && i < 20; i++) {
        char name[16];
        snprintf(name, sizeof(name), "m%d", i);
        double t = one_command(d, id, name, store, NULL, length);
        if (t >= 0)
            ms[got++] = t;
    }
    if (got == 0)
        die("no warm command succeeded");
    qsort(ms, (size_t)got, sizeof(ms[0]), cmp_double);
    char m[96];
    snprintf(m, sizeof(m), "command_ms_%s_len%d", store, length);
    metric(m, ms[got / 2], "ms (median of warm commands)");
}

static void bench_roundtrips(const char *store)
{
    const int lengths[] = {10, 1000, 10000};
    for (int i = 0; i < 3; i++) {
        char name[32], id[32];
        snprintf(name, sizeof(name), "rt%d", lengths[i]);
        snprintf(id, sizeof(id), "len%d", lengths[i]);
        /*
         * The baseline's list is written by our handler with snapshots off:
         * the same event documents the baseline would write, in seconds rather
         * than the minutes 200 full replays of up to 10,000 events take.
         */
        struct hostdrv *d =
            store_kind == STORE_BASELINE
                ? start_app(name, false, (const char *const[]){"SNAPSHOT_EVERY=0", NULL})
                : start(name);
        struct hostdrv_conn *c = hostdrv_conn_new(d);
        make_list(c, id, lengths[i]);
        hostdrv_conn_free(c);
        stop(d);
        d = start(name); /* a new process: the cache is cold */
        one_command(d, id, "cold", store, "cold", lengths[i]);
        one_command(d, id, "warm", store, "warm", lengths[i]);
        /* Fewer at 10,000: a full replay there takes seconds. */
        warm_median(d, id, store, lengths[i], lengths[i] >= 10000 ? 5 : 15);
        stop(d);
    }
    if (store_kind == STORE_BASELINE)
        return;
    /*
     * A stream of 10,000 events with no snapshot (written by another tool, or its
     * snapshot dropped): the cold command reads all of it, in pages the service
     * sizes (goal: at most 4 requests on the rig).
     */
    const char *no_snapshots[] = {"SNAPSHOT_EVERY=0", NULL};
    struct hostdrv *d = start_app("rtnosnap", false, no_snapshots);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    make_list(c, "nosnap", 10000);
    hostdrv_conn_free(c);
    stop(d);
    d = start_app("rtnosnap", false, no_snapshots); /* cold, and still no snapshot */
    one_command(d, "nosnap", "cold", store, "cold_no_snapshot", 10000);
    stop(d);
}

/*
 * The next batch of the feed (at most 100 documents) handed to the Projector as
 * the host hands it: NULL at the feed's end; else the batch, *r the reply.
 */
static json_t *project_next(struct hostdrv_conn *c, struct feed *f,
                            struct hostdrv_reply *r, bool *answered)
{
    json_t *batch = feed_next(f, 100);
    if (batch == NULL || json_array_size(batch) == 0) {
        json_decref(batch);
        return NULL;
    }
    struct fn_retry retry = {.present = true, .retry_count = 0, .max_retry_count = 5};
    *answered = hostdrv_trigger(c, "Projector", "documents", batch, 2, &retry, r) == 0;
    return batch;
}

/* ---- handler CPU per warm command, by list size ---- */

/* The handler's CPU time so far (all threads), in microseconds. */
static double cpu_us(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    unsigned long utime = 0, stime = 0;
    if (f != NULL) {
        /* Fields 14 and 15; the command name (2) may hold spaces, so skip past ')'. */
        int ch;
        while ((ch = fgetc(f)) != EOF && ch != ')')
            ;
        if (fscanf(f, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                   &stime) != 2)
            utime = stime = 0;
        fclose(f);
    }
    return (double)(utime + stime) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* A list with `items` items (AddItem after AddItem). */
static void make_items(struct hostdrv_conn *c, const char *id, int items)
{
    char body[128], path[128];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"n\"}", id);
    call(c, "POST", "/api/todolists", body, NULL);
    snprintf(path, sizeof(path), "/api/todolists/%s/items", id);
    for (int i = 0; i < items; i++) {
        snprintf(body, sizeof(body), "{\"task\":\"task number %d\"}", i);
        if (call(c, "POST", path, body, NULL) != 201)
            die("an item was refused");
    }
}

/* The handler's CPU per warm rename of list `id`, over `n` commands, in microseconds. */
static double warm_cpu(struct hostdrv *d, const char *id, int n)
{
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    char path[96], body[64];
    snprintf(path, sizeof(path), "/api/todolists/%s", id);
    for (int i = 0; i < 20; i++) { /* warm: in the cache, code paths hot */
        snprintf(body, sizeof(body), "{\"name\":\"w%d\"}", i);
        call(c, "PATCH", path, body, NULL);
    }
    double t0 = cpu_us(hostdrv_pid(d));
    for (int i = 0; i < n; i++) {
        snprintf(body, sizeof(body), "{\"name\":\"r%d\"}", i);
        if (call(c, "PATCH", path, body, NULL) != 200)
            die("a rename failed");
    }
    double used = cpu_us(hostdrv_pid(d)) - t0;
    hostdrv_conn_free(c);
    return used / n;
}

/*
 * Handler CPU per warm command at 10 and 1,000 items (the cap), and on a
 * 10,000-event stream with 50 live items: per-command work should not grow
 * with the list. Renames: the whole state is loaded, decided on and cached.
 */
static void bench_cpu(const char *store)
{
    struct hostdrv *d = start("cpu");
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    make_items(c, "i10", 10);
    make_items(c, "i1000", 1000);
    make_list(c, "e10000", 10000);
    hostdrv_conn_free(c);
    enum { N = 1500 };
    double at10 = warm_cpu(d, "i10", N), at1000 = warm_cpu(d, "i1000", N),
           at10k = warm_cpu(d, "e10000", N);
    char m[96];
    snprintf(m, sizeof(m), "cpu_us_per_warm_command_%s_items10", store);
    metric(m, at10, "us CPU (handler, all threads)");
    snprintf(m, sizeof(m), "cpu_us_per_warm_command_%s_items1000", store);
    metric(m, at1000, "us CPU (handler, all threads)");
    snprintf(m, sizeof(m), "cpu_us_per_warm_command_%s_events10000", store);
    metric(m, at10k, "us CPU (handler, all threads; 50 live items)");
    snprintf(m, sizeof(m), "cpu_ratio_%s_items1000_vs_10", store);
    metric(m, at1000 / at10, "ratio (goal <= 1.3)");
    snprintf(m, sizeof(m), "cpu_ratio_%s_events10000_vs_items10", store);
    metric(m, at10k / at10, "ratio (goal <= 1.3)");
    stop(d);
}

/* ---- projector ---- */

/* Every request the handler makes of the rig waits this long first (not the feed's). */
static void rig_latency(int ms)
{
    char rules[1024];
    if (ms <= 0) {
        cosmosrig_faults("[]");
        return;
    }
    snprintf(rules, sizeof(rules),
             "[{\"method\":\"GET\",\"path\":\"/docs/[^/]+$\",\"mode\":\"delay\","
             "\"delayMs\":%d,\"count\":100000000},"
             "{\"method\":\"POST\",\"path\":\"/docs$\",\"mode\":\"delay\","
             "\"delayMs\":%d,\"count\":100000000},"
             "{\"method\":\"PUT\",\"path\":\"/docs/[^/]+$\",\"mode\":\"delay\","
             "\"delayMs\":%d,\"count\":100000000}]",
             ms, ms, ms);
    if (cosmosrig_faults(rules) != 0)
        die("the rig refused the latency rules");
}

/*
 * Projector events/s on the rig with 5 ms per request, at one parallelism and
 * view cache size (0: every batch reads its views first, as before the cache);
 * *rig_busy gets the share of the run the rig (one Node.js thread) spent on the CPU.
 */
static double projector_rig(int parallelism, int view_cache, double *rig_busy)
{
    char name[32], par[64], cache[64];
    snprintf(name, sizeof(name), "proj-p%d-c%d", parallelism, view_cache);
    snprintf(par, sizeof(par), "PROJECTOR_PARALLELISM=%d", parallelism);
    snprintf(cache, sizeof(cache), "PROJECTOR_VIEW_CACHE=%d", view_cache);
    const char *extra[] = {par, cache, NULL};
    struct hostdrv *d = start_app(name, false, extra);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    /* 64 lists written round by round, so a batch holds many streams, as a busy
     * app's change feed does: 64 creates, then 9 rounds of one item each. */
    enum { LISTS = 64, ROUNDS = 9 };
    for (int round = 0; round <= ROUNDS; round++)
        for (int l = 0; l < LISTS; l++) {
            char body[96], path[64];
            if (round == 0) {
                snprintf(body, sizeof(body), "{\"id\":\"p%d\",\"name\":\"n\"}", l);
                call(c, "POST", "/api/todolists", body, NULL);
                continue;
            }
            snprintf(path, sizeof(path), "/api/todolists/p%d/items", l);
            snprintf(body, sizeof(body), "{\"task\":\"t%d\"}", round);
            call(c, "POST", path, body, NULL);
        }
    char db[128];
    snprintf(db, sizeof(db), "bench-%s-%d", name, (int)getpid());
    struct feed *f = feed_open_cosmos(db);
    if (f == NULL)
        die("cannot read the change feed");
    rig_latency(5);
    long events = 0;
    const char *rig = getenv("COSMOS_RIG_PID");
    pid_t rig_pid = rig != NULL ? (pid_t)strtol(rig, NULL, 10) : 0;
    double rig0 = rig_pid > 0 ? cpu_us(rig_pid) : 0;
    int64_t t0 = es_time_mono_ms();
    json_t *batch;
    struct hostdrv_reply r;
    bool answered;
    while ((batch = project_next(c, f, &r, &answered)) != NULL) {
        if (answered && r.status == 200) {
            size_t i;
            json_t *doc;
            json_array_foreach(batch, i, doc)
            {
                const char *kind = json_string_value(json_object_get(doc, "kind"));
                events += kind != NULL && strcmp(kind, "event") == 0;
            }
        }
        hostdrv_reply_release(&r);
        json_decref(batch);
    }
    double secs = (double)(es_time_mono_ms() - t0) / 1000.0;
    *rig_busy = rig_pid > 0 ? (cpu_us(rig_pid) - rig0) / 1e6 / secs : -1;
    rig_latency(0);
    feed_close(f);
    hostdrv_conn_free(c);
    stop(d);
    return (double)events / secs;
}

static void bench_projector_rig(void)
{
    if (store_kind != STORE_COSMOS)
        die("projector_rig runs on the rig: es_bench projector_rig cosmos");
    /*
     * Before: one stream at a time, each view read before its write (a
     * stream's views now go in one request even here: the 2026-12-06 build,
     * one view at a time, did 51.6 events/s in this run).
     */
    double busy_before, busy_par, busy_now;
    double before = projector_rig(1, 0, &busy_before);
    double parallel = projector_rig(32, 0, &busy_par);
    double now = projector_rig(32, 4096, &busy_now);
    metric("projector_rig_5ms_events_per_s_before", before,
           "events/s (parallelism 1, no view cache)");
    metric("projector_rig_5ms_events_per_s_parallelism32_no_cache", parallel, "events/s");
    metric("projector_rig_5ms_events_per_s_now", now,
           "events/s (parallelism 32, view cache: the defaults)");
    metric("projector_rig_5ms_speedup", now / before, "ratio, now / before (goal >= 10)");
    /* Near 1: the rig's one thread, not the projector, set the pace. */
    metric("projector_rig_5ms_rig_cpu_share_before", busy_before, "of one CPU");
    metric("projector_rig_5ms_rig_cpu_share_now", busy_now, "of one CPU");
    (void)busy_par;
}

/*
 * `handler rebuild --into NAME --parallelism par` on the rig with 5 ms per
 * request, over database db: its events/s and view write requests, from its
 * summary line.
 */
static void rebuild_rig(const char *db, const char *into, const char *par, double *rate,
                        long *views, long *requests)
{
    static struct cosmosrig_env ce;
    cosmosrig_env_for(db, &ce);
    char log[128];
    snprintf(log, sizeof(log), "%s/rebuild-%s.log", work_dir, into);
    const char *argv[] = {ES_APP_DIR "/handler", "rebuild", "--into", into,
                          "--parallelism",       par,       NULL};
    pid_t pid = fork();
    if (pid < 0)
        die("cannot fork");
    if (pid == 0) {
        if (freopen(log, "w", stderr) == NULL)
            _exit(127);
        execve(argv[0], (char *const *)argv, (char *const *)ce.list);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    FILE *f = fopen(log, "r");
    char line[1024];
    bool done = false;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        const char *at = strstr(line, "rebuild: done:");
        const char *w = at != NULL ? strstr(at, "streams, ") : NULL;
        double secs = 0;
        long events = 0;
        *requests = -1; /* builds before 2026-12-06 did not count them */
        if (w != NULL &&
            sscanf(at, "rebuild: done: %ld events read in %lf s (%lf events/s)", &events,
                   &secs, rate) == 3 &&
            sscanf(w, "streams, %ld views written in %ld requests", views, requests) >= 1)
            done = true;
    }
    if (f != NULL)
        fclose(f);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !done)
        die("handler rebuild failed on the rig (its log is in the bench's work folder)");
}

static void bench_rebuild_rig(void)
{
    if (store_kind != STORE_COSMOS)
        die("rebuild_rig runs on the rig: es_bench rebuild_rig cosmos");
    struct hostdrv *d = start("rebuild");
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    /* 300 lists of three events: 900 events, 600 views in 300 partitions. */
    enum { LISTS = 300, ITEMS = 2 };
    for (int l = 0; l < LISTS; l++) {
        char body[96], path[64];
        snprintf(body, sizeof(body), "{\"id\":\"r%d\",\"name\":\"n\"}", l);
        call(c, "POST", "/api/todolists", body, NULL);
        snprintf(path, sizeof(path), "/api/todolists/r%d/items", l);
        for (int i = 0; i < ITEMS; i++)
            call(c, "POST", path, "{\"task\":\"t\"}", NULL);
    }
    hostdrv_conn_free(c);
    stop(d);
    char db[128];
    snprintf(db, sizeof(db), "bench-rebuild-%d", (int)getpid());
    rig_latency(5);
    /*
     * Before: builds up to 2026-12-06 wrote one view per request, one after
     * another: 124-130 events/s in this run (600 requests).
     */
    double one, many;
    long views1, requests1, views_n, requests_n;
    rebuild_rig(db, "views-one", "1", &one, &views1, &requests1);
    rebuild_rig(db, "views-many", "32", &many, &views_n, &requests_n);
    rig_latency(0);
    metric("rebuild_rig_5ms_events_per_s_parallelism1", one,
           "events/s (a list's views in one request, one request at a time)");
    metric("rebuild_rig_5ms_events_per_s_now", many,
           "events/s (parallelism 32: the default)");
    metric("rebuild_rig_5ms_speedup", many / one, "ratio, now / parallelism 1");
    metric("rebuild_rig_view_requests_per_view", (double)requests_n / (double)views_n,
           "requests (two views per list: 0.5)");
    if (views1 != views_n || requests1 != requests_n)
        die("the two rebuilds wrote different views");
}

static void bench_projector(void)
{
    struct hostdrv *d = start("projector");
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    for (int l = 0; l < 20; l++) {
        char id[16];
        snprintf(id, sizeof(id), "p%d", l);
        make_list(c, id, 251);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/projector.db", work_dir);
    struct feed *f = feed_open_sqlite(path);
    if (f == NULL)
        die("cannot read the change feed");
    long events = 0, writes = 0, touched = 0, batches = 0;
    int64_t t0 = es_time_mono_ms();
    json_t *batch;
    struct hostdrv_reply r;
    bool answered;
    while ((batch = project_next(c, f, &r, &answered)) != NULL) {
        if (answered) {
            const char *log = json_string_value(json_array_get(r.result.logs, 0));
            json_t *line = log != NULL && strncmp(log, "Projector ", 10) == 0
                               ? json_loads(log + 10, 0, NULL)
                               : NULL;
            events += (long)json_array_size(batch);
            writes += (long)json_integer_value(json_object_get(line, "viewsWritten"));
            /* two views per list */
            touched += 2 * (long)json_integer_value(json_object_get(line, "streams"));
            batches++;
            json_decref(line);
        }
        hostdrv_reply_release(&r);
        json_decref(batch);
    }
    double secs = (double)(es_time_mono_ms() - t0) / 1000.0;
    metric("projector_events_per_s", (double)events / secs, "events/s");
    metric("projector_view_writes_per_batch", (double)writes / (double)batches, "writes");
    metric("projector_views_touched_per_batch", (double)touched / (double)batches,
           "views");
    feed_close(f);
    hostdrv_conn_free(c);
    stop(d);
}

/* ---- start-up and memory ---- */

static void bench_startup(void)
{
    int64_t ms[20];
    for (int i = 0; i < 20; i++) {
        struct hostdrv *d = start("startup");
        ms[i] = hostdrv_ready_ms(d);
        stop(d);
    }
    qsort(ms, 20, sizeof(ms[0]), cmp_i64);
    metric("startup_ms_median", (double)ms[10],
           "ms (readiness polled every 25 ms, as the host)");
    struct hostdrv *d = start("memory");
    metric("rss_idle", (double)rss_kb(hostdrv_pid(d)) / 1024.0, "MiB");
    struct client cl[8];
    pthread_t t[8];
    static int64_t lat[8 * 250];
    long peak = 0;
    for (int i = 0; i < 8; i++) {
        cl[i] =
            (struct client){.d = d, .index = 100 + i, .n = 250, .lat_us = lat + i * 250};
        pthread_create(&t[i], NULL, client_run, &cl[i]);
    }
    for (int i = 0; i < 50; i++) {
        long kb = rss_kb(hostdrv_pid(d));
        peak = kb > peak ? kb : peak;
        es_time_sleep_ms(20);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    metric("rss_under_load_peak", (double)peak / 1024.0, "MiB");
    stop(d);
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static void remove_work_dir(void)
{
    nftw(work_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    if (mkdtemp(work_dir) == NULL)
        die("cannot make a working folder in /tmp");
    atexit(remove_work_dir);
    if (argc < 2)
        die("usage: es_bench startup | commands STORE | roundtrips STORE | cpu STORE |\n"
            "       projector | projector_rig cosmos | rebuild_rig cosmos\n"
            "       STORE: sqlite | cosmos | baseline");
    const char *store = argc > 2 ? argv[2] : "sqlite";
    if (strcmp(store, "cosmos") == 0)
        store_kind = STORE_COSMOS;
    else if (strcmp(store, "baseline") == 0)
        store_kind = STORE_BASELINE;
    else if (strcmp(store, "sqlite") != 0)
        die("STORE must be sqlite, cosmos or baseline");
    if (store_kind == STORE_BASELINE &&
        access(BASELINE_DIR "/node_modules/@azure/cosmos", R_OK) != 0)
        die("the baseline's packages are missing (npm ci in bench/baseline)");
    if (store_kind != STORE_SQLITE && cosmosrig_start_shared() < 0)
        die("the Cosmos rig did not start (npm ci in tests/support/cosmos-rig)");
    if (strcmp(argv[1], "startup") == 0)
        bench_startup();
    else if (strcmp(argv[1], "commands") == 0)
        bench_commands(store);
    else if (strcmp(argv[1], "roundtrips") == 0)
        bench_roundtrips(store);
    else if (strcmp(argv[1], "projector") == 0)
        bench_projector();
    else if (strcmp(argv[1], "cpu") == 0)
        bench_cpu(store);
    else if (strcmp(argv[1], "projector_rig") == 0)
        bench_projector_rig();
    else if (strcmp(argv[1], "rebuild_rig") == 0)
        bench_rebuild_rig();
    if (store_kind != STORE_SQLITE)
        cosmosrig_stop_shared();
    return 0;
}

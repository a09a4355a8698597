/*
 * app.c - process start-up and shutdown.
 *
 * Start-up is kept to what the first answer needs (settings, a listening
 * socket), because the host polls GET / from the moment it spawns us. SIGTERM
 * and SIGINT are taken synchronously by the main thread (sigwait), never in a
 * handler, so shutdown runs ordinary code: stop accepting, finish what was
 * received, exit 0.
 */
#include "app.h"

#include "util/curlapi.h"
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "es/engine.h"
#include "es/rebuild.h"
#include "serve/front.h"
#include "http/hostproto.h"
#include "serve/pump.h"
#include "serve/webhook.h"
#include "http/server.h"
#include "invoke/invoke.h"
#include "store/store_cosmos.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "version.h"

enum mode { MODE_HOST, MODE_SERVE, MODE_INIT, MODE_REBUILD };

struct options {
    enum mode mode;
    int port; /* serve: -1 means the default */
    const char *listen;
    const char *app_dir;   /* serve: NULL means the executable's folder */
    const char *into;      /* rebuild: the Cosmos DB container to fill */
    long long cache_views; /* rebuild: 0 means the default */
    long long batch;       /* rebuild: events per read, 0 means the default */
    long long parallelism; /* rebuild: view writes in flight, 0 means the default */
};

static void usage(FILE *to)
{
    fprintf(to,
            "usage: handler                  serve the Functions host protocol on "
            "FUNCTIONS_CUSTOMHANDLER_PORT\n"
            "       handler serve [--port N] [--listen ADDR] [--app DIR]\n"
            "                                serve the app's HTTP routes directly "
            "(default 127.0.0.1:7071)\n"
            "       handler init             create the Cosmos DB database and "
            "containers if missing\n"
            "       handler rebuild [--into NAME] [--cache-views N] [--batch N]\n"
            "                       [--parallelism N]\n"
            "                                recompute every view from the events "
            "(SQLite: swapped in when\n"
            "                                complete; Cosmos DB: into container NAME)\n"
            "       handler --version\n");
}

static int parse_port(const char *s)
{
    char *end = NULL;
    long n = strtol(s, &end, 10);
    return (end != s && *end == '\0' && n >= 0 && n <= 65535) ? (int)n : -2;
}

/* 0 to run, 1 to exit 0 (help/version printed), 2 on a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){.mode = MODE_HOST, .port = -1, .listen = "127.0.0.1"};
    int i = 1;
    if (i < argc && strcmp(argv[i], "serve") == 0) {
        o->mode = MODE_SERVE;
        i++;
    } else if (i < argc && strcmp(argv[i], "init") == 0) {
        o->mode = MODE_INIT;
        i++;
    } else if (i < argc && strcmp(argv[i], "rebuild") == 0) {
        o->mode = MODE_REBUILD;
        i++;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--version") == 0) {
            /* libcurl is loaded for Cosmos DB only: say whether it can be. */
            struct es_error err = {0};
            const struct es_curl *cu = es_curl_load(&err);
            printf("handler %s\n%s%s\n", ES_VERSION, cu != NULL ? "" : "libcurl: ",
                   cu != NULL ? cu->version() : err.message);
            es_curl_cleanup();
            return 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (o->mode == MODE_SERVE && v != NULL && strcmp(a, "--port") == 0) {
            if ((o->port = parse_port(v)) < 0) {
                fprintf(stderr, "handler: invalid --port '%s'\n", v);
                return 2;
            }
            i++;
        } else if (o->mode == MODE_SERVE && v != NULL && strcmp(a, "--listen") == 0) {
            o->listen = v;
            i++;
        } else if (o->mode == MODE_SERVE && v != NULL && strcmp(a, "--app") == 0) {
            o->app_dir = v;
            i++;
        } else if (o->mode == MODE_REBUILD && v != NULL && strcmp(a, "--into") == 0) {
            o->into = v;
            i++;
        } else if (o->mode == MODE_REBUILD && v != NULL &&
                   (strcmp(a, "--cache-views") == 0 || strcmp(a, "--batch") == 0 ||
                    strcmp(a, "--parallelism") == 0)) {
            long long max = strcmp(a, "--cache-views") == 0 ? 10000000
                            : strcmp(a, "--batch") == 0     ? 10000
                                                            : 256;
            long long *to = strcmp(a, "--cache-views") == 0 ? &o->cache_views
                            : strcmp(a, "--batch") == 0     ? &o->batch
                                                            : &o->parallelism;
            char *end = NULL;
            long long n = strtoll(v, &end, 10);
            if (end == v || *end != '\0' || n < 1 || n > max) {
                fprintf(stderr, "handler: %s must be 1 to %lld\n", a, max);
                return 2;
            }
            *to = n;
            i++;
        } else {
            fprintf(stderr, "handler: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

/* The folder holding the running executable (the staged app folder). */
static char *exe_dir(void)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        return strdup(".");
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (slash != NULL)
        *slash = '\0';
    return strdup(path[0] ? path : "/");
}

static int wait_for_signal(const sigset_t *set)
{
    int sig = 0;
    while (sigwait(set, &sig) != 0)
        ;
    return sig;
}

struct runtime {
    pthread_t checker;
    bool checking;          /* the start-up store check was started */
    atomic_bool check_done; /* ... and has finished with the store */
    struct es_config cfg;
    struct es_store *store;
    struct es_engine *engine;
    struct fn_services svc;
    struct invoke_app app;
    struct hostproto hp;
    struct front *front;
    struct pump *pump;
    struct pump *publisher; /* integration events to INTEGRATION_WEBHOOK_URL, or NULL */
    struct webhook *webhook;
    struct http_server *server;
};

/* Opens the store and the engine over it; 0, or 2 after logging why not. */
enum es_status es_app_store_open(const struct es_config *cfg, struct es_store **out,
                                 struct es_error *err)
{
    if (cfg->store_kind == ES_STORE_COSMOS)
        return es_store_cosmos_open(cfg, out, err);
    return es_store_sqlite_open(cfg->sqlite_path, out, err);
}

static int open_store(struct runtime *rt)
{
    struct es_error err = {0};
    if (es_app_store_open(&rt->cfg, &rt->store, &err) != ES_OK) {
        es_log_error("cannot start: %s", err.message[0] ? err.message : "out of memory");
        return 2;
    }
    struct es_engine_opts eo = {
        .store = rt->store,
        .cache_streams = rt->cfg.state_cache_streams,
        .view_cache = rt->cfg.projector_view_cache,
        .view_cache_bytes = rt->cfg.projector_view_cache_mb << 20,
        .snapshot_every = (int)rt->cfg.snapshot_every,
        .max_attempts = (int)rt->cfg.command_max_attempts,
    };
    rt->engine = es_engine_new(&eo);
    if (rt->engine == NULL) {
        es_log_error("cannot start: out of memory");
        return 2;
    }
    rt->svc = (struct fn_services){
        .cfg = &rt->cfg, .version = ES_VERSION, .store = rt->store, .engine = rt->engine};
    return 0;
}

/* Tells operators early whether Cosmos DB accepts the endpoint, key and names. */
static void *check_store(void *arg)
{
    struct runtime *rt = arg;
    struct es_error err = {0};
    if (es_store_cosmos_check(rt->store, &err) == ES_OK)
        es_log_info(
            "cosmos: the endpoint, the credentials and the events container are fine");
    else
        es_log_error("cosmos: %s", err.message);
    atomic_store(&rt->check_done, true);
    return NULL;
}

/* A pump of the store's change feed to trigger t, as its function.json sets it. */
static struct pump_opts pump_opts_for(struct runtime *rt, const struct front_trigger *t)
{
    return (struct pump_opts){
        .store = rt->store,
        .app = &rt->app,
        .function = t->function,
        .binding = t->binding,
        .max_items = t->max_items,
        .poll_ms = t->poll_ms,
        .has_retry = t->has_retry,
        .max_retries = t->max_retries,
        .min_backoff_ms = t->min_backoff_ms,
        .max_backoff_ms = t->max_backoff_ms,
    };
}

/* Wakes every pump: an append happened. */
static void notify_pumps(void *ctx)
{
    struct runtime *rt = ctx;
    if (rt->pump != NULL)
        pump_notify(rt->pump);
    if (rt->publisher != NULL)
        pump_notify(rt->publisher);
}

/*
 * With INTEGRATION_WEBHOOK_URL set, a second pump feeds the publishing
 * function (the trigger with a serviceBus output) from its own checkpoint and
 * POSTs its messages there; its own thread, so a slow receiver never holds up
 * the Projector. Unset, the publisher is not fed at all.
 */
static void start_publisher(struct runtime *rt)
{
    const struct front_trigger *t = front_publisher_trigger(rt->front);
    const char *url = rt->cfg.integration_webhook_url;
    if (t == NULL || url == NULL) {
        if (t != NULL)
            es_log_info("serve: '%s' is not fed (INTEGRATION_WEBHOOK_URL is not set)",
                        t->function);
        return;
    }
    struct es_error err = {0};
    if (webhook_new(url, rt->cfg.integration_webhook_timeout_ms, &rt->webhook, &err) !=
        ES_OK) {
        es_log_error("serve: '%s' is not fed: %s", t->function,
                     err.message[0] ? err.message : "out of memory");
        return;
    }
    struct pump_opts po = pump_opts_for(rt, t);
    po.checkpoint = t->function;
    po.messages = t->messages;
    po.sink = (struct pump_sink){webhook_send, rt->webhook};
    rt->publisher = pump_start(&po, &err);
    if (rt->publisher == NULL) {
        es_log_error("serve: the publishing pump did not start: %s", err.message);
        webhook_free(rt->webhook);
        rt->webhook = NULL;
        return;
    }
    es_log_info("serve: '%s' posts integration events to %s", t->function, url);
}

/* Under `handler serve`, delivers the embedded store's change feed to the trigger
 * function. */
static void start_pump(struct runtime *rt)
{
    const struct front_trigger *t = front_cosmos_trigger(rt->front);
    if (t == NULL)
        return;
    if (rt->store->ops->feed_read == NULL) {
        es_log_warn(
            "serve: '%s' is not run here: on Cosmos DB the Functions host delivers "
            "the change feed (run under func start for the read side)",
            t->function);
        return;
    }
    struct pump_opts po = pump_opts_for(rt, t);
    struct es_error err = {0};
    rt->pump = pump_start(&po, &err);
    if (rt->pump == NULL)
        es_log_error("serve: the change-feed pump did not start: %s", err.message);
    start_publisher(rt);
    if (rt->pump != NULL || rt->publisher != NULL)
        es_engine_on_append(rt->engine, notify_pumps, rt);
}

/* Stops the pump, after which nothing calls the engine's hook: it is cleared. */
static void stop_pump(struct runtime *rt)
{
    pump_stop(rt->pump);
    rt->pump = NULL;
    pump_stop(rt->publisher);
    rt->publisher = NULL;
    webhook_free(rt->webhook);
    rt->webhook = NULL;
    es_engine_on_append(rt->engine, NULL, NULL);
}

static int init_store(struct runtime *rt)
{
    if (rt->cfg.store_kind != ES_STORE_COSMOS) {
        es_log_info("init: the SQLite store at %s creates its tables when it opens",
                    rt->cfg.sqlite_path);
        return 0;
    }
    struct es_error err = {0};
    if (es_store_cosmos_init(rt->store, &err) != ES_OK) {
        es_log_error("init failed: %s", err.message);
        return 1;
    }
    return 0;
}

/* ---- handler rebuild ---- */

struct rebuild_view {
    const sigset_t *signals;
    bool tty;
    bool said_start;
    const char *into; /* what is filled, for the lines */
    int64_t last_line_ms;
    int64_t last_plain_events;
};

#define REBUILD_LINE_EVERY_EVENTS 10000 /* without a terminal: a line per this many */

/* True when SIGINT or SIGTERM is waiting (they are blocked and taken here). */
static bool interrupted(const sigset_t *signals)
{
    sigset_t pending;
    if (sigpending(&pending) != 0)
        return false;
    bool any = sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM);
    if (any) {
        int sig = 0;
        sigwait(signals, &sig); /* taken, so that it is not seen again */
    }
    return any;
}

static bool rebuild_tick(void *ctx, const struct es_rebuild_progress *p)
{
    struct rebuild_view *v = ctx;
    if (!v->said_start) {
        v->said_start = true;
        if (p->resumed)
            fprintf(stderr,
                    "rebuild: resuming into %s: an earlier run's record is there "
                    "(%lld events folded); its views are kept\n",
                    v->into, (long long)p->events_before);
        else if (p->total >= 0)
            fprintf(stderr, "rebuild: starting clean into %s (%lld events to read)\n",
                    v->into, (long long)p->total);
        else
            fprintf(stderr,
                    "rebuild: starting clean into %s (the store could not count "
                    "the events: no ETA)\n",
                    v->into);
    }
    double rate =
        p->elapsed_ms > 0 ? (double)p->events * 1000.0 / (double)p->elapsed_ms : 0.0;
    int64_t now = es_time_mono_ms();
    if (v->tty && p->events > 0 && now - v->last_line_ms >= 200) {
        int64_t left = p->total - p->events_before - p->events;
        long eta_s = rate > 0 && left > 0 ? (long)((double)left / rate) : 0;
        char total[32] = "", eta[32] = "";
        if (p->total >= 0) { /* unknown where the store could not count them */
            snprintf(total, sizeof(total), "/%lld", (long long)p->total);
            snprintf(eta, sizeof(eta), ", ETA %ld:%02ld", eta_s / 60, eta_s % 60);
        }
        fprintf(stderr,
                "\r\033[Krebuild: %lld%s events, %.0f events/s, %lld streams, "
                "%lld views written%s",
                (long long)(p->events_before + p->events), total, rate,
                (long long)p->streams, (long long)p->views_written, eta);
        v->last_line_ms = now;
    } else if (!v->tty && p->events - v->last_plain_events >= REBUILD_LINE_EVERY_EVENTS) {
        fprintf(stderr, "rebuild: %lld events, %.0f events/s, %lld streams\n",
                (long long)(p->events_before + p->events), rate, (long long)p->streams);
        v->last_plain_events = p->events;
    }
    return !interrupted(v->signals);
}

/* Opens the target: SQLite's rebuild table, or the Cosmos DB container --into. */
static int rebuild_target(struct runtime *rt, const struct options *o,
                          struct es_store **target, bool *fresh)
{
    struct es_error err = {0};
    enum es_status st;
    bool existed = false;
    if (rt->cfg.store_kind == ES_STORE_COSMOS) {
        if (o->into == NULL || strcmp(o->into, rt->cfg.views_container) == 0) {
            fprintf(stderr, "handler: on Cosmos DB, name a new container for the views "
                            "with --into (not VIEWS_CONTAINER, which is serving)\n");
            return 2;
        }
        struct es_config tcfg = rt->cfg;
        tcfg.views_container = (char *)o->into;
        st = es_store_cosmos_open(&tcfg, target, &err);
        if (st == ES_OK)
            st = es_store_cosmos_views_ready(*target, fresh, &err);
    } else {
        if (o->into != NULL) {
            fprintf(stderr, "handler: --into names a Cosmos DB container; on SQLite the "
                            "rebuild fills a table of its own and swaps it in\n");
            return 2;
        }
        st = es_store_sqlite_open_views(rt->cfg.sqlite_path, ES_SQLITE_REBUILD_TABLE,
                                        target, &existed, &err);
        *fresh = !existed;
    }
    if (st != ES_OK) {
        fprintf(stderr, "rebuild: cannot open the target: %s\n",
                err.message[0] ? err.message : es_status_message(st));
        return 1;
    }
    return 0;
}

static void rebuild_summary(const struct es_rebuild_progress *p, const char *into,
                            const char *end)
{
    double rate =
        p->elapsed_ms > 0 ? (double)p->events * 1000.0 / (double)p->elapsed_ms : 0.0;
    fprintf(stderr,
            "rebuild: %s: %lld events read in %.1f s (%.0f events/s), %lld streams, "
            "%lld views written in %lld requests, %lld read back, %lld documents "
            "skipped; into %s\n",
            end, (long long)p->events, (double)p->elapsed_ms / 1000.0, rate,
            (long long)p->streams, (long long)p->views_written,
            (long long)p->view_requests, (long long)p->views_read, (long long)p->skipped,
            into);
}

#define REBUILD_SWAP_ATTEMPTS 10

static int rebuild(struct runtime *rt, const struct options *o,
                   struct es_projector_opts (*readside)(const struct fn_services *svc),
                   const sigset_t *signals)
{
    if (readside == NULL) {
        fprintf(stderr, "handler: this app has no views to rebuild\n");
        return 2;
    }
    struct es_projector_opts views = readside(&rt->svc);
    struct es_store *target = NULL;
    bool fresh = false;
    int rc = rebuild_target(rt, o, &target, &fresh);
    if (rc != 0)
        return rc;
    bool cosmos = rt->cfg.store_kind == ES_STORE_COSMOS;
    const char *into = cosmos ? o->into : "the views table (" ES_SQLITE_REBUILD_TABLE ")";
    struct rebuild_view v = {.signals = signals, .tty = isatty(2) == 1, .into = into};
    struct es_rebuild_opts ro = {.source = rt->store,
                                 .target = target,
                                 .projections = views.projections,
                                 .n_projections = views.n_projections,
                                 .target_new = fresh,
                                 .cache_views = (size_t)o->cache_views,
                                 .page_events = (size_t)o->batch,
                                 .parallelism = (unsigned)o->parallelism,
                                 .tick = rebuild_tick,
                                 .ctx = &v};
    struct es_rebuild_progress p;
    struct es_error err = {0};
    enum es_status st = es_rebuild(&ro, &p, &err);
    /* SQLite: swapped in once nothing was appended past the scan; else fold those too. */
    for (int k = 0; st == ES_OK && p.done && !cosmos; k++) {
        st = es_store_sqlite_swap_views(target, p.cursor, &err);
        if (st != ES_ECONFLICT || k + 1 == REBUILD_SWAP_ATTEMPTS)
            break;
        es_rebuild_progress_release(&p);
        ro.target_new = false;
        st = es_rebuild(&ro, &p, &err);
    }
    if (v.tty)
        fputc('\n', stderr);
    if (st != ES_OK) {
        fprintf(stderr, "rebuild: failed: %s; run it again to resume\n",
                err.message[0] ? err.message : es_status_message(st));
        rc = 1;
    } else if (!p.done) {
        rebuild_summary(&p, into, "interrupted (run it again to resume)");
        rc = 130;
    } else {
        rebuild_summary(&p, cosmos ? into : "views (swapped in)", "done");
    }
    es_rebuild_progress_release(&p);
    es_store_close(target);
    return rc;
}

static int serve(struct runtime *rt, const struct options *o, const sigset_t *signals)
{
    struct es_error err = {0};
    struct http_router router;
    struct http_server_opts opts = {
        .address = "127.0.0.1",
        .max_connections = rt->cfg.max_connections,
    };
    if (o->mode == MODE_HOST) {
        if (rt->cfg.port == 0) {
            es_log_error(
                "cannot start: FUNCTIONS_CUSTOMHANDLER_PORT is not set (run under "
                "the Functions host, or use 'handler serve')");
            return 2;
        }
        rt->hp = (struct hostproto){.app = &rt->app,
                                    .max_envelope_bytes = rt->cfg.max_envelope_bytes,
                                    .max_trigger_envelope_bytes =
                                        rt->cfg.max_trigger_envelope_bytes};
        router = hostproto_router(&rt->hp);
        opts.port = rt->cfg.port;
        opts.max_body_bytes = rt->cfg.max_envelope_bytes;
        opts.idle_timeout_s =
            0; /* the host pools its connections; never cut one under it */
    } else {
        char *dir = o->app_dir != NULL ? strdup(o->app_dir) : exe_dir();
        enum es_status st =
            dir != NULL ? front_load(dir, &rt->app, &rt->front, &err) : ES_ENOMEM;
        free(dir);
        if (st != ES_OK) {
            es_log_error("cannot start: %s",
                         err.message[0] ? err.message : "out of memory");
            return 2;
        }
        router = front_router(rt->front);
        opts.address = o->listen;
        opts.port = o->port >= 0 ? o->port : 7071;
        opts.max_body_bytes = rt->cfg.max_body_bytes;
        opts.idle_timeout_s = 120;
        opts.max_connections_per_client = rt->cfg.serve_max_connections_per_client;
        opts.headers_timeout_ms = rt->cfg.serve_headers_timeout_ms;
        opts.body_timeout_ms = rt->cfg.serve_body_timeout_ms;
    }
    /*
     * The pump and the engine's hook to it are in place before the server takes
     * a request, and stay until it has drained: threads start after the hook is
     * set and are joined before it is cleared, so the engine reads it unlocked.
     */
    if (rt->front != NULL)
        start_pump(rt);
    rt->server = http_server_start(&opts, &router, &err);
    if (rt->server == NULL) {
        es_log_error("cannot start: %s", err.message);
        stop_pump(rt);
        return 2;
    }
    char store[512];
    es_config_describe_store(&rt->cfg, store, sizeof(store));
    es_log_info("handler %s listening on %s:%d (%s, store %s)", ES_VERSION, opts.address,
                http_server_port(rt->server),
                o->mode == MODE_HOST ? "host protocol" : "serve", store);
    if (rt->cfg.store_kind == ES_STORE_COSMOS &&
        pthread_create(&rt->checker, NULL, check_store, rt) == 0) {
        rt->checking = true;
        pthread_detach(rt->checker);
    }
    if (rt->front != NULL) {
        char base[128];
        snprintf(base, sizeof(base), "http://%s:%d", opts.address,
                 http_server_port(rt->server));
        front_log_routes(rt->front, base);
    }

    int sig = wait_for_signal(signals);
    es_log_info("received %s: finishing in-flight requests", strsignal(sig));
    size_t left = http_server_drain(rt->server, rt->cfg.shutdown_timeout_ms);
    if (left > 0) {
        es_log_error("exiting with %zu requests still in flight after %lld ms", left,
                     (long long)rt->cfg.shutdown_timeout_ms);
        _exit(1);
    }
    stop_pump(rt);
    http_server_free(rt->server);
    rt->server = NULL;
    es_log_info("stopped");
    return 0;
}

int es_app_main(int argc, char **argv, const struct fn_table *fns)
{
    return es_app_main_views(argc, argv, fns, NULL);
}

int es_app_main_views(int argc, char **argv, const struct fn_table *fns,
                      struct es_projector_opts (*readside)(const struct fn_services *svc))
{
    struct options o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 2;

    /* Before any thread exists, so every thread inherits the mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    json_object_seed(0);

    struct runtime rt;
    memset(&rt, 0, sizeof(rt));
    struct es_error err = {0};
    if (es_config_load(&rt.cfg, &err) != ES_OK) {
        es_log_error("cannot start: %s", err.message);
        return 2;
    }
    es_log_set_level(rt.cfg.log_level);
    rt.app = (struct invoke_app){.fns = fns, .svc = &rt.svc};
    rc = open_store(&rt);
    if (rc == 0)
        rc = o.mode == MODE_INIT      ? init_store(&rt)
             : o.mode == MODE_REBUILD ? rebuild(&rt, &o, readside, &signals)
                                      : serve(&rt, &o, &signals);
    if (rt.checking && !atomic_load(&rt.check_done)) {
        /*
         * The start-up check is still retrying Cosmos DB on its own thread. Exit
         * handlers (OpenSSL's among them) would tear down what it is using and crash
         * it, so end here: the check holds nothing that needs saving.
         */
        fflush(NULL);
        _exit(rc);
    }
    front_free(rt.front);
    es_engine_free(rt.engine);
    es_store_close(rt.store);
    es_config_release(&rt.cfg);
    es_curl_cleanup();
    return rc;
}

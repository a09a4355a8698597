/*
 * `handler rebuild`, run as an operator runs it, after the read side's random
 * workload has been projected by the Projector through the host protocol: the
 * rebuilt views equal the Projector's byte for byte (etags and timestamps
 * aside), and the rebuild appends nothing (reactors never run). On SQLite the
 * new table is swapped in; on Cosmos DB (ES_TEST_STORE=cosmos) the views go
 * into a new container, and the blue/green switch is run whole: events
 * written during and after the rebuild reach the new views once a handler on
 * VIEWS_CONTAINER=views-v2 reads the change feed from the beginning (a new
 * lease).
 */
#include <fcntl.h>
#include <sys/wait.h>

#include "../support/feed.h"
#include "store/store_cosmos.h"
#include "util/config.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"
#include "read_side.h"
#include "write_side.h"

/* Delivers the feed to its end (reactions append more as it goes). */
static int deliver_all(struct hostdrv_conn *c, struct feed *feed)
{
    struct fn_retry retry = {.present = true, .retry_count = 0, .max_retry_count = 5};
    int events = 0;
    for (int idle = 0; idle < 2;) {
        json_t *batch = feed_next(feed, 100);
        cr_assert_not_null(batch);
        if (json_array_size(batch) == 0) {
            idle++;
            json_decref(batch);
            continue;
        }
        idle = 0;
        struct hostdrv_reply r;
        cr_assert_eq(hostdrv_trigger(c, "Projector", "documents", batch, 2, &retry, &r),
                     0);
        cr_assert_eq(r.status, 200, "%s", r.body);
        hostdrv_reply_release(&r);
        events += (int)json_array_size(batch);
        json_decref(batch);
    }
    return events;
}

/* ---- the stores, opened here as another process would ---- */

struct side {
    struct es_store *s;
    struct es_config cfg;
};

/* The shared store, with its views in container `views` (Cosmos DB; NULL: the default).
 */
static void side_open(const char *shared, const char *views, struct side *out)
{
    char name[256];
    ws_store_name(shared, name, sizeof(name));
    memset(out, 0, sizeof(*out));
    if (!ws_on_cosmos()) {
        cr_assert_eq(es_store_sqlite_open(name, &out->s, NULL), ES_OK);
        return;
    }
    struct es_store *dflt = NULL;
    cr_assert_eq(cosmosrig_store_open(name, &out->cfg, &dflt), 0);
    if (views == NULL) {
        out->s = dflt;
        return;
    }
    es_store_close(dflt);
    struct es_config c = out->cfg;
    c.views_container = (char *)views;
    cr_assert_eq(es_store_cosmos_open(&c, &out->s, NULL), ES_OK);
}

static void side_close(struct side *sd)
{
    es_store_close(sd->s);
    if (ws_on_cosmos())
        es_config_release(&sd->cfg);
}

/* Every view of the app, as id -> its JSON text (system fields already stripped). */
static json_t *all_views(struct es_store *s)
{
    const char *kinds[] = {"todolist", "summary", "summary-deleted"};
    json_t *out = json_object();
    for (size_t k = 0; k < 3; k++) {
        char *cont = NULL;
        do {
            json_t *docs = NULL;
            char *next = NULL;
            cr_assert_eq(
                s->ops->view_query(s, kinds[k], cont, 500, &docs, &next, NULL, NULL),
                ES_OK);
            free(cont);
            cont = next;
            size_t i;
            json_t *d;
            json_array_foreach(docs, i, d)
            {
                char *text = es_json_dumps(d, NULL);
                json_object_set_new(out, json_string_value(json_object_get(d, "id")),
                                    json_string(text));
                free(text);
            }
            json_decref(docs);
        } while (cont != NULL);
    }
    return out;
}

static void expect_same(json_t *want, json_t *got, const char *what)
{
    cr_expect_gt(json_object_size(want), 10, "%s: the workload made views", what);
    cr_expect_eq(json_object_size(want), json_object_size(got), "%s: as many views",
                 what);
    const char *id;
    json_t *v;
    int shown = 0;
    json_object_foreach(want, id, v)
    {
        const char *other = json_string_value(json_object_get(got, id));
        if (other == NULL || strcmp(other, json_string_value(v)) != 0) {
            if (shown++ < 3)
                cr_expect_fail("%s: view %s: projector %s, rebuild %s", what, id,
                               json_string_value(v), other != NULL ? other : "(none)");
            else
                cr_expect_fail("%s: view %s differs", what, id);
        }
    }
}

static int64_t count_events(struct es_store *s)
{
    int64_t n = -1;
    cr_assert_eq(s->ops->events_count(s, &n, NULL, NULL), ES_OK);
    return n;
}

/* ---- the command ---- */

struct child {
    pid_t pid;
    char log[128];
};

/* Starts `handler rebuild args...` on the shared store, stderr to a log file. */
static void rebuild_start(const char *shared, const char *const *args, struct child *out)
{
    char name[256], path_env[300];
    ws_store_name(shared, name, sizeof(name));
    static struct cosmosrig_env cenv;
    const char *env[COSMOSRIG_ENV_MAX + 4];
    size_t k = 0;
    if (ws_on_cosmos()) {
        cosmosrig_env_for(name, &cenv);
        for (const char *const *e = cenv.list; *e != NULL; e++)
            env[k++] = *e;
    } else {
        snprintf(path_env, sizeof(path_env), "EVENT_STORE_PATH=%s", name);
        env[k++] = path_env;
    }
    env[k] = NULL;
    const char *argv[16] = {ES_APP_DIR "/handler", "rebuild"};
    size_t a = 2;
    for (const char *const *p = args; p != NULL && *p != NULL && a < 15; p++)
        argv[a++] = *p;
    argv[a] = NULL;
    snprintf(out->log, sizeof(out->log), "/tmp/es-rebuild-%d-%s.log", (int)getpid(),
             shared);
    out->pid = fork();
    cr_assert_geq(out->pid, 0);
    if (out->pid == 0) {
        int fd = open(out->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execve(argv[0], (char *const *)argv, (char *const *)env);
        _exit(127);
    }
}

/* Waits for it; its exit status, and its output in *text (malloc'd). */
static int rebuild_wait(struct child *c, char **text)
{
    int status = 0;
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    FILE *f = fopen(c->log, "r");
    char buf[8192] = "";
    size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[n] = '\0';
    if (f != NULL)
        fclose(f);
    unlink(c->log);
    *text = strdup(buf);
    cr_log_info("handler rebuild:\n%s", buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int rebuild_run(const char *shared, const char *const *args, char **text)
{
    struct child c;
    rebuild_start(shared, args, &c);
    return rebuild_wait(&c, text);
}

/* In identity mode the new container cannot be made by the handler: made here. */
static void create_views_container(const char *shared, const char *container)
{
    char name[256], conn[512];
    ws_store_name(shared, name, sizeof(name));
    snprintf(conn, sizeof(conn), "AccountEndpoint=%s/;AccountKey=%s;",
             cosmosrig_endpoint(), getenv("COSMOS_RIG_KEY"));
    setenv("CosmosDB", conn, 1);
    setenv("COSMOS_DATABASE", name, 1);
    setenv("VIEWS_CONTAINER", container, 1);
    unsetenv("CosmosDB__accountEndpoint");
    struct es_config cfg;
    struct es_store *s = NULL;
    bool created = false;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_assert_eq(es_store_cosmos_open(&cfg, &s, NULL), ES_OK);
    cr_assert_eq(es_store_cosmos_views_ready(s, &created, NULL), ES_OK);
    cr_expect(created);
    es_store_close(s);
    es_config_release(&cfg);
    unsetenv("CosmosDB");
    unsetenv("VIEWS_CONTAINER");
}

/*
 * Runs the rebuild into views-v2 on Cosmos DB (made by the first run), or the
 * swap on SQLite; 0 when done.
 */
static int rebuild_into_new(const char *shared, bool first, char **text)
{
    if (!ws_on_cosmos())
        return rebuild_run(shared, NULL, text);
    const char *args[] = {"--into", "views-v2", "--cache-views", "7", NULL};
    if (first && cosmosrig_identity_mode()) {
        cr_expect_eq(rebuild_run(shared, args, text), 1,
                     "a managed identity cannot create the container");
        cr_expect(strstr(*text, "does not exist") != NULL, "%s", *text);
        free(*text);
        create_views_container(shared, "views-v2");
    }
    return rebuild_run(shared, args, text);
}

Test(rebuild, after_the_random_workload_the_views_are_the_projectors_byte_for_byte,
     .timeout = 600)
{
    struct hostdrv *h = ws_start_with("rebuild-eq", NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    static struct rs_model m;
    rs_workload(&api, &m, 11, 24, 1500, "rb");
    char name[256];
    ws_store_name("rebuild-eq", name, sizeof(name));
    struct feed *feed = ws_on_cosmos() ? feed_open_cosmos(name) : feed_open_sqlite(name);
    cr_assert_not_null(feed);
    deliver_all(c, feed);
    ws_settle();
    rs_check(&api, &m);
    cr_expect_gt(m.moves, 20, "the workload moved items (reactors had work)");
    struct side sd;
    side_open("rebuild-eq", NULL, &sd);
    json_t *projected = all_views(sd.s);
    int64_t events = count_events(sd.s);

    if (ws_on_cosmos()) {
        /* A grown container: three partition key ranges; and the gateway's refusal of a
         * cross-partition aggregate (400, substatus 1004) for the count of the events. */
        cr_assert_eq(cosmosrig_split(name, "events", "0", NULL), 0);
        cr_assert_eq(cosmosrig_split(name, "events", "1", NULL), 0);
        cr_assert_eq(cosmosrig_faults("[{\"method\":\"POST\",\"path\":\"/colls/events/"
                                      "docs$\",\"count\":1,\"mode\":\"respond\","
                                      "\"status\":400,\"subStatus\":1004}]"),
                     0);
    }
    char *text = NULL;
    int64_t t0 = es_time_mono_ms();
    cr_assert_eq(rebuild_into_new("rebuild-eq", true, &text), 0, "%s", text);
    int64_t ms = es_time_mono_ms() - t0;
    cr_expect(strstr(text, "starting clean") != NULL, "%s", text);
    if (ws_on_cosmos()) {
        cr_expect(strstr(text, "could not count the events: no ETA") != NULL, "%s", text);
        cr_assert_eq(cosmosrig_faults("[]"), 0);
    }
    cr_expect(strstr(text, "rebuild: done:") != NULL, "%s", text);
    cr_log_info("rebuild of %lld events in %lld ms (%s)", (long long)events,
                (long long)ms, ws_on_cosmos() ? "cosmos" : "sqlite");
    free(text);
    cr_expect_eq(count_events(sd.s), events, "the rebuild appended nothing");

    struct side v2;
    side_open("rebuild-eq", "views-v2", &v2);
    json_t *rebuilt = all_views(v2.s);
    expect_same(projected, rebuilt, "rebuilt");
    json_decref(rebuilt);
    side_close(&v2);
    /* SQLite: the swapped-in table serves the API; the checks hold on it. */
    rs_check(&api, &m);

    /* A rerun resumes (Cosmos DB: the finished record) or starts clean (SQLite). */
    cr_assert_eq(rebuild_into_new("rebuild-eq", false, &text), 0, "%s", text);
    cr_expect(strstr(text, ws_on_cosmos() ? "resuming" : "starting clean") != NULL, "%s",
              text);
    free(text);
    side_open("rebuild-eq", "views-v2", &v2);
    rebuilt = all_views(v2.s);
    expect_same(projected, rebuilt, "rebuilt again");
    json_decref(rebuilt);
    side_close(&v2);

    json_decref(projected);
    side_close(&sd);
    feed_close(feed);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("rebuild-eq");
}

Test(rebuild, options_out_of_range_are_usage_errors)
{
    const char *bad[][3] = {{"--parallelism", "0", "--parallelism must be 1 to 256"},
                            {"--parallelism", "257", "--parallelism must be 1 to 256"},
                            {"--parallelism", "4x", "--parallelism must be 1 to 256"},
                            {"--cache-views", "0", "--cache-views must be 1 to 10000000"},
                            {"--batch", "10001", "--batch must be 1 to 10000"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[] = {bad[i][0], bad[i][1], NULL};
        char *text = NULL;
        cr_expect_eq(rebuild_run("rebuild-usage", args, &text), 2, "%s %s: %s", bad[i][0],
                     bad[i][1], text);
        cr_expect(strstr(text, bad[i][2]) != NULL, "%s", text);
        free(text);
    }
}

Test(rebuild, an_interrupted_rebuild_resumes_and_says_so, .timeout = 300)
{
    struct hostdrv *h = ws_start_with("rebuild-int", NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(h);
    struct rs_api api = {ws_api_call, c};
    static struct rs_model m;
    rs_workload(&api, &m, 12, 10, 400, "ri");
    char name[256];
    ws_store_name("rebuild-int", name, sizeof(name));
    struct feed *feed = ws_on_cosmos() ? feed_open_cosmos(name) : feed_open_sqlite(name);
    deliver_all(c, feed);
    ws_settle();
    struct side sd;
    side_open("rebuild-int", NULL, &sd);
    json_t *projected = all_views(sd.s);
    if (ws_on_cosmos() && cosmosrig_identity_mode())
        create_views_container("rebuild-int", "views-v2");
    /* Every read of the events is slowed, so that SIGINT lands mid-run. */
    const char *slow =
        ws_on_cosmos()
            ? "[{\"method\":\"GET\",\"path\":\"/colls/events/docs$\",\"header\":"
              "{\"x-ms-documentdb-partitionkeyrangeid\":\"0\"},\"count\":1000,"
              "\"mode\":\"delay\",\"delayMs\":150}]"
            : NULL;
    if (slow != NULL)
        cr_assert_eq(cosmosrig_faults(slow), 0);
    const char *args_cosmos[] = {"--into",  "views-v2", "--cache-views", "3",
                                 "--batch", "20",       "--parallelism", "4",
                                 NULL};
    const char *args_sqlite[] = {"--cache-views", "1", "--batch", "5",
                                 "--parallelism", "3", NULL};
    struct child ch;
    rebuild_start("rebuild-int", ws_on_cosmos() ? args_cosmos : args_sqlite, &ch);
    es_time_sleep_ms(ws_on_cosmos() ? 600 : 150);
    kill(ch.pid, SIGINT);
    char *text = NULL;
    int rc = rebuild_wait(&ch, &text);
    if (slow != NULL)
        cr_assert_eq(cosmosrig_faults("[]"), 0);
    if (rc == 0)
        cr_log_warn("the rebuild finished before SIGINT: %s", text);
    else {
        cr_expect_eq(rc, 130, "%s", text);
        cr_expect(strstr(text, "interrupted (run it again to resume)") != NULL, "%s",
                  text);
    }
    free(text);
    const char *const *args = ws_on_cosmos() ? args_cosmos : NULL;
    cr_assert_eq(rebuild_run("rebuild-int", args, &text), 0, "%s", text);
    if (rc != 0)
        cr_expect(strstr(text, "resuming") != NULL, "%s", text);
    free(text);
    struct side v2;
    side_open("rebuild-int", "views-v2", &v2);
    json_t *rebuilt = all_views(v2.s);
    expect_same(projected, rebuilt, "resumed");
    json_decref(rebuilt);
    side_close(&v2);
    json_decref(projected);
    side_close(&sd);
    feed_close(feed);
    hostdrv_conn_free(c);
    ws_stop(h);
    ws_drop_store("rebuild-int");
}

/*
 * Blue/green on the rig: rebuild into views-v2 while commands go on and the
 * old views keep serving; then a handler on VIEWS_CONTAINER=views-v2 with a
 * new lease (the change feed from the beginning) brings views-v2 up to date,
 * events written during and after the rebuild included.
 */
Test(rebuild, blue_green_switch_on_cosmos_keeps_every_event, .timeout = 600)
{
    if (!ws_on_cosmos())
        cr_skip_test("the blue/green switch is a Cosmos DB procedure");
    struct hostdrv *blue = ws_start_with("rebuild-bg", NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(blue);
    struct rs_api api = {ws_api_call, c};
    static struct rs_model m;
    rs_workload(&api, &m, 13, 20, 800, "bg");
    char name[256];
    ws_store_name("rebuild-bg", name, sizeof(name));
    struct feed *lease_blue = feed_open_cosmos(name);
    cr_assert_not_null(lease_blue);
    deliver_all(c, lease_blue);
    if (cosmosrig_identity_mode())
        create_views_container("rebuild-bg", "views-v2");

    /* The rebuild's reads are slowed; commands go on meanwhile, projected into blue. */
    cr_assert_eq(cosmosrig_faults("[{\"method\":\"GET\",\"path\":\"/colls/events/docs$\","
                                  "\"header\":{\"x-ms-documentdb-partitionkeyrangeid\":"
                                  "\"0\"},\"count\":1000,\"mode\":\"delay\","
                                  "\"delayMs\":200}]"),
                 0);
    const char *args[] = {"--into", "views-v2", "--cache-views", "5", NULL};
    struct child ch;
    rebuild_start("rebuild-bg", args, &ch);
    int during = 0, step = 800, status = 0;
    while (waitpid(ch.pid, &status, WNOHANG) == 0) {
        for (int k = 0; during < 300 && k < 10; k++, during++)
            rs_step(&api, &m, step++, "bg");
        deliver_all(c, lease_blue);
        es_time_sleep_ms(20);
    }
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the rebuild exits 0");
    unlink(ch.log);
    cr_assert_eq(cosmosrig_faults("[]"), 0);
    /* And after it: every live list renamed. */
    int after = 0;
    for (int l = 0; l < m.n_lists; l++) {
        char path[96];
        snprintf(path, sizeof(path), "/api/todolists/%s", m.lists[l]);
        after +=
            rs_send(&api, "PATCH", path, "{\"name\":\"renamed after\"}", NULL) == 200;
    }
    cr_assert_gt(after, 0, "some lists are live");
    deliver_all(c, lease_blue);
    cr_log_info("%d commands during the rebuild, %d after", during, after);
    cr_expect_geq(during, 10);

    struct side v2;
    side_open("rebuild-bg", "views-v2", &v2);
    json_t *stale = all_views(v2.s);
    side_close(&v2);

    /* The switch: green serves views-v2, its Projector on a new lease from the start. */
    const char *green_env[] = {"VIEWS_CONTAINER=views-v2", NULL};
    struct hostdrv *green = ws_start_with("rebuild-bg", green_env);
    struct hostdrv_conn *gc = hostdrv_conn_new(green);
    struct rs_api gapi = {ws_api_call, gc};
    struct feed *lease_green = feed_open_cosmos(name);
    cr_assert_not_null(lease_green);
    struct side events;
    side_open("rebuild-bg", NULL, &events);
    int64_t before = count_events(events.s);
    deliver_all(gc, lease_green);
    cr_expect_eq(count_events(events.s), before,
                 "reactions green ran again were settled already: nothing appended");
    side_close(&events);
    /* Reactions green ran again are keyed: blue's lease sees no new event. */
    deliver_all(c, lease_blue);
    ws_settle();
    rs_check(&gapi, &m);

    struct side blue_views, green_views;
    side_open("rebuild-bg", NULL, &blue_views);
    side_open("rebuild-bg", "views-v2", &green_views);
    json_t *b = all_views(blue_views.s), *g = all_views(green_views.s);
    expect_same(b, g, "green after the switch");
    int behind = 0;
    const char *id;
    json_t *v;
    json_object_foreach(g, id, v)
    {
        const char *old = json_string_value(json_object_get(stale, id));
        behind += old == NULL || strcmp(old, json_string_value(v)) != 0;
    }
    cr_expect_gt(
        behind, 0,
        "views-v2 missed the later events until the switch (%zu views then, %zu now)",
        json_object_size(stale), json_object_size(g));
    json_decref(b);
    json_decref(g);
    json_decref(stale);
    side_close(&blue_views);
    side_close(&green_views);
    feed_close(lease_green);
    hostdrv_conn_free(gc);
    ws_stop(green);
    feed_close(lease_blue);
    hostdrv_conn_free(c);
    ws_stop(blue);
}

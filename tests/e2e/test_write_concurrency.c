/*
 * The write side under concurrency, across processes, through a crash, and
 * with a long stream: what optimistic concurrency, atomic appends and
 * snapshots promise.
 */
#include <pthread.h>

#include "util/buf.h"
#include "util/timeutil.h"
#include "write_side.h"

struct adder {
    struct hostdrv *d;
    const char *list;
    char task[64];
    int status;
};

static void *add_one(void *arg)
{
    struct adder *a = arg;
    struct hostdrv_conn *c = hostdrv_conn_new(a->d);
    char path[128], body[128];
    snprintf(path, sizeof(path), "/api/todolists/%s/items", a->list);
    snprintf(body, sizeof(body), "{\"task\":\"%s\"}", a->task);
    const char *h[] = {JSON_CT, NULL};
    struct hostdrv_reply r;
    if (hostdrv_call(c, "POST", path, h, body, &r) == 0 && r.result.ok)
        a->status = r.result.http_status;
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    return NULL;
}

/* 32 clients at once; handlers[i % n] serves client i. Returns how many got `status`. */
static int race(struct hostdrv **handlers, int n, const char *list, bool same_task,
                int status)
{
    enum { N = 32 };
    struct adder a[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        a[i] = (struct adder){.d = handlers[i % n], .list = list};
        snprintf(a[i].task, sizeof(a[i].task), same_task ? "same" : "task %d", i);
        pthread_create(&t[i], NULL, add_one, &a[i]);
    }
    int count = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        count += a[i].status == status;
    }
    return count;
}

Test(concurrency, thirty_two_clients_adding_distinct_tasks_all_succeed)
{
    struct hostdrv *d = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "busy", "Busy");
    cr_expect_eq(race(&d, 1, "busy", false, 201), 32);
    json_t *all = ws_events(c, "busy");
    cr_expect_eq(ws_check_gap_free(all), 33);
    json_decref(all);
    hostdrv_conn_free(c);
    ws_stop(d);
}

Test(concurrency, thirty_two_clients_adding_the_same_task_one_wins)
{
    struct hostdrv *d = ws_start(NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_create(c, "dup", "Dup");
    cr_expect_eq(race(&d, 1, "dup", true, 201), 1, "exactly one 201");
    json_t *all = ws_events(c, "dup");
    cr_expect_eq(ws_check_gap_free(all), 2);
    json_decref(all);
    cr_expect_eq(race(&d, 1, "dup", true, 409), 32, "everyone else is told task_exists");
    hostdrv_conn_free(c);
    ws_stop(d);
}

Test(concurrency, two_handler_processes_on_one_store_resolve_their_conflicts)
{
    struct hostdrv *h[2] = {ws_start_with("two", NULL), ws_start_with("two", NULL)};
    struct hostdrv_conn *c = hostdrv_conn_new(h[0]);
    ws_create(c, "shared", "Shared");
    /* Both processes hold the list in their caches before the race. */
    struct hostdrv_conn *c1 = hostdrv_conn_new(h[1]);
    free(ws_add(c1, "shared", "warm-up"));
    hostdrv_conn_free(c1);
    cr_expect_eq(race(h, 2, "shared", false, 201), 32);
    ws_settle(); /* h[0] reads what h[1] wrote */
    json_t *all = ws_events(c, "shared");
    cr_expect_eq(ws_check_gap_free(all), 34);
    json_decref(all);
    cr_expect_eq(race(h, 2, "shared", true, 201), 1, "one winner across processes too");
    hostdrv_conn_free(c);
    ws_stop(h[0]);
    ws_stop(h[1]);
    ws_drop_store("two");
}

/* ---- crash ---- */

#define ITEMS_PER_LIST 4

struct burster {
    struct hostdrv *d;
    int index;
    char list[32];
    char items[ITEMS_PER_LIST][40];
    char acked_items[4096][40]; /* item ids acknowledged with 201 */
    int n_acked_items;
    char acked_mass[4096][64]; /* correlation ids of acknowledged mass updates */
    int n_acked_mass;
    volatile bool stop;
};

/* Alternates adds and mass status updates until the handler dies. */
static void *burst(void *arg)
{
    struct burster *b = arg;
    struct hostdrv_conn *c = hostdrv_conn_new(b->d);
    char items_path[96];
    snprintf(items_path, sizeof(items_path), "/api/todolists/%s/items", b->list);
    for (int i = 0; !b->stop && b->n_acked_items < 4096 && b->n_acked_mass < 4096; i++) {
        char body[512], corr[40], corr_header[96];
        snprintf(corr, sizeof(corr), "w%d-%d", b->index, i);
        snprintf(corr_header, sizeof(corr_header), "X-Correlation-Id: %s", corr);
        const char *h[] = {JSON_CT, corr_header, NULL};
        bool mass = i % 2 == 1;
        if (mass)
            snprintf(body, sizeof(body),
                     "{\"itemIds\":[\"%s\",\"%s\",\"%s\",\"%s\"],\"status\":\"%s\"}",
                     b->items[0], b->items[1], b->items[2], b->items[3],
                     i % 4 == 1 ? "Done" : "To Do");
        else
            snprintf(body, sizeof(body), "{\"task\":\"burst %d\"}", i);
        struct hostdrv_reply r;
        int rc = hostdrv_call(c, mass ? "PATCH" : "POST", items_path, h, body, &r);
        if (rc != 0 || !r.result.ok) {
            hostdrv_reply_release(&r);
            break;
        }
        if (!mass && r.result.http_status == 201)
            snprintf(b->acked_items[b->n_acked_items++], 40, "%s",
                     ws_str(r.client_json, "itemId"));
        if (mass && r.result.http_status == 200)
            snprintf(b->acked_mass[b->n_acked_mass++], 64, "%s", corr);
        hostdrv_reply_release(&r);
    }
    hostdrv_conn_free(c);
    return NULL;
}

Test(concurrency, kill_9_during_a_burst_loses_nothing_acknowledged, .timeout = 120)
{
    struct hostdrv *d = ws_start_with("crash", NULL);
    enum { N = 6 };
    static struct burster b[N];
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    for (int i = 0; i < N; i++) {
        memset(&b[i], 0, sizeof(b[i]));
        b[i].d = d;
        b[i].index = i;
        snprintf(b[i].list, sizeof(b[i].list), "crash-%d", i);
        ws_create(c, b[i].list, "Crash");
        for (int k = 0; k < ITEMS_PER_LIST; k++) {
            char task[16];
            snprintf(task, sizeof(task), "fixed %d", k);
            char *id = ws_add(c, b[i].list, task);
            snprintf(b[i].items[k], sizeof(b[i].items[k]), "%s", id);
            free(id);
        }
    }
    hostdrv_conn_free(c);
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, burst, &b[i]);
    es_time_sleep_ms(700);
    cr_expect_eq(hostdrv_stop(d, SIGKILL, 5000), 128 + SIGKILL);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    hostdrv_free(d);

    ws_settle();
    d = ws_start_with("crash", NULL);
    c = hostdrv_conn_new(d);
    int acked = 0;
    for (int i = 0; i < N; i++) {
        json_t *all = ws_events(c, b[i].list);
        ws_check_gap_free(all);
        acked += b[i].n_acked_items + b[i].n_acked_mass;
        for (int k = 0; k < b[i].n_acked_items; k++) {
            int found = 0;
            size_t j;
            json_t *e;
            json_array_foreach(all, j, e)
            {
                const char *id = ws_str(json_object_get(e, "data"), "itemId");
                found += strcmp(ws_str(e, "type"), "ItemAdded") == 0 && id != NULL &&
                         strcmp(id, b[i].acked_items[k]) == 0;
            }
            cr_expect_eq(found, 1, "acknowledged item %s is stored exactly once",
                         b[i].acked_items[k]);
        }
        /* Every mass update is whole: four events with its correlation id, or none. */
        size_t j;
        json_t *e;
        const char *group = NULL;
        int in_group = 0;
        json_array_foreach(all, j, e)
        {
            const char *corr = ws_str(json_object_get(e, "meta"), "correlationId");
            if (strcmp(ws_str(e, "type"), "ItemStatusChanged") != 0) {
                cr_expect(group == NULL || in_group == ITEMS_PER_LIST, "torn append %s",
                          group);
                group = NULL;
                in_group = 0;
                continue;
            }
            if (group == NULL || strcmp(group, corr) != 0) {
                cr_expect(group == NULL || in_group == ITEMS_PER_LIST, "torn append %s",
                          group);
                group = corr;
                in_group = 0;
            }
            in_group++;
        }
        cr_expect(group == NULL || in_group == ITEMS_PER_LIST, "torn append at the end");
        for (int k = 0; k < b[i].n_acked_mass; k++) {
            int found = 0;
            json_array_foreach(all, j, e)
            {
                found += strcmp(ws_str(json_object_get(e, "meta"), "correlationId"),
                                b[i].acked_mass[k]) == 0;
            }
            cr_expect_eq(found, ITEMS_PER_LIST, "acknowledged mass update %s is whole",
                         b[i].acked_mass[k]);
        }
        json_decref(all);
    }
    cr_log_info("%d commands acknowledged before the kill", acked);
    cr_expect_gt(acked, N, "the burst was under way when the process died");
    hostdrv_conn_free(c);
    ws_stop(d);
    ws_drop_store("crash");
}

/* ---- a long stream ---- */

Test(concurrency, a_list_with_ten_thousand_events_loads_from_its_snapshot, .timeout = 240)
{
    struct hostdrv *d = ws_start_with("long", NULL);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    ws_make_long_list(c, "long");
    hostdrv_conn_free(c);
    ws_stop(d);

    ws_settle();
    d = ws_start_with("long", NULL); /* a cold cache */
    c = hostdrv_conn_new(d);
    const char *h[] = {JSON_CT, NULL};
    struct hostdrv_reply r;
    cr_assert_eq(
        ws_send(c, "PATCH", "/api/todolists/long", h, "{\"name\":\"Still long\"}", &r),
        200);
    cr_expect_eq(json_integer_value(json_object_get(r.client_json, "version")), 10002);
    const char *log = json_string_value(json_array_get(r.result.logs, 0));
    cr_log_info("%s", log);
    cr_assert_not_null(log);
    cr_expect(strstr(log, "loaded from snapshot") != NULL, "%s", log);
    unsigned read = 100000;
    const char *p = strstr(log, "event(s) read");
    while (p != NULL && p > log && p[-1] == ' ')
        p--;
    while (p != NULL && p > log && p[-1] >= '0' && p[-1] <= '9')
        p--;
    if (p != NULL)
        read = (unsigned)strtoul(p, NULL, 10);
    cr_expect_lt(read, 100, "read %u events after the snapshot, not 10,000", read);
    hostdrv_reply_release(&r);
    hostdrv_conn_free(c);
    ws_stop(d);
    ws_drop_store("long");
}

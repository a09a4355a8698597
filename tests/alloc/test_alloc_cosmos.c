/*
 * The Cosmos DB store against the local rig (tests/support/cosmos-rig), with
 * every allocation failing in turn: appends (one with a receipt and a
 * snapshot, one that conflicts), a page of events, the receipt, and views
 * created, replaced and paged (the second page from the first's
 * continuation). The failures
 * land in the store's own code, the REST client (signing, headers, the
 * reply's body and headers) and jansson. Each run works on streams and views
 * of its own ids, so every run starts from nothing; the stored data is read
 * back through the store with the run's ids written as RUN. A write may have
 * been applied when its reply was lost for want of memory, which the store
 * resolves by reading back; never half of one (sweep.h says what else is
 * checked). A second scenario sweeps the scan a rebuild makes across a split
 * range (below).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "store/store.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "../support/cosmosrig.h"
#include "alloc_fail.h"
#include "scenario.h"
#include "sweep.h"

COSMOSRIG_START_BEFORE_ALL_TESTS
COSMOSRIG_STOP_AFTER_ALL_TESTS

static struct es_config cfg;
static struct es_store *store;

struct cosmos_run {
    char run[32]; /* this run's part of every id */
    char stream[64], v1[64], v2[64], kind[64];
    char *etag;     /* of view v1, once written */
    char *pair[2];  /* of the views written together, once written */
    char *next;     /* the first page's continuation */
    char first[64]; /* the id on the first page */
};

static void *open_run(void)
{
    static int n;
    struct cosmos_run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    snprintf(r->run, sizeof(r->run), "r%d-%d", (int)getpid(), n++);
    snprintf(r->stream, sizeof(r->stream), "s-%s", r->run);
    snprintf(r->v1, sizeof(r->v1), "v:%s:1", r->run);
    snprintf(r->v2, sizeof(r->v2), "v:%s:2", r->run);
    snprintf(r->kind, sizeof(r->kind), "k-%s", r->run);
    return r;
}

static void close_run(void *state)
{
    struct cosmos_run *r = state;
    free(r->etag);
    free(r->pair[0]);
    free(r->pair[1]);
    free(r->next);
    free(r);
}

/* text with every occurrence of the run's id written as RUN (malloc'd; consumes text). */
static char *generic(const struct cosmos_run *r, char *text)
{
    size_t n = strlen(r->run);
    char *out = malloc(strlen(text) + 1);
    cr_assert_not_null(out);
    char *o = out;
    for (const char *p = text; *p != '\0';) {
        if (strncmp(p, r->run, n) == 0) {
            memcpy(o, "RUN", 3);
            o += 3;
            p += n;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    free(text);
    return out;
}

/* An answer: the status, a word, and a JSON value (stolen), as text. */
static char *text_of(const struct cosmos_run *r, enum es_status st, const char *what,
                     json_t *v)
{
    char *text = sweep_text(st, what, v, JSON_COMPACT | JSON_SORT_KEYS);
    alloc_fail_pause();
    text = generic(r, text);
    alloc_fail_resume();
    return text;
}

/*
 * The run's stored data, read back through the store with counting off: its
 * events, its receipt, and its views (by kind, sorted by id).
 */
static char *dump(void *state)
{
    struct cosmos_run *r = state;
    json_t *all = json_object();
    struct es_event_page p = {0};
    cr_assert_eq(store->ops->read_stream(store, r->stream, 1, 100, &p, NULL, NULL),
                 ES_OK);
    json_object_set_new(all, "events", scenario_page_json(&p));
    es_event_page_release(&p);
    struct es_receipt rc = {0};
    if (store->ops->read_receipt(store, r->stream, "key-1", &rc, NULL, NULL) == ES_OK)
        json_object_set_new(all, "receipt",
                            json_pack("{s:i, s:s, s:I}", "status", rc.status, "body",
                                      rc.body, "version", (json_int_t)rc.version));
    es_receipt_release(&rc);
    json_t *docs = NULL;
    char *next = NULL;
    cr_assert_eq(
        store->ops->view_query(store, r->kind, NULL, 10, &docs, &next, NULL, NULL),
        ES_OK);
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
        json_object_set(all, json_string_value(json_object_get(doc, "id")), doc);
    json_decref(docs);
    free(next);
    char *text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    return generic(r, text);
}

/* ---- the steps ---- */

/* One type for every event: only their data tells appends apart (below). */
static const char *const types[] = {"ItemAdded", "ItemAdded", "ItemAdded"};

static enum es_status append(struct cosmos_run *r, int64_t expected, int n, bool keyed,
                             char **out)
{
    struct scenario_write w = {.stream = r->stream,
                               .expected = expected,
                               .n = (size_t)n,
                               .types = types,
                               .keyed = keyed};
    alloc_fail_pause();
    for (int i = 0; i < n; i++)
        /* Each append's own text: the store tells its own event from another writer's
         * by reading it back after a lost reply. */
        w.data[i] =
            json_pack("{s:I, s:s, s:i}", "n", (json_int_t)(expected + i + 1), "text",
                      "a value long enough to make the parser grow its buffer", "append",
                      n * 10 + (int)expected);
    w.state = json_pack("{s:I}", "n", (json_int_t)(expected + n));
    alloc_fail_resume();
    enum es_conflict conflict;
    enum es_status st = scenario_append(store, &w, &conflict);
    if (scenario_answer(st))
        *out = text_of(r, st, conflict == ES_CONFLICT_VERSION ? "version" : "none", NULL);
    return scenario_answer(st) ? ES_OK : st;
}

static enum es_status put_view(struct cosmos_run *r, const char *id, bool replace,
                               char **out)
{
    alloc_fail_pause();
    json_t *doc = json_pack("{s:s, s:s, s:I, s:[{s:s}]}", "id", id, "view", r->kind,
                            "version", (json_int_t)(replace ? 2 : 1), "items", "task",
                            "a task long enough to grow the serialiser's buffer");
    alloc_fail_resume();
    char *etag = NULL;
    enum es_status st = scenario_view_put(store, doc, replace ? r->etag : NULL, &etag);
    if (st == ES_ECONFLICT && !replace) {
        /* Created already (by a try whose reply was lost): as the projector does, read
         * it to carry on from its etag. */
        json_t *stored = NULL;
        if (store->ops->view_get(store, id, &stored, &etag, NULL, NULL) != ES_OK)
            etag = NULL;
        json_decref(stored);
    }
    if ((st == ES_OK || st == ES_ECONFLICT) && id == r->v1 && etag != NULL) {
        free(r->etag);
        r->etag = etag;
        etag = NULL;
    }
    if (scenario_answer(st))
        *out = text_of(r, st, "view", NULL);
    free(etag);
    return scenario_answer(st) ? ES_OK : st;
}

/* Two views of one partition ("pa:RUN", "pb:RUN") in one views_put. */
static enum es_status put_pair(struct cosmos_run *r, bool replace, char **out)
{
    alloc_fail_pause();
    struct es_view_write w[2];
    for (int i = 0; i < 2; i++) {
        char id[64];
        snprintf(id, sizeof(id), "p%c:%s", 'a' + i, r->run);
        w[i] = (struct es_view_write){
            json_pack("{s:s, s:s, s:I, s:[{s:s}]}", "id", id, "view", r->kind, "version",
                      (json_int_t)(replace ? 2 : 1), "items", "task",
                      "a task long enough to grow the serialiser's buffer"),
            replace ? r->pair[i] : NULL, NULL, 0};
    }
    alloc_fail_resume();
    size_t refused;
    enum es_status st = store->ops->views_put(store, w, 2, &refused, NULL, NULL);
    alloc_fail_pause();
    for (int i = 0; i < 2; i++) {
        char *etag = w[i].etag;
        if (st == ES_ECONFLICT && !replace) {
            /* Created already (by a try whose reply was lost): carry on from there. */
            json_t *stored = NULL;
            const char *id = json_string_value(json_object_get(w[i].doc, "id"));
            if (store->ops->view_get(store, id, &stored, &etag, NULL, NULL) != ES_OK)
                etag = NULL;
            json_decref(stored);
        }
        if (etag != NULL) {
            free(r->pair[i]);
            r->pair[i] = etag;
        }
        json_decref((json_t *)w[i].doc);
    }
    alloc_fail_resume();
    if (scenario_answer(st))
        *out = text_of(r, st, "views", NULL);
    return scenario_answer(st) ? ES_OK : st;
}

/*
 * One page of one view of the run's kind. The order is not promised, so the
 * first page's answer says only that there is more; the second's gives both
 * ids, sorted, which must be the two views.
 */
static enum es_status query(struct cosmos_run *r, bool first, char **out)
{
    json_t *docs = NULL;
    char *next = NULL;
    enum es_status st = store->ops->view_query(store, r->kind, first ? NULL : r->next, 1,
                                               &docs, &next, NULL, NULL);
    if (st == ES_OK) {
        alloc_fail_pause();
        const char *id =
            json_string_value(json_object_get(json_array_get(docs, 0), "id"));
        json_t *v = json_array();
        if (first) {
            snprintf(r->first, sizeof(r->first), "%s", id != NULL ? id : "-");
            free(r->next);
            r->next = next;
            next = NULL;
        } else {
            bool in_order = id == NULL || strcmp(r->first, id) < 0;
            json_array_append_new(v, json_string(in_order ? r->first : id));
            json_array_append_new(v, json_string(in_order ? (id ? id : "-") : r->first));
        }
        alloc_fail_resume();
        *out = text_of(r, st,
                       first ? (r->next != NULL ? "more" : "last")
                             : (next != NULL ? "more" : "last"),
                       v);
    } else if (scenario_answer(st)) {
        *out = text_of(r, st, "query", NULL);
    }
    json_decref(docs);
    free(next);
    return scenario_answer(st) ? ES_OK : st;
}

static enum es_status step(void *state, size_t i, char **out)
{
    struct cosmos_run *r = state;
    enum es_status st;
    switch (i) {
    case 0:
        return append(r, 0, 3, true, out);
    case 1:
        return append(r, 2, 1, false, out); /* version 3 is taken */
    case 2: {
        struct es_event_page p = {0};
        st = store->ops->read_stream(store, r->stream, 2, 10, &p, NULL, NULL);
        if (scenario_answer(st)) {
            alloc_fail_pause();
            json_t *v = scenario_page_json(&p);
            alloc_fail_resume();
            *out = text_of(r, st, "page", v);
        }
        es_event_page_release(&p);
        return scenario_answer(st) ? ES_OK : st;
    }
    case 3: {
        struct es_receipt rc = {0};
        st = store->ops->read_receipt(store, r->stream, "key-1", &rc, NULL, NULL);
        if (scenario_answer(st)) {
            alloc_fail_pause();
            json_t *v = st != ES_OK ? NULL
                                    : json_pack("{s:s, s:i, s:s, s:s?, s:s, s:s?}", "key",
                                                rc.key, "status", rc.status, "body",
                                                rc.body, "location", rc.location, "hash",
                                                rc.request_hash, "at", rc.created_at);
            alloc_fail_resume();
            *out = text_of(r, st, "receipt", v);
        }
        es_receipt_release(&rc);
        return scenario_answer(st) ? ES_OK : st;
    }
    case 4:
        return put_view(r, r->v1, false, out);
    case 5:
        return put_view(r, r->v2, false, out);
    case 6:
        return put_view(r, r->v1, true, out);
    case 7:
        return query(r, true, out);
    case 8:
        return query(r, false, out);
    case 9:
        return put_pair(r, false, out);
    default:
        return put_pair(r, true, out);
    }
}

static const struct sweep_scenario cosmos_scenario = {
    .name = "cosmos store",
    .n_steps = 11,
    .open = open_run,
    .close = close_run,
    .step = step,
    .dump = dump,
    /* A write whose reply was lost for want of memory may stand (read back or not). */
    .failure_may_write = true,
};

static void setup(void)
{
    cr_assert_not_null(cosmosrig_endpoint(),
                       "the Cosmos rig is not running: run 'npm ci' in "
                       "tests/support/cosmos-rig (make test does)");
    char db[64];
    snprintf(db, sizeof(db), "alloc-%d", (int)getpid());
    cr_assert_eq(cosmosrig_init_db(db), 0);
    static struct cosmosrig_env env; /* putenv keeps pointers into it */
    cosmosrig_env_for(db, &env);
    for (const char *const *e = env.list; *e != NULL; e++)
        putenv((char *)*e);
    struct es_error err = {0};
    cr_assert_eq(es_config_load(&cfg, &err), ES_OK, "%s", err.message);
    cr_assert_eq(es_app_store_open(&cfg, &store, &err), ES_OK, "%s", err.message);
    es_log_set_level(ES_LOG_OFF);
}

static void teardown(void)
{
    es_store_close(store);
    es_config_release(&cfg);
}

Test(alloc, cosmos_store_operations_are_whole_or_fail_cleanly, .init = setup,
     .fini = teardown, .timeout = 300)
{
    sweep_test(&cosmos_scenario);
}

/*
 * The scan a rebuild makes, on events written once (eight streams) in a
 * container whose one range has split: from a cursor of an earlier version
 * naming the parent range (410, the split followed onto its children), page
 * after page, and a new scan that lists the ranges. A failed scan leaves its
 * cursor as it was, so the step run again answers the same.
 */
struct scan_run {
    char *cursor;
};

static void *open_scan(void)
{
    struct scan_run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    r->cursor = strdup("{\"ranges\":[\"0\"],\"i\":0,\"etag\":null}");
    return r;
}

static void close_scan(void *state)
{
    struct scan_run *r = state;
    free(r->cursor);
    free(r);
}

static char *dump_scan(void *state)
{
    (void)state;
    return strdup("the scans write nothing");
}

static enum es_status scan_step(void *state, size_t i, char **out)
{
    struct scan_run *r = state;
    if (i == 3) {
        free(r->cursor);
        r->cursor = NULL;
    }
    struct es_event_page p = {0};
    size_t skipped = 0;
    enum es_status st = store->ops->events_scan(store, &r->cursor, i == 3 ? 100 : 3, &p,
                                                &skipped, NULL, NULL);
    if (st == ES_OK) {
        alloc_fail_pause();
        *out = sweep_text(st, r->cursor, scenario_page_json(&p), JSON_COMPACT);
        alloc_fail_resume();
    }
    es_event_page_release(&p);
    return st;
}

static const struct sweep_scenario scan_scenario = {
    .name = "cosmos scan",
    .n_steps = 4,
    .open = open_scan,
    .close = close_scan,
    .step = scan_step,
    .dump = dump_scan,
};

Test(alloc, a_cosmos_scan_across_a_split_is_whole_or_fails_cleanly, .init = setup,
     .fini = teardown, .timeout = 300)
{
    for (int i = 0; i < 8; i++) {
        char stream[32];
        snprintf(stream, sizeof(stream), "s-scan-%d", i);
        struct scenario_write w = {
            .stream = stream, .expected = 0, .n = 1, .types = types, .keyed = false};
        w.data[0] = json_pack("{s:i}", "n", i);
        enum es_conflict conflict;
        cr_assert_eq(scenario_append(store, &w, &conflict), ES_OK);
    }
    json_t *ranges = NULL;
    cr_assert_eq(cosmosrig_split(cfg.cosmos_database, cfg.events_container, "0", &ranges),
                 0);
    cr_assert_eq(json_array_size(ranges), 2);
    json_decref(ranges);
    sweep_test(&scan_scenario);
}

/*
 * scenario.h - what the scenarios on the store have in common: a fresh SQLite
 * store per run, the engine they run it with, and the store calls they make
 * and read back (an append with its receipt and snapshot, a page of events).
 *
 * Header-only (static inline), as tests/support/fixtures.h: the harness
 * library (sweep.c) sees only util/, while the scenario programs link the
 * store and the engine. Whatever a helper builds for the test's own sake it
 * builds with counting paused, so a sweep counts only the handler's
 * allocations.
 */
#ifndef ES_TESTS_ALLOC_SCENARIO_H
#define ES_TESTS_ALLOC_SCENARIO_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "es/engine.h"
#include "store/store.h"
#include "alloc_fail.h"
#include "sweep.h"

/* ---- a fresh SQLite store per run ---- */

/*
 * A run's store: <sweep_dir>/<name>-<n>.db. A run's state starts with it, so
 * scenario_db_dump serves as the scenario's dump.
 */
struct scenario_db {
    char path[256];
    struct es_store *store;
};

/* Opens the next run's store: a new file, or a copy of from when not NULL. */
static inline void scenario_db_open(struct scenario_db *db, const char *name,
                                    const char *from)
{
    static int n;
    snprintf(db->path, sizeof(db->path), "%s/%s-%d.db", sweep_dir(), name, n++);
    if (from != NULL)
        cr_assert_eq(sweep_copy_file(from, db->path), 0);
    cr_assert_eq(es_store_sqlite_open(db->path, &db->store, NULL), ES_OK);
}

/* Closes the store and removes its files, so sweep_teardown finds the directory empty. */
static inline void scenario_db_close(struct scenario_db *db)
{
    es_store_close(db->store);
    char p[300];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", db->path, suffix[i]);
        unlink(p);
    }
}

/* The stored data of a run whose state starts with its struct scenario_db. */
static inline char *scenario_db_dump(void *state)
{
    return sweep_dump_sqlite(((struct scenario_db *)state)->path);
}

/*
 * An engine with room for 100 streams, 16 cached views and 3 tries at an append,
 * snapshotting every snapshot_every versions (the scenario's choice).
 */
static inline struct es_engine *scenario_engine_new(struct es_store *store,
                                                    int snapshot_every)
{
    struct es_engine_opts o = {store, 100, snapshot_every, 3, 16, 0};
    return es_engine_new(&o);
}

/* ---- store calls and their answers ---- */

/* The statuses that are answers of a store, not failures. */
static inline bool scenario_answer(enum es_status st)
{
    return st == ES_OK || st == ES_ECONFLICT || st == ES_ENOTFOUND ||
           st == ES_EPRECONDITION;
}

/*
 * A test append: n events (types[i], data[i]) after version expected, all
 * with the same meta; keyed, with the receipt key-1 and a snapshot of state
 * at the new version. The JSON is the caller's, built with counting paused.
 */
struct scenario_write {
    const char *stream;
    int64_t expected;
    size_t n;
    const char *const *types;
    json_t *data[3]; /* taken */
    json_t *state;   /* taken; written only when keyed */
    bool keyed;
};

/* Makes the append; *conflict says which conflict refused it, if one did. */
static inline enum es_status scenario_append(struct es_store *s, struct scenario_write *w,
                                             enum es_conflict *conflict)
{
    alloc_fail_pause();
    json_t *meta = json_pack("{s:s, s:n}", "correlationId", "corr-1", "causationId");
    struct es_new_event ev[3];
    for (size_t i = 0; i < w->n; i++)
        ev[i] = (struct es_new_event){w->types[i], 1, w->data[i], meta};
    alloc_fail_resume();
    int64_t version = w->expected + (int64_t)w->n;
    struct es_receipt receipt = {.key = "key-1",
                                 .status = 201,
                                 .body = "{\"id\":\"1\",\"version\":3,\"events\":[]}",
                                 .version = version,
                                 .location = "/api/things/1",
                                 .request_hash = "9f86d081884c7d659a2feaa0c55ad015",
                                 .created_at = "2026-01-01T00:00:00.000Z"};
    struct es_snapshot snap = {.version = version, .schema = 1, .state = w->state};
    struct es_append a = {w->stream,
                          w->expected,
                          ev,
                          w->n,
                          w->keyed ? &receipt : NULL,
                          w->keyed ? &snap : NULL};
    *conflict = ES_CONFLICT_NONE;
    enum es_status st = s->ops->append(s, &a, conflict, NULL, NULL);
    alloc_fail_pause();
    for (size_t i = 0; i < w->n; i++)
        json_decref(w->data[i]);
    json_decref(meta);
    json_decref(w->state);
    alloc_fail_resume();
    return st;
}

/*
 * Puts a view: doc is taken (the caller built it with counting paused, and
 * it is freed so too); *etag as the store answers it (malloc'd).
 */
static inline enum es_status scenario_view_put(struct es_store *s, json_t *doc,
                                               const char *if_match, char **etag)
{
    enum es_status st = s->ops->view_put(s, doc, if_match, etag, NULL, NULL);
    alloc_fail_pause();
    json_decref(doc);
    alloc_fail_resume();
    return st;
}

/*
 * A page of events as JSON (call with counting off or paused). seq leads
 * where the store has one: the embedded store's change feed (Cosmos DB's
 * events have none, 0).
 */
static inline json_t *scenario_page_json(const struct es_event_page *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < p->n; i++) {
        const struct es_event *e = &p->events[i];
        json_t *o =
            e->seq != 0 ? json_pack("{s:I}", "seq", (json_int_t)e->seq) : json_object();
        json_object_update_new(
            o, json_pack("{s:s, s:I, s:s, s:i, s:O, s:O}", "stream", e->stream_id,
                         "version", (json_int_t)e->version, "type", e->type, "schema",
                         e->schema, "data", e->data, "meta", e->meta));
        json_array_append_new(arr, o);
    }
    return arr;
}

#endif

/*
 * sweep.h - one scenario, run with every allocation failing in turn.
 *
 * A scenario is a few steps (commands, store operations, invocations) run in
 * order on a fresh state. The sweep runs it once with nothing failing, to
 * count its allocations C and record each step's answer and the stored data
 * after each step; then, for every N in 1..C, again from a fresh state with
 * the Nth allocation failing. Of the step that met the failure it asks:
 *   - an answer (ES_OK): the same answer as without the failure, and the
 *     stored data as after the step;
 *   - a failure: a clean one (ES_ENOMEM unless the scenario says otherwise),
 *     the stored data exactly as before the step (or as after it, where the
 *     scenario allows an answer lost after its write; or in between, where
 *     its work comes in independent parts, each whole), the scenario's own
 *     consistency check, and then the step run again with allocations
 *     working: the stored data as after the step (and the same answer, when
 *     nothing had been written).
 * Every other step must answer as without the failure, and the run must end
 * with the same stored data. Crashes fail the test; under ASan, so do leaks.
 */
#ifndef ES_TESTS_ALLOC_SWEEP_H
#define ES_TESTS_ALLOC_SWEEP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/status.h"

struct sweep_scenario {
    const char *name;
    size_t n_steps;
    /* A fresh state (store, engine, ...); called with counting off. */
    void *(*open)(void);
    void (*close)(void *state);
    /*
     * Runs step i with counting on. ES_OK with its answer in *answer (malloc'd,
     * normalised so that runs compare: build it between alloc_fail_pause and
     * alloc_fail_resume), else the failure.
     */
    enum es_status (*step)(void *state, size_t i, char **answer);
    /* The stored data, normalised (malloc'd); called with counting off. */
    char *(*dump)(void *state);
    /* A consistency check after a failure: NULL when fine, else what is wrong. */
    const char *(*check)(void *state);
    /* A failure may come after the step's write (an answer lost, not the data). */
    bool failure_may_write;
    /*
     * Steps (bit i: step i) that may fail after part of their work: each part
     * is whole on its own (a projector batch writes each view once, stream by
     * stream), which the check judges, instead of "as before or as after".
     */
    unsigned long partial_steps;
    /* Whether a failure status is a clean one (NULL: only ES_ENOMEM). */
    bool (*clean)(enum es_status st);
};

struct sweep_stats {
    long allocations; /* C: counted in the run without failures */
    long runs;        /* runs with one allocation failing (N = 1..C) */
    long failed;      /* of which the step that met it failed cleanly */
    long answered;    /* of which it answered all the same */
    long unreached;   /* of which the run made fewer than N allocations */
};

/* Runs the sweep, reporting every broken expectation through Criterion. */
void sweep_run(const struct sweep_scenario *s, struct sweep_stats *out);

/*
 * A scenario's test: the sweep, and at least one failure that reached a
 * failure path (else the scenario tests nothing of them).
 */
void sweep_test(const struct sweep_scenario *s);

/* ---- helpers for scenarios ---- */

/*
 * A test's setup for a scenario with files: the handler's logging off (its
 * failure paths log), and a fresh directory for the files (sweep_dir).
 * sweep_teardown removes the directory, which the runs must have emptied.
 */
void sweep_setup(void);
void sweep_teardown(void);

/* The directory sweep_setup made (under /dev/shm when there is one). */
const char *sweep_dir(void);

/*
 * An answer as text (malloc'd): the status, a word, and v (taken; "-" for
 * NULL) dumped with jansson's flags. Built with counting paused, as answers
 * must be.
 */
char *sweep_text(enum es_status st, const char *what, json_t *v, size_t flags);

/* Copies a file; 0 on success. */
int sweep_copy_file(const char *from, const char *to);

/*
 * The SQLite store at path as text: every table, in a fixed order, without
 * the times (occurredAt, createdAt, failedAt) that differ between runs.
 */
char *sweep_dump_sqlite(const char *path);

#endif

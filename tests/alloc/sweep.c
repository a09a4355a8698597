/*
 * sweep.c - the sweep (see sweep.h) and the scenarios' common helpers.
 */
#include "sweep.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"
#include "alloc_fail.h"

/* Broken expectations reported per scenario before the rest are only counted. */
#define REPORT_MAX 8

struct reference {
    long *counts;   /* allocations per step */
    char **answers; /* per step */
    char **dumps;   /* stored data before step i (dumps[n]: at the end) */
};

struct sweep_run {
    const struct sweep_scenario *s;
    struct reference ref;
    long n;        /* the allocation failing */
    long reported; /* broken expectations reported */
    long broken;   /* broken expectations in all */
};

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Where two texts part: the start of the first line that differs. */
static size_t first_difference(const char *a, const char *b)
{
    size_t i = 0, line = 0;
    for (; a[i] != '\0' && a[i] == b[i]; i++)
        if (a[i] == '\n')
            line = i + 1;
    return line;
}

/* A broken expectation: reported (up to REPORT_MAX), counted always. */
static void broken(struct sweep_run *r, size_t step, const char *what, const char *got,
                   const char *want)
{
    r->broken++;
    if (r->reported++ >= REPORT_MAX)
        return;
    size_t from = got != NULL && want != NULL ? first_difference(got, want) : 0;
    cr_expect(
        false, "%s: allocation %ld failing, step %zu: %s%s%.400s%s%.400s", r->s->name,
        r->n, step + 1, what,
        got != NULL ? (from > 0 ? "\n  got (from where they part):  " : "\n  got:  ")
                    : "",
        got != NULL ? got + from : "",
        want != NULL ? (from > 0 ? "\n  want (from where they part): " : "\n  want: ")
                     : "",
        want != NULL ? want + from : "");
}

static bool clean(const struct sweep_scenario *s, enum es_status st)
{
    return s->clean != NULL ? s->clean(st) : st == ES_ENOMEM;
}

/* The run without failures: counts, answers, stored data. */
static void record(const struct sweep_scenario *s, struct reference *ref)
{
    ref->counts = calloc(s->n_steps, sizeof(*ref->counts));
    ref->answers = calloc(s->n_steps, sizeof(*ref->answers));
    ref->dumps = calloc(s->n_steps + 1, sizeof(*ref->dumps));
    cr_assert(ref->counts != NULL && ref->answers != NULL && ref->dumps != NULL);
    void *state = s->open();
    cr_assert_not_null(state, "%s: cannot set up", s->name);
    for (size_t i = 0; i < s->n_steps; i++) {
        ref->dumps[i] = s->dump(state);
        alloc_fail_start(0);
        enum es_status st = s->step(state, i, &ref->answers[i]);
        ref->counts[i] = alloc_fail_stop();
        cr_assert_eq(st, ES_OK, "%s: step %zu fails without any failure: %s", s->name,
                     i + 1, es_status_name(st));
    }
    ref->dumps[s->n_steps] = s->dump(state);
    s->close(state);
}

/* The step that met the failure, and the same step again with memory. */
static void after_failure(struct sweep_run *r, void *state, size_t i, enum es_status st,
                          char *answer, struct sweep_stats *stats)
{
    const struct sweep_scenario *s = r->s;
    char *now = s->dump(state);
    if (st == ES_OK) {
        stats->answered++;
        if (!same(answer, r->ref.answers[i]))
            broken(r, i, "answered, but not as without the failure", answer,
                   r->ref.answers[i]);
        if (!same(now, r->ref.dumps[i + 1]))
            broken(r, i, "answered, but the stored data is not as after the step", now,
                   r->ref.dumps[i + 1]);
        free(now);
        return;
    }
    stats->failed++;
    bool before = same(now, r->ref.dumps[i]);
    bool written = s->failure_may_write && same(now, r->ref.dumps[i + 1]);
    if (!clean(s, st))
        broken(r, i, "failed, but not cleanly:", es_status_name(st), NULL);
    if (!before && !written && (s->partial_steps & (1ul << i)) == 0)
        broken(r, i, "failed, and left the stored data neither as before nor as after",
               now, r->ref.dumps[i]);
    const char *why = s->check != NULL ? s->check(state) : NULL;
    if (why != NULL)
        broken(r, i, "failed, and left the stored data inconsistent:", why, NULL);
    free(now);
    char *again = NULL;
    enum es_status st2 = s->step(state, i, &again);
    if (st2 != ES_OK)
        broken(r, i, "run again with memory, it still fails:", es_status_name(st2), NULL);
    else if (before && !same(again, r->ref.answers[i]))
        broken(r, i, "run again with memory, it answers otherwise", again,
               r->ref.answers[i]);
    free(again);
    now = s->dump(state);
    if (st2 == ES_OK && !same(now, r->ref.dumps[i + 1]))
        broken(r, i,
               "run again with memory, it leaves other stored data than without "
               "the failure",
               now, r->ref.dumps[i + 1]);
    free(now);
}

/* One run with allocation n failing. */
static void run_failing(struct sweep_run *r, struct sweep_stats *stats)
{
    const struct sweep_scenario *s = r->s;
    void *state = s->open();
    cr_assert_not_null(state, "%s: cannot set up", s->name);
    bool met = false;
    alloc_fail_start(r->n);
    for (size_t i = 0; i < s->n_steps; i++) {
        char *answer = NULL;
        enum es_status st = s->step(state, i, &answer);
        if (!met && alloc_fail_hit()) {
            met = true;
            alloc_fail_stop();
            after_failure(r, state, i, st, answer, stats);
        } else if (st != ES_OK) {
            broken(r, i, "failed where no allocation failed:", es_status_name(st), NULL);
        } else if (!same(answer, r->ref.answers[i])) {
            broken(r, i, "answered otherwise than without the failure", answer,
                   r->ref.answers[i]);
        }
        free(answer);
    }
    alloc_fail_stop();
    if (!met)
        stats->unreached++;
    char *end = s->dump(state);
    if (!same(end, r->ref.dumps[s->n_steps]))
        broken(r, s->n_steps - 1,
               "the run ends with other stored data than without the "
               "failure",
               end, r->ref.dumps[s->n_steps]);
    free(end);
    s->close(state);
}

void sweep_run(const struct sweep_scenario *s, struct sweep_stats *out)
{
    struct sweep_run r = {.s = s};
    memset(out, 0, sizeof(*out));
    record(s, &r.ref);
    for (size_t i = 0; i < s->n_steps; i++)
        out->allocations += r.ref.counts[i];
    for (r.n = 1; r.n <= out->allocations; r.n++) {
        out->runs++;
        run_failing(&r, out);
    }
    printf("alloc %s: %ld allocations in %zu steps; N = 1..%ld run: %ld failed cleanly, "
           "%ld answered all the same, %ld not reached; %ld broken expectation(s)\n",
           s->name, out->allocations, s->n_steps, out->runs, out->failed, out->answered,
           out->unreached, r.broken);
    fflush(stdout);
    cr_expect_eq(r.broken, 0, "%s: %ld broken expectation(s)", s->name, r.broken);
    for (size_t i = 0; i < s->n_steps; i++) {
        free(r.ref.answers[i]);
        free(r.ref.dumps[i]);
    }
    free(r.ref.dumps[s->n_steps]);
    free(r.ref.answers);
    free(r.ref.dumps);
    free(r.ref.counts);
}

void sweep_test(const struct sweep_scenario *s)
{
    struct sweep_stats stats;
    sweep_run(s, &stats);
    cr_expect_gt(stats.failed, 0, "no allocation failure reached a failure path");
}

/* ---- helpers ---- */

static char dir[128];

void sweep_setup(void)
{
    es_log_set_level(ES_LOG_OFF);
    struct stat st;
    const char *base =
        stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/es-alloc-XXXXXX", base);
    cr_assert_not_null(mkdtemp(dir), "cannot make a directory under %s", base);
}

void sweep_teardown(void)
{
    rmdir(dir);
}

const char *sweep_dir(void)
{
    return dir;
}

char *sweep_text(enum es_status st, const char *what, json_t *v, size_t flags)
{
    alloc_fail_pause();
    char *body = v != NULL ? json_dumps(v, flags) : NULL;
    size_t n = 64 + strlen(what) + (body != NULL ? strlen(body) : 0);
    char *text = malloc(n);
    cr_assert(text != NULL && (v == NULL || body != NULL));
    snprintf(text, n, "%s %s %s", es_status_name(st), what, body != NULL ? body : "-");
    free(body);
    json_decref(v);
    alloc_fail_resume();
    return text;
}

int sweep_copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = in >= 0 && out >= 0 ? 0 : -1;
    char buf[65536];
    ssize_t n;
    while (rc == 0 && (n = read(in, buf, sizeof(buf))) > 0)
        rc = write(out, buf, (size_t)n) == n ? 0 : -1;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        rc = -1;
    return rc;
}

/* Appends the rows of a query, one line each, columns separated by tabs. */
static void dump_query(sqlite3 *db, const char *title, const char *sql, struct es_buf *b)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(es_buf_addf(b, "[%s]\n", title), ES_OK);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            cr_assert_eq(es_buf_addf(b, "%s%s", i ? "\t" : "", v ? (const char *)v : "-"),
                         ES_OK);
        }
        cr_assert_eq(es_buf_adds(b, "\n"), ES_OK);
    }
    cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

char *sweep_dump_sqlite(const char *path)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK,
                 "cannot open %s", path);
    sqlite3_busy_timeout(db, 5000);
    struct es_buf b;
    es_buf_init(&b, 64u << 20);
    dump_query(db, "events",
               /* The time and the eventId (a fresh UUID per try) differ from run to
                  run; an eventId must be there all the same, 36 characters long. */
               "SELECT seq, stream_id, version, type, schema, data,"
               " json_set(json_remove(meta, '$.occurredAt'), '$.eventId',"
               " length(json_extract(meta, '$.eventId'))) FROM events ORDER BY seq",
               &b);
    dump_query(
        db, "snapshots",
        "SELECT stream_id, version, schema, state FROM snapshots ORDER BY stream_id", &b);
    dump_query(db, "receipts",
               "SELECT stream_id, key, status, body, version, location, request_hash"
               " FROM receipts ORDER BY stream_id, key",
               &b);
    dump_query(db, "views", "SELECT id, kind, etag, doc FROM views ORDER BY id", &b);
    dump_query(db, "checkpoints", "SELECT name, seq FROM checkpoints ORDER BY name", &b);
    dump_query(db, "deadletters",
               "SELECT id, stream_id, json_remove(doc, '$.failedAt') FROM deadletters"
               " ORDER BY id",
               &b);
    sqlite3_close(db);
    char *text = es_buf_take(&b, NULL);
    cr_assert_not_null(text);
    return text;
}

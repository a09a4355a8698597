/*
 * faults.c - the soak's fault thread: every 0.3-1.2 s it replaces the rig's
 * fault rules (tests/support/cosmos-rig/README.md, "Fault rules") with one to
 * three new ones, or none for a quiet spell. Each rule fires a few times:
 * 429 with x-ms-retry-after-ms, 503, a dropped connection, or a reply lost
 * after the write was applied (afterForward), aimed at one kind of request
 * the handler makes. The handler's own retries absorb those; so one rotation
 * in SOAK_OUTAGE_EVERY (12) is an outage instead, rules that fire 150-300
 * times, enough to exhaust them: one kind of request failing, or every append
 * applied with its reply lost while the events container's point reads are
 * throttled, so the handler cannot read its appends back. Clients then get
 * 503s, some for commands that were applied (and must be told so).
 *
 * Scope: every rule names its method and path, and the GET rules need a
 * document id in the path, so they match only the handler's requests - its
 * batches, queries, point reads and view writes. The test's own requests are
 * change-feed reads (GET .../colls/events/docs, no id), which no rule
 * matches, and the checks at the end run after the rules are cleared.
 */
#include <stdio.h>
#include <stdlib.h>

#include "util/timeutil.h"
#include "../support/cosmosrig.h"
#include "soak.h"

struct target {
    const char *what;
    const char *method;
    const char *path;
    const char *header; /* "name" of a header that must be "True", or NULL */
};

static const struct target targets[] = {
    {"append", "POST", "/colls/events/docs$", "x-ms-cosmos-is-batch-request"},
    {"query", "POST", "/docs$", "x-ms-documentdb-isquery"},
    {"point read", "GET", "/docs/[^/]+$", NULL},
    {"view replace", "PUT", "/colls/views/docs/[^/]+$", NULL},
    {"view create", "POST", "/colls/views/docs$", NULL},
    {"event read", "GET", "/colls/events/docs/[^/]+$", NULL},
};

struct fault {
    const char *mode;
    int status;   /* 0: none given */
    int count_lo; /* fires count_lo..count_hi times */
    int count_hi;
};

static const struct fault faults[] = {
    {"respond", 429, 2, 6},
    {"respond", 503, 1, 3},
    {"drop", 0, 1, 2},
    {"afterForward", 503, 1, 2},
};

static unsigned fault_rand(unsigned *rnd, unsigned bound)
{
    *rnd = *rnd * 1103515245u + 12345u;
    return bound ? (*rnd >> 8) % bound : 0;
}

#define N_TARGETS (sizeof(targets) / sizeof(targets[0]))
#define N_FAULTS  (sizeof(faults) / sizeof(faults[0]))

/* A rule for target t with fault f; outage: it fires 150-300 times. */
static json_t *rule_new(unsigned *rnd, const struct target *t, const struct fault *f,
                        bool outage)
{
    int count = outage
                    ? 150 + (int)fault_rand(rnd, 151)
                    : f->count_lo +
                          (int)fault_rand(rnd, (unsigned)(f->count_hi - f->count_lo + 1));
    json_t *rule = json_pack("{s:s, s:s, s:s, s:i}", "method", t->method, "path", t->path,
                             "mode", f->mode, "count", count);
    if (rule == NULL)
        return NULL;
    if (t->header != NULL)
        json_object_set_new(rule, "header", json_pack("{s:s}", t->header, "True"));
    if (f->status != 0)
        json_object_set_new(rule, "status", json_integer(f->status));
    if (f->status == 429) {
        json_object_set_new(rule, "retryAfterMs", json_integer(5 + fault_rand(rnd, 40)));
        json_object_set_new(rule, "subStatus", json_integer(3200));
    }
    return rule;
}

static void post_rules(json_t *rules)
{
    char *text = json_dumps(rules, JSON_COMPACT);
    if (text == NULL || cosmosrig_faults(text) != 0)
        fprintf(stderr, "soak: the rig refused fault rules %s\n", text ? text : "");
    free(text);
}

void *soak_faults_run(void *arg)
{
    struct soak *s = arg;
    unsigned rnd = s->o.seed * 13u + 5u;
    while (!atomic_load(&s->stop_faults)) {
        json_t *rules = json_array();
        if (fault_rand(&rnd, (unsigned)s->o.outage_every) == 0) {
            if (fault_rand(&rnd, 2) == 0) { /* applied appends that cannot be read back */
                json_array_append_new(rules,
                                      rule_new(&rnd, &targets[0], &faults[3], true));
                json_array_append_new(rules,
                                      rule_new(&rnd, &targets[5], &faults[0], true));
            } else { /* one kind of request refused: 429 or 503 */
                json_array_append_new(
                    rules, rule_new(&rnd, &targets[fault_rand(&rnd, N_TARGETS)],
                                    &faults[fault_rand(&rnd, 2)], true));
            }
            s->outages++;
        } else {
            unsigned n = fault_rand(&rnd, 5); /* 0 (quiet) to 3 rules, mostly 1-2 */
            n = n == 4 ? 1 : n;
            for (unsigned i = 0; i < n; i++)
                json_array_append_new(
                    rules, rule_new(&rnd, &targets[fault_rand(&rnd, N_TARGETS)],
                                    &faults[fault_rand(&rnd, N_FAULTS)], false));
        }
        post_rules(rules);
        json_decref(rules);
        s->fault_rotations++;
        int64_t until = es_time_mono_ms() + 300 + fault_rand(&rnd, 900);
        while (!atomic_load(&s->stop_faults) && es_time_mono_ms() < until)
            es_time_sleep_ms(20);
    }
    json_t *none = json_array();
    post_rules(none);
    json_decref(none);
    return NULL;
}

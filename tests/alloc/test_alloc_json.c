/*
 * util/jsonutil.h's parse, dump and deep copy, with every allocation failing
 * in turn, on the texts that trip jansson when one of its allocations fails:
 * strings long enough to make its lexer grow its buffer (a dropped closing
 * quote made it copy past the end), numbers and bare words of 15 characters
 * or more (a dropped byte tripped an assert), and objects whose keys its
 * serialiser could drop. Each answer must be whole - the value, or
 * invalid_json for text that is not JSON - or out of memory; never a crash,
 * never a value with a byte or a key missing (sweep.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"
#include "alloc_fail.h"
#include "sweep.h"

#define DIGITS_300                                                                       \
    "1234567890123456789012345678901234567890123456789012345678901234567890123456789012" \
    "34"                                                                                 \
    "5678901234567890123456789012345678901234567890123456789012345678901234567890123456" \
    "78"                                                                                 \
    "9012345678901234567890123456789012345678901234567890123456789012345678901234567890" \
    "12"                                                                                 \
    "345678901234567890123456789012345678901234567890"

static const char *const texts[] = {
    "{\"task\":\"a string long enough to make the lexer grow its buffer twice over, and "
    "then some more\",\"n\":1}",
    "[123456789012345]",
    "[1234567890123456789012345678901234567890, 2.5e10]",
    "{\"big\":" DIGITS_300 "}",
    "[truetruetruetruetrue]",          /* not JSON: a bare word of 20 characters */
    "[1234567890123456789012345678x]", /* not JSON either */
    "{\"a\":{\"b\":[{\"c\":\"a string past sixteen bytes\"},{\"d\":null}]},"
    "\"a key longer than sixteen bytes\":\"\\u00e9\\u263a and an escape or two\\n\"}",
};
#define N_TEXTS (sizeof(texts) / sizeof(texts[0]))

static void *open_run(void)
{
    static int token;
    return &token;
}

static void close_run(void *state)
{
    (void)state;
}

static char *dump(void *state)
{
    (void)state;
    return strdup("");
}

static char *answer_of(const char *what, const json_t *v)
{
    alloc_fail_pause();
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    size_t n = 32 + (text != NULL ? strlen(text) : 0);
    char *out = malloc(n);
    cr_assert(out != NULL && (v == NULL || text != NULL));
    snprintf(out, n, "%s %s", what, text != NULL ? text : "-");
    free(text);
    alloc_fail_resume();
    return out;
}

/* Steps: each text parsed; then the last value dumped and deep-copied. */
static enum es_status step(void *state, size_t i, char **answer)
{
    (void)state;
    if (i < N_TEXTS) {
        json_t *v = NULL;
        enum es_status st =
            es_json_parse(texts[i], strlen(texts[i]), ES_JSON_LOAD_FLAGS, &v, NULL);
        if (st == ES_OK || st == ES_EJSON)
            *answer = answer_of(es_status_name(st), v);
        json_decref(v);
        return st == ES_EJSON ? ES_OK : st;
    }
    alloc_fail_pause();
    json_t *v = json_loads(texts[N_TEXTS - 1], 0, NULL);
    cr_assert_not_null(v);
    alloc_fail_resume();
    enum es_status st = ES_OK;
    if (i == N_TEXTS) {
        size_t len = 0;
        char *text = es_json_dumps(v, &len);
        if (text == NULL)
            st = ES_ENOMEM;
        else if (strlen(text) != len)
            st = ES_EINTERNAL;
        else {
            alloc_fail_pause();
            *answer = strdup(text);
            alloc_fail_resume();
        }
        free(text);
    } else {
        json_t *copy = es_json_deep_copy(v);
        if (copy == NULL)
            st = ES_ENOMEM;
        else
            *answer = answer_of(json_equal(copy, v) ? "equal" : "differs", copy);
        json_decref(copy);
    }
    alloc_fail_pause();
    json_decref(v);
    alloc_fail_resume();
    return st;
}

static const struct sweep_scenario json_scenario = {
    .name = "json",
    .n_steps = N_TEXTS + 2,
    .open = open_run,
    .close = close_run,
    .step = step,
    .dump = dump,
};

Test(alloc, json_parses_dumps_and_copies_are_whole_or_out_of_memory, .timeout = 120)
{
    sweep_test(&json_scenario);
}

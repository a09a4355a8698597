#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos/session.h"

#define EVENTS "dbs/es/colls/events"
#define VIEWS  "dbs/es/colls/views"

static struct cosmos_sessions *s;

static void setup(void)
{
    s = cosmos_sessions_new();
    cr_assert_not_null(s);
}

static void teardown(void)
{
    cosmos_sessions_free(s);
}

TestSuite(session, .init = setup, .fini = teardown);

static enum es_status merge(const char *container, const char *value)
{
    return cosmos_sessions_merge(s, container, value, strlen(value));
}

/* The value sent on a read in container ("" when none). */
static char *sent(const char *container)
{
    char *v = NULL;
    cr_assert_eq(cosmos_sessions_get(s, container, &v), ES_OK);
    return v != NULL ? v : strdup("");
}

static void expect_sent(const char *container, const char *want)
{
    char *v = sent(container);
    cr_expect_str_eq(v, want);
    free(v);
}

Test(session, nothing_is_sent_before_a_reply)
{
    expect_sent(EVENTS, "");
}

Test(session, tokens_are_kept_per_container)
{
    cr_assert_eq(merge(EVENTS, "0:-1#33"), ES_OK);
    cr_assert_eq(merge(VIEWS, "0:-1#7"), ES_OK);
    expect_sent(EVENTS, "0:-1#33");
    expect_sent(VIEWS, "0:-1#7");
}

/* A reply from a lagging replica never takes the session back. */
Test(session, the_higher_lsn_wins_whatever_the_order)
{
    cr_assert_eq(merge(EVENTS, "0:-1#33"), ES_OK);
    cr_assert_eq(merge(EVENTS, "0:-1#20"), ES_OK);
    expect_sent(EVENTS, "0:-1#33");
    cr_assert_eq(merge(EVENTS, "0:-1#40"), ES_OK);
    expect_sent(EVENTS, "0:-1#40");
    cr_assert_eq(merge(VIEWS, "0:603"), ES_OK);
    cr_assert_eq(merge(VIEWS, "0:9"), ES_OK);
    expect_sent(VIEWS, "0:603");
}

Test(session, ranges_merge_one_by_one_and_are_all_sent)
{
    cr_assert_eq(merge(EVENTS, "0:-1#10,1:-1#5"), ES_OK);
    cr_assert_eq(merge(EVENTS, "1:-1#8"), ES_OK);
    cr_assert_eq(merge(EVENTS, "2:-1#1"), ES_OK);
    expect_sent(EVENTS, "0:-1#10,1:-1#8,2:-1#1");
}

/* As _vector_session_token.py merges: the higher version's regions, each at its highest.
 */
Test(session, vector_tokens_merge_version_global_and_regions)
{
    cr_assert_eq(merge(EVENTS, "0:1#100#1=20#2=30"), ES_OK);
    cr_assert_eq(merge(EVENTS, "0:1#90#1=25#2=10"), ES_OK);
    expect_sent(EVENTS, "0:1#100#1=25#2=30");
    /* A newer version brings its own set of regions. */
    cr_assert_eq(merge(EVENTS, "0:2#95#1=5#3=7"), ES_OK);
    expect_sent(EVENTS, "0:2#100#1=25#3=7");
}

Test(session, a_value_that_does_not_parse_changes_nothing)
{
    cr_assert_eq(merge(EVENTS, "0:-1#33"), ES_OK);
    const char *bad[] = {"",
                         "0",
                         ":5",
                         "0:",
                         "0:-1#",
                         "0:x#5",
                         "0:-1#5,",
                         "0:-1#5#1",
                         "0:-1#5#a=1",
                         "0/1:5",
                         "0:5,1:",
                         "0:-1#99,1:-1#x",
                         "0:1234567890123456789"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(merge(EVENTS, bad[i]), ES_EINVAL, "'%s'", bad[i]);
    expect_sent(EVENTS, "0:-1#33");
}

Test(session, the_bounds_hold)
{
    char *big = malloc(COSMOS_SESSION_MAX_BYTES + 2);
    memset(big, '1', COSMOS_SESSION_MAX_BYTES + 1);
    big[0] = '0';
    big[1] = ':';
    big[COSMOS_SESSION_MAX_BYTES + 1] = '\0';
    cr_expect_eq(cosmos_sessions_merge(s, EVENTS, big, strlen(big)), ES_EINVAL);
    free(big);
    char link[64];
    for (int i = 0; i < COSMOS_SESSION_MAX_CONTAINERS; i++) {
        snprintf(link, sizeof(link), "dbs/es/colls/c%d", i);
        cr_assert_eq(merge(link, "0:1"), ES_OK);
    }
    cr_expect_eq(merge("dbs/es/colls/one-too-many", "0:1"), ES_EINVAL);
    expect_sent("dbs/es/colls/c0", "0:1");
}

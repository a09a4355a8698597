#include <criterion/criterion.h>
#include <string.h>

#include "util/ids.h"
#include "util/timeutil.h"

Test(ids, uuid4_has_the_version_and_variant_bits)
{
    char a[ES_UUID_STR_LEN + 1], b[ES_UUID_STR_LEN + 1];
    es_uuid4(a);
    es_uuid4(b);
    cr_expect_eq(strlen(a), 36);
    cr_expect_eq(a[14], '4');
    cr_expect(strchr("89ab", a[19]) != NULL);
    cr_expect(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    cr_expect_str_neq(a, b);
}

Test(ids, id_rule_is_1_to_64_of_the_safe_alphabet)
{
    cr_expect(es_id_valid("a"));
    cr_expect(es_id_valid("Ab_9-x"));
    char max[65];
    memset(max, 'x', 64);
    max[64] = '\0';
    cr_expect(es_id_valid(max));
    char over[66];
    memset(over, 'x', 65);
    over[65] = '\0';
    cr_expect_not(es_id_valid(over));
    cr_expect_not(es_id_valid(""));
    cr_expect_not(es_id_valid("a b"));
    cr_expect_not(es_id_valid("a/b"));
    cr_expect_not(es_id_valid("a:b"));
    cr_expect_not(es_id_valid("\xc3\xa9"));
}

Test(ids, random_below_stays_in_range)
{
    for (int i = 0; i < 1000; i++)
        cr_assert_lt(es_random_below(7), 7);
    cr_expect_eq(es_random_below(0), 0);
}

Test(timeutil, formats_rfc3339_with_milliseconds)
{
    char out[40];
    es_time_rfc3339_ms(1795894200123LL, out, sizeof(out));
    cr_expect_str_eq(out, "2026-11-28T19:30:00.123Z");
    es_time_rfc3339_ms(0, out, sizeof(out));
    cr_expect_str_eq(out, "1970-01-01T00:00:00.000Z");
}

/* Found by fuzz_feed: an ItemMovedOut without an itemId reached the check as NULL. */
Test(ids, a_missing_id_is_not_a_valid_one)
{
    cr_expect_not(es_id_valid(NULL));
}

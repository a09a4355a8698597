#include <criterion/criterion.h>

#include "util/timeutil.h"

Test(timeutil, rfc3339_is_utc_with_milliseconds)
{
    char out[40];
    cr_expect_str_eq(es_time_rfc3339_ms(1764358200123LL, out, sizeof(out)),
                     "2025-11-28T19:30:00.123Z");
    cr_expect_str_eq(es_time_rfc3339_ms(0, out, sizeof(out)), "1970-01-01T00:00:00.000Z");
}

Test(timeutil, the_monotonic_clock_never_goes_back)
{
    int64_t a = es_time_mono_ms();
    es_time_sleep_ms(5);
    int64_t b = es_time_mono_ms();
    cr_expect_geq(b - a, 5);
}

Test(timeutil, rfc3339_timestamps_parse_back_to_their_milliseconds)
{
    int64_t ms = 0;
    cr_assert(es_time_parse_rfc3339_ms("2026-11-28T19:30:00.123Z", &ms));
    cr_expect_eq(ms, INT64_C(1795894200123));
    char text[40];
    es_time_rfc3339_ms(ms, text, sizeof(text));
    cr_expect_str_eq(text, "2026-11-28T19:30:00.123Z");
    cr_assert(es_time_parse_rfc3339_ms("2026-11-28T19:30:00Z", &ms));
    cr_expect_eq(ms, INT64_C(1795894200000));
    cr_assert(es_time_parse_rfc3339_ms("2026-11-28T19:30:00.1234567Z", &ms));
    cr_expect_eq(ms, INT64_C(1795894200123), "past milliseconds is cut");
    cr_assert(es_time_parse_rfc3339_ms("2026-11-28T19:30:00.5Z", &ms));
    cr_expect_eq(ms, INT64_C(1795894200500));
    const char *bad[] = {"",
                         "2026-11-28",
                         "2026-11-28T19:30:00",
                         "2026-11-28T19:30:00+01:00",
                         "2026-13-28T19:30:00Z",
                         "2026-11-28T24:30:00Z",
                         "2026-11-28T19:30:00.Z",
                         "2026-11-28T19:30:00.123Zx",
                         "20x6-11-28T19:30:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect(!es_time_parse_rfc3339_ms(bad[i], &ms), "'%s'", bad[i]);
    cr_expect(!es_time_parse_rfc3339_ms(NULL, &ms));
}

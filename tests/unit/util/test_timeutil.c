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

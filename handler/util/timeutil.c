/*
 * timeutil.c - clock reads and timestamp formatting.
 */
#include "timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t es_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t es_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *es_time_rfc3339_ms(int64_t epoch_ms, char *out, size_t out_len)
{
    time_t secs = (time_t)(epoch_ms / 1000);
    int ms = (int)(epoch_ms % 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return out;
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool es_time_parse_rfc3339_ms(const char *s, int64_t *out)
{
    if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':')
        return false;
    struct tm tm = {.tm_year = digits(s, 4) - 1900,
                    .tm_mon = digits(s + 5, 2) - 1,
                    .tm_mday = digits(s + 8, 2),
                    .tm_hour = digits(s + 11, 2),
                    .tm_min = digits(s + 14, 2),
                    .tm_sec = digits(s + 17, 2)};
    if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
        tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
        return false;
    const char *p = s + 19;
    int ms = 0, places = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, places++)
            if (places < 3)
                ms = ms * 10 + (*p - '0');
        if (places == 0)
            return false;
        for (; places < 3; places++)
            ms *= 10;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return false;
    time_t secs = timegm(&tm);
    if (secs == (time_t)-1)
        return false;
    *out = (int64_t)secs * 1000 + ms;
    return true;
}

void es_time_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec req = {.tv_sec = (time_t)(ms / 1000),
                           .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&req, &req) != 0 && errno == EINTR)
        ;
}

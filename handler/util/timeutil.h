/*
 * timeutil.h - wall-clock and monotonic time, and the RFC 3339 timestamps
 * used in event metadata and logs (UTC, milliseconds, 'Z').
 */
#ifndef ES_UTIL_TIMEUTIL_H
#define ES_UTIL_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (wall clock). */
int64_t es_time_now_ms(void);

/* Milliseconds from an arbitrary origin that never goes backwards. */
int64_t es_time_mono_ms(void);

/*
 * Formats epoch milliseconds as "2026-11-28T19:30:00.123Z" into out (at least
 * 25 bytes). Returns out.
 */
char *es_time_rfc3339_ms(int64_t epoch_ms, char *out, size_t out_len);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.f...]Z" (UTC, as es_time_rfc3339_ms writes it;
 * fractions past milliseconds are cut) into epoch milliseconds. false when s
 * is anything else.
 */
bool es_time_parse_rfc3339_ms(const char *s, int64_t *out);

/* Sleeps for ms milliseconds, resuming after signals. */
void es_time_sleep_ms(int64_t ms);

#endif

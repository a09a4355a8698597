/*
 * alloc_fail.h - fail the Nth allocation (after jansson's and SQLite's own
 * out-of-memory tests).
 *
 * The alloc test programs are linked with -Wl,--wrap for malloc, calloc,
 * realloc, strdup and strndup: every call the handler's static libraries (and
 * the test itself) make goes to __wrap_<name> here, which counts it and, when
 * told to, returns NULL for exactly one of them, then goes on as normal.
 * jansson allocates through util/jsonutil.c's allocator, which calls malloc
 * from inside the handler's libraries, so its allocations are counted and
 * failed the same way. Shared libraries (SQLite, libcurl, OpenSSL, Criterion)
 * keep their own malloc. Under ASan, __real_malloc is ASan's, so leaks and
 * bad frees on the failure paths are caught as everywhere else.
 *
 * Counting is per thread and only between alloc_fail_start and
 * alloc_fail_stop, so the test's own setup and checks never fail.
 *
 * getrandom is wrapped too: ids (UUIDv4 item ids) come from a stream that
 * alloc_random_reset restarts, so a run and its repeat make the same ids and
 * their stored data can be compared byte for byte.
 */
#ifndef ES_TESTS_ALLOC_FAIL_H
#define ES_TESTS_ALLOC_FAIL_H

#include <stdbool.h>
#include <stdint.h>

/* Counts allocations on this thread from now on; fails the fail_at-th (1-based;
 * 0 fails none). */
void alloc_fail_start(long fail_at);

/* Stops counting; returns how many allocations were made since the start. */
long alloc_fail_stop(void);

/* Neither counts nor fails allocations until resumed: for a test's own work
 * between two calls it counts. */
void alloc_fail_pause(void);
void alloc_fail_resume(void);

/* The number counted so far (while started). */
long alloc_fail_count(void);

/* True once the allocation to fail has been failed (until the next start). */
bool alloc_fail_hit(void);

/* Restarts the getrandom stream at seed. */
void alloc_random_reset(uint64_t seed);

#endif

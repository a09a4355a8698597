/*
 * alloc_fail.c - the wrapped allocators and getrandom (see alloc_fail.h).
 */
#include "alloc_fail.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags);

static _Thread_local bool counting, paused;
static _Thread_local long counted, fail_at;
static _Thread_local bool hit;

void alloc_fail_start(long n)
{
    counted = 0;
    fail_at = n;
    hit = false;
    paused = false;
    counting = true;
}

long alloc_fail_stop(void)
{
    counting = false;
    paused = false;
    return counted;
}

void alloc_fail_pause(void)
{
    paused = true;
}

void alloc_fail_resume(void)
{
    paused = false;
}

long alloc_fail_count(void)
{
    return counted;
}

bool alloc_fail_hit(void)
{
    return hit;
}

/* Counts one allocation; true when it is the one to fail. */
static bool fails(void)
{
    if (!counting || paused)
        return false;
    if (++counted != fail_at)
        return false;
    hit = true;
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n)
{
    return fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fails() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fails() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fails() ? NULL : __real_strndup(s, n);
}

/* splitmix64: a repeatable stream for the ids the handler draws. */
static uint64_t random_state = 0x9e3779b97f4a7c15u;

void alloc_random_reset(uint64_t seed)
{
    random_state = seed;
}

static uint64_t next_random(void)
{
    uint64_t z = (random_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags)
{
    (void)flags;
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = next_random();
        memcpy(p + i, &v, len - i < 8 ? len - i : 8);
    }
    return (ssize_t)len;
}

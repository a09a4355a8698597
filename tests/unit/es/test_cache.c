#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "es/cache.h"

static int frees;

static void *clone_str(const void *s)
{
    return strdup(s);
}

static void free_str(void *s)
{
    frees++;
    free(s);
}

Test(cache, gives_copies_and_keeps_only_newer_versions)
{
    struct es_cache *c = es_cache_new(4);
    es_cache_put(c, "s-1", strdup("v2"), 2, free_str);
    void *got = NULL;
    int64_t version = 0;
    cr_assert(es_cache_get(c, "s-1", clone_str, &got, &version));
    cr_expect_str_eq(got, "v2");
    cr_expect_eq(version, 2);
    free(got);
    es_cache_put(c, "s-1", strdup("v1"), 1, free_str);
    cr_assert(es_cache_get(c, "s-1", clone_str, &got, &version));
    cr_expect_str_eq(got, "v2", "an older state never replaces a newer one");
    free(got);
    cr_expect_not(es_cache_get(c, "s-2", clone_str, &got, &version));
    es_cache_free(c);
}

Test(cache, evicts_the_least_recently_used_past_its_size)
{
    frees = 0;
    struct es_cache *c = es_cache_new(2);
    es_cache_put(c, "a", strdup("a"), 1, free_str);
    es_cache_put(c, "b", strdup("b"), 1, free_str);
    void *got = NULL;
    int64_t v;
    cr_assert(es_cache_get(c, "a", clone_str, &got, &v)); /* a is now the newest */
    free(got);
    es_cache_put(c, "c", strdup("c"), 1, free_str);
    cr_expect_not(es_cache_get(c, "b", clone_str, &got, &v), "b was evicted");
    cr_expect(es_cache_get(c, "a", clone_str, &got, &v));
    free(got);
    es_cache_free(c);
    cr_expect_eq(frees, 3, "every state the cache took is freed once");
}

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

static bool held(struct es_cache *c, const char *key)
{
    void *got = NULL;
    int64_t v;
    bool yes = es_cache_get(c, key, clone_str, &got, &v);
    free(got);
    return yes;
}

Test(cache, a_sized_cache_evicts_until_its_entries_fit_its_cost)
{
    frees = 0;
    struct es_cache *c = es_cache_new_sized(100, 1000);
    es_cache_put_sized(c, "a", strdup("a"), 1, 400, free_str);
    es_cache_put_sized(c, "b", strdup("b"), 1, 400, free_str);
    cr_expect(held(c, "a")); /* a is now the newest */
    es_cache_put_sized(c, "c", strdup("c"), 1, 300, free_str);
    cr_expect_not(held(c, "b"), "1,100 > 1,000: the least recently used went");
    cr_expect(held(c, "a") && held(c, "c"));
    es_cache_put_sized(c, "a", strdup("a2"), 2, 900, free_str);
    cr_expect_not(held(c, "c"), "a grew: c went");
    cr_expect(held(c, "a"), "never the entry just put");
    void *got = NULL;
    int64_t v;
    cr_assert(es_cache_take(c, "a", &got, &v));
    cr_expect_str_eq(got, "a2");
    free(got);
    es_cache_put_sized(c, "d", strdup("d"), 1, 1000, free_str);
    cr_expect(held(c, "d"), "a take gave its cost back: d fits alone");
    es_cache_put_sized(c, "e", strdup("e"), 1, 1001, free_str);
    cr_expect_not(held(c, "e"), "more than the whole bound is not kept");
    es_cache_put_sized(c, "d", strdup("d2"), 2, 1001, free_str);
    cr_expect_not(held(c, "d"), "nor is an older copy kept in its place");
    es_cache_free(c);
    cr_expect_eq(frees, 6, "every state the cache took is freed once (a2 was taken)");
}

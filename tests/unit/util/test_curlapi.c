/*
 * libcurl loaded on first use: nothing is loaded before, one table for every
 * caller and thread after, functions that work, and a load again after the
 * clean-up. Criterion runs each test in a process of its own, so each starts
 * with nothing loaded.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util/curlapi.h"

/* Whether this process maps a file whose name contains name. */
static bool mapped(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, name) != NULL;
    fclose(f);
    return found;
}

Test(curlapi, nothing_is_loaded_until_asked)
{
    cr_expect_null(es_curl_loaded());
    cr_expect_not(mapped("libcurl"), "libcurl is mapped before any load");
    struct es_error err = {0};
    const struct es_curl *cu = es_curl_load(&err);
    cr_assert_not_null(cu, "%s", err.message);
    cr_expect(mapped("libcurl"));
    cr_expect_eq(es_curl_loaded(), cu);
    cr_expect_eq(es_curl_load(NULL), cu, "one table");
    cr_expect_eq(strncmp(cu->version(), "libcurl/", 8), 0, "%s", cu->version());
}

Test(curlapi, the_functions_work)
{
    const struct es_curl *cu = es_curl_load(NULL);
    cr_assert_not_null(cu);
    CURL *h = cu->easy_init();
    cr_assert_not_null(h);
    struct curl_slist *l = cu->slist_append(NULL, "X-Test: 1");
    cr_assert_not_null(l);
    /* Port 1 on loopback refuses at once. */
    cr_expect_eq(cu->easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
    cr_expect_eq(cu->easy_setopt(h, CURLOPT_HTTPHEADER, l), CURLE_OK);
    CURLcode rc = cu->easy_perform(h);
    cr_expect_eq(rc, CURLE_COULDNT_CONNECT);
    cr_expect_not_null(strstr(cu->easy_strerror(rc), "onnect"), "%s",
                       cu->easy_strerror(rc));
    long status = -1;
    cr_expect_eq(cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status), CURLE_OK);
    cr_expect_eq(status, 0);
    cu->easy_reset(h);
    cu->slist_free_all(l);
    cu->easy_cleanup(h);
}

static void *load_in_thread(void *arg)
{
    (void)arg;
    return (void *)es_curl_load(NULL);
}

Test(curlapi, threads_racing_to_load_get_the_same_table)
{
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, load_in_thread, NULL), 0);
    void *got[8];
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], &got[i]);
    for (int i = 0; i < 8; i++) {
        cr_expect_not_null(got[i]);
        cr_expect_eq(got[i], got[0]);
    }
}

Test(curlapi, it_loads_again_after_the_clean_up)
{
    cr_assert_not_null(es_curl_load(NULL));
    es_curl_cleanup();
    cr_expect_null(es_curl_loaded());
    es_curl_cleanup(); /* twice is harmless */
    const struct es_curl *cu = es_curl_load(NULL);
    cr_assert_not_null(cu);
    CURL *h = cu->easy_init();
    cr_expect_not_null(h);
    cu->easy_cleanup(h);
    es_curl_cleanup();
}

/*
 * fixtures.h - data-driven test cases: tests/data/<suite>/<case>/{input.json,
 * expected.json}, read in a stable order.
 */
#ifndef ES_TEST_FIXTURES_H
#define ES_TEST_FIXTURES_H

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole file into a malloc'd buffer; NULL when it cannot be read. */
static inline char *fixture_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static inline int fixture_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Case names of a suite, sorted; returns the count (at most cap). Free each name. */
static inline size_t fixture_cases(const char *suite_dir, char **names, size_t cap)
{
    DIR *d = opendir(suite_dir);
    size_t n = 0;
    struct dirent *de;
    while (d != NULL && n < cap && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            names[n++] = strdup(de->d_name);
    if (d != NULL)
        closedir(d);
    qsort(names, n, sizeof(names[0]), fixture_name_cmp);
    return n;
}

#endif

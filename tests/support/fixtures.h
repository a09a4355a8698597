/*
 * fixtures.h - data-driven test cases: tests/data/<suite>/<case>/{input.json,
 * expected.json}, or one file per case (tests/data/<suite>/<case>.json), read
 * in a stable order; and the text form case files use for strings that are
 * long, built from a pattern, or not valid UTF-8 (fixture_text).
 */
#ifndef ES_TEST_FIXTURES_H
#define ES_TEST_FIXTURES_H

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
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

/*
 * The names of a suite's case files: the regular entries of dir ending in
 * suffix, sorted, leaving out names that start with '.' or '_' (files shared
 * by the cases, such as _fixtures.json). A malloc'd array of *n malloc'd
 * names (free with fixture_names_free); NULL with *n == 0 when dir cannot be
 * read or holds no case.
 */
static inline char **fixture_files(const char *dir, const char *suffix, size_t *n)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t len = 0, cap = 0, sl = strlen(suffix);
    struct dirent *de;
    *n = 0;
    while (d != NULL && (de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (de->d_name[0] == '.' || de->d_name[0] == '_' || nl <= sl ||
            strcmp(de->d_name + nl - sl, suffix) != 0)
            continue;
        if (len == cap) {
            cap = cap ? 2 * cap : 64;
            char **more = realloc(names, cap * sizeof(*names));
            if (more == NULL)
                break;
            names = more;
        }
        if ((names[len] = strdup(de->d_name)) != NULL)
            len++;
    }
    if (d != NULL)
        closedir(d);
    if (len > 0)
        qsort(names, len, sizeof(names[0]), fixture_name_cmp);
    *n = len;
    return names;
}

static inline void fixture_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

#define FIXTURE_TEXT_MAX_BYTES (1u << 20)

/* Appends len bytes of s to the text being built; false past the cap or on ENOMEM. */
static inline bool fixture_text_add(char **buf, size_t *len, const char *s, size_t n)
{
    if (*len + n >= FIXTURE_TEXT_MAX_BYTES)
        return false;
    char *more = realloc(*buf, *len + n + 1);
    if (more == NULL)
        return false;
    memcpy(more + *len, s, n);
    *len += n;
    more[*len] = '\0';
    *buf = more;
    return true;
}

/* One repetition of a "repeat" pattern, with "{n}" replaced by the index i. */
static inline bool fixture_text_unit(char **buf, size_t *len, const char *pat, long i)
{
    const char *at;
    while ((at = strstr(pat, "{n}")) != NULL) {
        char num[24];
        int nn = snprintf(num, sizeof(num), "%ld", i);
        if (!fixture_text_add(buf, len, pat, (size_t)(at - pat)) ||
            !fixture_text_add(buf, len, num, (size_t)nn))
            return false;
        pat = at + 3;
    }
    return fixture_text_add(buf, len, pat, strlen(pat));
}

static inline bool fixture_text_part(const json_t *v, char **buf, size_t *len)
{
    if (json_is_string(v))
        return fixture_text_add(buf, len, json_string_value(v), json_string_length(v));
    if (json_is_array(v)) {
        size_t i;
        const json_t *part;
        json_array_foreach(v, i, part)
        {
            if (json_is_array(part) || !fixture_text_part(part, buf, len))
                return false;
        }
        return true;
    }
    const char *hex = json_string_value(json_object_get(v, "hex"));
    if (hex != NULL && json_object_size(v) == 1) {
        size_t hl = strlen(hex);
        if (hl == 0 || hl % 2 != 0)
            return false;
        for (size_t i = 0; i < hl; i += 2) {
            char pair[3] = {hex[i], hex[i + 1], '\0'};
            if (!isxdigit((unsigned char)pair[0]) || !isxdigit((unsigned char)pair[1]))
                return false;
            char byte = (char)strtol(pair, NULL, 16);
            if (byte == '\0' || !fixture_text_add(buf, len, &byte, 1))
                return false;
        }
        return true;
    }
    const char *pat = json_string_value(json_object_get(v, "repeat"));
    const json_t *times = json_object_get(v, "times"), *join = json_object_get(v, "join");
    size_t keys = join != NULL ? 3 : 2;
    if (pat == NULL || !json_is_integer(times) || json_integer_value(times) < 1 ||
        (join != NULL && !json_is_string(join)) || json_object_size(v) != keys)
        return false;
    for (json_int_t i = 0; i < json_integer_value(times); i++) {
        if (i > 0 && join != NULL &&
            !fixture_text_add(buf, len, json_string_value(join),
                              json_string_length(join)))
            return false;
        if (!fixture_text_unit(buf, len, pat, (long)i))
            return false;
    }
    return true;
}

/*
 * A string field of a case file, in one of these forms:
 *   "text"                                   the string itself;
 *   {"repeat": "ab", "times": 3}             "ababab";
 *   {"repeat": "\"id{n}\"", "times": 3, "join": ","}
 *                                            "\"id0\",\"id1\",\"id2\"" ({n}: the
 *                                            0-based index);
 *   {"hex": "ff"}                            raw bytes, for text JSON cannot hold
 *                                            (invalid UTF-8; not 00);
 *   ["a", {"repeat": "0", "times": 2}, "b"]  the parts (any of the forms above but
 *                                            an array) concatenated: "a00b".
 * Returns a malloc'd, NUL-terminated copy and its length in *len (len may be
 * NULL); NULL when v is none of these or the text exceeds
 * FIXTURE_TEXT_MAX_BYTES.
 */
static inline char *fixture_text(const json_t *v, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    if (v == NULL || !fixture_text_add(&buf, &n, "", 0) ||
        !fixture_text_part(v, &buf, &n)) {
        free(buf);
        return NULL;
    }
    if (len != NULL)
        *len = n;
    return buf;
}

#endif

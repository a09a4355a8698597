/*
 * tmpstore.h - the SQLite store the es unit tests run on: events.db in a new
 * folder under /tmp, closed and removed after each test.
 */
#ifndef ES_TEST_TMPSTORE_H
#define ES_TEST_TMPSTORE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

struct tmpstore {
    char dir[64];
    char path[128];
    struct es_store *store;
};

/* Opens a fresh store in /tmp/<what>-test-XXXXXX. */
static inline struct es_store *tmpstore_open(struct tmpstore *t, const char *what)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/%s-test-XXXXXX", what);
    cr_assert_not_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/events.db", t->dir);
    cr_assert_eq(es_store_sqlite_open(t->path, &t->store, NULL), ES_OK);
    return t->store;
}

/* Closes the store and removes its folder. */
static inline void tmpstore_remove(struct tmpstore *t)
{
    es_store_close(t->store);
    t->store = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
    cr_expect_eq(system(cmd), 0);
}

#endif

/* The shared store suite against the embedded SQLite store. */
#include <stdlib.h>
#include <unistd.h>

#include "store_suite.h"

static char dir[64];

static struct es_store *suite_open(void)
{
    snprintf(dir, sizeof(dir), "/tmp/store-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/events.db", dir);
    struct es_store *s = NULL;
    struct es_error err = {0};
    if (es_store_sqlite_open(path, &s, &err) != ES_OK)
        cr_log_error("open failed: %s", err.message);
    return s;
}

static void suite_close(struct es_store *s)
{
    es_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

Test(sqlite_store, survives_a_reopen, .init = setup, .fini = teardown)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/events.db", dir);
    cr_assert_eq(append_n("todolist-k", 0, 4, NULL, NULL, NULL), ES_OK);
    es_store_close(store);
    struct es_error err = {0};
    cr_assert_eq(es_store_sqlite_open(path, &store, &err), ES_OK, "%s", err.message);
    cr_expect_eq(stream_length("todolist-k"), 4);
}

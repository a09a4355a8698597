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

/* A rebuild's views table: its own view operations, then swapped in whole. */
Test(sqlite_store, a_rebuild_table_is_swapped_in_only_when_no_event_came_after_it,
     .init = setup, .fini = teardown)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/events.db", dir);
    json_t *old = json_pack("{s:s, s:s, s:i}", "id", "v:1", "view", "k", "version", 1);
    char *etag = NULL;
    for (int i = 0; i < 3; i++) { /* the old view's etag reaches 3 */
        char *next = NULL;
        cr_assert_eq(store->ops->view_put(store, old, etag, &next, NULL, NULL), ES_OK);
        free(etag);
        etag = next;
    }
    cr_assert_eq(append_n("todolist-w", 0, 2, NULL, NULL, NULL), ES_OK);
    struct es_store *t = NULL;
    bool existed = true;
    cr_assert_eq(es_store_sqlite_open_views(path, "views_rebuild", &t, &existed, NULL),
                 ES_OK);
    cr_expect(!existed);
    json_t *fresh = json_pack("{s:s, s:s, s:i}", "id", "v:1", "view", "k", "version", 2);
    json_t *rec = json_pack("{s:s, s:s}", "id", "_rebuild", "view", "_rebuild");
    cr_assert_eq(t->ops->view_put(t, fresh, NULL, NULL, NULL, NULL), ES_OK);
    cr_assert_eq(t->ops->view_put(t, rec, NULL, NULL, NULL, NULL), ES_OK);
    json_t *got = NULL;
    char *tag = NULL;
    cr_assert_eq(store->ops->view_get(store, "v:1", &got, &tag, NULL, NULL), ES_OK);
    cr_expect_eq(json_integer_value(json_object_get(got, "version")), 1, "still the old");
    json_decref(got);
    free(tag);

    char *cursor = NULL;
    struct es_event_page p = {0};
    size_t skipped = 0;
    cr_assert_eq(t->ops->events_scan(t, &cursor, 100, &p, &skipped, NULL, NULL), ES_OK);
    es_event_page_release(&p);
    cr_assert_eq(append_n("todolist-w", 2, 1, NULL, NULL, NULL), ES_OK);
    cr_expect_eq(es_store_sqlite_swap_views(t, cursor, NULL), ES_ECONFLICT,
                 "an event came after the scan");
    cr_expect_eq(es_store_sqlite_swap_views(t, "x", NULL), ES_EINVAL);
    cr_expect_eq(es_store_sqlite_swap_views(store, cursor, NULL), ES_EINVAL,
                 "the store's own views are not a rebuild's");
    cr_assert_eq(t->ops->events_scan(t, &cursor, 100, &p, &skipped, NULL, NULL), ES_OK);
    cr_expect_eq(p.n, 1);
    es_event_page_release(&p);
    cr_assert_eq(es_store_sqlite_swap_views(t, cursor, NULL), ES_OK);
    es_store_close(t);

    cr_assert_eq(store->ops->view_get(store, "v:1", &got, &tag, NULL, NULL), ES_OK);
    cr_expect_eq(json_integer_value(json_object_get(got, "version")), 2, "the new one");
    cr_expect_gt(strtoll(tag, NULL, 10), 3, "its etag is past every old one");
    json_decref(got);
    free(tag);
    cr_expect_eq(store->ops->view_get(store, "_rebuild", &got, &tag, NULL, NULL),
                 ES_ENOTFOUND, "the progress record is left out");
    /* An old etag meets a 412, not a match by chance. */
    cr_expect_eq(store->ops->view_put(store, old, etag, NULL, NULL, NULL),
                 ES_EPRECONDITION);
    json_t *docs = NULL;
    char *next = NULL;
    cr_assert_eq(store->ops->view_query(store, "k", NULL, 10, &docs, &next, NULL, NULL),
                 ES_OK, "the index of views serves the new table");
    cr_expect_eq(json_array_size(docs), 1);
    json_decref(docs);
    cr_expect_eq(es_store_sqlite_open_views(path, "views", &t, &existed, NULL),
                 ES_EINVAL);
    cr_expect_eq(es_store_sqlite_open_views(path, "x; DROP", &t, &existed, NULL),
                 ES_EINVAL);
    free(cursor);
    free(etag);
    json_decref(old);
    json_decref(fresh);
    json_decref(rec);
}

/*
 * Redriving dead letters on the SQLite store, with a toy projection that can
 * be poisoned (its fold fails while `counter_poisoned` is set) and a toy reactor.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "es/redrive.h"
#include "tmpstore.h"

static struct tmpstore tmp;
static struct es_store *store;
static int reactions;

static enum es_status react(const struct es_react_env *env, const struct es_event *ev,
                            struct es_error *err)
{
    (void)env;
    (void)ev;
    (void)err;
    reactions++;
    return ES_OK;
}

static const struct es_reactor reactor = {"r", "s-", react};
static const struct es_projection *const projections[] = {&counter};
static const struct es_reactor *const reactors[] = {&reactor};

static struct es_projector_opts opts(void)
{
    struct es_projector_opts o = {store, NULL, projections, 1, reactors, 1, 1, NULL};
    return o;
}

static void setup(void)
{
    store = tmpstore_open(&tmp, "redrive");
    counter_poisoned = false;
    reactions = 0;
}

static void teardown(void)
{
    tmpstore_remove(&tmp);
}

TestSuite(redrive, .init = setup, .fini = teardown);

static void append(const char *stream, int n)
{
    json_t *m = json_object();
    for (int v = 1; v <= n; v++) {
        json_t *data = json_pack("{s:i}", "v", v);
        struct es_new_event e = {"E", 1, data, m};
        struct es_append a = {stream, v - 1, &e, 1, NULL, NULL};
        enum es_conflict c;
        cr_assert_eq(store->ops->append(store, &a, &c, NULL, NULL), ES_OK);
        json_decref(data);
    }
    json_decref(m);
}

/* Delivers stream's events 1..n on the last attempt: poisoned, they are dead-lettered. */
static void deliver(const char *stream, int n)
{
    struct es_event_page p;
    cr_assert_eq(store->ops->read_stream(store, stream, 1, (size_t)n, &p, NULL, NULL),
                 ES_OK);
    json_t *arr = json_array();
    for (size_t i = 0; i < p.n; i++)
        json_array_append_new(arr, es_event_to_doc(&p.events[i]));
    es_event_page_release(&p);
    struct es_projector_opts o = opts();
    struct es_batch_report rep;
    cr_assert_eq(es_project_batch(&o, arr, true, 5, &rep, NULL), ES_OK);
    json_decref(arr);
}

static json_t *view(const char *id)
{
    json_t *doc = NULL;
    char *etag = NULL;
    if (store->ops->view_get(store, id, &doc, &etag, NULL, NULL) != ES_OK)
        return NULL;
    free(etag);
    return doc;
}

static long view_n(const char *id)
{
    json_t *v = view(id);
    long n = v != NULL ? (long)json_integer_value(json_object_get(v, "n")) : -1;
    json_decref(v);
    return n;
}

static json_t *dead(const char *id)
{
    json_t *doc = NULL;
    return store->ops->deadletter_get(store, id, &doc, NULL, NULL) == ES_OK ? doc : NULL;
}

static void put_dead(json_t *doc)
{
    cr_assert_eq(store->ops->deadletter_put(store, doc, NULL, NULL), ES_OK);
    json_decref(doc);
}

Test(redrive, a_fixed_dead_letter_runs_its_views_and_reactors_and_is_removed)
{
    append("s-a", 3);
    counter_poisoned = true;
    deliver("s-a", 3);
    json_t *d = dead("s-a:1:dead");
    cr_assert_not_null(d, "poisoned events are dead-lettered");
    cr_expect_eq(json_integer_value(json_object_get(d, "attempts")), 6);
    json_decref(d);
    cr_expect_eq(view_n("count:a"), -1);
    counter_poisoned = false;
    struct es_projector_opts o = opts();
    struct es_redrive_result r;
    cr_assert_eq(es_redrive(&o, "s-a:1:dead", &r, NULL), ES_OK);
    cr_expect_str_eq(r.stream_id, "s-a");
    cr_expect_eq(r.version, 1);
    cr_expect_eq(view_n("count:a"), 1, "only its own event");
    cr_expect_eq(reactions, 1);
    cr_expect_null(dead("s-a:1:dead"), "removed");
    /* Version 3 first: the view's gap (2) is read from the store, as the Projector does.
     */
    cr_assert_eq(es_redrive(&o, "s-a:3:dead", &r, NULL), ES_OK);
    cr_expect_eq(view_n("count:a"), 3);
    cr_assert_eq(es_redrive(&o, "s-a:2:dead", &r, NULL), ES_OK);
    json_t *v = view("count:a");
    cr_expect_eq(json_integer_value(json_object_get(v, "n")), 3,
                 "2 is not applied twice");
    cr_expect_eq(json_array_size(json_object_get(v, "seen")), 3);
    json_decref(v);
    cr_expect_eq(es_redrive(&o, "s-a:2:dead", &r, NULL), ES_ENOTFOUND, "gone");
}

Test(redrive,
     a_dead_letter_that_fails_again_stays_with_the_new_error_and_one_more_attempt)
{
    append("s-a", 1);
    counter_poisoned = true;
    deliver("s-a", 1);
    struct es_projector_opts o = opts();
    struct es_redrive_result r;
    struct es_error err = {0};
    cr_assert_eq(es_redrive(&o, "s-a:1:dead", &r, &err), ES_EREDRIVE);
    cr_expect_eq(r.attempts, 7);
    cr_expect(strstr(r.error, "cannot fold") != NULL, "%s", r.error);
    cr_expect_str_eq(err.message, r.error);
    json_t *d = dead("s-a:1:dead");
    cr_assert_not_null(d);
    cr_expect_eq(json_integer_value(json_object_get(d, "attempts")), 7);
    cr_expect_str_eq(json_string_value(json_object_get(d, "error")), r.error);
    cr_expect_not_null(json_object_get(d, "event"), "the event stays");
    json_decref(d);
    cr_assert_eq(es_redrive(&o, "s-a:1:dead", &r, NULL), ES_EREDRIVE);
    cr_expect_eq(r.attempts, 8);
}

Test(redrive, an_unknown_dead_letter_is_not_found)
{
    struct es_projector_opts o = opts();
    struct es_redrive_result r;
    cr_expect_eq(es_redrive(&o, "s-a:1:dead", &r, NULL), ES_ENOTFOUND);
    cr_expect_eq(es_redrive(&o, "nocolon", &r, NULL), ES_ENOTFOUND);
}

/* The Publisher's dead letter records a message never sent: a redrive leaves it be. */
Test(redrive, another_subscribers_dead_letter_is_refused_and_kept)
{
    append("s-a", 1);
    put_dead(json_pack("{s:s, s:s, s:s, s:{s:s}, s:s, s:i, s:s}", "id",
                       "s-a:1:Publisher:dead", "streamId", "s-a", "subscriber",
                       "Publisher", "message", "id", "s-a:1", "error", "webhook down",
                       "attempts", 6, "failedAt", "2026-12-06T10:00:00.000Z"));
    struct es_projector_opts o = opts();
    struct es_redrive_result r;
    struct es_error err = {0};
    cr_expect_eq(es_redrive(&o, "s-a:1:Publisher:dead", &r, &err), ES_EREDRIVE);
    cr_expect_not_null(strstr(err.message, "Publisher"), "%s", err.message);
    cr_expect_eq(r.attempts, 6);
    json_t *d = dead("s-a:1:Publisher:dead");
    cr_assert_not_null(d, "kept");
    cr_expect_eq(json_integer_value(json_object_get(d, "attempts")), 6, "untouched");
    cr_expect_str_eq(json_string_value(json_object_get(d, "error")), "webhook down");
    json_decref(d);
    cr_expect_eq(reactions, 0, "nothing ran");
    cr_expect_null(view("count:a"));
}

/* The events of a payload dead letter are found by the ids it lists, in the store. */
Test(redrive, a_payload_dead_letter_runs_the_events_it_names_or_fails_saying_why)
{
    append("s-b", 2);
    append("s-c", 1);
    put_dead(json_pack("{s:s, s:s, s:{s:[s,s,s]}, s:s, s:i}", "id",
                       "_undecodable:aa:dead", "streamId", "_undecodable", "payload",
                       "documentIds", "s-b:2", "s-c:1", "s-b:1", "error", "too big",
                       "attempts", 1));
    put_dead(json_pack("{s:s, s:s, s:s, s:s, s:i}", "id", "_undecodable:bb:dead",
                       "streamId", "_undecodable", "payload", "not json at all", "error",
                       "undecodable", "attempts", 1));
    put_dead(json_pack("{s:s, s:s, s:{s:[s]}, s:s, s:i}", "id", "_undecodable:cc:dead",
                       "streamId", "_undecodable", "payload", "documentIds", "s-b:1/../x",
                       "error", "too big", "attempts", 1));
    put_dead(json_pack("{s:s, s:s, s:{s:s, s:i, s:i}, s:s, s:i}", "id", "s-c:dd:dead",
                       "streamId", "s-c", "payload", "streamId", "s-c", "version", 1,
                       "data", 5, "error", "malformed", "attempts", 1));
    struct es_projector_opts o = opts();
    struct es_redrive_result r;
    struct es_error err = {0};
    cr_assert_eq(es_redrive(&o, "_undecodable:aa:dead", &r, &err), ES_OK, "%s",
                 err.message);
    cr_expect_eq(view_n("count:b"), 2);
    cr_expect_eq(view_n("count:c"), 1);
    cr_expect_eq(reactions, 3);
    cr_expect_eq(es_redrive(&o, "_undecodable:bb:dead", &r, NULL), ES_EREDRIVE);
    cr_expect(strstr(r.error, "no event") != NULL, "%s", r.error);
    cr_expect_eq(r.attempts, 2);
    cr_expect_eq(es_redrive(&o, "_undecodable:cc:dead", &r, NULL), ES_EREDRIVE);
    cr_expect(strstr(r.error, "badly") != NULL, "%s", r.error);
    cr_expect_eq(es_redrive(&o, "s-c:dd:dead", &r, NULL), ES_OK,
                 "a malformed delivery is run from the stored event it names");
}

/* A dead letter read back is input: what it says is checked against the store. */
Test(redrive, a_dead_letter_is_not_trusted)
{
    append("s-a", 1);
    put_dead(json_pack("{s:s, s:s, s:{s:s, s:i, s:s, s:{}}, s:s, s:i}", "id",
                       "s-a:9:dead", "streamId", "s-a", "event", "streamId", "s-a",
                       "version", 9, "type", "E", "data", "error", "x", "attempts", 1));
    put_dead(json_pack("{s:s, s:s, s:{s:s, s:i, s:s, s:{}}, s:s, s:i}", "id",
                       "s-a:1:dead", "streamId", "s-a", "event", "streamId", "s-other",
                       "version", 1, "type", "E", "data", "error", "x", "attempts", -4));
    put_dead(json_pack("{s:s, s:s, s:s}", "id", "s-a:2:dead", "streamId", "s-a", "event",
                       "a string"));
    put_dead(json_pack("{s:s, s:s}", "id", "s-a:3:dead", "streamId", "s-a"));
    struct es_projector_opts o = opts();
    struct es_redrive_result r;
    cr_expect_eq(es_redrive(&o, "s-a:9:dead", &r, NULL), ES_EREDRIVE);
    cr_expect(strstr(r.error, "holds no event s-a:9") != NULL, "%s", r.error);
    cr_expect_eq(es_redrive(&o, "s-a:1:dead", &r, NULL), ES_EREDRIVE,
                 "an event of another stream than its id says");
    cr_expect_eq(r.attempts, 1, "a negative count starts again from 0");
    cr_expect_eq(es_redrive(&o, "s-a:2:dead", &r, NULL), ES_EREDRIVE);
    cr_expect_eq(es_redrive(&o, "s-a:3:dead", &r, NULL), ES_EREDRIVE);
    cr_expect_eq(view_n("count:a"), -1, "nothing ran");
    cr_expect_eq(reactions, 0);
}

/* Every id the pages visit, in order, while everything fails. */
static json_t *visit_all(size_t limit, int *pages)
{
    struct es_projector_opts o = opts();
    json_t *ids = json_array();
    char *after = NULL;
    *pages = 0;
    do {
        struct es_redrive_page page;
        cr_assert_eq(es_redrive_all(&o, after, limit, &page, NULL), ES_OK);
        free(after);
        after = page.next != NULL ? strdup(page.next) : NULL;
        size_t i;
        json_t *f;
        json_array_foreach(page.failed, i, f)
            json_array_append(ids, json_object_get(f, "id"));
        cr_expect_eq(page.redriven, 0);
        cr_expect_leq(json_array_size(page.failed), limit);
        es_redrive_page_release(&page);
        (*pages)++;
    } while (after != NULL && *pages < 100);
    return ids;
}

Test(redrive, all_dead_letters_are_visited_in_stream_then_version_order_in_pages)
{
    append("s-a", 10);
    append("s-a-b", 1);
    counter_poisoned = true;
    deliver("s-a-b", 1);
    deliver("s-a", 10);
    int pages = 0;
    json_t *ids = visit_all(4, &pages);
    cr_expect_eq(pages, 3);
    cr_assert_eq(json_array_size(ids), 11);
    for (int v = 1; v <= 10; v++) {
        char want[32];
        snprintf(want, sizeof(want), "s-a:%d:dead", v);
        cr_expect_str_eq(json_string_value(json_array_get(ids, (size_t)v - 1)), want);
    }
    cr_expect_str_eq(json_string_value(json_array_get(ids, 10)), "s-a-b:1:dead");
    json_decref(ids);

    counter_poisoned = false;
    struct es_projector_opts o = opts();
    struct es_redrive_page page;
    cr_assert_eq(es_redrive_all(&o, NULL, 500, &page, NULL), ES_OK);
    cr_expect_eq(page.redriven, 11);
    cr_expect_eq(json_array_size(page.failed), 0);
    cr_expect_null(page.next);
    es_redrive_page_release(&page);
    cr_expect_eq(view_n("count:a"), 10);
    cr_expect_eq(view_n("count:a-b"), 1);
    json_t *docs = NULL;
    char *next = NULL;
    cr_assert_eq(store->ops->deadletter_query(store, NULL, 10, &docs, &next, NULL, NULL),
                 ES_OK);
    cr_expect_eq(json_array_size(docs), 0, "every dead letter is gone");
    json_decref(docs);
}

Test(redrive, a_continuation_of_another_listing_is_refused)
{
    struct es_projector_opts o = opts();
    struct es_redrive_page page;
    const char *bad[] = {"", "s-a", "s-a\nx\nid", "s-a\n-1\nid", "s-a\n1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(es_redrive_all(&o, bad[i], 10, &page, NULL), ES_EINVAL, "'%s'",
                     bad[i]);
    cr_expect_eq(es_redrive_all(&o, "s-a\n1\ns-a:1:dead", 10, &page, NULL), ES_OK);
    cr_expect_null(page.next);
    es_redrive_page_release(&page);
}

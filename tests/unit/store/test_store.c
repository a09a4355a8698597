#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static json_t *doc_of(const char *stream, json_int_t version, const char *type)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:{s:s}, s:{s:s}}", "id", "x",
                     "kind", "event", "streamId", stream, "version", version, "type",
                     type, "schema", 1, "data", "title", "milk", "meta", "correlationId",
                     "c1");
}

Test(store, event_ids_are_stream_colon_version_and_refuse_to_be_cut)
{
    char id[ES_DOC_ID_MAX];
    cr_expect_eq(es_event_id("todolist-groceries", 12, id, sizeof(id)), ES_OK);
    cr_expect_str_eq(id, "todolist-groceries:12");
    char small[8];
    cr_expect_eq(es_event_id("todolist-groceries", 12, small, sizeof(small)), ES_ETOOBIG);
    cr_expect_str_eq(small, "", "nothing half-written");
}

Test(store, events_sort_by_stream_then_version)
{
    struct es_event e[] = {{.stream_id = "b", .version = 1},
                           {.stream_id = "a", .version = 10},
                           {.stream_id = "a", .version = 9},
                           {.stream_id = "b", .version = 1}};
    qsort(e, 4, sizeof(e[0]), es_event_cmp);
    cr_expect_str_eq(e[0].stream_id, "a");
    cr_expect_eq(e[0].version, 9);
    cr_expect_eq(e[1].version, 10);
    cr_expect_str_eq(e[2].stream_id, "b");
    cr_expect_eq(es_event_cmp(&e[2], &e[3]), 0);
    cr_expect_lt(es_event_cmp(&e[0], &e[1]), 0);
    cr_expect_gt(es_event_cmp(&e[2], &e[1]), 0);
}

Test(store, stream_ids_are_words_of_1_to_128_bytes)
{
    char longest[ES_STREAM_ID_MAX + 2];
    memset(longest, 'a', ES_STREAM_ID_MAX);
    longest[ES_STREAM_ID_MAX] = '\0';
    cr_expect(es_stream_id_valid("todolist-a_B9"));
    cr_expect(es_stream_id_valid(longest));
    longest[ES_STREAM_ID_MAX] = 'a';
    longest[ES_STREAM_ID_MAX + 1] = '\0';
    cr_expect(!es_stream_id_valid(longest));
    const char *bad[] = {"", "a:b", "a b", "a/b", "a.b", "é", "a\nb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect(!es_stream_id_valid(bad[i]), "'%s'", bad[i]);
    cr_expect(!es_stream_id_valid(NULL));
}

Test(store, a_dead_letter_names_its_stream_before_the_first_colon)
{
    char out[16];
    cr_expect_eq(es_deadletter_stream("todolist-a:7:dead", out, sizeof(out)), ES_OK);
    cr_expect_str_eq(out, "todolist-a");
    cr_expect_eq(es_deadletter_stream("_undecodable:ab:dead", out, sizeof(out)), ES_OK);
    cr_expect_str_eq(out, "_undecodable");
    const char *bad[] = {"nocolon", ":7:dead", "a-stream-too-long-for-out:1:dead", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(es_deadletter_stream(bad[i], out, sizeof(out)), ES_EINVAL, "'%s'",
                     bad[i]);
    cr_expect_eq(es_deadletter_stream(NULL, out, sizeof(out)), ES_EINVAL);
}

Test(store, a_views_partition_is_its_id_after_the_first_colon)
{
    cr_expect_str_eq(es_view_partition("todolist:a"), "a");
    cr_expect_str_eq(es_view_partition("summary:a"), "a", "a list's two views share one");
    cr_expect_str_eq(es_view_partition("todolist:a:b"), "a:b");
    cr_expect_str_eq(es_view_partition("_rebuild"), "_rebuild", "no colon: its own");
    cr_expect_str_eq(es_view_partition("todolist:"), "todolist:", "nothing after it");
}

Test(store, a_document_round_trips_through_the_event)
{
    json_t *doc = doc_of("todolist-a", 3, "ItemAdded");
    struct es_event e;
    struct es_error err = {0};
    cr_assert_eq(es_event_from_doc(doc, &e, &err), ES_OK, "%s", err.message);
    cr_expect_str_eq(e.stream_id, "todolist-a");
    cr_expect_eq(e.version, 3);
    cr_expect_str_eq(e.type, "ItemAdded");
    json_t *back = es_event_to_doc(&e);
    json_object_set_new(doc, "id", json_string("todolist-a:3"));
    cr_expect(json_equal(back, doc), "%s", json_dumps(back, 0));
    json_decref(back);
    es_event_release(&e);
    cr_expect_null(e.stream_id, "released and zeroed");
    json_decref(doc);
}

Test(store, schema_and_meta_have_defaults)
{
    json_t *doc = json_pack("{s:s, s:I, s:s, s:{}}", "streamId", "s", "version",
                            (json_int_t)1, "type", "ListCreated", "data");
    struct es_event e;
    struct es_error err = {0};
    cr_assert_eq(es_event_from_doc(doc, &e, &err), ES_OK, "%s", err.message);
    cr_expect_eq(e.schema, 1);
    cr_expect(json_is_object(e.meta) && json_object_size(e.meta) == 0);
    es_event_release(&e);
    json_decref(doc);
}

/* The change feed is input like any other: a document that is not an event is refused. */
Test(store, documents_that_are_not_events_are_refused_by_what_is_wrong)
{
    struct {
        const char *key;
        json_t *value; /* NULL: the key is removed */
        const char *says;
    } cases[] = {
        {"streamId", NULL, "bad streamId"},
        {"streamId", json_string("a:b"), "bad streamId"},
        {"streamId", json_integer(5), "bad streamId"},
        {"type", NULL, "bad type"},
        {"type", json_string("Item Added"), "bad type"},
        {"type", json_string(""), "bad type"},
        {"version", NULL, "version outside"},
        {"version", json_integer(0), "version outside"},
        {"version", json_integer(-3), "version outside"},
        {"version", json_integer(ES_VERSION_MAX + 1), "version outside"},
        {"version", json_real(2.0), "version outside"},
        {"version", json_string("2"), "version outside"},
        {"data", NULL, "well-formed"},
        {"data", json_array(), "well-formed"},
        {"meta", json_string("m"), "well-formed"},
        {"schema", json_integer(0), "well-formed"},
        {"schema", json_integer(1001), "well-formed"},
        {"schema", json_string("1"), "well-formed"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *doc = doc_of("todolist-a", 3, "ItemAdded");
        if (cases[i].value == NULL)
            json_object_del(doc, cases[i].key);
        else
            json_object_set_new(doc, cases[i].key, cases[i].value);
        struct es_event e = {.type = NULL};
        struct es_error err = {0};
        cr_expect_eq(es_event_from_doc(doc, &e, &err), ES_EFIELD, "case %zu (%s)", i,
                     cases[i].key);
        cr_expect(strstr(err.message, cases[i].says) != NULL, "case %zu: %s", i,
                  err.message);
        cr_expect_null(e.stream_id, "case %zu: nothing to release", i);
        json_decref(doc);
    }
    json_t *top = doc_of("todolist-a", ES_VERSION_MAX, "x.y-z_1");
    struct es_event e;
    struct es_error err = {0};
    cr_expect_eq(es_event_from_doc(top, &e, &err), ES_OK, "2^53 and [A-Za-z0-9_.-] pass");
    es_event_release(&e);
    json_decref(top);
}

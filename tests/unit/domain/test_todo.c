/*
 * domain/todo.c: text rules, statuses, todo_evolve, the snapshot format and
 * clones. decide's rules are data (tests/data/decide, test_todo_decide.c);
 * the decide calls here check evolve and snapshots against them.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "domain/todo.h"

/* ---- helpers ---- */

/* JSON written with single quotes (no test string contains an apostrophe). */
static json_t *js(const char *squoted)
{
    size_t n = strlen(squoted);
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    for (size_t i = 0; i <= n; i++)
        s[i] = squoted[i] == '\'' ? '"' : squoted[i];
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    free(s);
    cr_assert_not_null(j, "bad test JSON %s: %s", squoted, e.text);
    return j;
}

/* Applies [[type, data], ...] in order; every event must apply cleanly. */
static void apply_all(struct todo_list *l, const char *events)
{
    json_t *arr = js(events);
    size_t i;
    json_t *ev;
    json_array_foreach(arr, i, ev)
    {
        const char *type = json_string_value(json_array_get(ev, 0));
        cr_expect_eq(todo_evolve(l, type, json_array_get(ev, 1)), ES_OK, "applying %s",
                     type);
    }
    json_decref(arr);
}

/* Applies one event and returns todo_evolve's status. */
static enum es_status apply1(struct todo_list *l, const char *type, const char *data)
{
    json_t *d = js(data);
    enum es_status st = todo_evolve(l, type, d);
    json_decref(d);
    return st;
}

static struct todo_list *list_of(const char *events)
{
    struct todo_list *l = todo_list_new();
    cr_assert_not_null(l);
    apply_all(l, events);
    return l;
}

static const char groceries_events[] =
    "[['TodoListCreated', {'name': 'Groceries'}],"
    " ['ItemAdded', {'itemId': 'i1', 'task': 'Milk', 'status': 'To Do'}],"
    " ['ItemAdded', {'itemId': 'i2', 'task': 'Bread', 'status': 'To Do'}],"
    " ['ItemStatusChanged', {'itemId': 'i2', 'status': 'In Progress'}],"
    " ['ItemAdded', {'itemId': 'i3', 'task': 'Eggs', 'status': 'To Do'}],"
    " ['ItemStatusChanged', {'itemId': 'i3', 'status': 'Done'}]]";

/* "Groceries": i1 Milk (To Do), i2 Bread (In Progress), i3 Eggs (Done). */
static struct todo_list *groceries(void)
{
    return list_of(groceries_events);
}

static struct todo_list *deleted_groceries(void)
{
    struct todo_list *l = groceries();
    apply_all(l, "[['TodoListDeleted', {}]]");
    return l;
}

static void expect_item(const struct todo_list *l, size_t index, const char *id,
                        const char *task, enum todo_item_status status)
{
    cr_assert_lt(index, l->n_items, "item %zu of %zu", index, l->n_items);
    const struct todo_item *it = &l->items[index];
    cr_expect_str_eq(it->id, id);
    cr_expect_str_eq(it->task, task);
    cr_expect_eq(it->status, status, "item %s: status %d, expected %d", id, it->status,
                 status);
}

/* True when both states serialise to the same snapshot. */
static bool same_state(const struct todo_list *a, const struct todo_list *b)
{
    json_t *ja = todo_list_to_json(a), *jb = todo_list_to_json(b);
    bool eq = ja != NULL && jb != NULL && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

static void decide(const struct todo_list *l, struct todo_cmd c, struct todo_decision *d)
{
    cr_assert_eq(todo_decide(l, &c, d), ES_OK);
    cr_assert(json_is_array(d->events));
}

/* Checks an accepted decision's exact events, then releases it. */
static void expect_events(struct todo_decision *d, const char *want)
{
    json_t *w = js(want);
    char *got = json_dumps(d->events, JSON_COMPACT);
    cr_expect_eq(d->error, ES_OK, "rejected (%d): %s", d->error, d->message);
    cr_expect(json_equal(d->events, w), "events %s, expected %s", got, want);
    free(got);
    json_decref(w);
    todo_decision_release(d);
}

/* Checks a rejection (code, a message, no events), then releases it. */
static void expect_rejected(struct todo_decision *d, enum es_status e, const char *in_msg)
{
    cr_expect_eq(d->error, e, "error %d, expected %d (%s)", d->error, e, d->message);
    cr_expect_gt(strlen(d->message), 0, "a rejection carries a message");
    if (in_msg != NULL)
        cr_expect_not_null(strstr(d->message, in_msg), "message '%s' mentions '%s'",
                           d->message, in_msg);
    cr_expect_eq(json_array_size(d->events), 0, "a rejection carries no events");
    todo_decision_release(d);
}

/* Applies an accepted decision's events to l. */
static void apply_decision(struct todo_list *l, const struct todo_decision *d)
{
    size_t i;
    json_t *ev;
    json_array_foreach(d->events, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        cr_expect_eq(todo_evolve(l, type, json_object_get(ev, "data")), ES_OK, "%s",
                     type);
    }
}

/* ---- todo_text_normalize ---- */

static enum es_status normalize(const char *s, char **out, struct es_error *err)
{
    *out = NULL;
    memset(err, 0, sizeof(*err));
    return todo_text_normalize(s, strlen(s), "task", out, err);
}

static void expect_text_rejected(const char *s, size_t len)
{
    char *out = NULL;
    struct es_error err = {0};
    cr_expect_eq(todo_text_normalize(s, len, "task", &out, &err), ES_EFIELD);
    cr_expect_eq(err.code, ES_EFIELD);
    cr_expect_not_null(strstr(err.message, "task"), "message '%s' names the field",
                       err.message);
    cr_expect_null(out);
    free(out);
}

static char *repeat(const char *unit, size_t times, const char *pad)
{
    size_t u = strlen(unit), p = strlen(pad), n = u * times + 2 * p;
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memcpy(s, pad, p);
    for (size_t i = 0; i < times; i++)
        memcpy(s + p + i * u, unit, u);
    memcpy(s + p + times * u, pad, p);
    s[n] = '\0';
    return s;
}

Test(todo_text, trims_space_tab_cr_and_lf_on_both_ends)
{
    char *out;
    struct es_error err;
    cr_assert_eq(normalize(" \t\r\n Buy  milk \n\r\t ", &out, &err), ES_OK);
    cr_expect_str_eq(out, "Buy  milk");
    cr_expect_eq(err.code, ES_OK);
    free(out);
}

Test(todo_text, leaves_text_without_blanks_unchanged_in_a_fresh_copy)
{
    const char *in = "Milk";
    char *out;
    struct es_error err;
    cr_assert_eq(normalize(in, &out, &err), ES_OK);
    cr_expect_str_eq(out, "Milk");
    cr_expect_neq(out, in);
    free(out);
}

Test(todo_text, trims_only_the_four_blank_characters)
{
    char *out;
    struct es_error err;
    /* U+00A0 (no-break space) is not one of the trimmed characters. */
    cr_assert_eq(normalize(" \xc2\xa0Milk\xc2\xa0 ", &out, &err), ES_OK);
    cr_expect_str_eq(out, "\xc2\xa0Milk\xc2\xa0");
    free(out);
}

Test(todo_text, reads_only_len_bytes)
{
    char *out = NULL;
    struct es_error err = {0};
    cr_assert_eq(todo_text_normalize("Milk and honey", 5, "task", &out, &err), ES_OK);
    cr_expect_str_eq(out, "Milk");
    free(out);
}

Test(todo_text, accepts_one_character)
{
    char *out;
    struct es_error err;
    cr_assert_eq(normalize("  x  ", &out, &err), ES_OK);
    cr_expect_str_eq(out, "x");
    free(out);
}

Test(todo_text, accepts_fifty_ascii_characters_and_rejects_fifty_one)
{
    char *fifty = repeat("a", 50, " \t"), *fifty_one = repeat("a", 51, "");
    char *out;
    struct es_error err;
    cr_expect_eq(normalize(fifty, &out, &err), ES_OK);
    cr_expect_eq(strlen(out), 50);
    free(out);
    expect_text_rejected(fifty_one, strlen(fifty_one));
    free(fifty);
    free(fifty_one);
}

Test(todo_text, counts_code_points_not_bytes)
{
    char *fifty = repeat("é", 50, " \r\n"), *fifty_one = repeat("é", 51, "");
    char *out;
    struct es_error err;
    cr_expect_eq(normalize(fifty, &out, &err), ES_OK, "50 x U+00E9 (100 bytes)");
    cr_expect_eq(strlen(out), 100);
    free(out);
    expect_text_rejected(fifty_one, strlen(fifty_one));
    free(fifty);
    free(fifty_one);
}

Test(todo_text, accepts_fifty_four_byte_characters_and_rejects_fifty_one)
{
    char *fifty = repeat("\xf0\x9f\x8d\x8e", 50, ""); /* U+1F34E */
    char *fifty_one = repeat("\xf0\x9f\x8d\x8e", 51, "");
    char *out;
    struct es_error err;
    cr_expect_eq(normalize(fifty, &out, &err), ES_OK);
    cr_expect_str_eq(out, fifty);
    free(out);
    expect_text_rejected(fifty_one, strlen(fifty_one));
    free(fifty);
    free(fifty_one);
}

Test(todo_text, rejects_empty_and_all_blank_text)
{
    expect_text_rejected("", 0);
    expect_text_rejected(" ", 1);
    expect_text_rejected(" \t\r\n \t", 6);
}

Test(todo_text, rejects_invalid_utf8)
{
    expect_text_rejected("\xff", 1);
    expect_text_rejected("Milk\xc3", 5);         /* truncated sequence */
    expect_text_rejected("a\xc3(b", 4);          /* bad continuation byte */
    expect_text_rejected("\xc0\xaf", 2);         /* overlong '/' */
    expect_text_rejected("\xed\xa0\x80", 3);     /* UTF-16 surrogate */
    expect_text_rejected("\xf4\x90\x80\x80", 4); /* above U+10FFFF */
    expect_text_rejected("\x80 Milk", 6);        /* stray continuation byte */
    expect_text_rejected("Mi\0lk", 5);           /* embedded NUL */
}

Test(todo_text, error_message_names_the_field)
{
    char *out = NULL;
    struct es_error err = {0};
    cr_assert_eq(todo_text_normalize("", 0, "name", &out, &err), ES_EFIELD);
    cr_expect_not_null(strstr(err.message, "name"), "message: %s", err.message);
    cr_expect_null(out);

    struct es_error err2 = {0};
    cr_assert_eq(todo_text_normalize("\xff", 1, "name", &out, &err2), ES_EFIELD);
    cr_expect_eq(err2.code, ES_EFIELD);
    cr_expect_not_null(strstr(err2.message, "name"), "message: %s", err2.message);
    cr_expect_null(out);
}

Test(todo_text, works_without_an_error_record)
{
    char *out = NULL;
    cr_expect_eq(todo_text_normalize("   ", 3, "task", &out, NULL), ES_EFIELD);
    cr_expect_null(out);
    cr_expect_eq(todo_text_normalize(" ok ", 4, "task", &out, NULL), ES_OK);
    cr_expect_str_eq(out, "ok");
    free(out);
}

/* ---- statuses ---- */

Test(todo_status, names_the_three_statuses)
{
    cr_expect_str_eq(todo_status_name(TODO_TO_DO), "To Do");
    cr_expect_str_eq(todo_status_name(TODO_IN_PROGRESS), "In Progress");
    cr_expect_str_eq(todo_status_name(TODO_DONE), "Done");
}

Test(todo_status, parses_exact_names_and_round_trips)
{
    enum todo_item_status s;
    cr_assert(todo_status_parse("To Do", &s));
    cr_expect_eq(s, TODO_TO_DO);
    cr_assert(todo_status_parse("In Progress", &s));
    cr_expect_eq(s, TODO_IN_PROGRESS);
    cr_assert(todo_status_parse("Done", &s));
    cr_expect_eq(s, TODO_DONE);
    const enum todo_item_status all[] = {TODO_TO_DO, TODO_IN_PROGRESS, TODO_DONE};
    for (size_t i = 0; i < 3; i++) {
        cr_assert(todo_status_parse(todo_status_name(all[i]), &s));
        cr_expect_eq(s, all[i]);
    }
}

Test(todo_status, rejects_other_spellings)
{
    const char *bad[] = {"done",  "DONE", "to do", "To do",     "in progress", "Done ",
                         " Done", "ToDo", "",      "Completed", "To Do\n",     "Don"};
    enum todo_item_status s;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not(todo_status_parse(bad[i], &s), "'%s' is not a status", bad[i]);
    cr_expect_not(todo_status_parse(NULL, &s));
}

/* ---- todo_evolve ---- */

Test(todo_evolve, a_new_list_is_empty)
{
    struct todo_list *l = todo_list_new();
    cr_assert_not_null(l);
    cr_expect_not(l->created);
    cr_expect_not(l->deleted);
    cr_expect_null(l->name);
    cr_expect_eq(l->n_items, 0);
    todo_list_free(l);
    todo_list_free(NULL);
}

Test(todo_evolve, todo_list_created_creates_and_names_the_list)
{
    struct todo_list *l = todo_list_new();
    cr_assert_eq(apply1(l, "TodoListCreated", "{'name': 'Groceries'}"), ES_OK);
    cr_expect(l->created);
    cr_expect_not(l->deleted);
    cr_expect_str_eq(l->name, "Groceries");
    cr_expect_eq(l->n_items, 0);
    todo_list_free(l);
}

Test(todo_evolve, todo_list_renamed_replaces_the_name)
{
    struct todo_list *l = groceries();
    cr_assert_eq(apply1(l, "TodoListRenamed", "{'name': 'Weekly shop'}"), ES_OK);
    cr_expect_str_eq(l->name, "Weekly shop");
    cr_expect(l->created);
    cr_expect_eq(l->n_items, 3);
    todo_list_free(l);
}

Test(todo_evolve, todo_list_deleted_marks_the_list_deleted)
{
    struct todo_list *l = groceries();
    cr_assert_eq(apply1(l, "TodoListDeleted", "{}"), ES_OK);
    cr_expect(l->deleted);
    cr_expect(l->created);
    cr_expect_str_eq(l->name, "Groceries");
    todo_list_free(l);
}

Test(todo_evolve, item_added_appends_items_in_order)
{
    struct todo_list *l = groceries();
    cr_assert_eq(l->n_items, 3);
    expect_item(l, 0, "i1", "Milk", TODO_TO_DO);
    expect_item(l, 1, "i2", "Bread", TODO_IN_PROGRESS);
    expect_item(l, 2, "i3", "Eggs", TODO_DONE);
    cr_assert_eq(
        apply1(l, "ItemAdded", "{'itemId': 'i4', 'task': 'Tea', 'status': 'Done'}"),
        ES_OK);
    cr_assert_eq(l->n_items, 4);
    expect_item(l, 3, "i4", "Tea", TODO_DONE);
    todo_list_free(l);
}

Test(todo_evolve, holds_many_items)
{
    struct todo_list *l = list_of("[['TodoListCreated', {'name': 'Big'}]]");
    for (int i = 0; i < 100; i++) {
        char id[16], task[16];
        snprintf(id, sizeof(id), "id%d", i);
        snprintf(task, sizeof(task), "task %d", i);
        json_t *data =
            json_pack("{s:s, s:s, s:s}", "itemId", id, "task", task, "status", "To Do");
        cr_expect_eq(todo_evolve(l, "ItemAdded", data), ES_OK);
        json_decref(data);
    }
    cr_assert_eq(l->n_items, 100);
    expect_item(l, 0, "id0", "task 0", TODO_TO_DO);
    expect_item(l, 99, "id99", "task 99", TODO_TO_DO);
    cr_expect_not_null(todo_list_item(l, "id57"));
    todo_list_free(l);
}

Test(todo_evolve, item_added_twice_does_not_duplicate)
{
    struct todo_list *l = groceries();
    cr_assert_eq(
        apply1(l, "ItemAdded", "{'itemId': 'i1', 'task': 'Milk', 'status': 'To Do'}"),
        ES_OK);
    cr_expect_eq(l->n_items, 3);
    /* the item already held wins over a replayed one with other data */
    cr_assert_eq(
        apply1(l, "ItemAdded", "{'itemId': 'i1', 'task': 'Other', 'status': 'Done'}"),
        ES_OK);
    cr_expect_eq(l->n_items, 3);
    expect_item(l, 0, "i1", "Milk", TODO_TO_DO);
    todo_list_free(l);
}

Test(todo_evolve, task_renamed_changes_only_that_items_task)
{
    struct todo_list *l = groceries();
    cr_assert_eq(apply1(l, "TaskRenamed", "{'itemId': 'i2', 'task': 'Rye bread'}"),
                 ES_OK);
    expect_item(l, 0, "i1", "Milk", TODO_TO_DO);
    expect_item(l, 1, "i2", "Rye bread", TODO_IN_PROGRESS);
    expect_item(l, 2, "i3", "Eggs", TODO_DONE);
    todo_list_free(l);
}

Test(todo_evolve, item_status_changed_changes_only_that_items_status)
{
    struct todo_list *l = groceries();
    cr_assert_eq(apply1(l, "ItemStatusChanged", "{'itemId': 'i1', 'status': 'Done'}"),
                 ES_OK);
    expect_item(l, 0, "i1", "Milk", TODO_DONE);
    expect_item(l, 1, "i2", "Bread", TODO_IN_PROGRESS);
    cr_assert_eq(apply1(l, "ItemStatusChanged", "{'itemId': 'i3', 'status': 'To Do'}"),
                 ES_OK);
    expect_item(l, 2, "i3", "Eggs", TODO_TO_DO);
    todo_list_free(l);
}

Test(todo_evolve, item_removed_removes_the_item_and_keeps_the_order)
{
    struct todo_list *l = groceries();
    cr_assert_eq(apply1(l, "ItemRemoved", "{'itemId': 'i2'}"), ES_OK);
    cr_assert_eq(l->n_items, 2);
    expect_item(l, 0, "i1", "Milk", TODO_TO_DO);
    expect_item(l, 1, "i3", "Eggs", TODO_DONE);
    cr_expect_null(todo_list_item(l, "i2"));
    cr_assert_eq(apply1(l, "ItemRemoved", "{'itemId': 'i3'}"), ES_OK);
    cr_assert_eq(apply1(l, "ItemRemoved", "{'itemId': 'i1'}"), ES_OK);
    cr_expect_eq(l->n_items, 0);
    todo_list_free(l);
}

Test(todo_evolve, item_moved_out_removes_the_item)
{
    struct todo_list *l = groceries();
    cr_assert_eq(
        apply1(l, "ItemMovedOut",
               "{'itemId': 'i1', 'task': 'Milk', 'status': 'To Do', 'toListId': 'L2'}"),
        ES_OK);
    cr_assert_eq(l->n_items, 2);
    cr_expect_null(todo_list_item(l, "i1"));
    expect_item(l, 0, "i2", "Bread", TODO_IN_PROGRESS);
    todo_list_free(l);
}

Test(todo_evolve, item_moved_in_adds_the_item_with_its_status)
{
    struct todo_list *l = groceries();
    cr_assert_eq(
        apply1(l, "ItemMovedIn",
               "{'itemId': 'x1', 'task': 'Tea', 'status': 'Done', 'fromListId': 'L0'}"),
        ES_OK);
    cr_assert_eq(l->n_items, 4);
    expect_item(l, 3, "x1", "Tea", TODO_DONE);
    /* redelivered: no duplicate */
    cr_assert_eq(
        apply1(l, "ItemMovedIn",
               "{'itemId': 'x1', 'task': 'Tea', 'status': 'Done', 'fromListId': 'L0'}"),
        ES_OK);
    cr_expect_eq(l->n_items, 4);
    todo_list_free(l);
}

Test(todo_evolve, item_move_reverted_re_adds_the_item)
{
    struct todo_list *l = groceries();
    apply_all(
        l, "[['ItemMovedOut', {'itemId': 'i2', 'task': 'Bread', 'status': 'In Progress',"
           "                   'toListId': 'L2'}]]");
    cr_assert_null(todo_list_item(l, "i2"));
    cr_assert_eq(apply1(l, "ItemMoveReverted",
                        "{'itemId': 'i2', 'task': 'Bread', 'status': 'In Progress',"
                        " 'toListId': 'L2', 'reason': 'target deleted'}"),
                 ES_OK);
    const struct todo_item *it = todo_list_item(l, "i2");
    cr_assert_not_null(it);
    cr_expect_str_eq(it->task, "Bread");
    cr_expect_eq(it->status, TODO_IN_PROGRESS);
    cr_expect_eq(l->n_items, 3);
    /* applied twice: still one */
    cr_assert_eq(apply1(l, "ItemMoveReverted",
                        "{'itemId': 'i2', 'task': 'Bread', 'status': 'In Progress',"
                        " 'toListId': 'L2', 'reason': 'target deleted'}"),
                 ES_OK);
    cr_expect_eq(l->n_items, 3);
    todo_list_free(l);
}

Test(todo_evolve, events_for_an_unknown_item_change_nothing)
{
    struct todo_list *l = groceries(), *before = groceries();
    cr_expect_eq(apply1(l, "TaskRenamed", "{'itemId': 'nope', 'task': 'Tea'}"), ES_OK);
    cr_expect_eq(apply1(l, "ItemStatusChanged", "{'itemId': 'nope', 'status': 'Done'}"),
                 ES_OK);
    cr_expect_eq(apply1(l, "ItemRemoved", "{'itemId': 'nope'}"), ES_OK);
    cr_expect_eq(
        apply1(l, "ItemMovedOut",
               "{'itemId': 'nope', 'task': 'Tea', 'status': 'Done', 'toListId': 'L'}"),
        ES_OK);
    cr_expect(same_state(l, before));
    todo_list_free(l);
    todo_list_free(before);
}

Test(todo_evolve, unknown_event_types_are_ignored)
{
    struct todo_list *l = groceries(), *before = groceries();
    cr_expect_eq(apply1(l, "ItemArchived", "{'itemId': 'i1'}"), ES_OK);
    cr_expect_eq(apply1(l, "TodoListShared", "{'name': 'Hijacked', 'with': 'bob'}"),
                 ES_OK);
    cr_expect_eq(
        apply1(l, "itemadded", "{'itemId': 'i9', 'task': 'Tea', 'status': 'Done'}"),
        ES_OK);
    cr_expect_eq(apply1(l, "", "{}"), ES_OK);
    cr_expect(same_state(l, before));
    struct todo_list *fresh = todo_list_new();
    cr_expect_eq(apply1(fresh, "SomethingNew", "{}"), ES_OK);
    cr_expect_not(fresh->created);
    todo_list_free(l);
    todo_list_free(before);
    todo_list_free(fresh);
}

Test(todo_evolve, known_events_missing_a_field_are_efield_and_skipped)
{
    static const char *const bad[][2] = {
        {"TodoListCreated", "{}"},
        {"TodoListCreated", "{'name': 5}"},
        {"TodoListRenamed", "{}"},
        {"TodoListRenamed", "{'name': null}"},
        {"ItemAdded", "{'task': 'Tea', 'status': 'To Do'}"},
        {"ItemAdded", "{'itemId': 'i9', 'status': 'To Do'}"},
        {"ItemAdded", "{'itemId': 'i9', 'task': 'Tea'}"},
        {"ItemAdded", "{'itemId': 'i9', 'task': 'Tea', 'status': 'done'}"},
        {"ItemAdded", "{'itemId': 9, 'task': 'Tea', 'status': 'To Do'}"},
        {"TaskRenamed", "{'task': 'Tea'}"},
        {"TaskRenamed", "{'itemId': 'i1'}"},
        {"ItemStatusChanged", "{'status': 'Done'}"},
        {"ItemStatusChanged", "{'itemId': 'i1'}"},
        {"ItemStatusChanged", "{'itemId': 'i1', 'status': 'Finished'}"},
        {"ItemRemoved", "{}"},
        {"ItemMovedOut", "{'task': 'Milk', 'status': 'To Do', 'toListId': 'L2'}"},
        {"ItemMovedIn", "{'itemId': 'x1', 'task': 'Tea', 'fromListId': 'L0'}"},
        {"ItemMovedIn", "{'itemId': 'x1', 'status': 'Done', 'fromListId': 'L0'}"},
        {"ItemMoveReverted", "{'itemId': 'x1', 'status': 'Done', 'toListId': 'L2'}"},
        {"ItemMoveReverted", "{'task': 'Tea', 'status': 'Done', 'toListId': 'L2'}"},
    };
    struct todo_list *l = groceries(), *before = groceries();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(apply1(l, bad[i][0], bad[i][1]), ES_EFIELD, "%s %s", bad[i][0],
                     bad[i][1]);
    cr_expect(same_state(l, before), "skipped events leave the state unchanged");
    todo_list_free(l);
    todo_list_free(before);
}

Test(todo_evolve, todo_list_created_without_a_name_does_not_create)
{
    struct todo_list *l = todo_list_new();
    cr_expect_eq(apply1(l, "TodoListCreated", "{}"), ES_EFIELD);
    cr_expect_not(l->created);
    cr_expect_null(l->name);
    todo_list_free(l);
}

Test(todo_evolve, replaying_decided_events_rebuilds_the_list)
{
    struct todo_list *l = todo_list_new();
    struct todo_decision d;
    decide(l, (struct todo_cmd){.kind = TODO_CREATE, .name = "Trip"}, &d);
    apply_decision(l, &d);
    todo_decision_release(&d);
    decide(
        l,
        (struct todo_cmd){.kind = TODO_ADD_ITEM, .new_item_id = "a", .task = "Tickets"},
        &d);
    apply_decision(l, &d);
    todo_decision_release(&d);
    decide(
        l,
        (struct todo_cmd){.kind = TODO_ADD_ITEM, .new_item_id = "b", .task = "Passport"},
        &d);
    apply_decision(l, &d);
    todo_decision_release(&d);
    decide(l, (struct todo_cmd){.kind = TODO_RENAME, .name = "Summer trip"}, &d);
    apply_decision(l, &d);
    todo_decision_release(&d);
    decide(l, (struct todo_cmd){.kind = TODO_REMOVE_ITEM, .item_id = "a"}, &d);
    apply_decision(l, &d);
    todo_decision_release(&d);
    decide(l, (struct todo_cmd){.kind = TODO_DELETE}, &d);
    apply_decision(l, &d);
    todo_decision_release(&d);
    cr_expect(l->created);
    cr_expect(l->deleted);
    cr_expect_str_eq(l->name, "Summer trip");
    cr_assert_eq(l->n_items, 1);
    expect_item(l, 0, "b", "Passport", TODO_TO_DO);
    todo_list_free(l);
}

/* ---- todo_list_item ---- */

Test(todo_list, item_finds_by_exact_id)
{
    struct todo_list *l = groceries();
    const struct todo_item *it = todo_list_item(l, "i2");
    cr_assert_not_null(it);
    cr_expect_str_eq(it->task, "Bread");
    cr_expect_null(todo_list_item(l, "I2"));
    cr_expect_null(todo_list_item(l, "i"));
    cr_expect_null(todo_list_item(l, ""));
    struct todo_list *empty = todo_list_new();
    cr_expect_null(todo_list_item(empty, "i1"));
    todo_list_free(l);
    todo_list_free(empty);
}

/* ---- snapshot JSON ---- */

static struct todo_list *round_trip(const struct todo_list *l)
{
    json_t *j = todo_list_to_json(l);
    cr_assert_not_null(j);
    char *text = json_dumps(j, 0);
    json_decref(j);
    cr_assert_not_null(text);
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    cr_assert_not_null(back);
    struct todo_list *copy = todo_list_from_json(back);
    json_decref(back);
    cr_assert_not_null(copy);
    return copy;
}

static void expect_equal_lists(const struct todo_list *a, const struct todo_list *b)
{
    cr_expect_eq(a->created, b->created);
    cr_expect_eq(a->deleted, b->deleted);
    if (a->name == NULL || b->name == NULL)
        cr_expect(a->name == NULL && b->name == NULL);
    else
        cr_expect_str_eq(a->name, b->name);
    cr_assert_eq(a->n_items, b->n_items);
    for (size_t i = 0; i < a->n_items; i++)
        expect_item(b, i, a->items[i].id, a->items[i].task, a->items[i].status);
    cr_expect(same_state(a, b));
}

Test(todo_json, writes_the_documented_snapshot_format)
{
    struct todo_list *l = groceries();
    json_t *j = todo_list_to_json(l);
    json_t *want = js("{'created': true, 'deleted': false, 'name': 'Groceries',"
                      " 'items': [{'id': 'i1', 'task': 'Milk', 'status': 'To Do'},"
                      "           {'id': 'i2', 'task': 'Bread', 'status': 'In Progress'},"
                      "           {'id': 'i3', 'task': 'Eggs', 'status': 'Done'}]}");
    char *got = json_dumps(j, JSON_COMPACT);
    cr_expect(json_equal(j, want), "snapshot %s", got);
    free(got);
    json_decref(j);
    json_decref(want);
    todo_list_free(l);
}

Test(todo_json, writes_an_empty_list_with_a_null_name)
{
    struct todo_list *l = todo_list_new();
    json_t *j = todo_list_to_json(l);
    json_t *want = js("{'created': false, 'deleted': false, 'name': null, 'items': []}");
    cr_expect(json_equal(j, want));
    json_decref(j);
    json_decref(want);
    todo_list_free(l);
}

Test(todo_json, round_trips_a_new_list)
{
    struct todo_list *l = todo_list_new();
    struct todo_list *copy = round_trip(l);
    expect_equal_lists(l, copy);
    todo_list_free(l);
    todo_list_free(copy);
}

Test(todo_json, round_trips_a_created_list_without_items)
{
    struct todo_list *l = list_of("[['TodoListCreated', {'name': 'Empty'}]]");
    struct todo_list *copy = round_trip(l);
    expect_equal_lists(l, copy);
    cr_expect_eq(copy->n_items, 0);
    todo_list_free(l);
    todo_list_free(copy);
}

Test(todo_json, round_trips_items_of_every_status_and_unicode_text)
{
    struct todo_list *l = list_of(
        "[['TodoListCreated', {'name': 'Einkäufe 🛒'}],"
        " ['ItemAdded', {'itemId': 'a', 'task': 'Crème brûlée', 'status': 'To Do'}],"
        " ['ItemAdded', {'itemId': 'b', 'task': '牛乳', 'status': 'In Progress'}],"
        " ['ItemAdded', {'itemId': 'c', 'task': '🍎 x2', 'status': 'Done'}],"
        " ['ItemAdded', {'itemId': 'd', 'task': 'tab\\there', 'status': 'Done'}]]");
    struct todo_list *copy = round_trip(l);
    expect_equal_lists(l, copy);
    expect_item(copy, 1, "b", "牛乳", TODO_IN_PROGRESS);
    cr_expect_str_eq(copy->name, "Einkäufe 🛒");
    todo_list_free(l);
    todo_list_free(copy);
}

Test(todo_json, round_trips_a_deleted_list)
{
    struct todo_list *l = deleted_groceries();
    struct todo_list *copy = round_trip(l);
    expect_equal_lists(l, copy);
    cr_expect(copy->deleted);
    todo_list_free(l);
    todo_list_free(copy);
}

Test(todo_json, a_read_snapshot_decides_like_the_original)
{
    struct todo_list *l = groceries();
    struct todo_list *copy = round_trip(l);
    struct todo_decision d;
    decide(copy,
           (struct todo_cmd){.kind = TODO_ADD_ITEM, .new_item_id = "i9", .task = "Milk"},
           &d);
    expect_rejected(&d, ES_ETASK_EXISTS, NULL);
    decide(copy, (struct todo_cmd){.kind = TODO_RENAME, .name = "Groceries"}, &d);
    expect_events(&d, "[]");
    todo_list_free(l);
    todo_list_free(copy);
}

Test(todo_json, malformed_snapshots_are_null)
{
    static const char *const bad[] = {
        "[]",
        "'a string'",
        "42",
        "null",
        "{}",
        "{'created': true, 'deleted': false, 'name': 'x'}",
        "{'created': true, 'deleted': false, 'name': 'x', 'items': {}}",
        "{'created': true, 'deleted': false, 'name': 'x', 'items': 'none'}",
        "{'created': true, 'deleted': false, 'name': 'x', 'items': ['i1']}",
        "{'created': true, 'deleted': false, 'name': 'x', 'items': [null]}",
        "{'created': true, 'name': 'x', 'items': [{'task': 'Milk', 'status': 'To Do'}]}",
        "{'created': true, 'name': 'x', 'items': [{'id': 'i1', 'status': 'To Do'}]}",
        "{'created': true, 'name': 'x', 'items': [{'id': 'i1', 'task': 'Milk'}]}",
        "{'created': true, 'name': 'x', 'items': [{'id': 'i1', 'task': 'Milk', 'status': "
        "'done'}]}",
        "{'created': true, 'name': 'x', 'items': [{'id': 1, 'task': 'Milk', 'status': "
        "'Done'}]}",
        "{'created': true, 'name': 'x', 'items': [{'id': 'i1', 'task': ['Milk'], "
        "'status': "
        "'Done'}]}",
        "{'created': true, 'name': 'x', 'items': [{'id': 'i1', 'task': 'Milk', 'status': "
        "'Done'}, {'id': 'i2', 'task': 'Tea', 'status': 3}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = js(bad[i]);
        struct todo_list *l = todo_list_from_json(j);
        cr_expect_null(l, "malformed: %s", bad[i]);
        todo_list_free(l);
        json_decref(j);
    }
    cr_expect_null(todo_list_from_json(NULL));
}

/* ---- clone ---- */

Test(todo_clone, produces_an_equal_deep_copy)
{
    struct todo_list *l = deleted_groceries();
    struct todo_list *c = todo_list_clone(l);
    cr_assert_not_null(c);
    expect_equal_lists(l, c);
    cr_expect_neq(c->name, l->name);
    cr_expect_neq(c->items, l->items);
    for (size_t i = 0; i < l->n_items; i++) {
        cr_expect_neq(c->items[i].id, l->items[i].id);
        cr_expect_neq(c->items[i].task, l->items[i].task);
    }
    todo_list_free(l);
    todo_list_free(c);
}

Test(todo_clone, copies_an_empty_list)
{
    struct todo_list *l = todo_list_new();
    struct todo_list *c = todo_list_clone(l);
    cr_assert_not_null(c);
    expect_equal_lists(l, c);
    todo_list_free(l);
    todo_list_free(c);
}

Test(todo_clone, mutating_the_clone_leaves_the_original_unchanged)
{
    struct todo_list *l = groceries(), *before = groceries();
    struct todo_list *c = todo_list_clone(l);
    cr_assert_not_null(c);
    apply_all(c, "[['TodoListRenamed', {'name': 'Changed'}],"
                 " ['TaskRenamed', {'itemId': 'i1', 'task': 'Oat milk'}],"
                 " ['ItemStatusChanged', {'itemId': 'i2', 'status': 'Done'}],"
                 " ['ItemRemoved', {'itemId': 'i3'}],"
                 " ['ItemAdded', {'itemId': 'i4', 'task': 'Tea', 'status': 'To Do'}],"
                 " ['ItemAdded', {'itemId': 'i5', 'task': 'Jam', 'status': 'To Do'}],"
                 " ['TodoListDeleted', {}]]");
    cr_expect_str_eq(c->name, "Changed");
    cr_expect_eq(c->n_items, 4);
    expect_equal_lists(before, l);
    cr_expect_not(l->deleted);
    /* and the other way round */
    apply_all(l, "[['ItemRemoved', {'itemId': 'i1'}]]");
    expect_item(c, 0, "i1", "Oat milk", TODO_TO_DO);
    todo_list_free(l);
    todo_list_free(before);
    todo_list_free(c);
}

/* ---- regressions ---- */

Test(todo_regression, a_snapshot_of_a_created_list_without_a_name_is_refused)
{
    json_t *j = js("{'created': true, 'deleted': false, 'name': null, 'items': []}");
    cr_expect_null(todo_list_from_json(j),
                   "a rename would otherwise compare against NULL");
    json_decref(j);
    j = js("{'created': true, 'deleted': false, 'name': 7, 'items': []}");
    cr_expect_null(todo_list_from_json(j));
    json_decref(j);
}

Test(todo_regression, a_snapshot_with_duplicate_item_ids_is_refused)
{
    json_t *j = js("{'created': true, 'deleted': false, 'name': 'L', 'items': ["
                   "{'id': 'a', 'task': 'x', 'status': 'To Do'},"
                   "{'id': 'a', 'task': 'y', 'status': 'Done'}]}");
    cr_expect_null(todo_list_from_json(j));
    json_decref(j);
}

Test(todo_regression, a_delete_before_the_create_changes_nothing)
{
    struct todo_list *l = todo_list_new();
    cr_expect_eq(apply1(l, "TodoListDeleted", "{}"), ES_OK);
    cr_expect_not(l->deleted);
    cr_expect_not(l->created);
    todo_list_free(l);
}

/*
 * test_todo_decide.c - domain/todo_decide.c's rules, as data.
 *
 * Each tests/data/decide/<case>.json states one rule: a list's state, one or
 * more commands, and what decide must answer to each. This runner checks
 * every case file in that folder (and fails when there is none), naming the
 * file of any case that does not hold. What data cannot say stays in C below.
 *
 * A case file is an object with exactly these keys:
 *   "description"  the rule, in words.
 *   "given"        the events that build the list, applied in order, each
 *                  [type, data]; a string among them stands for the events of
 *                  that name in _fixtures.json ("groceries"). "given" may also
 *                  be just a fixture's name; [] is a list never created.
 *   "when"         a command, or an array of commands each decided on the
 *                  given state: {"kind": ..., fields}. Kinds: create, rename,
 *                  delete, add_item, update_item, remove_item, set_statuses,
 *                  move_out, move_in, revert_move. Fields (struct todo_cmd):
 *                  name, task, itemId, newItemId, status (giving one also
 *                  sets has_status), itemIds, otherListId, reason. Text
 *                  fields may use fixture_text's forms (tests/support/
 *                  fixtures.h) for long or invalid-UTF-8 text.
 *   "then"         one of:
 *                    {"events": [{"type", "data"}, ...]}  accepted with
 *                        exactly these events, [] for a no-op; optionally
 *                        "stateAfter": the snapshot (todo_list_to_json) of
 *                        the given state with those events applied;
 *                    {"refusal": "task_exists", "messageContains": "Milk"}
 *                        refused with the code of that API name (util/
 *                        status.h), a message (containing the text, when
 *                        given) and no events;
 *                    {"stateUnchanged": true}  only what every case checks
 *                        anyway: decide leaves the given state as it was.
 * Unknown or duplicate keys are errors: a misspelt check must not pass by
 * being ignored.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/todo.h"
#include "../../support/fixtures.h"

#define DECIDE_DIR      ES_DATA_DIR "/decide"
#define FIXTURES_FILE   DECIDE_DIR "/_fixtures.json"
#define GIVEN_DEPTH_MAX 4 /* fixtures naming fixtures */

/* ---- reading a case ---- */

static char *why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Why a case does not hold: a malloc'd message. */
static char *why(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *s = strdup(buf);
    cr_assert_not_null(s);
    return s;
}

/* The first key of o that is not in allowed (NULL-terminated), or NULL. */
static const char *unknown_key(const json_t *o, const char *const *allowed)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        const char *const *a = allowed;
        while (*a != NULL && strcmp(*a, k) != 0)
            a++;
        if (*a == NULL)
            return k;
    }
    return NULL;
}

/* A compact dump for messages (malloc'd). */
static char *dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert_not_null(s);
    return s;
}

/* Applies a case's "given" to l. */
static char *given_apply(struct todo_list *l, const json_t *given, const json_t *fixtures,
                         int depth)
{
    if (depth > GIVEN_DEPTH_MAX)
        return why("fixtures nest deeper than %d", GIVEN_DEPTH_MAX);
    if (json_is_string(given)) {
        const json_t *f = json_object_get(fixtures, json_string_value(given));
        if (f == NULL)
            return why("no fixture '%s' in _fixtures.json", json_string_value(given));
        return given_apply(l, f, fixtures, depth + 1);
    }
    if (!json_is_array(given))
        return why("'given' is an array of [type, data] events and fixture names");
    size_t i;
    const json_t *ev;
    json_array_foreach(given, i, ev)
    {
        if (json_is_string(ev)) {
            char *w = given_apply(l, ev, fixtures, depth + 1);
            if (w != NULL)
                return w;
            continue;
        }
        const char *type = json_string_value(json_array_get(ev, 0));
        const json_t *data = json_array_get(ev, 1);
        if (json_array_size(ev) != 2 || type == NULL || !json_is_object(data))
            return why("given event %zu is not [type, data]", i);
        enum es_status st = todo_evolve(l, type, data);
        if (st != ES_OK)
            return why("given event %zu (%s) does not apply: %s", i, type,
                       es_status_name(st));
    }
    return NULL;
}

static const struct {
    const char *name;
    enum todo_cmd_kind kind;
} kinds[] = {
    {"create", TODO_CREATE},
    {"rename", TODO_RENAME},
    {"delete", TODO_DELETE},
    {"add_item", TODO_ADD_ITEM},
    {"update_item", TODO_UPDATE_ITEM},
    {"remove_item", TODO_REMOVE_ITEM},
    {"set_statuses", TODO_SET_STATUSES},
    {"move_out", TODO_MOVE_OUT},
    {"move_in", TODO_MOVE_IN},
    {"revert_move", TODO_REVERT_MOVE},
};

#define N_TEXT_FIELDS 6

/* A command read from a case, with the strings its fields point at. */
struct cmd {
    struct todo_cmd c;
    char *text[N_TEXT_FIELDS];
    char **ids;
    size_t n_ids;
};

static void cmd_release(struct cmd *cmd)
{
    for (size_t i = 0; i < N_TEXT_FIELDS; i++)
        free(cmd->text[i]);
    for (size_t i = 0; i < cmd->n_ids; i++)
        free(cmd->ids[i]);
    free(cmd->ids);
    memset(cmd, 0, sizeof(*cmd));
}

static char *cmd_read_ids(const json_t *ids, struct cmd *cmd)
{
    if (!json_is_array(ids))
        return why("'itemIds' is an array");
    cmd->ids = calloc(json_array_size(ids) + 1, sizeof(*cmd->ids));
    cr_assert_not_null(cmd->ids);
    for (size_t i = 0; i < json_array_size(ids); i++) {
        if ((cmd->ids[i] = fixture_text(json_array_get(ids, i), NULL)) == NULL)
            return why("'itemIds' element %zu is not text", i);
        cmd->n_ids++;
    }
    cmd->c.item_ids = (const char *const *)cmd->ids;
    cmd->c.n_item_ids = cmd->n_ids;
    return NULL;
}

/* Reads one command of "when" into cmd (zeroed first; release it either way). */
static char *cmd_read(const json_t *j, struct cmd *cmd)
{
    static const char *const keys[] = {"kind",      "name",   "task",    "itemId",
                                       "newItemId", "status", "itemIds", "otherListId",
                                       "reason",    NULL};
    static const char *const text_keys[N_TEXT_FIELDS] = {
        "name", "task", "itemId", "newItemId", "otherListId", "reason"};
    memset(cmd, 0, sizeof(*cmd));
    const char **slots[N_TEXT_FIELDS] = {&cmd->c.name,          &cmd->c.task,
                                         &cmd->c.item_id,       &cmd->c.new_item_id,
                                         &cmd->c.other_list_id, &cmd->c.reason};
    if (!json_is_object(j))
        return why("a command is an object");
    const char *odd = unknown_key(j, keys);
    if (odd != NULL)
        return why("unknown command field '%s'", odd);
    const char *kind = json_string_value(json_object_get(j, "kind"));
    size_t k = 0;
    while (k < sizeof(kinds) / sizeof(kinds[0]) &&
           (kind == NULL || strcmp(kinds[k].name, kind) != 0))
        k++;
    if (k == sizeof(kinds) / sizeof(kinds[0]))
        return why("unknown command kind '%s'", kind != NULL ? kind : "(none)");
    cmd->c.kind = kinds[k].kind;
    for (size_t i = 0; i < N_TEXT_FIELDS; i++) {
        const json_t *v = json_object_get(j, text_keys[i]);
        if (v == NULL)
            continue;
        if ((cmd->text[i] = fixture_text(v, NULL)) == NULL)
            return why("command field '%s' is not text", text_keys[i]);
        *slots[i] = cmd->text[i];
    }
    const json_t *status = json_object_get(j, "status");
    if (status != NULL) {
        if (!todo_status_parse(json_string_value(status), &cmd->c.status))
            return why("'status' is not one of \"To Do\", \"In Progress\", \"Done\"");
        cmd->c.has_status = true;
    }
    const json_t *ids = json_object_get(j, "itemIds");
    return ids != NULL ? cmd_read_ids(ids, cmd) : NULL;
}

/* The code whose API name (es_status_name) is name; false for none, or for "ok". */
static bool refusal_code(const char *name, enum es_status *out)
{
    for (int i = 0; i < ES_STATUS_COUNT; i++) {
        if (name != NULL && strcmp(es_status_name((enum es_status)i), name) == 0) {
            *out = (enum es_status)i;
            return *out != ES_OK;
        }
    }
    return false;
}

/* What "then" expects. */
struct expect {
    const json_t *events;      /* accepted with these; NULL when refused */
    const json_t *state_after; /* optional, with events */
    enum es_status refusal;    /* ES_OK unless refused */
    const char *message_contains;
    bool only_state; /* {"stateUnchanged": true} */
};

static char *then_read(const json_t *then, struct expect *e)
{
    static const char *const keys[] = {"events",          "stateAfter",     "refusal",
                                       "messageContains", "stateUnchanged", NULL};
    memset(e, 0, sizeof(*e));
    if (!json_is_object(then))
        return why("'then' is an object");
    const char *odd = unknown_key(then, keys);
    if (odd != NULL)
        return why("unknown key '%s' in 'then'", odd);
    e->events = json_object_get(then, "events");
    e->state_after = json_object_get(then, "stateAfter");
    const json_t *refusal = json_object_get(then, "refusal");
    const json_t *contains = json_object_get(then, "messageContains");
    const json_t *unchanged = json_object_get(then, "stateUnchanged");
    e->message_contains = json_string_value(contains);
    e->only_state = json_is_true(unchanged);
    if ((e->events != NULL) + (refusal != NULL) + (unchanged != NULL) != 1)
        return why("'then' holds exactly one of 'events', 'refusal' and "
                   "'stateUnchanged' (every case checks the state anyway)");
    if (e->events != NULL && !json_is_array(e->events))
        return why("'events' is an array of {type, data}");
    if (unchanged != NULL && !e->only_state)
        return why("'stateUnchanged' is true when given");
    if (refusal != NULL && !refusal_code(json_string_value(refusal), &e->refusal))
        return why("refusal '%s' is not the API name of a code in util/status.h",
                   json_string_value(refusal) ? json_string_value(refusal)
                                              : "(not text)");
    if (contains != NULL && (refusal == NULL || e->message_contains == NULL))
        return why("'messageContains' is text, and goes with 'refusal'");
    if (e->state_after != NULL && e->events == NULL)
        return why("'stateAfter' goes with 'events'");
    return NULL;
}

/* ---- checking ---- */

/* The state l would have after the decided events, against the expected snapshot. */
static char *check_state_after(const struct todo_list *l, const json_t *events,
                               const json_t *want)
{
    struct todo_list *copy = todo_list_clone(l);
    cr_assert_not_null(copy);
    char *w = NULL;
    size_t i;
    const json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type == NULL ||
            todo_evolve(copy, type, json_object_get(ev, "data")) != ES_OK) {
            w = why("decided event %zu does not apply", i);
            break;
        }
    }
    json_t *got = w == NULL ? todo_list_to_json(copy) : NULL;
    if (w == NULL && !json_equal(got, want)) {
        char *g = dump(got), *x = dump(want);
        w = why("state after the events %s, expected %s", g, x);
        free(g);
        free(x);
    }
    json_decref(got);
    todo_list_free(copy);
    return w;
}

static char *check_accepted(const struct todo_list *l, const struct todo_decision *d,
                            const struct expect *e)
{
    if (d->error != ES_OK)
        return why("refused (%s: %s), expected events", es_status_name(d->error),
                   d->message);
    if (!json_equal(d->events, e->events)) {
        char *g = dump(d->events), *x = dump(e->events);
        char *w = why("events %s, expected %s", g, x);
        free(g);
        free(x);
        return w;
    }
    return e->state_after != NULL ? check_state_after(l, d->events, e->state_after)
                                  : NULL;
}

static char *check_refused(const struct todo_decision *d, const struct expect *e)
{
    if (d->error != e->refusal) {
        char *g = dump(d->events);
        char *w = why("%s (%s), expected refusal %s",
                      d->error == ES_OK ? "accepted" : es_status_name(d->error),
                      d->error == ES_OK ? g : d->message, es_status_name(e->refusal));
        free(g);
        return w;
    }
    if (d->message[0] == '\0')
        return why("refused without a message");
    if (e->message_contains != NULL && strstr(d->message, e->message_contains) == NULL)
        return why("message '%s' does not mention '%s'", d->message, e->message_contains);
    if (json_array_size(d->events) != 0)
        return why("a refusal that carries events");
    return NULL;
}

/* Decides c on l (whose snapshot is before) and checks the decision against e. */
static char *check_command(const struct todo_list *l, const json_t *before,
                           const struct todo_cmd *c, const struct expect *e)
{
    struct todo_decision d;
    char *w = NULL;
    enum es_status st = todo_decide(l, c, &d);
    json_t *after = todo_list_to_json(l);
    if (st != ES_OK)
        w = why("todo_decide failed: %s", es_status_name(st));
    else if (!json_is_array(d.events))
        w = why("a decision without an events array");
    else if (!json_equal(after, before))
        w = why("decide changed the state it was given");
    else if (e->events != NULL)
        w = check_accepted(l, &d, e);
    else if (!e->only_state)
        w = check_refused(&d, e);
    json_decref(after);
    todo_decision_release(&d);
    return w;
}

/* Prefixes w with the command's place in "when"; frees w. */
static char *in_command(char *w, size_t i, size_t n, const json_t *cj)
{
    if (w == NULL || n < 2)
        return w;
    const char *kind = json_string_value(json_object_get(cj, "kind"));
    char *out = why("command %zu of %zu (%s): %s", i + 1, n, kind ? kind : "?", w);
    free(w);
    return out;
}

static char *check_commands(const struct todo_list *l, const json_t *when,
                            const struct expect *e)
{
    size_t n = json_is_array(when) ? json_array_size(when) : 1;
    if (n == 0)
        return why("'when' holds no command");
    json_t *before = todo_list_to_json(l);
    cr_assert_not_null(before);
    char *w = NULL;
    for (size_t i = 0; w == NULL && i < n; i++) {
        const json_t *cj = json_is_array(when) ? json_array_get(when, i) : when;
        struct cmd cmd;
        w = cmd_read(cj, &cmd);
        if (w == NULL)
            w = check_command(l, before, &cmd.c, e);
        cmd_release(&cmd);
        w = in_command(w, i, n, cj);
    }
    json_decref(before);
    return w;
}

/* NULL when the case holds; else why not (malloc'd). */
static char *check_case(const json_t *kase, const json_t *fixtures)
{
    static const char *const keys[] = {"description", "given", "when", "then", NULL};
    if (!json_is_object(kase))
        return why("a case is an object");
    const char *odd = unknown_key(kase, keys);
    if (odd != NULL)
        return why("unknown key '%s'", odd);
    const char *desc = json_string_value(json_object_get(kase, "description"));
    if (desc == NULL || desc[0] == '\0')
        return why("a case says what it checks in 'description'");
    const json_t *given = json_object_get(kase, "given");
    const json_t *when = json_object_get(kase, "when");
    if (given == NULL || when == NULL)
        return why("a case has 'given' and 'when'");
    struct expect e;
    char *w = then_read(json_object_get(kase, "then"), &e);
    if (w != NULL)
        return w;
    struct todo_list *l = todo_list_new();
    cr_assert_not_null(l);
    w = given_apply(l, given, fixtures, 0);
    if (w == NULL)
        w = check_commands(l, when, &e);
    todo_list_free(l);
    return w;
}

static json_t *load_fixtures(void)
{
    json_error_t jerr;
    json_t *f = json_load_file(FIXTURES_FILE, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(f, "%s: %s (line %d)", FIXTURES_FILE, jerr.text, jerr.line);
    cr_assert(json_is_object(json_object_get(f, "fixtures")),
              "%s: no \"fixtures\" object", FIXTURES_FILE);
    return f;
}

Test(todo_decide, every_case_in_tests_data_decide_holds)
{
    size_t n = 0;
    char **names = fixture_files(DECIDE_DIR, ".json", &n);
    cr_assert_gt(n, 0, "no case files (*.json) in %s: nothing would be checked",
                 DECIDE_DIR);
    json_t *fx = load_fixtures();
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", DECIDE_DIR, names[i]);
        json_error_t jerr;
        json_t *kase = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        char *w = kase != NULL ? check_case(kase, json_object_get(fx, "fixtures"))
                               : why("not JSON: %s (line %d)", jerr.text, jerr.line);
        cr_expect(w == NULL, "tests/data/decide/%s: %s", names[i], w != NULL ? w : "");
        free(w);
        json_decref(kase);
    }
    cr_log_info("%zu decide cases", n);
    json_decref(fx);
    fixture_names_free(names, n);
}

/* ---- what data cannot say ---- */

Test(todo_decide, release_empties_the_decision)
{
    struct todo_list *l = todo_list_new();
    struct todo_decision d;
    struct todo_cmd c = {.kind = TODO_CREATE, .name = "Groceries"};
    cr_assert_eq(todo_decide(l, &c, &d), ES_OK);
    cr_assert_not_null(d.events);
    todo_decision_release(&d);
    cr_expect_null(d.events);
    todo_list_free(l);
}

/* A list of TODO_ITEMS_MAX items ("task 1" ... with ids i1 ...): too many to write as
 * data. */
static struct todo_list *full_list(void)
{
    struct todo_list *l = todo_list_new();
    json_t *created = json_pack("{s:s}", "name", "Big");
    cr_assert_eq(todo_evolve(l, "TodoListCreated", created), ES_OK);
    json_decref(created);
    for (int i = 1; i <= TODO_ITEMS_MAX; i++) {
        char id[16], task[16];
        snprintf(id, sizeof(id), "i%d", i);
        snprintf(task, sizeof(task), "task %d", i);
        json_t *added =
            json_pack("{s:s, s:s, s:s}", "itemId", id, "task", task, "status", "To Do");
        cr_assert_eq(todo_evolve(l, "ItemAdded", added), ES_OK);
        json_decref(added);
    }
    return l;
}

static void expect_decision(const struct todo_list *l, const struct todo_cmd *c,
                            enum es_status refusal, size_t n_events, const char *what)
{
    struct todo_decision d;
    cr_assert_eq(todo_decide(l, c, &d), ES_OK, "%s", what);
    cr_expect_eq(d.error, refusal, "%s: refusal %d (%s)", what, d.error, d.message);
    cr_expect_eq(json_array_size(d.events), n_events, "%s", what);
    todo_decision_release(&d);
}

Test(todo_decide, a_full_list_refuses_new_items_and_takes_every_other_command)
{
    struct todo_list *l = full_list();
    struct todo_cmd add = {
        .kind = TODO_ADD_ITEM, .task = "one more", .new_item_id = "n1"};
    struct todo_decision d;
    cr_assert_eq(todo_decide(l, &add, &d), ES_OK);
    cr_expect_eq(d.error, ES_ELIST_FULL);
    cr_expect(strstr(d.message, "1000") != NULL, "%s", d.message);
    todo_decision_release(&d);
    struct todo_cmd taken = {
        .kind = TODO_ADD_ITEM, .task = "task 7", .new_item_id = "n1"};
    expect_decision(l, &taken, ES_ETASK_EXISTS, 0, "a taken task is still task_exists");
    struct todo_cmd move_in = {.kind = TODO_MOVE_IN,
                               .item_id = "m1",
                               .task = "moved",
                               .status = TODO_DONE,
                               .other_list_id = "other"};
    expect_decision(l, &move_in, ES_ELIST_FULL, 0, "moving an item in");

    struct todo_cmd remove = {.kind = TODO_REMOVE_ITEM, .item_id = "i1"};
    expect_decision(l, &remove, ES_OK, 1, "remove");
    struct todo_cmd update = {
        .kind = TODO_UPDATE_ITEM, .item_id = "i2", .task = "renamed"};
    expect_decision(l, &update, ES_OK, 1, "update");
    const char *ids[] = {"i3", "i4"};
    struct todo_cmd statuses = {.kind = TODO_SET_STATUSES,
                                .has_status = true,
                                .status = TODO_DONE,
                                .item_ids = ids,
                                .n_item_ids = 2};
    expect_decision(l, &statuses, ES_OK, 2, "set statuses");
    struct todo_cmd move_out = {
        .kind = TODO_MOVE_OUT, .item_id = "i5", .other_list_id = "other"};
    expect_decision(l, &move_out, ES_OK, 1, "move out");
    struct todo_cmd rename = {.kind = TODO_RENAME, .name = "Bigger"};
    expect_decision(l, &rename, ES_OK, 1, "rename");
    /* An item returning from a failed move comes back even to a full list. */
    struct todo_cmd revert = {.kind = TODO_REVERT_MOVE,
                              .item_id = "m2",
                              .task = "back",
                              .status = TODO_TO_DO,
                              .other_list_id = "other",
                              .reason = "list_full"};
    expect_decision(l, &revert, ES_OK, 1, "revert");
    struct todo_cmd del = {.kind = TODO_DELETE};
    expect_decision(l, &del, ES_OK, 1, "delete");

    /* One item fewer, and there is room again. */
    json_t *removed = json_pack("{s:s}", "itemId", "i1");
    cr_assert_eq(todo_evolve(l, "ItemRemoved", removed), ES_OK);
    json_decref(removed);
    expect_decision(l, &add, ES_OK, 1, "add after a remove");
    todo_list_free(l);
}

/* ---- the runner reports cases that do not hold ---- */

/* JSON written with single quotes (no test string contains an apostrophe). */
static json_t *js(const char *squoted)
{
    char *s = strdup(squoted);
    cr_assert_not_null(s);
    for (char *p = s; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    free(s);
    cr_assert_not_null(j, "bad test JSON %s: %s", squoted, e.text);
    return j;
}

Test(todo_decide_runner, reports_each_way_a_case_can_fail)
{
    static const char *const g = "'given': 'groceries', ";
    static const struct {
        const char *rest; /* after "description" and the groceries fixture */
        const char *says;
    } bad[] = {
        {"'when': {'kind': 'rename', 'name': 'Shop'}, 'then': {'events': []}",
         "events [{\"type\":\"TodoListRenamed\""},
        {"'when': {'kind': 'add_item', 'newItemId': 'n', 'task': 'Milk'},"
         " 'then': {'refusal': 'not_found'}",
         "task_exists (task 'Milk' already exists in this list), expected refusal "
         "not_found"},
        {"'when': {'kind': 'add_item', 'newItemId': 'n', 'task': 'Milk'},"
         " 'then': {'refusal': 'task_exists', 'messageContains': 'Eggs'}",
         "does not mention 'Eggs'"},
        {"'when': {'kind': 'add_item', 'newItemId': 'n', 'task': 'Tea'},"
         " 'then': {'refusal': 'task_exists'}",
         "accepted ([{\"type\":\"ItemAdded\""},
        {"'when': {'kind': 'add_item', 'newItemId': 'n', 'task': 'Milk'},"
         " 'then': {'events': []}",
         "refused (task_exists"},
        {"'when': [{'kind': 'delete'}, {'kind': 'rename', 'name': 'x'}],"
         " 'then': {'events': [{'type': 'TodoListDeleted', 'data': {}}]}",
         "command 2 of 2 (rename): events"},
        {"'when': {'kind': 'delete'}, 'then': {'events': [{'type': 'TodoListDeleted',"
         " 'data': {}}], 'stateAfter': {}}",
         "state after the events"},
        {"'when': {'kind': 'delete'}, 'then': {'events': [], 'messageContain': 'x'}",
         "unknown key 'messageContain' in 'then'"},
        {"'when': {'kind': 'delete'}, 'then': {'refusal': 'ok'}",
         "refusal 'ok' is not the API name"},
        {"'when': {'kind': 'delete'}, 'then': {'refusal': 'list_gone'}",
         "refusal 'list_gone' is not the API name"},
        {"'when': {'kind': 'delete'}, 'then': {}", "exactly one of"},
        {"'when': {'kind': 'delete'}, 'then': {'events': [], 'stateUnchanged': true}",
         "exactly one of"},
        {"'when': {'kind': 'purge'}, 'then': {'events': []}", "unknown command kind"},
        {"'when': {'kind': 'delete', 'id': 'x'}, 'then': {'events': []}",
         "unknown command field 'id'"},
        {"'when': {'kind': 'update_item', 'itemId': 'i1', 'status': 'done'},"
         " 'then': {'events': []}",
         "'status' is not one of"},
        {"'when': [], 'then': {'events': []}", "'when' holds no command"},
        {"'when': {'kind': 'delete'}, 'then': {'events': []}, 'expect': 1",
         "unknown key 'expect'"},
    };
    json_t *fixtures = js("{'groceries': [['TodoListCreated', {'name': 'Groceries'}],"
                          " ['ItemAdded', {'itemId': 'i1', 'task': 'Milk', 'status': "
                          "'To Do'}]]}");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text), "{'description': 'a broken case', %s%s}", g,
                 bad[i].rest);
        json_t *kase = js(text);
        char *w = check_case(kase, fixtures);
        cr_expect(w != NULL && strstr(w, bad[i].says) != NULL,
                  "case %zu: reported '%s', expected it to say '%s'", i,
                  w != NULL ? w : "(nothing)", bad[i].says);
        free(w);
        json_decref(kase);
    }
    static const char *const bad_given[][2] = {
        {"'nope'", "no fixture 'nope'"},
        {"[['ItemAdded', {'itemId': 'i1'}]]", "given event 0 (ItemAdded) does not apply"},
        {"[['TodoListCreated']]", "given event 0 is not [type, data]"},
        {"{'groceries': true}", "'given' is an array"},
    };
    for (size_t i = 0; i < sizeof(bad_given) / sizeof(bad_given[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{'description': 'a broken given', 'given': %s,"
                 " 'when': {'kind': 'delete'}, 'then': {'stateUnchanged': true}}",
                 bad_given[i][0]);
        json_t *kase = js(text);
        char *w = check_case(kase, fixtures);
        cr_expect(w != NULL && strstr(w, bad_given[i][1]) != NULL,
                  "given %zu: reported '%s', expected '%s'", i,
                  w != NULL ? w : "(nothing)", bad_given[i][1]);
        free(w);
        json_decref(kase);
    }
    json_decref(fixtures);
}

Test(todo_decide_runner, passes_a_case_that_holds)
{
    json_t *fixtures = js("{'groceries': [['TodoListCreated', {'name': 'Groceries'}]]}");
    json_t *kase = js("{'description': 'ok', 'given': ['groceries'],"
                      " 'when': {'kind': 'rename', 'name': 'Shop'},"
                      " 'then': {'events': [{'type': 'TodoListRenamed',"
                      " 'data': {'name': 'Shop'}}], 'stateAfter': {'created': true,"
                      " 'deleted': false, 'name': 'Shop', 'items': []}}}");
    char *w = check_case(kase, fixtures);
    cr_expect_null(w, "%s", w != NULL ? w : "");
    free(w);
    json_decref(kase);
    json_decref(fixtures);
}

/*
 * todo.h - the to-do list aggregate: its state, its events, and the rules
 * that turn a command into events or a rejection. Pure: no I/O, no clock, no
 * randomness (callers pass generated ids in), so every rule is testable as a
 * function from (state, command) to decision.
 *
 * Events (type names are stable; data fields are the contract):
 *   TodoListCreated    {name}
 *   TodoListRenamed    {name}
 *   TodoListDeleted    {}
 *   ItemAdded          {itemId, task, status}
 *   TaskRenamed        {itemId, task}
 *   ItemStatusChanged  {itemId, status}
 *   ItemRemoved        {itemId}
 *   ItemMovedOut       {itemId, task, status, toListId}
 *   ItemMovedIn        {itemId, task, status, fromListId}
 *   ItemMoveReverted   {itemId, task, status, toListId, reason}
 * Statuses are "To Do", "In Progress" and "Done". Names and tasks are stored
 * trimmed, 1-50 Unicode code points; tasks are unique within a list (exact,
 * case-sensitive comparison); ids are 1-64 of [A-Za-z0-9_-].
 *
 * decide enforces all of these for every command, those of the read side's
 * reactions included: the HTTP edge is not the only guard. Reverting a move
 * never loses the item: when its task was reused in the source list while the
 * move was under way, the restored item's task gets a suffix (" (2)", " (3)",
 * ...; shortened to stay within 50 characters) so that tasks stay unique.
 */
#ifndef ES_DOMAIN_TODO_H
#define ES_DOMAIN_TODO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/status.h"

#define TODO_STREAM_PREFIX   "todolist-" /* a list's stream: the prefix, then its id */
#define TODO_TEXT_MAX_CHARS  50          /* names and tasks, in code points */
#define TODO_MASS_UPDATE_MAX 50          /* ids in one mass status update */
#define TODO_ITEMS_MAX       1000        /* items a list holds (see todo_decide.c) */
#define TODO_EVENT_SCHEMA    1           /* schema of the events this code writes */
#define TODO_SNAPSHOT_SCHEMA 1           /* format of todo_list_to_json */

enum todo_item_status { TODO_TO_DO, TODO_IN_PROGRESS, TODO_DONE };

struct todo_item {
    char *id;
    char *task;
    enum todo_item_status status;
};

struct todo_list {
    bool created; /* TodoListCreated seen */
    bool deleted; /* TodoListDeleted seen */
    char *name;
    struct todo_item *items; /* in the order they were added */
    size_t n_items;
    size_t cap_items;
};

/* "To Do", "In Progress", "Done". */
const char *todo_status_name(enum todo_item_status s);

/* Parses an exact status name. */
bool todo_status_parse(const char *s, enum todo_item_status *out);

/*
 * Trims space, tab, CR and LF from both ends of s and checks the result is 1
 * to TODO_TEXT_MAX_CHARS code points of valid UTF-8. On success *out is a
 * malloc'd copy; ES_EFIELD (with a message naming `field`) otherwise.
 */
enum es_status todo_text_normalize(const char *s, size_t len, const char *field,
                                   char **out, struct es_error *err) ES_MUST_CHECK;

/* True when s is already a normalised name or task (what todo_text_normalize gives). */
bool todo_text_valid(const char *s);

/* The bytes of the first max_chars code points of s (valid UTF-8). */
size_t todo_text_cut(const char *s, size_t max_chars);

/* ---- state ---- */

struct todo_list *todo_list_new(void);
void todo_list_free(struct todo_list *l);

/* A deep copy; NULL on ENOMEM. */
struct todo_list *todo_list_clone(const struct todo_list *l);

/* The item with this id, or NULL. */
const struct todo_item *todo_list_item(const struct todo_list *l, const char *item_id);

/*
 * Applies one event. Unknown types are ignored (a newer writer's events do not
 * stop an older reader). ES_EFIELD when a known event lacks a field it needs
 * (the event is then skipped), ES_ENOMEM.
 */
enum es_status todo_evolve(struct todo_list *l, const char *type,
                           const json_t *data) ES_MUST_CHECK;

/* The state as JSON (the snapshot format, TODO_SNAPSHOT_SCHEMA). NULL on ENOMEM. */
json_t *todo_list_to_json(const struct todo_list *l);

/* Reads todo_list_to_json's format; NULL when malformed or on ENOMEM. */
struct todo_list *todo_list_from_json(const json_t *j);

/* ---- commands ---- */

enum todo_cmd_kind {
    TODO_CREATE, /* name */
    TODO_RENAME, /* name */
    TODO_DELETE,
    TODO_ADD_ITEM,     /* new_item_id, task */
    TODO_UPDATE_ITEM,  /* item_id, task and/or status */
    TODO_REMOVE_ITEM,  /* item_id */
    TODO_SET_STATUSES, /* item_ids (distinct), status */
    TODO_MOVE_OUT,     /* item_id, other_list_id (target) */
    TODO_MOVE_IN,      /* item_id, task, status, other_list_id (source) */
    TODO_REVERT_MOVE,  /* item_id, task, status, other_list_id (target), reason */
};

struct todo_cmd {
    enum todo_cmd_kind kind;
    const char *name; /* normalised */
    const char *task; /* normalised; NULL when unchanged */
    const char *item_id;
    const char *new_item_id; /* server-generated id for TODO_ADD_ITEM */
    bool has_status;
    enum todo_item_status status;
    const char *const *item_ids; /* TODO_SET_STATUSES, already de-duplicated */
    size_t n_item_ids;
    const char *other_list_id;
    const char *reason;
};

/*
 * A decision: events to append, or a refusal. Refusals use the codes of
 * util/status.h: ES_ENOTFOUND (list or item), ES_EGONE (list deleted),
 * ES_ELIST_EXISTS, ES_ETASK_EXISTS, ES_ELIST_FULL (TODO_ITEMS_MAX), ES_EFIELD (a
 * field breaks the rules).
 */
struct todo_decision {
    enum es_status error; /* ES_OK when accepted */
    char message[256];
    json_t *events; /* owned array of {"type": ..., "data": {...}}; empty = no-op */
};

/*
 * Decides what a command does to a list. Fills d (which the caller releases
 * with todo_decision_release): events to append in order, none for a no-op,
 * or an error with a message. ES_ENOMEM only.
 */
enum es_status todo_decide(const struct todo_list *l, const struct todo_cmd *c,
                           struct todo_decision *d) ES_MUST_CHECK;

void todo_decision_release(struct todo_decision *d);

#endif

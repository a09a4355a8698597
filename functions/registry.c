/*
 * registry.c - the functions this app serves. One line per function folder;
 * a test checks that every functions/<Name>/function.json has an entry here
 * with matching binding names, and the other way round.
 */
#include "registry.h"

extern const struct fn_def fn_health;
extern const struct fn_def fn_create_todo_list;
extern const struct fn_def fn_rename_todo_list;
extern const struct fn_def fn_delete_todo_list;
extern const struct fn_def fn_add_item;
extern const struct fn_def fn_update_item;
extern const struct fn_def fn_remove_item;
extern const struct fn_def fn_set_item_statuses;
extern const struct fn_def fn_move_item;
extern const struct fn_def fn_get_todo_list_events;
extern const struct fn_def fn_get_todo_list;
extern const struct fn_def fn_list_todo_lists;
extern const struct fn_def fn_get_dead_letters;
extern const struct fn_def fn_get_projection;
extern const struct fn_def fn_get_openapi;
extern const struct fn_def fn_retry_dead_letter;
extern const struct fn_def fn_retry_dead_letters;
extern const struct fn_def fn_projector;
extern const struct fn_def fn_publisher;

static const struct fn_def *const app_defs[] = {
    &fn_health,
    &fn_create_todo_list,
    &fn_rename_todo_list,
    &fn_delete_todo_list,
    &fn_add_item,
    &fn_update_item,
    &fn_remove_item,
    &fn_set_item_statuses,
    &fn_move_item,
    &fn_get_todo_list_events,
    &fn_get_todo_list,
    &fn_list_todo_lists,
    &fn_get_dead_letters,
    &fn_get_projection,
    &fn_get_openapi,
    &fn_projector,
    &fn_publisher,
    &fn_retry_dead_letter,
    &fn_retry_dead_letters,
};

const struct fn_table fn_app_table = {app_defs, sizeof(app_defs) / sizeof(app_defs[0])};

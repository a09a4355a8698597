/*
 * todo_views.h - the read models of the to-do lists, as folds over events.
 * Pure: each function changes a JSON view document in memory; storing it,
 * and tracking which stream version it reflects, is the projector's job.
 *
 * List view (id "todolist:{listId}", view "todolist"): what GET
 * /api/todolists/{id} serves.
 *   {"id", "view": "todolist", "listId", "name", "deleted": bool,
 *    "items": [{"id", "task", "status"}], "version"}
 * Summary view (id "summary:{listId}"): one entry of the GET /api/todolists
 * index. Its "view" is "summary" while the list lives and becomes
 * "summary-deleted" when it is deleted, so the index query (by view kind)
 * leaves deleted lists out while the document keeps its version.
 *   {"id", "view", "listId", "name", "itemCount", "doneCount",
 *    "statuses": {itemId: status}, "version"}
 * ("statuses" lets the fold keep doneCount right when an item changes.)
 * Changing a format: add fields freely; a field the folds depend on needs a
 * re-projection of the views (docs/operations).
 */
#ifndef ES_DOMAIN_TODO_VIEWS_H
#define ES_DOMAIN_TODO_VIEWS_H

#include <jansson.h>

#include "util/status.h"

#define TODO_LIST_VIEW            "todolist"
#define TODO_SUMMARY_VIEW         "summary"
#define TODO_SUMMARY_DELETED_VIEW "summary-deleted"

/* View document ids: the prefix, then the list id. */
#define TODO_LIST_VIEW_PREFIX    "todolist:"
#define TODO_SUMMARY_VIEW_PREFIX "summary:"

/* A new, empty list view for list_id (version 0). */
json_t *todo_list_view_new(const char *list_id);

/* Applies one event to a list view. Unknown types are ignored. ES_EFIELD, ES_ENOMEM. */
enum es_status todo_list_view_apply(json_t *view, const char *type,
                                    const json_t *data) ES_MUST_CHECK;

/* A new, empty summary view for list_id (version 0). */
json_t *todo_summary_view_new(const char *list_id);

/* Applies one event to a summary view. */
enum es_status todo_summary_view_apply(json_t *view, const char *type,
                                       const json_t *data) ES_MUST_CHECK;

#endif

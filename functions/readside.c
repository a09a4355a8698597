/*
 * readside.c - the to-do lists' projections and the move process.
 *
 * Projections: the list view ("todolist:{id}") and the summary behind the
 * index ("summary:{id}"), both folds from domain/todo_views.c.
 *
 * The move process, reacting to ItemMovedOut {itemId, task, status,
 * toListId} on the source list:
 *   1. if the source already holds the revert's receipt, the move was settled
 *      as reverted: nothing to do;
 *   2. run ItemMovedIn on the target (key "$movein:{eventId}"): done when it
 *      succeeds or was done before;
 *   3. when the target refuses it for any reason but a passing conflict
 *      (missing, deleted, full, the task exists there, ...), run
 *      ItemMoveReverted on the source (key "$revert:{eventId}") with the
 *      refusal as the reason.
 * Checking the revert first keeps the outcome fixed once chosen: a target
 * created after the refusal cannot receive an item already put back. So the
 * item ends in exactly one list.
 *
 * The keys start with '$', which the Idempotency-Key syntax of the API does
 * not allow: no client can send a reaction's key ahead of it, so no client's
 * receipt can pre-empt or answer a reaction. A move event whose fields are
 * not what the API could have written (ids, task, status, a move to its own
 * list) fails as malformed: retried, then dead-lettered, never acted on.
 */
#include "readside.h"

#include <stdio.h>
#include <string.h>

#include "domain/todo_views.h"
#include "util/jsonutil.h"
#include "util/text.h"
#include "todolist.h"

static json_t *list_initial(const char *id)
{
    return todo_list_view_new(id);
}

static enum es_status list_apply(json_t *view, const struct es_event *ev)
{
    return todo_list_view_apply(view, ev->type, ev->data);
}

static json_t *summary_initial(const char *id)
{
    return todo_summary_view_new(id);
}

static enum es_status summary_apply(json_t *view, const struct es_event *ev)
{
    return todo_summary_view_apply(view, ev->type, ev->data);
}

static const struct es_projection list_view = {
    "todolist-view", TODO_STREAM_PREFIX, TODO_LIST_VIEW_PREFIX, list_initial, list_apply};
static const struct es_projection summary_view = {"todolist-summary", TODO_STREAM_PREFIX,
                                                  TODO_SUMMARY_VIEW_PREFIX,
                                                  summary_initial, summary_apply};

static enum es_status react_move(const struct es_react_env *env,
                                 const struct es_event *ev, struct es_error *err)
{
    if (strcmp(ev->type, "ItemMovedOut") != 0)
        return ES_OK;
    const char *item = json_string_value(json_object_get(ev->data, "itemId"));
    const char *task = json_string_value(json_object_get(ev->data, "task"));
    const char *to = json_string_value(json_object_get(ev->data, "toListId"));
    const char *source = env->aggregate_id;
    enum todo_item_status status;
    if (!es_id_valid(item) || !todo_text_valid(task) || !es_id_valid(to) ||
        !es_id_valid(source) || strcmp(source, to) == 0 ||
        !todo_status_parse(json_string_value(json_object_get(ev->data, "status")),
                           &status))
        return es_error_set(err, ES_EFIELD,
                            "ItemMovedOut %s:%lld is malformed: a field is missing or "
                            "not what the API writes",
                            ev->stream_id, (long long)ev->version);
    const char *corr = json_string_value(json_object_get(ev->meta, "correlationId"));
    char event_id[ES_DOC_ID_MAX], in_key[ES_DOC_ID_MAX], revert_key[ES_DOC_ID_MAX];
    if (es_event_id(ev->stream_id, ev->version, event_id, sizeof(event_id)) != ES_OK ||
        es_fmt(in_key, sizeof(in_key), "$movein:%s", event_id) != ES_OK ||
        es_fmt(revert_key, sizeof(revert_key), "$revert:%s", event_id) != ES_OK)
        return es_error_set(err, ES_EFIELD,
                            "ItemMovedOut of stream '%.80s...': the "
                            "stream id is too long",
                            ev->stream_id);

    struct es_receipt receipt;
    enum es_status st = env->store->ops->read_receipt(env->store, ev->stream_id,
                                                      revert_key, &receipt, env->io, err);
    if (st == ES_OK) {
        es_receipt_release(&receipt);
        return ES_OK;
    }
    if (st != ES_ENOTFOUND)
        return st;

    struct todo_cmd in = {.kind = TODO_MOVE_IN,
                          .item_id = item,
                          .task = task,
                          .has_status = true,
                          .status = status,
                          .other_list_id = source};
    struct es_outcome o;
    st = todo_execute(env->engine, to, &in, in_key, corr, event_id, &o, err);
    /* A refusal settles the move as reverted; only a passing conflict is retried. */
    enum es_status refusal = st == ES_OK ? o.refusal : st;
    if (st == ES_OK && refusal == ES_OK) {
        es_outcome_release(&o);
        return ES_OK;
    }
    if (st == ES_OK && refusal == ES_ECONFLICT)
        st = es_error_set(err, ES_EUNAVAILABLE, "moving item %s into '%s' answered %d %s",
                          item, to, o.status, es_status_name(refusal));
    es_outcome_release(&o);
    if (st != ES_OK)
        return st;

    struct todo_cmd back = {.kind = TODO_REVERT_MOVE,
                            .item_id = item,
                            .task = task,
                            .has_status = true,
                            .status = status,
                            .other_list_id = to,
                            .reason = es_status_name(refusal)};
    st = todo_execute(env->engine, source, &back, revert_key, corr, event_id, &o, err);
    /* A source deleted meanwhile took the item with it (an empty revert, or 404). */
    if (st == ES_OK && o.refusal != ES_OK && o.refusal != ES_ENOTFOUND)
        st = es_error_set(err, ES_EUNAVAILABLE, "reverting the move of %s answered %d %s",
                          item, o.status, es_status_name(o.refusal));
    es_outcome_release(&o);
    return st;
}

static const struct es_reactor move_reactor = {"move-item", TODO_STREAM_PREFIX,
                                               react_move};

static const struct es_projection *const projections[] = {&list_view, &summary_view};
static const struct es_reactor *const reactors[] = {&move_reactor};

struct es_projector_opts readside_opts(const struct fn_services *svc)
{
    struct es_projector_opts o = {
        .store = svc->store,
        .engine = svc->engine,
        .projections = projections,
        .n_projections = sizeof(projections) / sizeof(projections[0]),
        .reactors = reactors,
        .n_reactors = sizeof(reactors) / sizeof(reactors[0]),
        .parallelism = svc->cfg != NULL ? svc->cfg->projector_parallelism : 1,
        .view_cache = svc->engine != NULL ? es_engine_view_cache(svc->engine) : NULL,
    };
    return o;
}

/*
 * GetTodoListEvents - GET /api/todolists/{id}/events?from=&limit= : the
 * list's stream itself, paged. `from` is inclusive (default 1, at least 1),
 * `limit` 1-1000 (default 100); `next` is the next `from`, or null once the
 * page reaches the end. An unknown list is 404; past the end the page is
 * empty. Strongly consistent: it reads the event store, not a view.
 */
#include <stdio.h>
#include <stdlib.h>

#include "es/reads.h"
#include "functions/todolist.h"

static json_t *page_body(const char *id, const struct es_event_page *page, size_t limit,
                         int64_t from)
{
    json_t *events = json_array();
    for (size_t i = 0; events != NULL && i < page->n && i < limit; i++) {
        const struct es_event *e = &page->events[i];
        if (json_array_append_new(events,
                                  json_pack("{s:I, s:s, s:O, s:O}", "version",
                                            (json_int_t)e->version, "type", e->type,
                                            "data", e->data, "meta", e->meta)) != 0) {
            /* A page with an event missing would look whole: no page at all. */
            json_decref(events);
            return NULL;
        }
    }
    json_t *next =
        page->n > limit ? json_integer((json_int_t)(from + (int64_t)limit)) : json_null();
    return json_pack("{s:s, s:o, s:o}", "id", id, "events", events, "next", next);
}

static void get_todo_list_events(struct fn_ctx *ctx, const struct fn_http_request *req,
                                 struct fn_http_response *res)
{
    const char *id = fn_param(req, "id");
    if (id == NULL || !es_id_valid(id)) {
        fn_reply_error(res, ES_EFIELD, "'id' must be 1 to 64 of A-Z a-z 0-9 _ -");
        return;
    }
    int64_t from, limit;
    if (!api_query_int(req, res, "from", 1, INT64_MAX / 2, 1, &from) ||
        !api_query_int(req, res, "limit", 1, 1000, 100, &limit))
        return;
    struct es_engine *engine = ctx->svc->engine;
    struct es_event_page page = {0};
    struct es_error err = {0};
    struct es_io io = {0};
    /* One event more than asked tells whether a next page exists. */
    enum es_status st = es_read_stream(engine, &todolist_aggregate, id, from,
                                       (size_t)limit + 1, &page, &io, &err);
    if (st == ES_OK && page.n == 0) {
        struct es_event_page probe = {0};
        st = es_read_stream(engine, &todolist_aggregate, id, 1, 1, &probe, &io, &err);
        if (st == ES_OK && probe.n == 0)
            st = ES_ENOTFOUND;
        es_event_page_release(&probe);
    }
    if (st == ES_ENOTFOUND) {
        fn_reply_error(res, ES_ENOTFOUND, "the list does not exist");
    } else if (st != ES_OK) {
        api_reply_store_error(ctx, res, st, "GetTodoListEvents", &err);
    } else {
        fn_reply_json(res, 200, page_body(id, &page, (size_t)limit, from));
    }
    fn_log(ctx,
           "GetTodoListEvents %s from %lld: %u store round trip(s), %u event(s) read, "
           "%.2f RU",
           id, (long long)from, io.round_trips, io.events_read, io.request_charge);
    es_event_page_release(&page);
}

const struct fn_def fn_get_todo_list_events = {
    .name = "GetTodoListEvents",
    .kind = FN_HTTP,
    .trigger_binding = "req",
    .output_binding = "res",
    .http = get_todo_list_events,
};

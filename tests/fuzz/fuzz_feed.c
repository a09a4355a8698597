/*
 * libFuzzer: a Cosmos DB trigger payload through the projector, as the
 * Projector function receives it (unwrapped JSON-in-a-string), against a
 * store that holds events: every todolist- stream has versions 1..STORED
 * (a list created, then items added), and the list view of any stream whose
 * id ends in 'v' is at version VIEWED. So delivered versions meet gap reads,
 * short reads past the end, holes inside a batch and redeliveries the views
 * passed - the paths a forged or corrupted feed takes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "domain/todo_views.h"
#include "functions/readside.h"
#include "util/jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STORED 8
#define VIEWED 3

/* Versions from..STORED of a todolist- stream (at most max), as the store reads them. */
static enum es_status stored_stream(struct es_store *s, const char *id, int64_t from,
                                    size_t max, struct es_event_page *out,
                                    struct es_io *io, struct es_error *err)
{
    (void)s, (void)io, (void)err;
    memset(out, 0, sizeof(*out));
    if (strncmp(id, "todolist-", 9) != 0 || from < 1 || from > STORED)
        return ES_OK;
    size_t n = (size_t)(STORED - from + 1) < max ? (size_t)(STORED - from + 1) : max;
    out->events = calloc(n + 1, sizeof(*out->events));
    if (out->events == NULL)
        return ES_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct es_event *e = &out->events[i];
        int64_t v = from + (int64_t)i;
        char item[16];
        snprintf(item, sizeof(item), "i%lld", (long long)v);
        e->stream_id = strdup(id);
        e->version = v;
        e->type = strdup(v == 1 ? "TodoListCreated" : "ItemAdded");
        e->schema = 1;
        e->data = v == 1 ? json_pack("{s:s}", "name", "List")
                         : json_pack("{s:s, s:s, s:s}", "itemId", item, "task", item,
                                     "status", "To Do");
        e->meta = json_object();
        out->n++;
        if (e->stream_id == NULL || e->type == NULL || e->data == NULL ||
            e->meta == NULL) {
            es_event_page_release(out);
            return ES_ENOMEM;
        }
    }
    return ES_OK;
}

static enum es_status some_view(struct es_store *s, const char *id, json_t **doc,
                                char **etag, struct es_io *io, struct es_error *err)
{
    (void)s, (void)io, (void)err;
    size_t n = strlen(id);
    if (strncmp(id, "todolist:", 9) != 0 || n == 0 || id[n - 1] != 'v')
        return ES_ENOTFOUND;
    *doc = todo_list_view_new(id + 9);
    json_object_set_new(*doc, "version", json_integer(VIEWED));
    *etag = strdup("\"1\"");
    return *doc != NULL && *etag != NULL ? ES_OK : ES_ENOMEM;
}

static enum es_status accept_view(struct es_store *s, const json_t *doc,
                                  const char *if_match, char **etag, struct es_io *io,
                                  struct es_error *err)
{
    (void)s, (void)doc, (void)if_match, (void)etag, (void)io, (void)err;
    return ES_OK;
}

static enum es_status accept_views(struct es_store *s, struct es_view_write *w, size_t n,
                                   size_t *refused, struct es_io *io,
                                   struct es_error *err)
{
    (void)s, (void)refused, (void)io, (void)err;
    for (size_t i = 0; i < n; i++)
        w[i].etag = strdup("\"2\"");
    return ES_OK;
}

static enum es_status accept_dead(struct es_store *s, const json_t *doc, struct es_io *io,
                                  struct es_error *err)
{
    (void)s, (void)doc, (void)io, (void)err;
    return ES_OK;
}

static enum es_status no_receipt(struct es_store *s, const char *stream, const char *key,
                                 struct es_receipt *out, struct es_io *io,
                                 struct es_error *err)
{
    (void)s, (void)stream, (void)key, (void)out, (void)io, (void)err;
    return ES_EUNAVAILABLE; /* reactions fail: the batch is dead-lettered or retried */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct es_store_ops ops = {.name = "fuzz",
                                            .read_stream = stored_stream,
                                            .view_get = some_view,
                                            .view_put = accept_view,
                                            .views_put = accept_views,
                                            .deadletter_put = accept_dead,
                                            .read_receipt = no_receipt};
    static struct es_store store = {&ops};
    json_t *raw = json_stringn_nocheck((const char *)data, size);
    json_t *payload = es_json_unwrap(raw, 4);
    struct fn_services svc = {.store = &store};
    struct es_projector_opts opts = readside_opts(&svc);
    struct es_batch_report rep;
    enum es_status st = es_project_batch(&opts, payload, size % 2 == 0, 0, &rep, NULL);
    /* Every outcome is fair for a made-up feed; one that says "done" counted it. */
    if (st == ES_OK &&
        rep.documents != (json_is_array(payload) ? json_array_size(payload) : 0))
        abort();
    json_decref(payload);
    json_decref(raw);
    return 0;
}

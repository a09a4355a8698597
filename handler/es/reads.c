/*
 * reads.c - the query side's reads (see reads.h): stored ids built here, the
 * store's ops called here.
 */
#include "reads.h"

#include <stdlib.h>

#include "util/text.h"
#include "util/timeutil.h"

enum es_status es_read_stream(struct es_engine *e, const struct es_aggregate *agg,
                              const char *id, int64_t from_version, size_t max,
                              struct es_event_page *out, struct es_io *io,
                              struct es_error *err)
{
    char stream[ES_STREAM_ID_MAX + 1];
    if (es_fmt(stream, sizeof(stream), "%s%s", agg->stream_prefix, id) != ES_OK)
        return es_error_set(err, ES_EFIELD, "id '%.80s' is too long", id);
    struct es_store *s = es_engine_store(e);
    return s->ops->read_stream(s, stream, from_version, max, out, io, err);
}

enum es_status es_read_view(struct es_engine *e, const char *view_prefix, const char *id,
                            json_t **doc, struct es_io *io, struct es_error *err)
{
    char view_id[ES_DOC_ID_MAX];
    if (es_fmt(view_id, sizeof(view_id), "%s%s", view_prefix, id) != ES_OK)
        return es_error_set(err, ES_EFIELD, "id '%.80s' is too long", id);
    struct es_store *s = es_engine_store(e);
    char *etag = NULL;
    enum es_status st = s->ops->view_get(s, view_id, doc, &etag, io, err);
    free(etag);
    return st;
}

static int64_t view_version(const json_t *doc)
{
    json_t *v = json_object_get(doc, "version");
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* ES_OK when the aggregate's stream has an event at version, ES_ENOTFOUND when not. */
static enum es_status stream_has(struct es_engine *e, const struct es_aggregate *agg,
                                 const char *id, int64_t version, struct es_io *io,
                                 struct es_error *err)
{
    char stream[ES_STREAM_ID_MAX + 1];
    if (es_fmt(stream, sizeof(stream), "%s%s", agg->stream_prefix, id) != ES_OK)
        return es_error_set(err, ES_EFIELD, "id '%.80s' is too long", id);
    struct es_store *s = es_engine_store(e);
    return s->ops->has_version(s, stream, version, io, err);
}

/*
 * The wait polls at 5, 10, 20 ... ms, then every 100 ms: a view the pump
 * writes within milliseconds is seen at once, and a slow one costs at most
 * ten point reads a second.
 */
#define POLL_FIRST_MS 5
#define POLL_MAX_MS   100

enum es_status es_read_view_min(struct es_engine *e, const struct es_aggregate *agg,
                                const char *view_prefix, const char *id,
                                int64_t min_version, int64_t wait_ms,
                                bool (*settled)(const json_t *view), json_t **doc,
                                struct es_io *io, struct es_error *err)
{
    if (wait_ms > ES_READ_WAIT_MAX_MS)
        wait_ms = ES_READ_WAIT_MAX_MS;
    int64_t deadline = es_time_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    int64_t pause = POLL_FIRST_MS;
    bool exists = false;
    *doc = NULL;
    for (;;) {
        json_t *view = NULL;
        enum es_status st = es_read_view(e, view_prefix, id, &view, io, err);
        if (st != ES_OK && st != ES_ENOTFOUND)
            return st;
        es_error_clear(err); /* no view yet is not an error here */
        json_decref(*doc);
        *doc = view;
        if (view != NULL && (view_version(view) >= min_version || settled(view)))
            return ES_OK;
        if (!exists) {
            /* Behind: worth waiting only for a version that was written. */
            st = stream_has(e, agg, id, min_version, io, err);
            if (st != ES_OK)
                return st;
            exists = true;
        }
        int64_t now = es_time_mono_ms();
        if (now >= deadline)
            return es_error_set(err, ES_EVIEW_BEHIND,
                                "the view of '%.80s' is at version %lld, not yet %lld",
                                id, (long long)(view != NULL ? view_version(view) : 0),
                                (long long)min_version);
        es_time_sleep_ms(pause < deadline - now ? pause : deadline - now);
        pause = pause * 2 < POLL_MAX_MS ? pause * 2 : POLL_MAX_MS;
    }
}

enum es_status es_read_views(struct es_engine *e, const char *kind,
                             const char *continuation, size_t limit, json_t **docs,
                             char **next, struct es_io *io, struct es_error *err)
{
    struct es_store *s = es_engine_store(e);
    return s->ops->view_query(s, kind, continuation, limit, docs, next, io, err);
}

enum es_status es_read_dead_letters(struct es_engine *e, const char *continuation,
                                    size_t limit, json_t **docs, char **next,
                                    struct es_io *io, struct es_error *err)
{
    struct es_store *s = es_engine_store(e);
    return s->ops->deadletter_query(s, continuation, limit, docs, next, io, err);
}

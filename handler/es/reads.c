/*
 * reads.c - the query side's reads (see reads.h): stored ids built here, the
 * store's ops called here.
 */
#include "reads.h"

#include <stdlib.h>

#include "util/text.h"

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

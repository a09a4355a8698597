/*
 * libFuzzer: a Cosmos DB trigger payload through the projector, as the
 * Projector function receives it (unwrapped JSON-in-a-string), against an
 * in-memory store that has every document it is asked for missing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../functions/readside.h"
#include "../../handler/util/jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum es_status none_stream(struct es_store *s, const char *id, int64_t from,
                                  size_t max, struct es_event_page *out, struct es_io *io,
                                  struct es_error *err)
{
    (void)s, (void)id, (void)from, (void)max, (void)io, (void)err;
    memset(out, 0, sizeof(*out));
    return ES_OK;
}

static enum es_status none_view(struct es_store *s, const char *id, json_t **doc,
                                char **etag, struct es_io *io, struct es_error *err)
{
    (void)s, (void)id, (void)doc, (void)etag, (void)io, (void)err;
    return ES_ENOTFOUND;
}

static enum es_status accept_view(struct es_store *s, const json_t *doc,
                                  const char *if_match, char **etag, struct es_io *io,
                                  struct es_error *err)
{
    (void)s, (void)doc, (void)if_match, (void)etag, (void)io, (void)err;
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
                                            .read_stream = none_stream,
                                            .view_get = none_view,
                                            .view_put = accept_view,
                                            .deadletter_put = accept_dead,
                                            .read_receipt = no_receipt};
    static struct es_store store = {&ops};
    json_t *raw = json_stringn_nocheck((const char *)data, size);
    json_t *payload = es_json_unwrap(raw, 4);
    struct fn_services svc = {.store = &store};
    struct es_projector_opts opts = readside_opts(&svc);
    struct es_batch_report rep;
    es_project_batch(&opts, payload, size % 2 == 0, 0, &rep, NULL);
    json_decref(payload);
    json_decref(raw);
    return 0;
}

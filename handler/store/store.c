/*
 * store.c - the stored event format shared by the back ends and the change
 * feed. (Which back end serves is the wiring's choice: handler/app.c.)
 *
 * Event document (events container, partition key /streamId):
 *   id        "{streamId}:{version}" - unique per partition, so a second
 *             writer of the same version fails: the concurrency check
 *   kind      "event"
 *   streamId  "todolist-{id}"
 *   version   1-based, gap-free
 *   type      stable event name
 *   schema    data layout version (for upcasting)
 *   data      object
 *   meta      {occurredAt, correlationId, causationId, idempotencyKey?}
 * Changing it: add fields freely; renaming or removing one needs a new
 * `schema` and an upcaster, because old documents are never rewritten.
 */
#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"
#include "util/text.h"

enum es_status es_event_id(const char *stream_id, int64_t version, char *out,
                           size_t out_len)
{
    return es_fmt(out, out_len, "%s:%lld", stream_id, (long long)version);
}

int es_event_cmp(const void *a, const void *b)
{
    const struct es_event *x = a, *y = b;
    int c = strcmp(x->stream_id, y->stream_id);
    if (c != 0)
        return c;
    return x->version < y->version ? -1 : x->version > y->version;
}

void es_event_release(struct es_event *e)
{
    free(e->stream_id);
    free(e->type);
    json_decref(e->data);
    json_decref(e->meta);
    memset(e, 0, sizeof(*e));
}

void es_event_page_release(struct es_event_page *p)
{
    for (size_t i = 0; i < p->n; i++)
        es_event_release(&p->events[i]);
    free(p->events);
    memset(p, 0, sizeof(*p));
}

void es_snapshot_release(struct es_snapshot *s)
{
    json_decref(s->state);
    memset(s, 0, sizeof(*s));
}

void es_receipt_release(struct es_receipt *r)
{
    free(r->key);
    free(r->body);
    free(r->location);
    free(r->request_hash);
    free(r->created_at);
    memset(r, 0, sizeof(*r));
}

json_t *es_event_to_doc(const struct es_event *e)
{
    char id[ES_DOC_ID_MAX];
    if (es_event_id(e->stream_id, e->version, id, sizeof(id)) != ES_OK)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:O, s:O}", "id", id, "kind",
                     "event", "streamId", e->stream_id, "version", (json_int_t)e->version,
                     "type", e->type, "schema", e->schema, "data", e->data, "meta",
                     e->meta);
}

enum es_status es_doc_fits(const json_t *doc, const char *what, size_t *size,
                           struct es_error *err)
{
    size_t n = es_json_size(doc);
    if (n == SIZE_MAX)
        return ES_ENOMEM;
    if (size != NULL)
        *size = n;
    if (n <= ES_STORE_DOC_MAX_BYTES)
        return ES_OK;
    return es_error_set(err, ES_ETOOBIG,
                        "%s would be %zu bytes; a document holds at most %u", what, n,
                        ES_STORE_DOC_MAX_BYTES);
}

/* [A-Za-z0-9_-] plus the extra characters allowed, 1 to max bytes. */
static bool word_of(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
              strchr(extra, *p) != NULL))
            return false;
    return true;
}

bool es_stream_id_valid(const char *s)
{
    return s != NULL && word_of(s, ES_STREAM_ID_MAX, "");
}

enum es_status es_deadletter_stream(const char *id, char *out, size_t out_len)
{
    const char *colon = id != NULL ? strchr(id, ':') : NULL;
    if (colon == NULL || colon == id || (size_t)(colon - id) >= out_len)
        return ES_EINVAL;
    memcpy(out, id, (size_t)(colon - id));
    out[colon - id] = '\0';
    return ES_OK;
}

const char *es_view_partition(const char *id)
{
    const char *colon = strchr(id, ':');
    return colon != NULL && colon[1] != '\0' ? colon + 1 : id;
}

enum es_status es_event_from_doc(const json_t *doc, struct es_event *out,
                                 struct es_error *err)
{
    const char *stream = json_string_value(json_object_get(doc, "streamId"));
    const char *type = json_string_value(json_object_get(doc, "type"));
    json_t *version = json_object_get(doc, "version");
    json_t *data = json_object_get(doc, "data");
    json_t *meta = json_object_get(doc, "meta");
    json_t *schema = json_object_get(doc, "schema");
    if (!es_stream_id_valid(stream))
        return es_error_set(err, ES_EFIELD,
                            "not a well-formed event document: bad "
                            "streamId");
    if (type == NULL || !word_of(type, ES_EVENT_TYPE_MAX, "."))
        return es_error_set(err, ES_EFIELD, "not a well-formed event document: bad type");
    if (!json_is_integer(version) || json_integer_value(version) < 1 ||
        json_integer_value(version) > ES_VERSION_MAX)
        return es_error_set(err, ES_EFIELD,
                            "not a well-formed event document: version outside 1..2^53");
    if (!json_is_object(data) || (meta != NULL && !json_is_object(meta)) ||
        (schema != NULL && (!json_is_integer(schema) || json_integer_value(schema) < 1 ||
                            json_integer_value(schema) > 1000)))
        return es_error_set(err, ES_EFIELD, "not a well-formed event document");
    memset(out, 0, sizeof(*out));
    out->stream_id = strdup(stream);
    out->type = strdup(type);
    out->version = (int64_t)json_integer_value(version);
    out->schema = schema != NULL ? (int)json_integer_value(schema) : 1;
    out->data = json_incref(data);
    out->meta = meta != NULL ? json_incref(meta) : json_object();
    if (out->stream_id == NULL || out->type == NULL || out->meta == NULL) {
        es_event_release(out);
        return ES_ENOMEM;
    }
    return ES_OK;
}

void es_store_close(struct es_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

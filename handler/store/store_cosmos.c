/*
 * store_cosmos.c - the event store on Cosmos DB.
 *
 * events container (partition key /streamId): one logical partition per
 * stream holding its events, its snapshot and its receipts (formats in
 * store.c and es/engine.c). An append is one atomic transactional batch in
 * that partition, in this order:
 *   Create receipt       (when the command has a key: a repeat fails here)
 *   Read {stream}:{v}    (when v > 0: the stream really is at v, no gap)
 *   Create event v+1 ... (a taken version fails with 409)
 *   Upsert snapshot      (when due)
 * A failed batch comes back as 207 with the failing operation's status and
 * 424 for all the others; nothing was written.
 * A reply lost after sending (timeout, reset, 408/503) leaves the outcome
 * unknown, and so does a version conflict: it may be our own earlier try
 * (one whose reply was lost, or one libcurl sent again by itself when a
 * reused connection died before the reply). Either way the store reads event
 * v+1 back and compares it with its own - present and equal means the append
 * happened, another event means someone else's did, absent means it did not
 * (and it is sent again). What cannot be settled is ES_EUNKNOWN: the command
 * may have been applied.
 *
 * Consistency (docs/cosmos.md, "Consistency"): the account is Session. The
 * client sends this process's session token on every read, so a read sees at
 * least this process's writes. Reads that must see every process's writes -
 * the read-back above, receipts, and whether a stream has grown
 * (has_version) - go through a transactional batch holding one Read, which
 * the partition's primary serves. Before sending, an append is held to the
 * service's limits (store.h): too many operations or bytes are ES_ETOOBIG,
 * never a 413 inside the batch.
 *
 * views container (partition key /partitionKey): view documents replaced
 * with If-Match on their _etag; "partitionKey" is es_view_partition of the id,
 * set here on every write and removed from what is read, so that the views
 * of one aggregate are written together in one transactional batch. deadletters container
 * (partition key /streamId). The change feed and its checkpoints belong to the Functions
 * host (leases container).
 */
#include "store_cosmos.h"

#include "cosmos/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

#define QUERY_PAGE_MAX   1000 /* a query for more lets the service size its pages */
#define AMBIGUITY_ROUNDS 3
/* "dbs/<255>/colls/<255>" (Cosmos DB names are at most 255 characters). */
#define CONTAINER_LINK_MAX 528
/* ... + "/docs/<id>", ids being at most 1,023 bytes. */
#define DOC_LINK_MAX (CONTAINER_LINK_MAX + 6 + ES_DOC_ID_MAX)

struct cosmos_store {
    struct es_store base;
    struct cosmos_client *client;
    bool keyless; /* managed identity: data-plane access only */
    char *database;
    char db_link[CONTAINER_LINK_MAX];
    char events_link[CONTAINER_LINK_MAX];
    char views_link[CONTAINER_LINK_MAX];
    char dead_link[CONTAINER_LINK_MAX];
    char leases_link[CONTAINER_LINK_MAX];
};

static struct cosmos_store *from(struct es_store *s)
{
    return (struct cosmos_store *)s;
}

/* ---- replies ---- */

/* Maps a failed response to a status with a clear message. */
static enum es_status fail(const struct cosmos_response *r, const char *what,
                           struct es_error *err)
{
    enum es_status st = r->status == 429 || r->status == 449 || r->status == 408 ||
                                r->status == 503 || r->status >= 500
                            ? ES_EUNAVAILABLE
                        : r->status == 401 || r->status == 403 ? ES_EAUTH
                        : r->status == 413                     ? ES_ETOOBIG
                        : r->status == 404                     ? ES_ENOTFOUND
                                                               : ES_EIO;
    if (st == ES_EAUTH)
        return es_error_set(
            err, st,
            "cannot %s: Cosmos DB refused the credentials (%ld %s); check the "
            "CosmosDB setting or the identity's data-plane role",
            what, r->status, r->error_code);
    return es_error_set(err, st, "cannot %s: Cosmos DB answered %ld %s (substatus %d) %s",
                        what, r->status, r->error_code, r->substatus, r->error_message);
}

/* Removes the system properties Cosmos adds to stored documents. */
static void strip_system(json_t *doc)
{
    const char *props[] = {"_rid", "_self", "_etag", "_attachments", "_ts", "_lsn"};
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        json_object_del(doc, props[i]);
}

/*
 * The first operation of a batch's results that failed for itself (a 424
 * only follows another's failure), and its status; -1 when none did.
 */
static int batch_failed_op(const json_t *results, int *status)
{
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        int s = (int)json_integer_value(json_object_get(r, "statusCode"));
        if (s == 424 || (s >= 200 && s < 300))
            continue;
        *status = s;
        return i <= INT32_MAX ? (int)i : -1;
    }
    return -1;
}

enum es_status cosmos_batch_outcome(long http_status, const char *body, size_t len,
                                    const struct cosmos_batch_layout *layout,
                                    enum es_conflict *conflict, int *op_index,
                                    int *op_status)
{
    *conflict = ES_CONFLICT_NONE;
    *op_index = -1;
    *op_status = (int)http_status;
    if (http_status >= 200 && http_status < 300 && http_status != 207)
        return ES_OK;
    if (http_status != 207)
        return http_status == 413 ? ES_ETOOBIG : ES_EIO;
    json_t *results = NULL;
    if (es_json_parse(body, len, 0, &results, NULL) == ES_ENOMEM)
        return ES_ENOMEM; /* not knowing which operation failed is not a conflict */
    enum es_status st = ES_EIO;
    int status = 0;
    int idx = batch_failed_op(results, &status);
    if (idx >= 0) {
        *op_index = idx;
        *op_status = status;
        if (idx == layout->receipt_index && status == 409)
            *conflict = ES_CONFLICT_RECEIPT;
        else if (idx == layout->read_index && status == 404)
            *conflict = ES_CONFLICT_VERSION;
        else if (idx >= layout->first_event &&
                 idx < layout->first_event + layout->n_events && status == 409)
            *conflict = ES_CONFLICT_VERSION;
        st = *conflict != ES_CONFLICT_NONE ? ES_ECONFLICT
             : status == 413               ? ES_ETOOBIG
                                           : ES_EIO;
    }
    json_decref(results);
    return st;
}

/* ---- documents ---- */

/* Document builders: NULL on ENOMEM or when the id would be too long. */
static json_t *event_doc(const char *stream, int64_t version,
                         const struct es_new_event *e)
{
    char id[ES_DOC_ID_MAX];
    if (es_event_id(stream, version, id, sizeof(id)) != ES_OK)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:O, s:O}", "id", id, "kind",
                     "event", "streamId", stream, "version", (json_int_t)version, "type",
                     e->type, "schema", e->schema, "data", e->data, "meta", e->meta);
}

static json_t *receipt_doc(const char *stream, const struct es_receipt *r)
{
    char id[ES_DOC_ID_MAX];
    if (es_fmt(id, sizeof(id), "%s:cmd:%s", stream, r->key) != ES_OK)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:s?, s:s, s:s}", "id", id,
                     "kind", "receipt", "streamId", stream, "key", r->key, "status",
                     r->status, "body", r->body, "version", (json_int_t)r->version,
                     "location", r->location, "requestHash", r->request_hash, "createdAt",
                     r->created_at);
}

static json_t *snapshot_doc(const char *stream, const struct es_snapshot *s)
{
    char id[ES_DOC_ID_MAX];
    if (es_fmt(id, sizeof(id), "%s:snapshot", stream) != ES_OK)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:I, s:i, s:O}", "id", id, "kind", "snapshot",
                     "streamId", stream, "version", (json_int_t)s->version, "schema",
                     s->schema, "state", s->state);
}

/* Adds one operation (op is stolen); false when it is NULL or cannot be added. */
static bool add_op(json_t *ops, json_t *op)
{
    return ops != NULL && json_array_append_new(ops, op) == 0;
}

/*
 * The batch body and its layout; NULL on ENOMEM or a too-long id. Every
 * operation is in it or there is no batch: without its receipt an append would
 * be stored as if the command had no Idempotency-Key.
 */
static json_t *append_batch(const struct es_append *a, struct cosmos_batch_layout *layout)
{
    json_t *ops = json_array();
    bool ok = ops != NULL;
    layout->receipt_index = layout->read_index = -1;
    if (ok && a->receipt != NULL) {
        layout->receipt_index = (int)json_array_size(ops);
        ok =
            add_op(ops, json_pack("{s:s, s:o}", "operationType", "Create", "resourceBody",
                                  receipt_doc(a->stream_id, a->receipt)));
    }
    if (ok && a->expected_version > 0) {
        char id[ES_DOC_ID_MAX];
        layout->read_index = (int)json_array_size(ops);
        ok = es_event_id(a->stream_id, a->expected_version, id, sizeof(id)) == ES_OK &&
             add_op(ops, json_pack("{s:s, s:s}", "operationType", "Read", "id", id));
    }
    layout->first_event = (int)json_array_size(ops);
    layout->n_events = (int)a->n_events;
    for (size_t i = 0; ok && i < a->n_events; i++)
        ok = add_op(
            ops, json_pack("{s:s, s:o}", "operationType", "Create", "resourceBody",
                           event_doc(a->stream_id, a->expected_version + 1 + (int64_t)i,
                                     &a->events[i])));
    if (ok && a->snapshot != NULL)
        ok =
            add_op(ops, json_pack("{s:s, s:o}", "operationType", "Upsert", "resourceBody",
                                  snapshot_doc(a->stream_id, a->snapshot)));
    if (!ok) {
        json_decref(ops);
        return NULL;
    }
    return ops;
}

/* ---- point operations ---- */

static enum es_status read_doc(struct cosmos_store *s, const char *container_link,
                               const char *id, const char *pk, json_t **doc, char **etag,
                               struct es_io *io, struct es_error *err)
{
    char link[DOC_LINK_MAX];
    if (es_fmt(link, sizeof(link), "%s/docs/%s", container_link, id) != ES_OK)
        return es_error_set(err, ES_EINVAL,
                            "cannot read document '%.80s...': the id is "
                            "longer than Cosmos DB allows",
                            id);
    struct cosmos_request req = {.method = "GET",
                                 .resource_type = "docs",
                                 .resource_link = link,
                                 .partition_key = pk,
                                 .idempotent = true};
    struct cosmos_response r;
    enum es_status st = cosmos_execute(s->client, &req, &r, io, err);
    if (st == ES_OK && r.status == 200) {
        st = es_json_parse(r.body, r.body_len, ES_JSON_LOAD_FLAGS, doc, NULL);
        if (st == ES_EJSON)
            st = es_error_set(err, ES_EIO, "cannot read document '%s': malformed JSON",
                              id);
        if (st == ES_OK && etag != NULL) {
            const char *e = r.etag != NULL
                                ? r.etag
                                : json_string_value(json_object_get(*doc, "_etag"));
            /* Without its etag a view would read as one that does not exist yet. */
            if ((*etag = strdup(e != NULL ? e : "")) == NULL) {
                json_decref(*doc);
                *doc = NULL;
                st = ES_ENOMEM;
            }
        }
    } else if (st == ES_OK && r.status == 404) {
        st = ES_ENOTFOUND;
    } else if (st == ES_OK) {
        char what[300];
        snprintf(what, sizeof(what), "read document '%.200s'", id);
        st = fail(&r, what, err);
    }
    cosmos_response_release(&r);
    return st;
}

/* What a POST on a container's documents does (the append's batch is sent by co_append).
 */
enum post_kind { POST_CREATE, POST_UPSERT, POST_READS /* a batch of reads only */ };

/*
 * POSTs json to container_link's documents in partition pk. Upserts and
 * batches of reads are safe to send again after a lost reply, creates are
 * not. *r is set even on ES_ENOMEM.
 */
static enum es_status post_docs(struct cosmos_store *s, const char *container_link,
                                const char *pk, const json_t *json, enum post_kind kind,
                                struct cosmos_response *r, struct es_io *io,
                                struct es_error *err)
{
    memset(r, 0, sizeof(*r));
    size_t len = 0;
    char *body = es_json_dumps(json, &len);
    if (body == NULL)
        return ES_ENOMEM;
    struct cosmos_request req = {.method = "POST",
                                 .resource_type = "docs",
                                 .resource_link = container_link,
                                 .feed = true,
                                 .partition_key = pk,
                                 .body = body,
                                 .body_len = len,
                                 .batch = kind == POST_READS,
                                 .upsert = kind == POST_UPSERT,
                                 .idempotent = true};
    enum es_status st = cosmos_execute(s->client, &req, r, io, err);
    free(body);
    return st;
}

/*
 * Reads one document through a transactional batch holding one Read, which
 * the partition's primary serves: it sees every acknowledged write, whoever
 * made it, where a point read sees what this process's session token names.
 * ES_ENOTFOUND when there is no such document.
 */
static enum es_status primary_read(struct cosmos_store *s, const char *container_link,
                                   const char *id, const char *pk, json_t **doc,
                                   struct es_io *io, struct es_error *err)
{
    *doc = NULL;
    json_t *ops = json_pack("[{s:s, s:s}]", "operationType", "Read", "id", id);
    struct cosmos_response r = {0};
    enum es_status st =
        ops != NULL ? post_docs(s, container_link, pk, ops, POST_READS, &r, io, err)
                    : ES_ENOMEM;
    json_decref(ops);
    if (st == ES_ENOMEM) {
        cosmos_response_release(&r);
        return st;
    }
    json_t *results = NULL;
    if (st == ES_OK && (r.status == 200 || r.status == 207) &&
        es_json_parse(r.body, r.body_len, ES_JSON_LOAD_FLAGS, &results, NULL) ==
            ES_ENOMEM)
        st = ES_ENOMEM;
    json_t *first = json_array_get(results, 0);
    long op_status = (long)json_integer_value(json_object_get(first, "statusCode"));
    json_t *found = json_object_get(first, "resourceBody");
    char what[300];
    snprintf(what, sizeof(what), "read document '%.200s' at the primary", id);
    if (st != ES_OK) {
        /* err says why */
    } else if (r.status == 200 && op_status == 200 && json_is_object(found)) {
        *doc = json_incref(found);
    } else if (r.status == 207 && op_status == 404) {
        st = ES_ENOTFOUND;
    } else if (r.status == 200 || r.status == 207) {
        st = es_error_set(err, ES_EIO, "cannot %s: unexpected batch reply", what);
    } else {
        st = fail(&r, what, err);
    }
    json_decref(results);
    cosmos_response_release(&r);
    return st;
}

/* Is the stored event the one we tried to append? */
static bool same_event(const json_t *stored, const json_t *ours)
{
    const char *fields[] = {"type", "data", "meta", "version"};
    for (size_t i = 0; i < 4; i++)
        if (!json_equal(json_object_get(stored, fields[i]),
                        json_object_get(ours, fields[i])))
            return false;
    return true;
}

/*
 * After an unknown outcome: ES_OK (our append is there), ES_ECONFLICT
 * (another event took the version), ES_ENOTFOUND (nothing there yet).
 */
static enum es_status read_back(struct cosmos_store *s, const struct es_append *a,
                                json_t *ops, const struct cosmos_batch_layout *layout,
                                struct es_io *io, struct es_error *err)
{
    json_t *ours =
        json_object_get(json_array_get(ops, (size_t)layout->first_event), "resourceBody");
    json_t *stored = NULL;
    enum es_status st =
        primary_read(s, s->events_link, json_string_value(json_object_get(ours, "id")),
                     a->stream_id, &stored, io, err);
    if (st == ES_OK)
        st = same_event(stored, ours) ? ES_OK : ES_ECONFLICT;
    json_decref(stored);
    return st;
}

/*
 * A version conflict: ES_OK when the event at v+1 is ours after all (an
 * earlier try of this batch was applied), ES_ECONFLICT when it is another's,
 * ES_EUNKNOWN when it cannot be read back.
 */
static enum es_status settle_conflict(struct cosmos_store *s, const struct es_append *a,
                                      json_t *ops,
                                      const struct cosmos_batch_layout *layout,
                                      enum es_conflict *conflict, struct es_io *io,
                                      struct es_error *err)
{
    struct es_error back_err = {0};
    enum es_status back = read_back(s, a, ops, layout, io, &back_err);
    if (back == ES_OK) {
        es_log_warn(
            "append to '%s' at version %lld: the conflict was our own earlier try",
            a->stream_id, (long long)a->expected_version + 1);
        *conflict = ES_CONFLICT_NONE;
        return ES_OK;
    }
    if (back == ES_ECONFLICT || back == ES_ENOTFOUND)
        return ES_ECONFLICT;
    if (back == ES_ENOMEM)
        return ES_ENOMEM;
    *conflict = ES_CONFLICT_NONE;
    return es_error_set(err, ES_EUNKNOWN,
                        "cannot tell whether the append to '%s' at version %lld was "
                        "applied: the version is taken and %s",
                        a->stream_id, (long long)a->expected_version + 1,
                        back_err.message);
}

static enum es_status co_append(struct es_store *base, const struct es_append *a,
                                enum es_conflict *conflict, struct es_io *io,
                                struct es_error *err)
{
    struct cosmos_store *s = from(base);
    struct cosmos_batch_layout layout;
    *conflict = ES_CONFLICT_NONE;
    /* The longest id of the batch is the receipt's ("{stream}:cmd:{key}"). */
    size_t longest =
        strlen(a->stream_id) + 24 + (a->receipt ? strlen(a->receipt->key) : 0);
    if (longest >= ES_DOC_ID_MAX)
        return es_error_set(err, ES_EINVAL,
                            "cannot append to stream '%.80s...': its document ids would "
                            "be longer than Cosmos DB allows",
                            a->stream_id);
    json_t *ops = append_batch(a, &layout);
    size_t len = 0;
    char *body = ops != NULL ? es_json_dumps(ops, &len) : NULL;
    if (body == NULL) {
        json_decref(ops);
        return ES_ENOMEM;
    }
    if (json_array_size(ops) > ES_STORE_BATCH_MAX_OPS || len > ES_STORE_BATCH_MAX_BYTES) {
        es_error_set(err, ES_ETOOBIG,
                     "cannot append to stream '%s': the batch holds %zu operations and "
                     "%zu bytes; Cosmos DB takes at most %d and %u",
                     a->stream_id, json_array_size(ops), len, ES_STORE_BATCH_MAX_OPS,
                     ES_STORE_BATCH_MAX_BYTES);
        free(body);
        json_decref(ops);
        return ES_ETOOBIG;
    }
    struct cosmos_request req = {.method = "POST",
                                 .resource_type = "docs",
                                 .resource_link = s->events_link,
                                 .feed = true,
                                 .partition_key = a->stream_id,
                                 .body = body,
                                 .body_len = len,
                                 .batch = true};
    enum es_status st = ES_EIO;
    for (int round = 0; round < AMBIGUITY_ROUNDS; round++) {
        struct cosmos_response r;
        struct es_error call_err = {0};
        st = cosmos_execute(s->client, &req, &r, io, &call_err);
        bool unknown = r.ambiguous;
        if (st == ES_OK && !unknown) {
            int op_index, op_status;
            st = cosmos_batch_outcome(r.status, r.body, r.body_len, &layout, conflict,
                                      &op_index, &op_status);
            if (st == ES_ECONFLICT && *conflict == ES_CONFLICT_VERSION &&
                op_index != layout.read_index)
                st = settle_conflict(s, a, ops, &layout, conflict, io, err);
            else if (st == ES_EIO && r.status != 207)
                st = fail(&r, "append to the event store", err);
            else if (st == ES_EIO || st == ES_ETOOBIG)
                es_error_set(err, st,
                             "cannot append to stream '%s': operation %d answered %d",
                             a->stream_id, op_index, op_status);
            cosmos_response_release(&r);
            break;
        }
        cosmos_response_release(&r);
        if (!unknown) {
            es_error_set(err, st, "%s", call_err.message);
            break;
        }
        /* The reply was lost: find out whether the batch was applied. */
        es_log_warn("append to '%s' at version %lld: outcome unknown, reading back",
                    a->stream_id, (long long)a->expected_version + 1);
        struct es_error back_err = {0};
        st = read_back(s, a, ops, &layout, io, &back_err);
        if (st == ES_OK || st == ES_ECONFLICT) {
            if (st == ES_ECONFLICT)
                *conflict = ES_CONFLICT_VERSION;
            break;
        }
        if (st == ES_ENOMEM)
            break;
        if (st != ES_ENOTFOUND) {
            /* Neither confirmed nor ruled out: the batch may have been applied. */
            st = es_error_set(err, ES_EUNKNOWN,
                              "cannot tell whether the append to '%s' at version %lld "
                              "was applied: its reply was lost and %s",
                              a->stream_id, (long long)a->expected_version + 1,
                              back_err.message);
            break;
        }
        /* Not applied (yet): send it again; a late arrival of this try is settled above.
         */
        st = es_error_set(err, ES_EUNAVAILABLE, "cannot append to stream '%s': %s",
                          a->stream_id, call_err.message);
    }
    if (st == ES_ECONFLICT)
        es_error_set(err, st,
                     *conflict == ES_CONFLICT_RECEIPT
                         ? "cannot append to stream '%s': the command's receipt exists"
                         : "cannot append to stream '%s': version %lld is taken",
                     a->stream_id, (long long)a->expected_version + 1);
    free(body);
    json_decref(ops);
    return st;
}

/* ---- queries ---- */

/*
 * Runs a query page by page, appending documents to *docs, until `max`
 * documents or the last page. *next gets the continuation when stopped early
 * on a page boundary (may be NULL).
 */
static enum es_status query(struct cosmos_store *s, const char *container_link,
                            const char *pk, json_t *query_body, const char *continuation,
                            size_t max, json_t *docs, char **next, struct es_io *io,
                            struct es_error *err)
{
    size_t len = 0;
    char *body = es_json_dumps(query_body, &len);
    char *cont = NULL;
    enum es_status st = body != NULL ? ES_OK : ES_ENOMEM;
    /* Without its copy the query would start over: the first page again. */
    if (st == ES_OK && continuation != NULL && (cont = strdup(continuation)) == NULL)
        st = ES_ENOMEM;
    while (st == ES_OK && json_array_size(docs) < max) {
        size_t want = max - json_array_size(docs);
        struct cosmos_request req = {
            .method = "POST",
            .resource_type = "docs",
            .resource_link = container_link,
            .feed = true,
            .partition_key = pk,
            .body = body,
            .body_len = len,
            .query = true,
            .cross_partition = pk == NULL,
            .continuation = cont,
            .idempotent = true,
            /* Past a page's worth, the service sizes the pages (up to 4 MB each). */
            .max_item_count = want < QUERY_PAGE_MAX ? (int)want : -1};
        struct cosmos_response r;
        st = cosmos_execute(s->client, &req, &r, io, err);
        if (st == ES_OK && r.status == 400 && cont != NULL)
            st = es_error_set(err, ES_EINVAL, "Cosmos DB refused the continuation token");
        else if (st == ES_OK && r.status != 200)
            st = fail(&r, "query the store", err);
        json_t *page = NULL;
        if (st == ES_OK && (st = es_json_parse(r.body, r.body_len, ES_JSON_LOAD_FLAGS,
                                               &page, NULL)) == ES_EJSON)
            st = ES_EIO;
        json_t *found = json_object_get(page, "Documents");
        if (st == ES_OK && !json_is_array(found))
            st = es_error_set(err, ES_EIO, "cannot query the store: malformed page");
        /* A page with documents missing, or without its continuation, would look whole
         * (and like the last). */
        if (st == ES_OK && json_array_extend(docs, found) != 0)
            st = ES_ENOMEM;
        free(cont);
        cont = NULL;
        if (st == ES_OK && r.continuation != NULL &&
            (cont = strdup(r.continuation)) == NULL)
            st = ES_ENOMEM;
        json_decref(page);
        cosmos_response_release(&r);
        if (cont == NULL)
            break;
    }
    free(body);
    if (next != NULL)
        *next = st == ES_OK ? cont : NULL;
    if (next == NULL || st != ES_OK)
        free(cont);
    return st;
}

static enum es_status co_read_stream(struct es_store *base, const char *stream_id,
                                     int64_t from_version, size_t max,
                                     struct es_event_page *out, struct es_io *io,
                                     struct es_error *err)
{
    struct cosmos_store *s = from(base);
    memset(out, 0, sizeof(*out));
    json_t *q =
        json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:I}]}", "query",
                  "SELECT * FROM c WHERE c.streamId = @s AND c.kind = 'event' AND "
                  "c.version >= @v ORDER BY c.version",
                  "parameters", "name", "@s", "value", stream_id, "name", "@v", "value",
                  (json_int_t)from_version);
    json_t *docs = json_array();
    enum es_status st = q != NULL && docs != NULL ? query(s, s->events_link, stream_id, q,
                                                          NULL, max, docs, NULL, io, err)
                                                  : ES_ENOMEM;
    json_decref(q);
    size_t n = json_array_size(docs);
    if (st == ES_OK &&
        (out->events = calloc(n > 0 ? n : 1, sizeof(struct es_event))) == NULL)
        st = ES_ENOMEM;
    for (size_t i = 0; st == ES_OK && i < n && i < max; i++) {
        st = es_event_from_doc(json_array_get(docs, i), &out->events[i], err);
        if (st == ES_OK)
            out->n++;
    }
    if (st == ES_OK && io != NULL)
        io->events_read += (unsigned)out->n;
    if (st != ES_OK)
        es_event_page_release(out);
    json_decref(docs);
    return st;
}

static enum es_status co_has_version(struct es_store *base, const char *stream_id,
                                     int64_t version, struct es_io *io,
                                     struct es_error *err)
{
    struct cosmos_store *s = from(base);
    char id[ES_DOC_ID_MAX];
    if (es_event_id(stream_id, version, id, sizeof(id)) != ES_OK)
        return es_error_set(err, ES_EINVAL, "stream id '%.80s...' is too long",
                            stream_id);
    json_t *doc = NULL;
    enum es_status st = primary_read(s, s->events_link, id, stream_id, &doc, io, err);
    json_decref(doc);
    return st;
}

static enum es_status co_read_snapshot(struct es_store *base, const char *stream_id,
                                       struct es_snapshot *out, struct es_io *io,
                                       struct es_error *err)
{
    struct cosmos_store *s = from(base);
    char id[ES_DOC_ID_MAX];
    if (es_fmt(id, sizeof(id), "%s:snapshot", stream_id) != ES_OK)
        return es_error_set(err, ES_EINVAL, "stream id '%.80s...' is too long",
                            stream_id);
    json_t *doc = NULL;
    enum es_status st = read_doc(s, s->events_link, id, stream_id, &doc, NULL, io, err);
    if (st == ES_OK) {
        memset(out, 0, sizeof(*out));
        out->version = (int64_t)json_integer_value(json_object_get(doc, "version"));
        out->schema = (int)json_integer_value(json_object_get(doc, "schema"));
        out->state = json_incref(json_object_get(doc, "state"));
        if (out->state == NULL)
            st = es_error_set(err, ES_EIO, "cannot read the snapshot of '%s'", stream_id);
    }
    json_decref(doc);
    return st;
}

/* A copy of a string field into *out (NULL when absent); false on ENOMEM. */
static bool dup_field(const json_t *doc, const char *name, char **out)
{
    const char *v = json_string_value(json_object_get(doc, name));
    *out = v != NULL ? strdup(v) : NULL;
    return v == NULL || *out != NULL;
}

static enum es_status co_read_receipt(struct es_store *base, const char *stream_id,
                                      const char *key, struct es_receipt *out,
                                      struct es_io *io, struct es_error *err)
{
    struct cosmos_store *s = from(base);
    char id[ES_DOC_ID_MAX];
    if (es_fmt(id, sizeof(id), "%s:cmd:%s", stream_id, key) != ES_OK)
        return es_error_set(err, ES_EINVAL, "receipt id for stream '%.80s' is too long",
                            stream_id);
    json_t *doc = NULL;
    /* At the primary: the receipt may be another process's, written just now. */
    enum es_status st = primary_read(s, s->events_link, id, stream_id, &doc, io, err);
    if (st == ES_OK) {
        memset(out, 0, sizeof(*out));
        out->status = (int)json_integer_value(json_object_get(doc, "status"));
        out->version = (int64_t)json_integer_value(json_object_get(doc, "version"));
        bool copied = dup_field(doc, "key", &out->key) &&
                      dup_field(doc, "body", &out->body) &&
                      dup_field(doc, "location", &out->location) &&
                      dup_field(doc, "requestHash", &out->request_hash) &&
                      dup_field(doc, "createdAt", &out->created_at);
        if (!copied) {
            es_receipt_release(out);
            st = ES_ENOMEM;
        } else if (out->key == NULL || out->body == NULL || out->request_hash == NULL) {
            es_receipt_release(out);
            st = es_error_set(err, ES_EIO, "cannot read receipt '%s': malformed", id);
        }
    }
    json_decref(doc);
    return st;
}

/* ---- views and dead letters ---- */

/* The views container's partition key path, and the field that holds it. */
#define VIEWS_PK_FIELD "partitionKey"
#define VIEWS_PK_PATH  "/" VIEWS_PK_FIELD

/* A view as read: without what Cosmos DB and this store keep in it. */
static void strip_view(json_t *doc)
{
    strip_system(doc);
    json_object_del(doc, VIEWS_PK_FIELD);
}

static enum es_status co_view_get(struct es_store *base, const char *id, json_t **doc,
                                  char **etag, struct es_io *io, struct es_error *err)
{
    struct cosmos_store *s = from(base);
    enum es_status st =
        read_doc(s, s->views_link, id, es_view_partition(id), doc, etag, io, err);
    if (st == ES_OK)
        strip_view(*doc);
    return st;
}

/*
 * A view as stored: a shallow copy of doc with its partition key, and its size
 * into *bytes. ES_EINVAL (*stored NULL) without "id" and "view"; ES_ETOOBIG
 * when it does not fit in a document.
 */
static enum es_status view_stored(const json_t *doc, json_t **stored, size_t *bytes,
                                  struct es_error *err)
{
    *stored = NULL;
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (id == NULL || json_string_value(json_object_get(doc, "view")) == NULL)
        return es_error_set(err, ES_EINVAL,
                            "cannot write a view without 'id' and 'view'");
    /* Key by key: json_copy leaves out, unsaid, what it has no memory for. */
    json_t *copy = json_object();
    const char *key;
    json_t *value;
    bool ok = copy != NULL;
    json_object_foreach((json_t *)doc, key, value)
    {
        if (ok && json_object_set(copy, key, value) != 0)
            ok = false;
    }
    if (!ok || json_object_set_new(copy, VIEWS_PK_FIELD,
                                   json_string(es_view_partition(id))) != 0) {
        json_decref(copy);
        return ES_ENOMEM;
    }
    char what[300];
    snprintf(what, sizeof(what), "view '%.200s'", id);
    enum es_status st = es_doc_fits(copy, what, bytes, err);
    if (st != ES_OK) {
        json_decref(copy);
        return st;
    }
    *stored = copy;
    return ES_OK;
}

/* One view written on its own (a PUT under its etag, or a POST); w->etag, w->bytes set.
 */
static enum es_status put_view(struct cosmos_store *s, struct es_view_write *w,
                               struct es_io *io, struct es_error *err)
{
    json_t *stored = NULL;
    enum es_status fits = view_stored(w->doc, &stored, &w->bytes, err);
    if (fits != ES_OK)
        return fits;
    const char *id = json_string_value(json_object_get(w->doc, "id"));
    const char *if_match = w->if_match;
    char link[DOC_LINK_MAX];
    if (if_match != NULL &&
        es_fmt(link, sizeof(link), "%s/docs/%s", s->views_link, id) != ES_OK) {
        json_decref(stored);
        return es_error_set(err, ES_EINVAL, "cannot write view '%.80s...': id too long",
                            id);
    }
    size_t len = 0;
    char *body = es_json_dumps(stored, &len);
    json_decref(stored);
    if (body == NULL)
        return ES_ENOMEM;
    struct cosmos_request req = {
        .method = if_match != NULL ? "PUT" : "POST",
        .resource_type = "docs",
        .resource_link = if_match != NULL ? link : s->views_link,
        .feed = if_match == NULL,
        .partition_key = es_view_partition(id),
        .body = body,
        .body_len = len,
        .if_match = if_match,
        /* A replace under an etag is safe to repeat: a second apply meets 412. */
        .idempotent = if_match != NULL};
    struct cosmos_response r;
    enum es_status st = cosmos_execute(s->client, &req, &r, io, err);
    if (st == ES_OK) {
        if (r.status == 200 || r.status == 201) {
            if ((w->etag = strdup(r.etag != NULL ? r.etag : "")) == NULL)
                st = ES_ENOMEM;
        } else if (r.status == 409) {
            st =
                es_error_set(err, ES_ECONFLICT, "cannot create view '%s': it exists", id);
        } else if (r.status == 412) {
            st = es_error_set(err, ES_EPRECONDITION,
                              "cannot replace view '%s': its etag changed", id);
        } else {
            st = fail(&r, "write a view", err);
        }
    }
    cosmos_response_release(&r);
    free(body);
    return st;
}

static enum es_status co_view_put(struct es_store *base, const json_t *doc,
                                  const char *if_match, char **etag_out, struct es_io *io,
                                  struct es_error *err)
{
    struct es_view_write w = {doc, if_match, NULL, 0};
    enum es_status st = put_view(from(base), &w, io, err);
    if (etag_out != NULL)
        *etag_out = w.etag;
    else
        free(w.etag);
    return st;
}

/* The etags of a batch's results into w (all or none); ES_EIO when one is missing. */
static enum es_status batch_etags(const json_t *results, struct es_view_write *w,
                                  size_t n)
{
    enum es_status st = json_array_size(results) == n ? ES_OK : ES_EIO;
    for (size_t i = 0; st == ES_OK && i < n; i++) {
        const char *etag =
            json_string_value(json_object_get(json_array_get(results, i), "eTag"));
        if (etag == NULL)
            st = ES_EIO;
        else if ((w[i].etag = strdup(etag)) == NULL)
            st = ES_ENOMEM;
    }
    if (st != ES_OK)
        for (size_t i = 0; i < n; i++) {
            free(w[i].etag);
            w[i].etag = NULL;
        }
    return st;
}

/*
 * The batch's refused write of w[0..n) into *refused, as the status view_put
 * would answer. A reply that names no write of ours is ES_EIO.
 */
static enum es_status batch_refusal(const json_t *results, struct es_view_write *w,
                                    size_t n, size_t *refused, struct es_error *err)
{
    int status = 0;
    int i = batch_failed_op(results, &status);
    if (i >= 0 && (size_t)i < n) {
        const char *id = json_string_value(json_object_get(w[i].doc, "id"));
        *refused = (size_t)i;
        if (status == 409)
            return es_error_set(err, ES_ECONFLICT, "cannot create view '%s': it exists",
                                id);
        if (status == 412)
            return es_error_set(err, ES_EPRECONDITION,
                                "cannot replace view '%s': its etag changed", id);
        if (status == 404)
            return es_error_set(err, ES_ENOTFOUND, "cannot replace view '%s': it is gone",
                                id);
        if (status == 429 || status == 449 || status == 503)
            return es_error_set(err, ES_EUNAVAILABLE,
                                "cannot write view '%s': the batch answered %d for it",
                                id, status);
        return es_error_set(err, status == 413 ? ES_ETOOBIG : ES_EIO,
                            "cannot write view '%s': the batch answered %d for it", id,
                            status);
    }
    return es_error_set(err, ES_EIO,
                        "cannot write views: the batch failed and its reply names none "
                        "of them");
}

static enum es_status co_views_put(struct es_store *base, struct es_view_write *w,
                                   size_t n, size_t *refused, struct es_io *io,
                                   struct es_error *err)
{
    struct cosmos_store *s = from(base);
    *refused = 0;
    if (n == 0 || n > ES_STORE_BATCH_MAX_OPS)
        return es_error_set(err, ES_EINVAL, "cannot write %zu views at once", n);
    for (size_t i = 0; i < n; i++)
        w[i].etag = NULL;
    if (n == 1)
        return put_view(s, &w[0], io, err);
    json_t *ops = json_array();
    const char *pk = NULL;
    bool replaces_only = true;
    enum es_status st = ops != NULL ? ES_OK : ES_ENOMEM;
    for (size_t i = 0; st == ES_OK && i < n; i++) {
        json_t *stored = NULL;
        st = view_stored(w[i].doc, &stored, &w[i].bytes, err);
        if (st != ES_OK)
            break;
        const char *id = json_string_value(json_object_get(w[i].doc, "id"));
        if (pk == NULL)
            pk = es_view_partition(id);
        if (strcmp(pk, es_view_partition(id)) != 0) {
            json_decref(stored);
            st = es_error_set(err, ES_EINVAL,
                              "cannot write views of partitions '%.100s' and '%.100s' at "
                              "once",
                              pk, es_view_partition(id));
            break;
        }
        json_t *op =
            w[i].if_match != NULL
                ? json_pack("{s:s, s:s, s:o, s:s}", "operationType", "Replace", "id", id,
                            "resourceBody", stored, "ifMatch", w[i].if_match)
                : json_pack("{s:s, s:o}", "operationType", "Create", "resourceBody",
                            stored);
        replaces_only = replaces_only && w[i].if_match != NULL;
        if (op == NULL || json_array_append_new(ops, op) != 0)
            st = ES_ENOMEM;
    }
    size_t len = 0;
    char *body = st == ES_OK ? es_json_dumps(ops, &len) : NULL;
    json_decref(ops);
    if (st == ES_OK && body == NULL)
        st = ES_ENOMEM;
    if (st == ES_OK && len > ES_STORE_BATCH_MAX_BYTES)
        st =
            es_error_set(err, ES_ETOOBIG,
                         "cannot write %zu views at once: %zu bytes, where a batch takes "
                         "at most %u",
                         n, len, ES_STORE_BATCH_MAX_BYTES);
    if (st != ES_OK) {
        free(body);
        return st;
    }
    struct cosmos_request req = {.method = "POST",
                                 .resource_type = "docs",
                                 .resource_link = s->views_link,
                                 .feed = true,
                                 .partition_key = pk,
                                 .body = body,
                                 .body_len = len,
                                 .batch = true,
                                 /* As view_put: conditional replaces are safe to repeat
                                    (a second apply meets 412); creates are not. */
                                 .idempotent = replaces_only};
    struct cosmos_response r;
    st = cosmos_execute(s->client, &req, &r, io, err);
    json_t *results = NULL;
    if (st == ES_OK && (r.status == 200 || r.status == 207) &&
        es_json_parse(r.body, r.body_len, ES_JSON_LOAD_FLAGS, &results, NULL) ==
            ES_ENOMEM)
        st = ES_ENOMEM;
    if (st != ES_OK) {
        /* err says why */
    } else if (r.status == 200) {
        st = batch_etags(results, w, n);
        if (st == ES_EIO)
            es_error_set(err, st, "cannot write views: the batch's reply has no etags");
    } else if (r.status == 207) {
        st = batch_refusal(results, w, n, refused, err);
    } else {
        st = fail(&r, "write views", err);
    }
    json_decref(results);
    cosmos_response_release(&r);
    free(body);
    return st;
}

static enum es_status page_of(struct cosmos_store *s, const char *link, json_t *q,
                              const char *continuation, size_t limit, json_t **docs,
                              char **next, struct es_io *io, struct es_error *err)
{
    json_t *arr = json_array();
    char *cont = NULL;
    enum es_status st = q != NULL && arr != NULL ? query(s, link, NULL, q, continuation,
                                                         limit, arr, &cont, io, err)
                                                 : ES_ENOMEM;
    json_decref(q);
    if (st != ES_OK) {
        json_decref(arr);
        return st;
    }
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d) strip_system(d);
    *docs = arr;
    *next = cont;
    return ES_OK;
}

static enum es_status co_view_query(struct es_store *base, const char *kind,
                                    const char *continuation, size_t limit, json_t **docs,
                                    char **next, struct es_io *io, struct es_error *err)
{
    struct cosmos_store *s = from(base);
    json_t *q = json_pack("{s:s, s:[{s:s, s:s}]}", "query",
                          "SELECT * FROM c WHERE c.view = @kind", "parameters", "name",
                          "@kind", "value", kind);
    enum es_status st =
        page_of(s, s->views_link, q, continuation, limit, docs, next, io, err);
    size_t i;
    json_t *d;
    if (st == ES_OK)
        json_array_foreach(*docs, i, d) json_object_del(d, VIEWS_PK_FIELD);
    return st;
}

static enum es_status co_deadletter_put(struct es_store *base, const json_t *doc,
                                        struct es_io *io, struct es_error *err)
{
    struct cosmos_store *s = from(base);
    const char *stream = json_string_value(json_object_get(doc, "streamId"));
    if (json_string_value(json_object_get(doc, "id")) == NULL || stream == NULL)
        return es_error_set(err, ES_EINVAL,
                            "cannot write a dead letter without 'id' and 'streamId'");
    struct cosmos_response r;
    enum es_status st = post_docs(s, s->dead_link, stream, doc, POST_UPSERT, &r, io, err);
    if (st == ES_OK && r.status != 200 && r.status != 201)
        st = fail(&r, "write a dead letter", err);
    cosmos_response_release(&r);
    return st;
}

static enum es_status co_deadletter_query(struct es_store *base, const char *continuation,
                                          size_t limit, json_t **docs, char **next,
                                          struct es_io *io, struct es_error *err)
{
    struct cosmos_store *s = from(base);
    json_t *q = json_pack("{s:s, s:[]}", "query", "SELECT * FROM c", "parameters");
    return page_of(s, s->dead_link, q, continuation, limit, docs, next, io, err);
}

static enum es_status co_deadletter_get(struct es_store *base, const char *id,
                                        json_t **doc, struct es_io *io,
                                        struct es_error *err)
{
    struct cosmos_store *s = from(base);
    char stream[ES_DOC_ID_MAX];
    /* An id that names no partition names no dead letter this store wrote. */
    if (es_deadletter_stream(id, stream, sizeof(stream)) != ES_OK)
        return ES_ENOTFOUND;
    enum es_status st = read_doc(s, s->dead_link, id, stream, doc, NULL, io, err);
    if (st == ES_OK)
        strip_system(*doc);
    return st;
}

static enum es_status co_deadletter_delete(struct es_store *base, const char *id,
                                           struct es_io *io, struct es_error *err)
{
    struct cosmos_store *s = from(base);
    char stream[ES_DOC_ID_MAX], link[DOC_LINK_MAX];
    if (es_deadletter_stream(id, stream, sizeof(stream)) != ES_OK)
        return ES_ENOTFOUND;
    if (es_fmt(link, sizeof(link), "%s/docs/%s", s->dead_link, id) != ES_OK)
        return es_error_set(err, ES_EINVAL,
                            "cannot delete dead letter '%.80s...': the id is too long",
                            id);
    struct cosmos_request req = {
        .method = "DELETE",
        .resource_type = "docs",
        .resource_link = link,
        .partition_key = stream,
        /* Sent again after a lost reply, it finds nothing: 404. */
        .idempotent = true};
    struct cosmos_response r;
    enum es_status st = cosmos_execute(s->client, &req, &r, io, err);
    if (st == ES_OK && r.status == 404)
        st = ES_ENOTFOUND;
    else if (st == ES_OK && r.status != 204 && r.status != 200)
        st = fail(&r, "delete a dead letter", err);
    cosmos_response_release(&r);
    return st;
}

/* ---- every event, for a rebuild ---- */

/*
 * The scan's cursor: {"ranges": [{"id": <partition key range id>, "etag":
 * <its change feed's continuation, or null: from its start>}, ...], "i":
 * <the one being read>}. The ranges are read one after another, each to its
 * end; past the last, "i" goes back to 0 with every etag kept, so that a scan
 * from that cursor later reads what each range received since. A range split
 * during the scan (410, substatus 1002: the service's PartitionKeyRangeGone)
 * is replaced by its children, the ranges listed with it among their
 * parents, each read from the parent's etag, as the SDKs' change feed
 * readers do: no event is missed or read twice. A cursor of earlier versions
 * ({"ranges": [<ids>], "i", "etag"}) is read too; the ranges before its "i"
 * are then read again from their start after the end (folding passes over
 * what a view holds).
 */
#define RANGE_PAGES_MAX 1000 /* pages of one listing of the ranges */
#define SCAN_SPLITS_MAX 16   /* splits followed in one call */
#define PKRANGE_GONE    1002 /* x-ms-substatus of a 410 for a range that was split */

/* Appends the ranges of one listing page to out as {"id", "parents"}. */
static enum es_status ranges_of(const json_t *page, json_t *out, struct es_error *err)
{
    const json_t *ranges = json_object_get(page, "PartitionKeyRanges");
    if (!json_is_array(ranges))
        return es_error_set(err, ES_EIO,
                            "cannot list the partition key ranges: malformed");
    size_t i;
    const json_t *range;
    json_array_foreach(ranges, i, range)
    {
        const char *id = json_string_value(json_object_get(range, "id"));
        json_t *parents = json_object_get(range, "parents");
        if (id == NULL || id[0] == '\0' || strlen(id) > 64 ||
            (parents != NULL && !json_is_array(parents)))
            return es_error_set(err, ES_EIO, "cannot read a partition key range: bad id");
        size_t k;
        const json_t *p;
        json_array_foreach(parents, k, p)
        {
            if (!json_is_string(p))
                return es_error_set(
                    err, ES_EIO, "cannot read partition key range '%s': bad parents", id);
        }
        json_t *ps = parents != NULL ? json_incref(parents) : json_array();
        json_t *r = ps != NULL ? json_pack("{s:s, s:o}", "id", id, "parents", ps) : NULL;
        if (r == NULL || json_array_append_new(out, r) != 0)
            return ES_ENOMEM;
    }
    return ES_OK;
}

/* The events container's current partition key ranges, every page of them. */
static enum es_status list_ranges(struct cosmos_store *s, json_t **out, struct es_io *io,
                                  struct es_error *err)
{
    json_t *all = json_array();
    char *continuation = NULL;
    enum es_status st = all != NULL ? ES_OK : ES_ENOMEM;
    for (int pages = 0; st == ES_OK; pages++) {
        if (pages == RANGE_PAGES_MAX) {
            st = es_error_set(err, ES_EIO,
                              "cannot list the partition key ranges: over %d pages",
                              RANGE_PAGES_MAX);
            break;
        }
        struct cosmos_request req = {.method = "GET",
                                     .resource_type = "pkranges",
                                     .resource_link = s->events_link,
                                     .feed = true,
                                     .continuation = continuation,
                                     .idempotent = true};
        struct cosmos_response r;
        json_t *page = NULL;
        st = cosmos_execute(s->client, &req, &r, io, err);
        if (st == ES_OK && r.status != 200)
            st = fail(&r, "list the partition key ranges", err);
        if (st == ES_OK && (st = es_json_parse(r.body, r.body_len, ES_JSON_LOAD_FLAGS,
                                               &page, NULL)) == ES_EJSON)
            st = es_error_set(err, ES_EIO,
                              "cannot list the partition key ranges: malformed");
        if (st == ES_OK)
            st = ranges_of(page, all, err);
        json_decref(page);
        free(continuation);
        continuation = NULL;
        bool more = st == ES_OK && r.continuation != NULL;
        if (more && (continuation = strdup(r.continuation)) == NULL)
            st = ES_ENOMEM;
        cosmos_response_release(&r);
        if (!more)
            break;
    }
    free(continuation);
    if (st == ES_OK && json_array_size(all) == 0)
        st = es_error_set(err, ES_EIO,
                          "cannot list the partition key ranges: none listed");
    if (st != ES_OK) {
        json_decref(all);
        return st;
    }
    *out = all;
    return ES_OK;
}

/* The events among a change feed page's documents; the rest counted in *skipped. */
static enum es_status events_of(const json_t *docs, struct es_event_page *out,
                                size_t *skipped)
{
    out->events = calloc(json_array_size(docs) + 1, sizeof(*out->events));
    if (out->events == NULL)
        return ES_ENOMEM;
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        if (kind == NULL || strcmp(kind, "event") != 0)
            continue; /* snapshots and receipts share the container */
        enum es_status st = es_event_from_doc(doc, &out->events[out->n], NULL);
        if (st == ES_ENOMEM)
            return st;
        if (st == ES_OK)
            out->n++;
        else
            (*skipped)++;
    }
    return ES_OK;
}

/*
 * One change feed page of range `range` after etag (NULL: from the start).
 * *next_etag is the page's continuation, NULL at the range's end (304 or an
 * empty page); *gone says the range was split (410/1002): nothing was read.
 */
static enum es_status feed_page(struct cosmos_store *s, const char *range,
                                const char *etag, size_t max, struct es_event_page *out,
                                size_t *skipped, char **next_etag, bool *gone,
                                struct es_io *io, struct es_error *err)
{
    struct cosmos_request req = {.method = "GET",
                                 .resource_type = "docs",
                                 .resource_link = s->events_link,
                                 .feed = true,
                                 .change_feed = true,
                                 .partition_key_range_id = range,
                                 .if_none_match = etag,
                                 .max_item_count = max < QUERY_PAGE_MAX ? (int)max : -1,
                                 .idempotent = true};
    struct cosmos_response r;
    *next_etag = NULL;
    *gone = false;
    json_t *page = NULL;
    enum es_status st = cosmos_execute(s->client, &req, &r, io, err);
    if (st == ES_OK && r.status == 410 && r.substatus == PKRANGE_GONE)
        *gone = true;
    else if (st == ES_OK && r.status == 410)
        st = es_error_set(err, ES_EUNAVAILABLE,
                          "the events container's partition key range '%s' is moving "
                          "(410, substatus %d): run it again",
                          range, r.substatus);
    else if (st == ES_OK && r.status != 200 && r.status != 304)
        st = fail(&r, "read the change feed", err);
    bool read = st == ES_OK && r.status == 200;
    if (read && (st = es_json_parse(r.body, r.body_len, ES_JSON_LOAD_FLAGS, &page,
                                    NULL)) == ES_EJSON)
        st = es_error_set(err, ES_EIO, "cannot read the change feed: malformed page");
    json_t *docs = json_object_get(page, "Documents");
    if (st == ES_OK && read && !json_is_array(docs))
        st = es_error_set(err, ES_EIO, "cannot read the change feed: malformed page");
    if (st == ES_OK && read && (st = events_of(docs, out, skipped)) == ES_OK &&
        io != NULL)
        io->events_read += (unsigned)out->n;
    /* A page without its continuation would be read again forever. */
    if (st == ES_OK && read && r.etag == NULL)
        st =
            es_error_set(err, ES_EIO, "cannot read the change feed: a page without etag");
    /* An empty page is the range's end, as a 304 is: never read it again in a loop. */
    if (st == ES_OK && read && json_array_size(docs) > 0 &&
        (*next_etag = strdup(r.etag)) == NULL)
        st = ES_ENOMEM;
    json_decref(page);
    cosmos_response_release(&r);
    if (st != ES_OK)
        es_event_page_release(out);
    return st;
}

/*
 * The ranges listed now as cursor entries {"id", "etag": etag}: all of them
 * (parent NULL), or those that name parent among their parents (a split
 * range's children).
 */
static enum es_status range_entries(struct cosmos_store *s, const char *parent,
                                    json_t *etag, json_t **out, struct es_io *io,
                                    struct es_error *err)
{
    json_t *listed = NULL;
    enum es_status st = list_ranges(s, &listed, io, err);
    if (st != ES_OK)
        return st;
    json_t *entries = json_array();
    size_t k;
    json_t *r;
    json_array_foreach(listed, k, r)
    {
        bool child = parent == NULL;
        size_t j;
        json_t *p;
        json_array_foreach(json_object_get(r, "parents"), j, p)
        {
            child = child || strcmp(json_string_value(p), parent) == 0;
        }
        json_t *entry =
            child ? json_pack("{s:O, s:O}", "id", json_object_get(r, "id"), "etag", etag)
                  : NULL;
        /* jansson refuses a NULL entry, and drops the entry of a NULL array. */
        if (child && json_array_append_new(entries, entry) != 0)
            st = ES_ENOMEM;
    }
    json_decref(listed);
    if (st != ES_OK) {
        json_decref(entries);
        return st;
    }
    *out = entries;
    return ES_OK;
}

/* Replaces ranges[i], split, by its children, each read from its etag. */
static enum es_status follow_split(struct cosmos_store *s, json_t *ranges, size_t i,
                                   struct es_io *io, struct es_error *err)
{
    json_t *gone = json_array_get(ranges, i);
    const char *id = json_string_value(json_object_get(gone, "id"));
    json_t *children = NULL;
    enum es_status st =
        range_entries(s, id, json_object_get(gone, "etag"), &children, io, err);
    if (st == ES_OK && json_array_size(children) == 0)
        st =
            es_error_set(err, ES_EIO,
                         "partition key range '%s' of the events container is gone (410) "
                         "and no listed range names it as a parent",
                         id);
    if (st == ES_OK && json_array_remove(ranges, i) != 0) /* gone and id with it */
        st = ES_ENOMEM;
    size_t k;
    json_t *r;
    json_array_foreach(children, k, r)
    {
        if (st == ES_OK && json_array_insert(ranges, i + k, r) != 0)
            st = ES_ENOMEM;
    }
    json_decref(children);
    return st;
}

/* The cursor as text (NULL: a new scan, from the ranges listed now) as a JSON object. */
static enum es_status scan_cursor(struct cosmos_store *s, const char *text, json_t **out,
                                  struct es_io *io, struct es_error *err)
{
    json_t *cur = NULL;
    if (text == NULL) {
        json_t *ranges = NULL;
        enum es_status st = range_entries(s, NULL, json_null(), &ranges, io, err);
        if (st == ES_OK &&
            (cur = json_pack("{s:o, s:i}", "ranges", ranges, "i", 0)) == NULL)
            st = ES_ENOMEM;
        *out = cur;
        return st;
    }
    const char *bad = "not a scan cursor of this store";
    enum es_status parsed =
        es_json_parse(text, strlen(text), ES_JSON_LOAD_FLAGS, &cur, NULL);
    if (parsed != ES_OK)
        return parsed == ES_ENOMEM ? parsed : es_error_set(err, ES_EINVAL, "%s", bad);
    json_t *ranges = json_object_get(cur, "ranges");
    json_int_t i = json_integer_value(json_object_get(cur, "i"));
    const json_t *etag = json_object_get(cur, "etag"); /* earlier versions */
    enum es_status st = ES_OK;
    if (!json_is_array(ranges) || json_array_size(ranges) == 0 ||
        !json_is_integer(json_object_get(cur, "i")) || i < 0 ||
        (size_t)i >= json_array_size(ranges) ||
        (etag != NULL && !json_is_string(etag) && !json_is_null(etag)))
        st = es_error_set(err, ES_EINVAL, "%s", bad);
    size_t k;
    json_t *r;
    json_array_foreach(ranges, k, r)
    {
        if (st != ES_OK)
            break;
        if (json_is_string(r)) { /* earlier versions: the ids, and the etag of the i-th */
            json_t *entry =
                json_pack("{s:O, s:O}", "id", r, "etag",
                          k == (size_t)i && etag != NULL ? etag : json_null());
            if (entry == NULL || json_array_set_new(ranges, k, entry) != 0)
                st = ES_ENOMEM;
            continue;
        }
        const char *id = json_string_value(json_object_get(r, "id"));
        const json_t *e = json_object_get(r, "etag");
        if (id == NULL || id[0] == '\0' || strlen(id) > 64 ||
            !(json_is_string(e) || json_is_null(e)))
            st = es_error_set(err, ES_EINVAL, "%s", bad);
    }
    if (st == ES_OK && etag != NULL && json_object_del(cur, "etag") != 0)
        st = ES_ENOMEM;
    if (st != ES_OK) {
        json_decref(cur);
        return st;
    }
    *out = cur;
    return ES_OK;
}

static enum es_status co_events_scan(struct es_store *base, char **cursor, size_t max,
                                     struct es_event_page *out, size_t *skipped,
                                     struct es_io *io, struct es_error *err)
{
    struct cosmos_store *s = from(base);
    memset(out, 0, sizeof(*out));
    *skipped = 0;
    json_t *cur = NULL;
    enum es_status st = scan_cursor(s, *cursor, &cur, io, err);
    json_t *ranges = json_object_get(cur, "ranges");
    /* Each range to its end in turn, until a page holds events or the last range ends. */
    for (int splits = 0; st == ES_OK && out->n == 0;) {
        size_t i = (size_t)json_integer_value(json_object_get(cur, "i"));
        json_t *range = json_array_get(ranges, i);
        char *next = NULL;
        size_t passed = 0;
        bool gone = false;
        st = feed_page(s, json_string_value(json_object_get(range, "id")),
                       json_string_value(json_object_get(range, "etag")), max, out,
                       &passed, &next, &gone, io, err);
        *skipped += passed;
        if (st == ES_OK && gone)
            st =
                ++splits > SCAN_SPLITS_MAX
                    ? es_error_set(err, ES_EUNAVAILABLE,
                                   "the events container split %d times during one read: "
                                   "run it again",
                                   SCAN_SPLITS_MAX)
                    : follow_split(s, ranges, i, io, err);
        else if (st == ES_OK && next != NULL) {
            if (json_object_set_new(range, "etag", json_string(next)) != 0)
                st = ES_ENOMEM;
        } else if (st == ES_OK) {
            /* At its end: the next range, or past the last, back to the first. */
            bool last = i + 1 == json_array_size(ranges);
            if (json_object_set_new(cur, "i", json_integer(last ? 0 : (json_int_t)i + 1)))
                st = ES_ENOMEM;
            if (last)
                break;
            continue;
        }
        free(next);
    }
    char *text = st == ES_OK ? es_json_dumps(cur, NULL) : NULL;
    if (st == ES_OK && text == NULL)
        st = ES_ENOMEM;
    json_decref(cur);
    if (st != ES_OK) {
        es_event_page_release(out);
        return st;
    }
    free(*cursor);
    *cursor = text;
    return ES_OK;
}

static enum es_status co_events_count(struct es_store *base, int64_t *n, struct es_io *io,
                                      struct es_error *err)
{
    struct cosmos_store *s = from(base);
    json_t *q =
        json_pack("{s:s, s:[]}", "query",
                  "SELECT VALUE COUNT(1) FROM c WHERE c.kind = 'event'", "parameters");
    json_t *docs = json_array();
    enum es_status st = q != NULL && docs != NULL ? query(s, s->events_link, NULL, q,
                                                          NULL, 1000, docs, NULL, io, err)
                                                  : ES_ENOMEM;
    /* A count across partitions may come back as one partial count per partition. */
    int64_t total = 0;
    size_t i;
    json_t *v;
    json_array_foreach(docs, i, v) total +=
        json_is_integer(v) ? json_integer_value(v) : 0;
    json_decref(q);
    json_decref(docs);
    if (st == ES_OK)
        *n = total;
    return st;
}

/* ---- lifecycle ---- */

static void co_close(struct es_store *base)
{
    struct cosmos_store *s = from(base);
    cosmos_client_free(s->client);
    free(s->database);
    free(s);
}

static const struct es_store_ops cosmos_ops = {
    .name = "cosmos",
    .append = co_append,
    .read_stream = co_read_stream,
    .has_version = co_has_version,
    .read_snapshot = co_read_snapshot,
    .read_receipt = co_read_receipt,
    .view_get = co_view_get,
    .view_put = co_view_put,
    .views_put = co_views_put,
    .view_query = co_view_query,
    .deadletter_put = co_deadletter_put,
    .deadletter_query = co_deadletter_query,
    .deadletter_get = co_deadletter_get,
    .deadletter_delete = co_deadletter_delete,
    .events_scan = co_events_scan,
    .events_count = co_events_count,
    .close = co_close,
};

enum es_status es_store_cosmos_open(const struct es_config *cfg, struct es_store **out,
                                    struct es_error *err)
{
    struct cosmos_opts opts;
    cosmos_opts_defaults(&opts);
    opts.endpoint = cfg->cosmos_endpoint;
    opts.key = cfg->cosmos_key;
    opts.identity_endpoint = cfg->identity_endpoint;
    opts.identity_header = cfg->identity_header;
    opts.identity_client_id = cfg->identity_client_id;
    opts.identity_resource_id = cfg->identity_resource_id;
    opts.connect_timeout_ms = cfg->cosmos_connect_timeout_ms;
    opts.request_timeout_ms = cfg->cosmos_request_timeout_ms;
    opts.retry_budget_ms = cfg->cosmos_retry_budget_ms;
    opts.max_retries = cfg->cosmos_max_retries;
    opts.tls_verify = cfg->cosmos_tls_verify;
    struct cosmos_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ES_ENOMEM;
    s->base.ops = &cosmos_ops;
    s->keyless = cfg->cosmos_key == NULL;
    s->client = cosmos_client_new(&opts, err);
    s->database = strdup(cfg->cosmos_database);
    if (s->client == NULL || s->database == NULL) {
        co_close(&s->base);
        return es_error_set(err, ES_EINVAL, "cannot open the Cosmos DB store");
    }
    /* Names are checked by the settings (at most 255 characters), so these fit. */
    if (es_fmt(s->db_link, sizeof(s->db_link), "dbs/%s", cfg->cosmos_database) != ES_OK ||
        es_fmt(s->events_link, sizeof(s->events_link), "%s/colls/%s", s->db_link,
               cfg->events_container) != ES_OK ||
        es_fmt(s->views_link, sizeof(s->views_link), "%s/colls/%s", s->db_link,
               cfg->views_container) != ES_OK ||
        es_fmt(s->dead_link, sizeof(s->dead_link), "%s/colls/%s", s->db_link,
               cfg->deadletters_container) != ES_OK ||
        es_fmt(s->leases_link, sizeof(s->leases_link), "%s/colls/%s", s->db_link,
               cfg->leases_container) != ES_OK) {
        co_close(&s->base);
        return es_error_set(err, ES_EINVAL,
                            "a Cosmos DB database or container name is "
                            "longer than 255 characters");
    }
    *out = &s->base;
    return ES_OK;
}

/* Creates a resource with POST; 201 (created) and 409 (exists) are both fine. */
static enum es_status create_if_missing(struct cosmos_store *s, const char *type,
                                        const char *parent_link, json_t *body_new,
                                        const char *what, struct es_error *err)
{
    size_t len = 0;
    char *body = es_json_dumps(body_new, &len);
    json_decref(body_new);
    if (body == NULL)
        return ES_ENOMEM;
    struct cosmos_request req = {.method = "POST",
                                 .resource_type = type,
                                 .resource_link = parent_link,
                                 .feed = true,
                                 .body = body,
                                 .body_len = len,
                                 .idempotent = true};
    struct cosmos_response r;
    enum es_status st = cosmos_execute(s->client, &req, &r, NULL, err);
    if (st == ES_OK && (r.status == 201 || r.status == 409))
        es_log_info("cosmos init: %s %s", what,
                    r.status == 201 ? "created" : "already exists");
    else if (st == ES_OK)
        st = fail(&r, what, err);
    cosmos_response_release(&r);
    free(body);
    return st;
}

/* Is the resource at link there? ES_OK, ES_ENOTFOUND, or a failure. */
static enum es_status exists(struct cosmos_store *s, const char *type, const char *link,
                             const char *what, struct es_error *err)
{
    struct cosmos_request req = {.method = "GET",
                                 .resource_type = type,
                                 .resource_link = link,
                                 .idempotent = true};
    struct cosmos_response r;
    enum es_status st = cosmos_execute(s->client, &req, &r, NULL, err);
    if (st == ES_OK && r.status == 404)
        st = ES_ENOTFOUND;
    else if (st == ES_OK && r.status != 200)
        st = fail(&r, what, err);
    cosmos_response_release(&r);
    return st;
}

/*
 * With a managed identity, Cosmos DB serves data only: creating a database or a
 * container needs the account key or the control plane (ARM, as infra/ does).
 * So init checks what exists and names what is missing.
 */
static enum es_status init_keyless(struct cosmos_store *s, const char *const *links,
                                   size_t n, struct es_error *err)
{
    char missing[1200] = "";
    size_t used = 0;
    enum es_status st = exists(s, "dbs", s->db_link, "read the database", err);
    if (st == ES_ENOTFOUND) {
        used = strlen(s->db_link);
        memcpy(missing, s->db_link, used + 1);
    }
    for (size_t i = 0; (st == ES_OK || st == ES_ENOTFOUND) && i < n; i++) {
        enum es_status c = st == ES_ENOTFOUND
                               ? ES_ENOTFOUND
                               : exists(s, "colls", links[i], "read a container", err);
        if (c == ES_ENOTFOUND && used < sizeof(missing) &&
            es_fmt(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "",
                   links[i]) == ES_OK)
            used = strlen(missing);
        if (c != ES_OK && c != ES_ENOTFOUND)
            st = c;
    }
    if (st != ES_OK && st != ES_ENOTFOUND)
        return st;
    if (used > 0)
        return es_error_set(
            err, ES_ENOTFOUND,
            "missing %s: a managed identity cannot create databases or containers "
            "(Cosmos "
            "DB refuses that with an Entra token); deploy infra/ (azd provision), or run "
            "'handler init' with CosmosDB='AccountEndpoint=...;AccountKey=...;'",
            missing);
    es_log_info("cosmos init: the database and its containers exist (checked with the "
                "managed identity, which cannot create them; infra/ does)");
    return ES_OK;
}

enum es_status es_store_cosmos_init(struct es_store *base, struct es_error *err)
{
    struct cosmos_store *s = from(base);
    const char *links[] = {s->events_link, s->views_link, s->leases_link, s->dead_link};
    /* The views' is VIEWS_PK_PATH, spelt out for tests/infra/check.sh. */
    const char *keys[] = {"/streamId", "/partitionKey", "/id", "/streamId"};
    if (s->keyless)
        return init_keyless(s, links, 4, err);
    char what[400];
    snprintf(what, sizeof(what), "database '%s'", s->database);
    enum es_status st =
        create_if_missing(s, "dbs", "", json_pack("{s:s}", "id", s->database), what, err);
    for (size_t i = 0; st == ES_OK && i < 4; i++) {
        const char *name = strrchr(links[i], '/') + 1;
        snprintf(what, sizeof(what), "container '%s' (partition key %s)", name, keys[i]);
        st = create_if_missing(s, "colls", s->db_link,
                               json_pack("{s:s, s:{s:[s], s:s, s:i}}", "id", name,
                                         "partitionKey", "paths", keys[i], "kind", "Hash",
                                         "version", 2),
                               what, err);
    }
    return st;
}

/*
 * Is the views container there, and partitioned as this version keeps views?
 * ES_ENOTFOUND when it is missing; ES_EINVAL, saying how to move, when its
 * partition key path is another (views of earlier versions: /id).
 */
static enum es_status views_layout(struct cosmos_store *s, struct es_error *err)
{
    struct cosmos_request req = {.method = "GET",
                                 .resource_type = "colls",
                                 .resource_link = s->views_link,
                                 .idempotent = true};
    struct cosmos_response r;
    enum es_status st = cosmos_execute(s->client, &req, &r, NULL, err);
    json_t *coll = NULL;
    if (st == ES_OK && r.status == 404) {
        st = ES_ENOTFOUND;
    } else if (st == ES_OK && r.status != 200) {
        st = fail(&r, "read the views container", err);
    } else if (st == ES_OK) {
        st = es_json_parse(r.body, r.body_len, ES_JSON_LOAD_FLAGS, &coll, NULL);
        const char *path = json_string_value(json_array_get(
            json_object_get(json_object_get(coll, "partitionKey"), "paths"), 0));
        if (st == ES_OK && (path == NULL || strcmp(path, VIEWS_PK_PATH) != 0))
            st = es_error_set(
                err, ES_EINVAL,
                "the views container '%s' has partition key %s, and views are now kept "
                "under " VIEWS_PK_PATH ", so that a list's views are written in one "
                "batch: rebuild them into a new container ('handler rebuild --into "
                "NAME') and set VIEWS_CONTAINER to it (docs/operations.md, \"Moving the "
                "views\")",
                s->views_link, path != NULL ? path : "(none)");
        else if (st == ES_EJSON)
            st = es_error_set(err, ES_EIO,
                              "cannot read the views container: malformed "
                              "JSON");
    }
    json_decref(coll);
    cosmos_response_release(&r);
    return st;
}

enum es_status es_store_cosmos_views_ready(struct es_store *base, bool *created,
                                           struct es_error *err)
{
    struct cosmos_store *s = from(base);
    *created = false;
    enum es_status st = views_layout(s, err);
    if (st != ES_ENOTFOUND)
        return st;
    if (s->keyless)
        return es_error_set(
            err, ES_ENOTFOUND,
            "the views container '%s' does not exist, and a managed "
            "identity cannot create it: create it with partition key " VIEWS_PK_PATH
            " (infra/, the portal, or az cosmosdb sql "
            "container create)",
            s->views_link);
    const char *name = strrchr(s->views_link, '/') + 1;
    char what[400];
    snprintf(what, sizeof(what), "container '%s' (partition key " VIEWS_PK_PATH ")",
             name);
    st = create_if_missing(s, "colls", s->db_link,
                           json_pack("{s:s, s:{s:[s], s:s, s:i}}", "id", name,
                                     "partitionKey", "paths", VIEWS_PK_PATH, "kind",
                                     "Hash", "version", 2),
                           what, err);
    *created = st == ES_OK;
    return st;
}

enum es_status es_store_cosmos_check(struct es_store *base, struct es_error *err)
{
    struct cosmos_store *s = from(base);
    struct cosmos_request req = {.method = "GET",
                                 .resource_type = "colls",
                                 .resource_link = s->events_link,
                                 .idempotent = true};
    struct cosmos_response r;
    enum es_status st = cosmos_execute(s->client, &req, &r, NULL, err);
    if (st == ES_OK && r.status == 404)
        st = es_error_set(
            err, ES_ENOTFOUND,
            "the events container '%s' does not exist (run 'handler init' for a "
            "local account, or deploy the infrastructure)",
            s->events_link);
    else if (st == ES_OK && r.status != 200)
        st = fail(&r, "read the events container", err);
    cosmos_response_release(&r);
    if (st == ES_OK && (st = views_layout(s, err)) == ES_ENOTFOUND)
        st = es_error_set(err, ES_ENOTFOUND, "the views container '%s' does not exist",
                          s->views_link);
    return st;
}

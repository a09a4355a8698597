/*
 * store.h - the event store behind an ops table; SQLite (store_sqlite.c) and
 * Cosmos DB (store_cosmos.c) implement it, and one shared test suite checks
 * both against the same contract.
 *
 * Streams: an append writes events at expected_version + 1, + 2, ... all or
 * nothing, together with an optional idempotency receipt and an optional
 * snapshot. A version already taken (someone else appended) or a receipt
 * already present makes the whole append fail with ES_ECONFLICT and says
 * which. Versions are 1-based and gap-free. Reads return events in version
 * order, paged.
 *
 * The read side keeps views (JSON documents replaced under an etag), a
 * change feed with a global sequence and checkpoints (embedded store only;
 * on Cosmos DB the Functions host owns the feed), and dead letters.
 *
 * Every operation takes an optional struct es_io that accumulates what it
 * cost (round trips, events read, request charge), so a command can report
 * its own figures, and an optional struct es_error. Errors: ES_ENOTFOUND,
 * ES_ECONFLICT, ES_EPRECONDITION as documented per operation; ES_EUNAVAILABLE
 * when the store cannot be reached or is throttling beyond the retry budget
 * (the caller answers 503); ES_EUNKNOWN when an append may have been applied
 * but the store could not tell (its reply was lost and reading it back failed:
 * the caller answers 503 and must not say nothing was appended); ES_EIO for
 * anything else.
 */
#ifndef ES_STORE_STORE_H
#define ES_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/io.h"
#include "util/status.h"

/* An event as stored. */
struct es_event {
    char *stream_id;
    int64_t version; /* 1-based position in its stream */
    char *type;      /* stable name, e.g. "ItemAdded" */
    int schema;      /* version of the data layout, for upcasting */
    json_t *data;    /* object */
    json_t *meta;    /* object: occurredAt, correlationId, causationId, idempotencyKey */
    int64_t seq;     /* global position in the change feed (embedded store), else 0 */
};

/* An event to append (all borrowed). */
struct es_new_event {
    const char *type;
    int schema;
    const json_t *data;
    const json_t *meta;
};

struct es_snapshot {
    int64_t version; /* the stream version the state reflects */
    int schema;      /* format of state */
    json_t *state;
};

/* The stored outcome of a command sent with an Idempotency-Key. */
struct es_receipt {
    char *key;
    int status;         /* HTTP status of the original answer */
    char *body;         /* its body */
    int64_t version;    /* its ETag */
    char *location;     /* its Location header, or NULL */
    char *request_hash; /* hex SHA-256 of method, path and body */
    char *created_at;   /* RFC 3339 */
};

struct es_append {
    const char *stream_id;
    int64_t expected_version; /* the stream's version before the append */
    const struct es_new_event *events;
    size_t n_events;                    /* at least 1 */
    const struct es_receipt *receipt;   /* created with the events, or NULL */
    const struct es_snapshot *snapshot; /* written with the events, or NULL */
};

enum es_conflict { ES_CONFLICT_NONE, ES_CONFLICT_VERSION, ES_CONFLICT_RECEIPT };

/* What operations cost; each operation adds to it. */
struct es_event_page {
    struct es_event *events;
    size_t n;
};

/* One view of a views_put. */
struct es_view_write {
    const json_t *doc;    /* with "id" and "view" */
    const char *if_match; /* NULL: create it */
    char *etag;           /* out, when all were written: the new etag (malloc'd) */
    size_t bytes;         /* out, likewise: its size as stored JSON */
};

struct es_store;

struct es_store_ops {
    const char *name;

    /*
     * ES_ECONFLICT with *conflict telling a taken version from an existing receipt;
     * ES_EUNKNOWN when it may or may not have been applied.
     */
    enum es_status (*append)(struct es_store *s, const struct es_append *a,
                             enum es_conflict *conflict, struct es_io *io,
                             struct es_error *err) ES_MUST_CHECK;
    /* Events with version >= from_version, at most max, in version order. */
    enum es_status (*read_stream)(struct es_store *s, const char *stream_id,
                                  int64_t from_version, size_t max,
                                  struct es_event_page *out, struct es_io *io,
                                  struct es_error *err) ES_MUST_CHECK;
    /*
     * ES_OK when the stream holds an event at version, ES_ENOTFOUND when it
     * does not: asked of the latest state, not of a copy that may lag (on
     * Cosmos DB, of the partition's primary), so "not found" proves that
     * nobody has appended past version - 1.
     */
    enum es_status (*has_version)(struct es_store *s, const char *stream_id,
                                  int64_t version, struct es_io *io,
                                  struct es_error *err) ES_MUST_CHECK;
    /* ES_ENOTFOUND when the stream has no snapshot. */
    enum es_status (*read_snapshot)(struct es_store *s, const char *stream_id,
                                    struct es_snapshot *out, struct es_io *io,
                                    struct es_error *err) ES_MUST_CHECK;
    /* ES_ENOTFOUND when the stream has no receipt for key (asked of the latest state). */
    enum es_status (*read_receipt)(struct es_store *s, const char *stream_id,
                                   const char *key, struct es_receipt *out,
                                   struct es_io *io, struct es_error *err) ES_MUST_CHECK;

    /* A view document and its etag (malloc'd); ES_ENOTFOUND. */
    enum es_status (*view_get)(struct es_store *s, const char *id, json_t **doc,
                               char **etag, struct es_io *io,
                               struct es_error *err) ES_MUST_CHECK;
    /*
     * Writes a view document (its "id" and "view" fields are required).
     * if_match NULL: create, ES_ECONFLICT when it exists. Else replace only if
     * the stored etag equals if_match: ES_EPRECONDITION otherwise, ES_ENOTFOUND
     * when it is gone. *etag_out (malloc'd, optional) is the new etag.
     */
    enum es_status (*view_put)(struct es_store *s, const json_t *doc,
                               const char *if_match, char **etag_out, struct es_io *io,
                               struct es_error *err) ES_MUST_CHECK;
    /*
     * Writes several views of one partition (es_view_partition of their ids)
     * all or nothing, each under its own condition as view_put writes one: one
     * transactional batch on Cosmos DB, one transaction on SQLite. ES_OK: all
     * are written, each w[i].etag is its new etag (malloc'd) and w[i].bytes its
     * size as stored. ES_ECONFLICT,
     * ES_EPRECONDITION or ES_ENOTFOUND: w[*refused] was refused (as view_put
     * says) and none was written. ES_EINVAL when n is 0 or above
     * ES_STORE_BATCH_MAX_OPS, or the partitions differ; ES_ETOOBIG when they
     * pass ES_STORE_BATCH_MAX_BYTES together (write them one by one). Any
     * other failure is view_put's: nothing is known to be written.
     */
    enum es_status (*views_put)(struct es_store *s, struct es_view_write *w, size_t n,
                                size_t *refused, struct es_io *io,
                                struct es_error *err) ES_MUST_CHECK;
    /*
     * Views whose "view" field equals kind, at most limit, after the opaque
     * continuation (NULL for the first page). *next is NULL on the last page.
     */
    enum es_status (*view_query)(struct es_store *s, const char *kind,
                                 const char *continuation, size_t limit, json_t **docs,
                                 char **next, struct es_io *io,
                                 struct es_error *err) ES_MUST_CHECK;

    /* Change feed: events with seq > after_seq in seq order (NULL when unsupported). */
    enum es_status (*feed_read)(struct es_store *s, int64_t after_seq, size_t max,
                                struct es_event_page *out, struct es_io *io,
                                struct es_error *err) ES_MUST_CHECK;
    /* A named checkpoint; 0 when never written. */
    enum es_status (*checkpoint_get)(struct es_store *s, const char *name, int64_t *seq,
                                     struct es_io *io,
                                     struct es_error *err) ES_MUST_CHECK;
    enum es_status (*checkpoint_put)(struct es_store *s, const char *name, int64_t seq,
                                     struct es_io *io,
                                     struct es_error *err) ES_MUST_CHECK;

    /* Writes a dead letter (its "id" and "streamId" are required); replaces one with its
     * id. */
    enum es_status (*deadletter_put)(struct es_store *s, const json_t *doc,
                                     struct es_io *io,
                                     struct es_error *err) ES_MUST_CHECK;
    /* Dead letters in id order, paged like view_query. */
    enum es_status (*deadletter_query)(struct es_store *s, const char *continuation,
                                       size_t limit, json_t **docs, char **next,
                                       struct es_io *io,
                                       struct es_error *err) ES_MUST_CHECK;
    /*
     * The dead letter with id (a new reference, as stored: read it as input);
     * ES_ENOTFOUND when there is none. Its stream is the id up to the first
     * ':' (es_deadletter_stream), which is how Cosmos DB finds its partition.
     */
    enum es_status (*deadletter_get)(struct es_store *s, const char *id, json_t **doc,
                                     struct es_io *io,
                                     struct es_error *err) ES_MUST_CHECK;
    /* Removes the dead letter with id; ES_ENOTFOUND when there is none. */
    enum es_status (*deadletter_delete)(struct es_store *s, const char *id,
                                        struct es_io *io,
                                        struct es_error *err) ES_MUST_CHECK;

    /*
     * Every event of the store from the start, page by page, for a rebuild
     * (es/rebuild.h). *cursor is NULL at the start and replaced (malloc'd,
     * text) after each page; kept, it goes on from there in a later run. The
     * order keeps each stream's versions ascending: SQLite's global order;
     * on Cosmos DB each partition key range's change feed in turn. An empty
     * page is the end as of now (the same cursor later finds what was appended
     * since). A page holds about max events (Cosmos DB never splits the
     * documents of one append across pages). Documents that are not well-formed events
     * are passed over and counted in *skipped. ES_EINVAL when cursor is not one this
     * store gave.
     */
    enum es_status (*events_scan)(struct es_store *s, char **cursor, size_t max,
                                  struct es_event_page *out, size_t *skipped,
                                  struct es_io *io, struct es_error *err) ES_MUST_CHECK;
    /* How many events the store holds, for progress (Cosmos DB: a count query). */
    enum es_status (*events_count)(struct es_store *s, int64_t *n, struct es_io *io,
                                   struct es_error *err) ES_MUST_CHECK;

    void (*close)(struct es_store *s);
};

struct es_store {
    const struct es_store_ops *ops;
};

/* Closes a store; NULL is a no-op. */
void es_store_close(struct es_store *s);

/*
 * SQLite at path, its folder created when missing (":memory:" is not supported:
 * connections must share the file).
 */
enum es_status es_store_sqlite_open(const char *path, struct es_store **out,
                                    struct es_error *err) ES_MUST_CHECK;

/*
 * The views table a rebuild fills on SQLite (es_store_sqlite_open_views), and
 * swaps in for "views" when it is complete.
 */
#define ES_SQLITE_REBUILD_TABLE "views_rebuild"

/*
 * SQLite at path, with its view operations (view_get, view_put, view_query)
 * on table instead of "views": the table and its index are created when
 * missing, and *existed says whether the table was there already. Every
 * other operation is the store's own.
 */
enum es_status es_store_sqlite_open_views(const char *path, const char *table,
                                          struct es_store **out, bool *existed,
                                          struct es_error *err) ES_MUST_CHECK;

/*
 * Makes the views table of s (opened by es_store_sqlite_open_views) the
 * store's "views", in one transaction that also holds every writer off: only
 * when no event was appended after the scan cursor (events_scan's; NULL: the
 * store was empty) - ES_ECONFLICT otherwise, and nothing changes: fold the
 * events after it, then try again. Its
 * documents of kind "_rebuild" are left out, and its etags are moved past
 * the old table's, so that a writer holding an etag of the old table meets a
 * 412 rather than a match by chance. The old views are dropped.
 */
enum es_status es_store_sqlite_swap_views(struct es_store *s, const char *cursor,
                                          struct es_error *err) ES_MUST_CHECK;

/* ---- stored formats: ids ---- */

/*
 * The service's limits, held by every back end alike, so that what Azure
 * refuses is refused the same way on the embedded store: a document is at
 * most 2 MiB of JSON, and an append (one transactional batch: its receipt,
 * the read of the previous event, its events and its snapshot) at most 100
 * operations and 2 MiB (docs/event-store.md, "Limits").
 */
#define ES_STORE_DOC_MAX_BYTES   (2u << 20)
#define ES_STORE_BATCH_MAX_OPS   100
#define ES_STORE_BATCH_MAX_BYTES (2u << 20)

/*
 * ES_ETOOBIG (with a message naming what and the limit) when doc, as compact
 * JSON, passes ES_STORE_DOC_MAX_BYTES; a back end checks before it writes.
 * *size (optional) gets that size.
 */
enum es_status es_doc_fits(const json_t *doc, const char *what, size_t *size,
                           struct es_error *err) __attribute__((warn_unused_result));

/*
 * The partition of the view with id: what follows its first ':' (a view id
 * is a projection's prefix, "todolist:", then the aggregate's id), so that
 * every view of one aggregate shares a partition and can be written in one
 * transactional batch. An id with no ':', or nothing after it, is its own
 * partition. Cosmos DB keeps it in the document's "partitionKey" (the views
 * container's partition key path), which readers never see.
 */
const char *es_view_partition(const char *id);

/* Room for any document id: Cosmos DB ids are at most 1,023 bytes. */
#define ES_DOC_ID_MAX 1024

/*
 * What a stored event may be, checked on everything read back or delivered by
 * the change feed (which is input like any other): stream ids are 1 to
 * ES_STREAM_ID_MAX of [A-Za-z0-9_-], types 1 to ES_EVENT_TYPE_MAX of
 * [A-Za-z0-9_.-], versions 1 to 2^53 (the largest integer every JSON reader
 * keeps exact).
 */
#define ES_STREAM_ID_MAX  128
#define ES_EVENT_TYPE_MAX 64
#define ES_VERSION_MAX    (INT64_C(1) << 53)

/* A stream id by the rule above (NULL is not). */
bool es_stream_id_valid(const char *s);

/*
 * The stream of the dead letter with id ("{streamId}:...": stream ids hold no
 * ':'), into out. ES_EINVAL when id has no ':' or the part before it does not
 * fit in out_len bytes or is empty.
 */
enum es_status es_deadletter_stream(const char *id, char *out,
                                    size_t out_len) ES_MUST_CHECK;

/*
 * "{streamId}:{version}" - the event document id, so a taken version collides.
 * ES_ETOOBIG (and "") when it does not fit in out_len bytes.
 */
enum es_status es_event_id(const char *stream_id, int64_t version, char *out,
                           size_t out_len) ES_MUST_CHECK;

/* ---- memory ---- */

void es_event_release(struct es_event *e);

/* qsort's order of struct es_event: by stream id, then version. */
int es_event_cmp(const void *a, const void *b);
void es_event_page_release(struct es_event_page *p);
void es_snapshot_release(struct es_snapshot *s);
void es_receipt_release(struct es_receipt *r);

/*
 * An event as the JSON document stored on Cosmos DB and delivered by the change feed;
 * NULL on ENOMEM or when its id would be longer than a document id may be.
 */
json_t *es_event_to_doc(const struct es_event *e);

/* Reads an event document; ES_EFIELD when it is not a well-formed event (rules above). */
enum es_status es_event_from_doc(const json_t *doc, struct es_event *out,
                                 struct es_error *err) ES_MUST_CHECK;

#endif

/*
 * store_sqlite.c - the embedded store: one SQLite file in WAL mode.
 *
 * Tables mirror the Cosmos DB documents (see store.c for the event format):
 *   events       seq (global change-feed position), stream_id, version
 *                (UNIQUE per stream: the concurrency check), type, schema,
 *                data, meta
 *   snapshots    one row per stream: version, schema, state
 *   receipts     (stream_id, key) primary key: the idempotency receipts
 *   views        id, kind, etag (a counter bumped by every write), doc
 *   checkpoints  name -> seq, for the change-feed pump
 *   deadletters  id, stream_id, doc
 * An append is one IMMEDIATE transaction, so it is atomic and durable at
 * COMMIT (synchronous=FULL: an acknowledged append survives a crash or a
 * power cut). Connections come from a small pool, one per concurrent caller;
 * WAL lets readers run beside the single writer.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/jsonutil.h"
#include "util/text.h"
#include "store.h"

#define POOL_MAX        16
#define BUSY_TIMEOUT_MS 10000

struct sqlite_store {
    struct es_store base;
    char *path;
    char views[64]; /* the views table: "views", or a rebuild's (store.h) */
    pthread_mutex_t lock;
    /*
     * Held by this process's one writer at a time (SQLite lets one write at
     * once): a second writer waits here for the COMMIT, not in SQLite's busy
     * handler, which polls with sleeps of 1 ms and up.
     */
    pthread_mutex_t write_lock;
    sqlite3 *idle[POOL_MAX];
    size_t n_idle;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS events ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL,"
    " version INTEGER NOT NULL, type TEXT NOT NULL, schema INTEGER NOT NULL,"
    " data TEXT NOT NULL, meta TEXT NOT NULL, UNIQUE (stream_id, version));"
    "CREATE TABLE IF NOT EXISTS snapshots ("
    " stream_id TEXT PRIMARY KEY, version INTEGER NOT NULL, schema INTEGER NOT NULL,"
    " state TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS receipts ("
    " stream_id TEXT NOT NULL, key TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT "
    "NULL,"
    " version INTEGER NOT NULL, location TEXT, request_hash TEXT NOT NULL,"
    " created_at TEXT NOT NULL, PRIMARY KEY (stream_id, key));"
    "CREATE TABLE IF NOT EXISTS views ("
    " id TEXT PRIMARY KEY, kind TEXT NOT NULL, etag INTEGER NOT NULL, doc TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS views_by_kind ON views (kind, id);"
    "CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, seq INTEGER NOT "
    "NULL);"
    "CREATE TABLE IF NOT EXISTS deadletters ("
    " id TEXT PRIMARY KEY, stream_id TEXT NOT NULL, doc TEXT NOT NULL);";

static enum es_status sql_error(sqlite3 *db, int rc, const char *what,
                                struct es_error *err)
{
    int base = rc & 0xff;
    enum es_status st = (base == SQLITE_BUSY || base == SQLITE_LOCKED) ? ES_EUNAVAILABLE
                        : base == SQLITE_NOMEM                         ? ES_ENOMEM
                                                                       : ES_EIO;
    return es_error_set(err, st, "cannot %s in the SQLite store: %s", what,
                        db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static enum es_status open_conn(struct sqlite_store *s, sqlite3 **out,
                                struct es_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
        NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
        rc = sqlite3_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;", NULL,
                          NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        enum es_status st = sql_error(db, rc, "open the database", err);
        sqlite3_close(db);
        return st;
    }
    *out = db;
    return ES_OK;
}

static enum es_status conn_get(struct sqlite_store *s, sqlite3 **out,
                               struct es_error *err)
{
    pthread_mutex_lock(&s->lock);
    sqlite3 *db = s->n_idle > 0 ? s->idle[--s->n_idle] : NULL;
    pthread_mutex_unlock(&s->lock);
    if (db != NULL) {
        *out = db;
        return ES_OK;
    }
    return open_conn(s, out, err);
}

static void conn_put(struct sqlite_store *s, sqlite3 *db)
{
    pthread_mutex_lock(&s->lock);
    if (s->n_idle < POOL_MAX) {
        s->idle[s->n_idle++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    sqlite3_close(db);
}

static struct sqlite_store *from(struct es_store *s)
{
    return (struct sqlite_store *)s;
}

static void count(struct es_io *io)
{
    if (io != NULL)
        io->round_trips++;
}

/* ---- statements ---- */

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s != NULL ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT)
                     : sqlite3_bind_null(st, i);
}

static int bind_json(sqlite3_stmt *st, int i, const json_t *v)
{
    size_t len = 0;
    char *text = es_json_dumps(v, &len);
    if (text == NULL)
        return SQLITE_NOMEM;
    return sqlite3_bind_text(st, i, text, (int)len, free);
}

/*
 * Column readers. Out of memory is told apart from what is stored, so a failed
 * read is never taken for a malformed row, nor a row for absent: ES_ENOMEM,
 * ES_EIO (the column is not what it should be), or ES_OK.
 */

/* A copy of a text column into *out; NULL (and ES_OK) for SQL NULL. */
static enum es_status column_dup(sqlite3_stmt *st, int i, char **out)
{
    *out = NULL;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (t == NULL)
        return sqlite3_column_type(st, i) == SQLITE_NULL ? ES_OK : ES_ENOMEM;
    *out = strdup((const char *)t);
    return *out != NULL ? ES_OK : ES_ENOMEM;
}

/* A text column that must be there. */
static enum es_status column_dup_required(sqlite3_stmt *st, int i, char **out)
{
    enum es_status s = column_dup(st, i, out);
    return s == ES_OK && *out == NULL ? ES_EIO : s;
}

/* A JSON column (which must be there) parsed into *out. */
static enum es_status column_json(sqlite3_stmt *st, int i, json_t **out)
{
    *out = NULL;
    const void *t = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (t == NULL)
        return sqlite3_column_type(st, i) == SQLITE_NULL ? ES_EIO : ES_ENOMEM;
    enum es_status s = es_json_parse(t, (size_t)n, ES_JSON_LOAD_FLAGS, out, NULL);
    return s == ES_EJSON ? ES_EIO : s;
}

/* ---- append ---- */

static int insert_event(sqlite3 *db, const char *stream, int64_t version,
                        const struct es_new_event *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO events (stream_id, version, type, schema, data, meta)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = bind_text(st, 1, stream)) == SQLITE_OK &&
        (rc = sqlite3_bind_int64(st, 2, version)) == SQLITE_OK &&
        (rc = bind_text(st, 3, e->type)) == SQLITE_OK &&
        (rc = sqlite3_bind_int(st, 4, e->schema)) == SQLITE_OK &&
        (rc = bind_json(st, 5, e->data)) == SQLITE_OK &&
        (rc = bind_json(st, 6, e->meta)) == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    return rc;
}

static int insert_receipt(sqlite3 *db, const char *stream, const struct es_receipt *r)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO receipts (stream_id, key, status, body, version,"
        " location, request_hash, created_at) VALUES (?,?,?,?,?,?,?,?)",
        -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = bind_text(st, 1, stream)) == SQLITE_OK &&
        (rc = bind_text(st, 2, r->key)) == SQLITE_OK &&
        (rc = sqlite3_bind_int(st, 3, r->status)) == SQLITE_OK &&
        (rc = bind_text(st, 4, r->body)) == SQLITE_OK &&
        (rc = sqlite3_bind_int64(st, 5, r->version)) == SQLITE_OK &&
        (rc = bind_text(st, 6, r->location)) == SQLITE_OK &&
        (rc = bind_text(st, 7, r->request_hash)) == SQLITE_OK &&
        (rc = bind_text(st, 8, r->created_at)) == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    return rc;
}

static int upsert_snapshot(sqlite3 *db, const char *stream,
                           const struct es_snapshot *snap)
{
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO snapshots (stream_id, version, schema,"
                           " state) VALUES (?, ?, ?, ?)",
                           -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = bind_text(st, 1, stream)) == SQLITE_OK &&
        (rc = sqlite3_bind_int64(st, 2, snap->version)) == SQLITE_OK &&
        (rc = sqlite3_bind_int(st, 3, snap->schema)) == SQLITE_OK &&
        (rc = bind_json(st, 4, snap->state)) == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    return rc;
}

static int stream_version(sqlite3 *db, const char *stream, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db, "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?", -1, &st,
        NULL);
    if (rc == SQLITE_OK && (rc = bind_text(st, 1, stream)) == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Runs the writes of an append inside the open transaction. */
static int append_rows(sqlite3 *db, const struct es_append *a, enum es_conflict *conflict)
{
    int64_t current = 0;
    int rc;
    /* The receipt first: a repeated command is told so even if the stream moved on. */
    if (a->receipt != NULL) {
        rc = insert_receipt(db, a->stream_id, a->receipt);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
            *conflict = ES_CONFLICT_RECEIPT;
            return rc;
        }
        if (rc != SQLITE_OK)
            return rc;
    }
    if ((rc = stream_version(db, a->stream_id, &current)) != SQLITE_OK)
        return rc;
    if (current != a->expected_version) {
        *conflict = ES_CONFLICT_VERSION;
        return SQLITE_CONSTRAINT;
    }
    for (size_t i = 0; i < a->n_events; i++) {
        rc = insert_event(db, a->stream_id, a->expected_version + 1 + (int64_t)i,
                          &a->events[i]);
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            *conflict = ES_CONFLICT_VERSION;
        if (rc != SQLITE_OK)
            return rc;
    }
    if (a->snapshot != NULL)
        return upsert_snapshot(db, a->stream_id, a->snapshot);
    return SQLITE_OK;
}

static enum es_status sq_append(struct es_store *base, const struct es_append *a,
                                enum es_conflict *conflict, struct es_io *io,
                                struct es_error *err)
{
    struct sqlite_store *s = from(base);
    sqlite3 *db = NULL;
    *conflict = ES_CONFLICT_NONE;
    enum es_status st = conn_get(s, &db, err);
    if (st != ES_OK)
        return st;
    count(io);
    pthread_mutex_lock(&s->write_lock);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        st = sql_error(db, rc, "begin an append", err);
        goto out;
    }
    rc = append_rows(db, a, conflict);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        goto out;
    if (*conflict != ES_CONFLICT_NONE)
        st = es_error_set(
            err, ES_ECONFLICT,
            *conflict == ES_CONFLICT_RECEIPT
                ? "cannot append to stream '%s': the command's receipt exists"
                : "cannot append to stream '%s': version %lld is taken",
            a->stream_id, (long long)a->expected_version + 1);
    else
        st = sql_error(db, rc, "append", err);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
    pthread_mutex_unlock(&s->write_lock);
    conn_put(s, db);
    return st;
}

/* ---- reads ---- */

/* Reads rows (seq, stream_id, version, type, schema, data, meta) into a page. */
static enum es_status read_events(sqlite3 *db, sqlite3_stmt *st, size_t max,
                                  struct es_event_page *out, struct es_io *io,
                                  struct es_error *err)
{
    memset(out, 0, sizeof(*out));
    /* Grown as rows arrive: max may come from a caller's untrusted number. */
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (out->n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t grown = cap == 0 ? 16 : cap * 2;
            struct es_event *p = realloc(out->events, grown * sizeof(*p));
            if (p == NULL) {
                es_event_page_release(out);
                return ES_ENOMEM;
            }
            memset(p + cap, 0, (grown - cap) * sizeof(*p));
            out->events = p;
            cap = grown;
        }
        struct es_event *e = &out->events[out->n];
        e->seq = sqlite3_column_int64(st, 0);
        e->version = sqlite3_column_int64(st, 2);
        e->schema = sqlite3_column_int(st, 4);
        out->n++;
        enum es_status s = column_dup_required(st, 1, &e->stream_id);
        if (s == ES_OK)
            s = column_dup_required(st, 3, &e->type);
        if (s == ES_OK)
            s = column_json(st, 5, &e->data);
        if (s == ES_OK)
            s = column_json(st, 6, &e->meta);
        if (s != ES_OK) {
            /* Not a page with an event missing: no page. */
            es_event_page_release(out);
            return s == ES_ENOMEM
                       ? ES_ENOMEM
                       : es_error_set(err, s, "cannot read an event: malformed row");
        }
    }
    if (out->n < max && rc != SQLITE_DONE) {
        es_event_page_release(out);
        return sql_error(db, rc, "read events", err);
    }
    if (out->events == NULL && (out->events = calloc(1, sizeof(*out->events))) == NULL)
        return ES_ENOMEM;
    if (io != NULL)
        io->events_read += (unsigned)out->n;
    return ES_OK;
}

static enum es_status query_events(struct sqlite_store *s, const char *sql,
                                   const char *text, int64_t n, size_t max,
                                   struct es_event_page *out, struct es_io *io,
                                   struct es_error *err)
{
    sqlite3 *db = NULL;
    enum es_status st = conn_get(s, &db, err);
    if (st != ES_OK)
        return st;
    count(io);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    int i = 1;
    if (rc == SQLITE_OK && text != NULL)
        rc = bind_text(stmt, i++, text);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, i++, n);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, i, (sqlite3_int64)max);
    st = rc == SQLITE_OK ? read_events(db, stmt, max, out, io, err)
                         : sql_error(db, rc, "read events", err);
    sqlite3_finalize(stmt);
    conn_put(s, db);
    return st;
}

static enum es_status sq_read_stream(struct es_store *base, const char *stream_id,
                                     int64_t from_version, size_t max,
                                     struct es_event_page *out, struct es_io *io,
                                     struct es_error *err)
{
    return query_events(
        from(base),
        "SELECT seq, stream_id, version, type, schema, data, meta FROM events"
        " WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?",
        stream_id, from_version, max, out, io, err);
}

static enum es_status sq_feed_read(struct es_store *base, int64_t after_seq, size_t max,
                                   struct es_event_page *out, struct es_io *io,
                                   struct es_error *err)
{
    return query_events(
        from(base),
        "SELECT seq, stream_id, version, type, schema, data, meta FROM events"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        NULL, after_seq, max, out, io, err);
}

/*
 * Runs a single-row query with up to two text parameters; *row_out is the
 * stepped statement (caller finalizes) or NULL with ES_ENOTFOUND.
 */
static enum es_status one_row(sqlite3 *db, const char *sql, const char *a, const char *b,
                              sqlite3_stmt **row_out, struct es_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && a != NULL)
        rc = bind_text(st, 1, a);
    if (rc == SQLITE_OK && b != NULL)
        rc = bind_text(st, 2, b);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *row_out = st;
        return ES_OK;
    }
    sqlite3_finalize(st);
    *row_out = NULL;
    if (rc == SQLITE_DONE)
        return ES_ENOTFOUND;
    return sql_error(db, rc, "read", err);
}

/*
 * Runs a single-row query on a pooled connection and decodes the row with
 * decode(row, out). ES_ENOTFOUND when there is no row.
 */
static enum es_status
read_row(struct sqlite_store *s, const char *sql, const char *a, const char *b,
         enum es_status (*decode)(sqlite3_stmt *, void *, struct es_error *), void *out,
         struct es_io *io, struct es_error *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *row = NULL;
    enum es_status st = conn_get(s, &db, err);
    if (st != ES_OK)
        return st;
    count(io);
    st = one_row(db, sql, a, b, &row, err);
    if (st == ES_OK)
        st = decode(row, out, err);
    sqlite3_finalize(row);
    conn_put(s, db);
    return st;
}

static enum es_status any_row(sqlite3_stmt *row, void *out, struct es_error *err)
{
    (void)row;
    (void)out;
    (void)err;
    return ES_OK;
}

/* One database, one writer at a time: what is read is the latest. */
static enum es_status sq_has_version(struct es_store *base, const char *stream_id,
                                     int64_t version, struct es_io *io,
                                     struct es_error *err)
{
    char v[24];
    if (es_fmt(v, sizeof(v), "%lld", (long long)version) != ES_OK)
        return ES_EINVAL;
    return read_row(from(base),
                    "SELECT 1 FROM events WHERE stream_id = ? AND version = CAST(? AS "
                    "INTEGER)",
                    stream_id, v, any_row, NULL, io, err);
}

/* Decodes a snapshots row (version, schema, state). */
static enum es_status snapshot_row(sqlite3_stmt *row, void *out_, struct es_error *err)
{
    struct es_snapshot *out = out_;
    memset(out, 0, sizeof(*out));
    out->version = sqlite3_column_int64(row, 0);
    out->schema = sqlite3_column_int(row, 1);
    enum es_status s = column_json(row, 2, &out->state);
    return s == ES_EIO ? es_error_set(err, ES_EIO, "cannot read a snapshot") : s;
}

static enum es_status sq_read_snapshot(struct es_store *base, const char *stream_id,
                                       struct es_snapshot *out, struct es_io *io,
                                       struct es_error *err)
{
    return read_row(from(base),
                    "SELECT version, schema, state FROM snapshots WHERE stream_id = ?",
                    stream_id, NULL, snapshot_row, out, io, err);
}

/* Decodes a receipts row. */
static enum es_status receipt_row(sqlite3_stmt *row, void *out_, struct es_error *err)
{
    struct es_receipt *out = out_;
    memset(out, 0, sizeof(*out));
    out->status = sqlite3_column_int(row, 1);
    out->version = sqlite3_column_int64(row, 3);
    enum es_status s = column_dup_required(row, 0, &out->key);
    if (s == ES_OK)
        s = column_dup_required(row, 2, &out->body);
    if (s == ES_OK)
        s = column_dup(row, 4, &out->location); /* NULL: the answer had none */
    if (s == ES_OK)
        s = column_dup_required(row, 5, &out->request_hash);
    if (s == ES_OK)
        s = column_dup_required(row, 6, &out->created_at);
    if (s != ES_OK) {
        es_receipt_release(out);
        return s == ES_EIO ? es_error_set(err, s, "cannot read a receipt: malformed row")
                           : s;
    }
    return ES_OK;
}

static enum es_status sq_read_receipt(struct es_store *base, const char *stream_id,
                                      const char *key, struct es_receipt *out,
                                      struct es_io *io, struct es_error *err)
{
    return read_row(
        from(base),
        "SELECT key, status, body, version, location, request_hash, created_at"
        " FROM receipts WHERE stream_id = ? AND key = ?",
        stream_id, key, receipt_row, out, io, err);
}

/* ---- views, checkpoints, dead letters ---- */

struct view_out {
    json_t **doc;
    char **etag;
};

/* Decodes a views row (doc, etag). */
static enum es_status view_row(sqlite3_stmt *row, void *out_, struct es_error *err)
{
    struct view_out *out = out_;
    enum es_status s = column_json(row, 0, out->doc);
    if (s == ES_OK && (s = column_dup_required(row, 1, out->etag)) != ES_OK) {
        json_decref(*out->doc);
        *out->doc = NULL;
    }
    return s == ES_EIO ? es_error_set(err, s, "cannot read a view") : s;
}

static enum es_status sq_view_get(struct es_store *base, const char *id, json_t **doc,
                                  char **etag, struct es_io *io, struct es_error *err)
{
    struct view_out out = {doc, etag};
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT doc, etag FROM %s WHERE id = ?",
             from(base)->views);
    return read_row(from(base), sql, id, NULL, view_row, &out, io, err);
}

/* Writes a view inside the open transaction; its new etag into etag (when given). */
static enum es_status write_view(sqlite3 *db, const char *table, const json_t *doc,
                                 const char *id, const char *kind, const char *if_match,
                                 char *etag, size_t etag_len, struct es_error *err)
{
    sqlite3_stmt *stmt = NULL;
    char sql[200];
    if (if_match == NULL)
        snprintf(sql, sizeof(sql),
                 "INSERT INTO %s (doc, id, kind, etag) VALUES (?, ?, ?, 1)", table);
    else
        snprintf(sql, sizeof(sql),
                 "UPDATE %s SET doc = ?1, kind = ?3, etag = etag + 1 WHERE id = ?2 AND"
                 " etag = ?4",
                 table);
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK && (rc = bind_json(stmt, 1, doc)) == SQLITE_OK &&
        (rc = bind_text(stmt, 2, id)) == SQLITE_OK &&
        (rc = bind_text(stmt, 3, kind)) == SQLITE_OK && if_match != NULL)
        rc = bind_text(stmt, 4, if_match);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return es_error_set(err, ES_ECONFLICT, "cannot create view '%s': it exists", id);
    if (rc != SQLITE_DONE)
        return sql_error(db, rc, "write a view", err);
    sqlite3_stmt *row = NULL;
    snprintf(sql, sizeof(sql), "SELECT etag FROM %s WHERE id = ?", table);
    if (sqlite3_changes(db) == 0) {
        /* Refused: gone (as Cosmos DB answers 404), or moved on (412). */
        enum es_status there = one_row(db, sql, id, NULL, &row, err);
        sqlite3_finalize(row);
        if (there == ES_ENOTFOUND)
            return es_error_set(err, ES_ENOTFOUND, "cannot replace view '%s': it is gone",
                                id);
        if (there != ES_OK)
            return there;
        return es_error_set(err, ES_EPRECONDITION,
                            "cannot replace view '%s': its etag changed", id);
    }
    if (etag == NULL)
        return ES_OK;
    enum es_status st = one_row(db, sql, id, NULL, &row, err);
    if (st == ES_OK)
        snprintf(etag, etag_len, "%lld", (long long)sqlite3_column_int64(row, 0));
    sqlite3_finalize(row);
    return st;
}

static enum es_status sq_views_put(struct es_store *base, struct es_view_write *w,
                                   size_t n, size_t *refused, struct es_io *io,
                                   struct es_error *err)
{
    struct sqlite_store *s = from(base);
    *refused = 0;
    if (n == 0 || n > ES_STORE_BATCH_MAX_OPS)
        return es_error_set(err, ES_EINVAL, "cannot write %zu views at once", n);
    /* What Cosmos DB refuses is refused here too: one partition, a batch's limits. */
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        w[i].etag = NULL;
        const char *id = json_string_value(json_object_get(w[i].doc, "id"));
        if (id == NULL || json_string_value(json_object_get(w[i].doc, "view")) == NULL)
            return es_error_set(err, ES_EINVAL,
                                "cannot write a view without 'id' and 'view'");
        const char *first = json_string_value(json_object_get(w[0].doc, "id"));
        if (strcmp(es_view_partition(id), es_view_partition(first)) != 0)
            return es_error_set(err, ES_EINVAL,
                                "cannot write views '%.100s' and '%.100s' at once: "
                                "their partitions differ",
                                first, id);
        char what[300];
        snprintf(what, sizeof(what), "view '%.200s'", id);
        enum es_status fits = es_doc_fits(w[i].doc, what, &w[i].bytes, err);
        if (fits != ES_OK)
            return fits;
        bytes += w[i].bytes;
    }
    if (bytes > ES_STORE_BATCH_MAX_BYTES)
        return es_error_set(err, ES_ETOOBIG,
                            "cannot write %zu views at once: %zu bytes, where a batch "
                            "takes at most %u",
                            n, bytes, ES_STORE_BATCH_MAX_BYTES);
    /* Everything that can fail happens before COMMIT: a view written is one reported
     * written, with its etag. */
    enum { ETAG_LEN = 24 };
    for (size_t i = 0; i < n; i++) {
        if ((w[i].etag = malloc(ETAG_LEN)) == NULL) {
            for (size_t j = 0; j < i; j++) {
                free(w[j].etag);
                w[j].etag = NULL;
            }
            return ES_ENOMEM;
        }
    }
    sqlite3 *db = NULL;
    enum es_status st = conn_get(s, &db, err);
    if (st == ES_OK) {
        count(io);
        pthread_mutex_lock(&s->write_lock);
        int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            st = sql_error(db, rc, "begin a view write", err);
        for (size_t i = 0; st == ES_OK && i < n; i++) {
            st = write_view(db, s->views, w[i].doc,
                            json_string_value(json_object_get(w[i].doc, "id")),
                            json_string_value(json_object_get(w[i].doc, "view")),
                            w[i].if_match, w[i].etag, ETAG_LEN, err);
            if (st != ES_OK)
                *refused = i;
        }
        if (st == ES_OK &&
            (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
            st = sql_error(db, rc, "write views", err);
        if (st != ES_OK && !sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        pthread_mutex_unlock(&s->write_lock);
        conn_put(s, db);
    }
    if (st != ES_OK)
        for (size_t i = 0; i < n; i++) {
            free(w[i].etag);
            w[i].etag = NULL;
        }
    return st;
}

static enum es_status sq_view_put(struct es_store *base, const json_t *doc,
                                  const char *if_match, char **etag_out, struct es_io *io,
                                  struct es_error *err)
{
    struct es_view_write w = {doc, if_match, NULL, 0};
    size_t refused;
    enum es_status st = sq_views_put(base, &w, 1, &refused, io, err);
    if (etag_out != NULL)
        *etag_out = w.etag;
    else
        free(w.etag);
    return st;
}

/* Continuation tokens are "after:<last id>": anything else did not come from here. */
#define AFTER "after:"

/* A page of JSON documents from `sql` (params: [kind,] after-id, limit + 1). */
static enum es_status query_docs(struct sqlite_store *s, const char *sql,
                                 const char *kind, const char *continuation, size_t limit,
                                 json_t **docs, char **next, struct es_io *io,
                                 struct es_error *err)
{
    if (continuation != NULL && strncmp(continuation, AFTER, strlen(AFTER)) != 0)
        return es_error_set(err, ES_EINVAL, "unknown continuation token");
    if (continuation != NULL)
        continuation += strlen(AFTER);
    sqlite3 *db = NULL;
    enum es_status st = conn_get(s, &db, err);
    if (st != ES_OK)
        return st;
    count(io);
    sqlite3_stmt *stmt = NULL;
    json_t *arr = json_array();
    char *last_id = NULL;
    int i = 1;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK && kind != NULL)
        rc = bind_text(stmt, i++, kind);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, i++, continuation != NULL ? continuation : "");
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, i, (sqlite3_int64)limit + 1);
    size_t n = 0;
    enum es_status row_st = arr != NULL ? ES_OK : ES_ENOMEM;
    while (rc == SQLITE_OK && row_st == ES_OK &&
           (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n++ == limit) {
            rc = SQLITE_DONE; /* one more row exists: this page is not the last */
            break;
        }
        /* A page with a row missing, or without its continuation, would look whole. */
        json_t *doc = NULL;
        free(last_id);
        row_st = column_dup_required(stmt, 0, &last_id);
        if (row_st == ES_OK)
            row_st = column_json(stmt, 1, &doc);
        if (row_st == ES_OK && json_array_append_new(arr, doc) != 0)
            row_st = ES_ENOMEM;
        rc = SQLITE_OK;
    }
    char *cont = NULL;
    if (row_st != ES_OK)
        st = row_st == ES_EIO ? es_error_set(err, row_st, "cannot read a document")
                              : row_st;
    else if (rc != SQLITE_DONE)
        st = sql_error(db, rc, "query documents", err);
    else if (n > limit && last_id != NULL &&
             (cont = malloc(strlen(AFTER) + strlen(last_id) + 1)) == NULL)
        st = ES_ENOMEM;
    sqlite3_finalize(stmt);
    conn_put(s, db);
    if (cont != NULL)
        snprintf(cont, strlen(AFTER) + strlen(last_id) + 1, AFTER "%s", last_id);
    free(last_id);
    if (st != ES_OK) {
        json_decref(arr);
        return st;
    }
    *docs = arr;
    *next = cont;
    return ES_OK;
}

static enum es_status sq_view_query(struct es_store *base, const char *kind,
                                    const char *continuation, size_t limit, json_t **docs,
                                    char **next, struct es_io *io, struct es_error *err)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT id, doc FROM %s WHERE kind = ? AND id > ? ORDER BY id LIMIT ?",
             from(base)->views);
    return query_docs(from(base), sql, kind, continuation, limit, docs, next, io, err);
}

static enum es_status sq_deadletter_query(struct es_store *base, const char *continuation,
                                          size_t limit, json_t **docs, char **next,
                                          struct es_io *io, struct es_error *err)
{
    return query_docs(from(base),
                      "SELECT id, doc FROM deadletters WHERE id > ? ORDER BY id LIMIT ?",
                      NULL, continuation, limit, docs, next, io, err);
}

static enum es_status exec_write(struct sqlite_store *s, const char *sql, const char *a,
                                 const char *b, const json_t *doc, int64_t n,
                                 struct es_io *io, struct es_error *err)
{
    sqlite3 *db = NULL;
    enum es_status st = conn_get(s, &db, err);
    if (st != ES_OK)
        return st;
    count(io);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 1, a);
    if (rc == SQLITE_OK)
        rc = b != NULL ? bind_text(stmt, 2, b) : sqlite3_bind_int64(stmt, 2, n);
    if (rc == SQLITE_OK && doc != NULL)
        rc = bind_json(stmt, 3, doc);
    if (rc == SQLITE_OK) {
        pthread_mutex_lock(&s->write_lock);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        pthread_mutex_unlock(&s->write_lock);
    }
    if (rc != SQLITE_OK)
        st = sql_error(db, rc, "write", err);
    sqlite3_finalize(stmt);
    conn_put(s, db);
    return st;
}

static enum es_status checkpoint_row(sqlite3_stmt *row, void *out, struct es_error *err)
{
    (void)err;
    *(int64_t *)out = sqlite3_column_int64(row, 0);
    return ES_OK;
}

static enum es_status sq_checkpoint_get(struct es_store *base, const char *name,
                                        int64_t *seq, struct es_io *io,
                                        struct es_error *err)
{
    *seq = 0;
    enum es_status st = read_row(from(base), "SELECT seq FROM checkpoints WHERE name = ?",
                                 name, NULL, checkpoint_row, seq, io, err);
    return st == ES_ENOTFOUND ? ES_OK : st;
}

static enum es_status sq_checkpoint_put(struct es_store *base, const char *name,
                                        int64_t seq, struct es_io *io,
                                        struct es_error *err)
{
    return exec_write(from(base),
                      "INSERT OR REPLACE INTO checkpoints (name, seq) VALUES (?, ?)",
                      name, NULL, NULL, seq, io, err);
}

static enum es_status sq_deadletter_put(struct es_store *base, const json_t *doc,
                                        struct es_io *io, struct es_error *err)
{
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *stream = json_string_value(json_object_get(doc, "streamId"));
    if (id == NULL || stream == NULL)
        return es_error_set(err, ES_EINVAL,
                            "cannot write a dead letter without 'id' and 'streamId'");
    return exec_write(
        from(base),
        "INSERT OR REPLACE INTO deadletters (id, stream_id, doc) VALUES (?, ?, ?)", id,
        stream, doc, 0, io, err);
}

/* Decodes a deadletters row (doc). */
static enum es_status deadletter_row(sqlite3_stmt *row, void *out, struct es_error *err)
{
    enum es_status s = column_json(row, 0, out);
    return s == ES_EIO ? es_error_set(err, s, "cannot read a dead letter") : s;
}

static enum es_status sq_deadletter_get(struct es_store *base, const char *id,
                                        json_t **doc, struct es_io *io,
                                        struct es_error *err)
{
    return read_row(from(base), "SELECT doc FROM deadletters WHERE id = ?", id, NULL,
                    deadletter_row, doc, io, err);
}

static enum es_status sq_deadletter_delete(struct es_store *base, const char *id,
                                           struct es_io *io, struct es_error *err)
{
    struct sqlite_store *s = from(base);
    sqlite3 *db = NULL;
    enum es_status st = conn_get(s, &db, err);
    if (st != ES_OK)
        return st;
    count(io);
    sqlite3_stmt *stmt = NULL;
    int rc =
        sqlite3_prepare_v2(db, "DELETE FROM deadletters WHERE id = ?", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 1, id);
    if (rc == SQLITE_OK) {
        pthread_mutex_lock(&s->write_lock);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        pthread_mutex_unlock(&s->write_lock);
    }
    if (rc != SQLITE_OK)
        st = sql_error(db, rc, "delete a dead letter", err);
    else if (sqlite3_changes(db) == 0)
        st = ES_ENOTFOUND;
    sqlite3_finalize(stmt);
    conn_put(s, db);
    return st;
}

static void sq_close(struct es_store *base)
{
    struct sqlite_store *s = from(base);
    for (size_t i = 0; i < s->n_idle; i++)
        sqlite3_close(s->idle[i]);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->write_lock);
    free(s->path);
    free(s);
}

/* ---- a rebuild: every event, and a views table swapped in ---- */

static enum es_status sq_events_scan(struct es_store *base, char **cursor, size_t max,
                                     struct es_event_page *out, size_t *skipped,
                                     struct es_io *io, struct es_error *err)
{
    *skipped = 0;
    long long after = 0;
    char *end = NULL;
    if (*cursor != NULL &&
        ((after = strtoll(*cursor, &end, 10)) < 0 || end == *cursor || *end != '\0'))
        return es_error_set(err, ES_EINVAL, "not a scan cursor of this store");
    char *next = NULL;
    enum es_status st = sq_feed_read(base, (int64_t)after, max, out, io, err);
    if (st == ES_OK && out->n > 0) {
        char text[24];
        snprintf(text, sizeof(text), "%lld", (long long)out->events[out->n - 1].seq);
        if ((next = strdup(text)) == NULL) {
            es_event_page_release(out);
            st = ES_ENOMEM;
        }
    }
    if (next != NULL) {
        free(*cursor);
        *cursor = next;
    }
    return st;
}

static enum es_status count_row(sqlite3_stmt *row, void *out, struct es_error *err)
{
    (void)err;
    *(int64_t *)out = sqlite3_column_int64(row, 0);
    return ES_OK;
}

static enum es_status sq_events_count(struct es_store *base, int64_t *n, struct es_io *io,
                                      struct es_error *err)
{
    return read_row(from(base), "SELECT COUNT(*) FROM events", NULL, NULL, count_row, n,
                    io, err);
}

static const struct es_store_ops sqlite_ops = {
    .name = "sqlite",
    .append = sq_append,
    .read_stream = sq_read_stream,
    .has_version = sq_has_version,
    .read_snapshot = sq_read_snapshot,
    .read_receipt = sq_read_receipt,
    .view_get = sq_view_get,
    .view_put = sq_view_put,
    .views_put = sq_views_put,
    .view_query = sq_view_query,
    .feed_read = sq_feed_read,
    .checkpoint_get = sq_checkpoint_get,
    .checkpoint_put = sq_checkpoint_put,
    .deadletter_put = sq_deadletter_put,
    .deadletter_query = sq_deadletter_query,
    .deadletter_get = sq_deadletter_get,
    .deadletter_delete = sq_deadletter_delete,
    .events_scan = sq_events_scan,
    .events_count = sq_events_count,
    .close = sq_close,
};

/* mkdir -p of the folder holding path. */
static enum es_status make_parent_dirs(const char *path, struct es_error *err)
{
    char dir[4096];
    if (es_fmt(dir, sizeof(dir), "%s", path) != ES_OK)
        return es_error_set(err, ES_EINVAL, "EVENT_STORE_PATH is longer than %zu bytes",
                            sizeof(dir) - 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return ES_OK;
    *slash = '\0';
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return es_error_set(err, ES_EIO, "cannot create folder '%s': %s", dir,
                                strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return es_error_set(err, ES_EIO, "cannot create folder '%s': %s", dir,
                            strerror(errno));
    return ES_OK;
}

enum es_status es_store_sqlite_open(const char *path, struct es_store **out,
                                    struct es_error *err)
{
    enum es_status made = make_parent_dirs(path, err);
    if (made != ES_OK)
        return made;
    struct sqlite_store *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        return ES_ENOMEM;
    }
    s->base.ops = &sqlite_ops;
    snprintf(s->views, sizeof(s->views), "views");
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->write_lock, NULL);
    sqlite3 *db = NULL;
    enum es_status st = open_conn(s, &db, err);
    if (st == ES_OK) {
        int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, schema_sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            st = sql_error(db, rc, "create the schema", err);
        conn_put(s, db);
    }
    if (st != ES_OK) {
        sq_close(&s->base);
        return st;
    }
    *out = &s->base;
    return ES_OK;
}

/* A table name this file builds into SQL: [a-z_], 1 to 63 bytes. */
static bool table_name_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n >= 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || t[i] == '_'))
            return false;
    return true;
}

enum es_status es_store_sqlite_open_views(const char *path, const char *table,
                                          struct es_store **out, bool *existed,
                                          struct es_error *err)
{
    if (!table_name_valid(table) || strcmp(table, "views") == 0)
        return es_error_set(err, ES_EINVAL, "'%s' cannot be a rebuild's views table",
                            table);
    struct es_store *base = NULL;
    enum es_status st = es_store_sqlite_open(path, &base, err);
    if (st != ES_OK)
        return st;
    struct sqlite_store *s = from(base);
    snprintf(s->views, sizeof(s->views), "%s", table);
    sqlite3 *db = NULL;
    if ((st = conn_get(s, &db, err)) != ES_OK) {
        sq_close(base);
        return st;
    }
    sqlite3_stmt *row = NULL;
    st = one_row(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                 table, NULL, &row, err);
    sqlite3_finalize(row);
    *existed = st == ES_OK;
    st = st == ES_ENOTFOUND ? ES_OK : st;
    char *sql = sqlite3_mprintf(
        "CREATE TABLE IF NOT EXISTS %s (id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
        " etag INTEGER NOT NULL, doc TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS %s_by_kind ON %s (kind, id);",
        table, table, table);
    int rc = sql != NULL ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (st == ES_OK && rc != SQLITE_OK)
        st = sql_error(db, rc, "create the rebuild's views table", err);
    conn_put(s, db);
    if (st != ES_OK) {
        sq_close(base);
        return st;
    }
    *out = base;
    return ES_OK;
}

enum es_status es_store_sqlite_swap_views(struct es_store *base, const char *cursor,
                                          struct es_error *err)
{
    struct sqlite_store *s = from(base);
    if (strcmp(s->views, "views") == 0)
        return es_error_set(err, ES_EINVAL, "the store's own views cannot be swapped in");
    char *end = NULL;
    long long expected_seq = cursor != NULL ? strtoll(cursor, &end, 10) : 0;
    if (cursor != NULL && (end == cursor || *end != '\0' || expected_seq < 0))
        return es_error_set(err, ES_EINVAL, "not a scan cursor of this store");
    sqlite3 *db = NULL;
    enum es_status st = conn_get(s, &db, err);
    if (st != ES_OK)
        return st;
    pthread_mutex_lock(&s->write_lock);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    sqlite3_stmt *row = NULL;
    int64_t newest = -1;
    if (rc != SQLITE_OK)
        st = sql_error(db, rc, "begin the swap of the views", err);
    else if ((st = one_row(db, "SELECT COALESCE(MAX(seq), 0) FROM events", NULL, NULL,
                           &row, err)) == ES_OK)
        newest = sqlite3_column_int64(row, 0);
    sqlite3_finalize(row);
    if (st == ES_OK && newest != expected_seq)
        st = es_error_set(err, ES_ECONFLICT,
                          "events were appended during the rebuild (seq %lld, not %lld)",
                          (long long)newest, (long long)expected_seq);
    char *sql = st == ES_OK
                    ? sqlite3_mprintf("DELETE FROM %s WHERE kind = '_rebuild';"
                                      "UPDATE %s SET etag = etag +"
                                      " (SELECT COALESCE(MAX(etag), 0) FROM views);"
                                      "DROP TABLE views;"
                                      "DROP INDEX IF EXISTS %s_by_kind;"
                                      "ALTER TABLE %s RENAME TO views;"
                                      "CREATE INDEX views_by_kind ON views (kind, id);",
                                      s->views, s->views, s->views, s->views)
                    : NULL;
    if (st == ES_OK && sql == NULL)
        st = ES_ENOMEM;
    if (st == ES_OK && (rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
        st = sql_error(db, rc, "swap the views", err);
    sqlite3_free(sql);
    if (st == ES_OK && (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        st = sql_error(db, rc, "commit the swap of the views", err);
    if (st != ES_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->write_lock);
    conn_put(s, db);
    return st;
}

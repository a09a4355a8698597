/*
 * projector.c - folding a change-feed batch into views and running reactors
 * (see projector.h for the contract).
 *
 * Dead-letter document (deadletters container, partition key /streamId):
 *   id        "{eventId}:dead" (an undecodable payload: "_undecodable:{sha256}")
 *   streamId  the event's stream, or "_undecodable"
 *   event     the event document as delivered (or "payload": what arrived)
 *   error     why it failed, from the last attempt
 *   attempts  how many times the batch was tried
 *   failedAt  RFC 3339 UTC
 * Writing one again (the batch redelivered) replaces it. A redrive
 * (es/redrive.h) deletes it when its event runs, or writes it back with the
 * new error, attempts + 1 and the time.
 */
#include "projector.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"
#include "cache.h"

#define MAX_PROJECTIONS           16
#define VIEW_ATTEMPTS             10
#define GAP_PAGE                  10000 /* events per store read when filling a gap */
#define PROJECTOR_THREADS_MAX     255   /* PROJECTOR_PARALLELISM is at most 256 */
#define VIEW_MEMORY_BASE          1024  /* heap bytes a view in memory takes, at most, */
#define VIEW_MEMORY_PER_JSON_BYTE 9     /* plus this many per byte of its JSON */

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- dead letters ---- */

static enum es_status dead_letter(const struct es_projector_opts *p, const char *id,
                                  const char *stream, const char *key, json_t *what,
                                  const char *error, int64_t attempt,
                                  struct es_batch_report *report, struct es_error *err)
{
    char now[40];
    es_time_rfc3339_ms(es_time_now_ms(), now, sizeof(now));
    json_t *doc = json_pack("{s:s, s:s, s:O, s:s, s:I, s:s}", "id", id, "streamId",
                            stream, key, what, "error", error, "attempts",
                            (json_int_t)attempt + 1, "failedAt", now);
    if (doc == NULL)
        return ES_ENOMEM;
    enum es_status st = p->store->ops->deadletter_put(p->store, doc, &report->io, err);
    json_decref(doc);
    if (st == ES_OK) {
        report->dead_lettered++;
        es_log_error("dead letter %s (stream '%s'): %s", id, stream, error);
    }
    return st;
}

static enum es_status dead_letter_event(const struct es_projector_opts *p,
                                        const struct es_event *e, const char *error,
                                        int64_t attempt, struct es_batch_report *report,
                                        struct es_error *err)
{
    char id[ES_DOC_ID_MAX];
    if (es_fmt(id, sizeof(id), "%s:%lld:dead", e->stream_id, (long long)e->version) !=
        ES_OK)
        return es_error_set(err, ES_EINVAL,
                            "cannot dead-letter an event of stream "
                            "'%.80s...': the id is too long",
                            e->stream_id);
    json_t *doc = es_event_to_doc(e);
    enum es_status st = doc != NULL ? dead_letter(p, id, e->stream_id, "event", doc,
                                                  error, attempt, report, err)
                                    : ES_ENOMEM;
    json_decref(doc);
    return st;
}

/* A payload that is not an array of documents, or a document that is not an event. */
static enum es_status dead_letter_raw(const struct es_projector_opts *p,
                                      const json_t *what, const char *stream,
                                      const char *error, int64_t attempt,
                                      struct es_batch_report *report,
                                      struct es_error *err)
{
    size_t len = 0;
    char *text = es_json_dumps(what, &len);
    char hash[65];
    /* The hash names the dead letter: without it, different payloads would share one. */
    struct es_hash_part part = {text, len};
    enum es_status st = text != NULL ? es_sha256_hex(&part, 1, hash) : ES_ENOMEM;
    free(text);
    if (st != ES_OK)
        return st;
    char id[ES_DOC_ID_MAX];
    if (es_fmt(id, sizeof(id), "%s:%.32s:dead", stream, hash) != ES_OK)
        return es_error_set(err, ES_EINVAL,
                            "cannot dead-letter a payload of stream "
                            "'%.80s...': the id is too long",
                            stream);
    return dead_letter(p, id, stream, "payload", (json_t *)what, error, attempt, report,
                       err);
}

/* ---- one stream ---- */

struct view_state {
    const struct es_projection *proj;
    json_t *doc;
    char *etag; /* NULL: the view does not exist yet */
    int64_t version;
    bool cached;   /* doc and etag came from the view cache, unchecked */
    bool no_cache; /* load it from the store even when it is remembered */
    bool dirty;    /* doc holds events it was not stored with */
    size_t bytes;  /* doc's size as stored JSON, when known (else 0) */
    char id[ES_DOC_ID_MAX];
};

/* A view as this projector last wrote it (in es_projector_opts.view_cache). */
struct cached_view {
    json_t *doc;
    char *etag;
    size_t bytes;
};

static void cached_view_free(void *p)
{
    struct cached_view *c = p;
    if (c == NULL)
        return;
    json_decref(c->doc);
    free(c->etag);
    free(c);
}

/* Takes v's view out of the cache (no copy); false when it is not there. */
static bool view_from_cache(const struct es_projector_opts *p, struct view_state *v)
{
    void *got = NULL;
    int64_t version = 0;
    if (p->view_cache == NULL || !es_cache_take(p->view_cache, v->id, &got, &version))
        return false;
    struct cached_view *c = got;
    v->doc = c->doc;
    v->etag = c->etag;
    v->bytes = c->bytes;
    v->version = version;
    free(c);
    return true;
}

/*
 * Hands v's document and etag to the cache (v keeps neither). Only a view as
 * stored - read, or written with the etag it now has - may go there.
 */
static void view_to_cache(const struct es_projector_opts *p, struct view_state *v)
{
    struct cached_view *c = NULL;
    if (p->view_cache == NULL || v->doc == NULL || v->etag == NULL ||
        (c = malloc(sizeof(*c))) == NULL)
        return;
    /*
     * What it may hold in memory, reckoned high: jansson took 1,263 bytes for an
     * empty list view (122 bytes of JSON) and 118,447 for one of 160 items
     * (13,881 bytes), and less for index entries.
     */
    size_t json = v->bytes > 0 ? v->bytes : es_json_size(v->doc);
    c->doc = v->doc;
    c->etag = v->etag;
    c->bytes = json == SIZE_MAX ? 0 : json;
    v->doc = NULL;
    v->etag = NULL;
    es_cache_put_sized(
        p->view_cache, v->id, c, v->version,
        json == SIZE_MAX ? SIZE_MAX : VIEW_MEMORY_BASE + json * VIEW_MEMORY_PER_JSON_BYTE,
        cached_view_free);
}

static enum es_status load_view(const struct es_projector_opts *p, struct view_state *v,
                                const char *aggregate_id, struct es_batch_report *report,
                                struct es_error *err)
{
    json_decref(v->doc);
    free(v->etag);
    v->doc = NULL;
    v->etag = NULL;
    v->bytes = 0;
    v->cached = !v->no_cache && view_from_cache(p, v);
    if (v->cached)
        return ES_OK;
    enum es_status st =
        p->store->ops->view_get(p->store, v->id, &v->doc, &v->etag, &report->io, err);
    if (st == ES_ENOTFOUND) {
        v->doc = v->proj->initial(aggregate_id);
        v->etag = NULL;
        st = v->doc != NULL ? ES_OK : ES_ENOMEM;
    }
    v->version =
        st == ES_OK ? (int64_t)json_integer_value(json_object_get(v->doc, "version")) : 0;
    return st;
}

/*
 * Applies the events above v's version to its document. The view is then
 * dirty - ahead of what is stored - until it is written, and the version moves
 * with the items: a document never holds new items under its old version, or
 * a redelivery would apply them twice.
 */
static enum es_status fold_view(struct view_state *v, const struct es_event *const *evs,
                                size_t n, struct es_error *err)
{
    int64_t last = v->version;
    for (size_t i = 0; i < n; i++) {
        if (evs[i]->version <= last)
            continue;
        enum es_status st = v->proj->apply(v->doc, evs[i]);
        if (st == ES_ENOMEM)
            return st;
        if (st != ES_OK)
            return es_error_set(err, st, "view '%s' cannot fold %s version %lld: %s",
                                v->id, evs[i]->type, (long long)evs[i]->version,
                                es_status_message(st));
        last = evs[i]->version;
    }
    if (last == v->version)
        return ES_OK; /* everything here was applied already */
    if (json_object_set_new(v->doc, "version", json_integer((json_int_t)last)) != 0)
        return ES_ENOMEM;
    v->version = last;
    v->dirty = true;
    return ES_OK;
}

/*
 * Writes the dirty views among views[0..n): all in one views_put (one round
 * trip on Cosmos DB, as they share a partition), or one by one when one_by_one.
 * ES_OK: written, each with its new etag, and clean. A refusal: *refused is
 * the view refused, and the others of its request are still dirty.
 */
static enum es_status put_views(const struct es_projector_opts *p,
                                struct view_state *views, size_t n, bool one_by_one,
                                size_t *refused, struct es_batch_report *report,
                                struct es_error *err)
{
    struct es_view_write w[MAX_PROJECTIONS];
    size_t at[MAX_PROJECTIONS];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; i < n && (k == 0 || !one_by_one); i++) {
            if (!views[i].dirty)
                continue;
            w[k] = (struct es_view_write){views[i].doc, views[i].etag, NULL, 0};
            at[k++] = i;
        }
        if (k == 0)
            break;
        size_t which = 0;
        enum es_status st =
            p->store->ops->views_put(p->store, w, k, &which, &report->io, err);
        if (st != ES_OK) {
            *refused = at[which];
            return st;
        }
        for (size_t j = 0; j < k; j++) {
            /* The view is now as stored: fit for the cache, with its new etag. */
            struct view_state *v = &views[at[j]];
            free(v->etag);
            v->etag = w[j].etag;
            v->bytes = w[j].bytes;
            v->dirty = false;
            report->views_written++;
        }
    }
    return ES_OK;
}

/*
 * Folds the events into every view of the stream and writes the ones that
 * moved. When a write is refused (another writer moved that view), that view
 * is read again and folded from what it holds; the others are written as
 * folded. Views that will not fit in one request together are written one by
 * one.
 */
static enum es_status project_views(const struct es_projector_opts *p,
                                    struct view_state *views, size_t n_views,
                                    const char *aggregate_id,
                                    const struct es_event *const *evs, size_t n,
                                    struct es_batch_report *report, struct es_error *err)
{
    bool one_by_one = false;
    for (int attempt = 0; attempt < VIEW_ATTEMPTS; attempt++) {
        for (size_t i = 0; i < n_views; i++) {
            enum es_status st = fold_view(&views[i], evs, n, err);
            if (st != ES_OK)
                return st;
        }
        struct es_error put_err = {0};
        size_t refused = 0;
        enum es_status st =
            put_views(p, views, n_views, one_by_one, &refused, report, &put_err);
        if (st == ES_OK)
            return ES_OK;
        if (st == ES_ETOOBIG && !one_by_one) {
            one_by_one = true;
            continue;
        }
        if (st != ES_EPRECONDITION && st != ES_ECONFLICT && st != ES_ENOTFOUND)
            return es_error_set(err, st, "%s", put_err.message);
        /* Another writer moved the view: start again from what it wrote. */
        struct view_state *v = &views[refused];
        report->view_retries++;
        v->no_cache = true;
        v->dirty = false;
        if ((st = load_view(p, v, aggregate_id, report, err)) != ES_OK)
            return st;
        /*
         * Views only move forward, so what it wrote reaches at least the events
         * held here - unless it was set back (deleted or replaced by hand): then
         * the versions in between are not here, and the batch is retried from the
         * store's view.
         */
        if (n > 0 && v->version < evs[0]->version - 1)
            return es_error_set(err, ES_EUNAVAILABLE,
                                "view '%s' is at version %lld, behind the events of this "
                                "batch (it was set back); the batch will be retried",
                                v->id, (long long)v->version);
    }
    return es_error_set(err, ES_ECONFLICT,
                        "the views of '%s' kept changing under the "
                        "projector",
                        aggregate_id);
}

/* Moves page's events onto the end of out (which grows); page is left empty. */
static enum es_status take_events(struct es_event_page *out, struct es_event_page *page)
{
    if (page->n == 0)
        return ES_OK;
    struct es_event *grown = realloc(out->events, (out->n + page->n) * sizeof(*grown));
    if (grown == NULL)
        return ES_ENOMEM;
    out->events = grown;
    memcpy(out->events + out->n, page->events, page->n * sizeof(*grown));
    out->n += page->n;
    free(page->events);
    memset(page, 0, sizeof(*page));
    return ES_OK;
}

/*
 * The stored events of versions from..to, read page by page - never one
 * allocation sized by a delivered number - into *out. Fewer than asked is a
 * failure: a short read (a replica behind) or versions never stored (a
 * corrupted or forged delivery) must not be applied as if complete.
 */
static enum es_status read_range(const struct es_projector_opts *p, const char *stream,
                                 int64_t from, int64_t to, struct es_event_page *out,
                                 struct es_batch_report *report, struct es_error *err)
{
    memset(out, 0, sizeof(*out));
    enum es_status st = ES_OK;
    int64_t next = from;
    while (st == ES_OK && next <= to) {
        size_t want = to - next + 1 < GAP_PAGE ? (size_t)(to - next + 1) : GAP_PAGE;
        struct es_event_page page = {0};
        st = p->store->ops->read_stream(p->store, stream, next, want, &page, &report->io,
                                        err);
        size_t ok = 0;
        while (st == ES_OK && ok < page.n &&
               page.events[ok].version == next + (int64_t)ok)
            ok++;
        for (size_t i = ok; i < page.n; i++)
            es_event_release(&page.events[i]);
        page.n = ok;
        if (st == ES_OK)
            st = take_events(out, &page);
        es_event_page_release(&page);
        next += (int64_t)ok;
        if (ok < want)
            break;
    }
    if (st == ES_OK && next <= to)
        st = es_error_set(err, ES_EIO,
                          "stream '%s': the event store returned versions %lld-%lld of "
                          "%lld-%lld (a short read, or events that were never stored); "
                          "nothing of it is applied",
                          stream, (long long)from, (long long)next - 1, (long long)from,
                          (long long)to);
    if (st != ES_OK) {
        es_event_page_release(out);
        return st;
    }
    report->gap_events += (unsigned)out->n;
    es_log_info("projector: stream '%s': read versions %lld-%lld from the store", stream,
                (long long)from, (long long)to);
    return ES_OK;
}

/* True when the events form exactly the versions first, first + 1, ... */
static bool consecutive(const struct es_event *evs, size_t n, int64_t first)
{
    for (size_t i = 0; i < n; i++)
        if (evs[i].version != first + (int64_t)i)
            return false;
    return true;
}

static bool reacted_to(const struct es_projector_opts *p, const char *stream)
{
    for (size_t r = 0; r < p->n_reactors; r++)
        if (has_prefix(stream, p->reactors[r]->stream_prefix))
            return true;
    return false;
}

static enum es_status react(const struct es_projector_opts *p, const char *stream,
                            const struct es_event *evs, size_t n,
                            struct es_batch_report *report, struct es_error *err)
{
    enum es_status st = ES_OK;
    for (size_t i = 0; st == ES_OK && i < n; i++) {
        for (size_t r = 0; st == ES_OK && r < p->n_reactors; r++) {
            const char *prefix = p->reactors[r]->stream_prefix;
            if (!has_prefix(stream, prefix))
                continue;
            struct es_react_env env = {.engine = p->engine,
                                       .store = p->store,
                                       .aggregate_id = stream + strlen(prefix),
                                       .io = &report->io};
            report->reactions++;
            st = p->reactors[r]->react(&env, &evs[i], err);
        }
    }
    return st;
}

/*
 * One stream's events (delivered: sorted, distinct versions, well-formed). The
 * versions above the views' lowest one are applied: the delivered events when
 * they follow on without a hole, else the stored ones, read in full. Reactors
 * then see every version delivered - the ones the views had passed as stored,
 * never as delivered, since their reaction may be owed (an earlier attempt
 * failed after writing the views) but what arrived for them is not trusted.
 */
/* ---- a stream's views, at once ---- */

/* Adds a part's costs and counts to the whole (the parts ran on their own). */
static void add_report(struct es_batch_report *to, const struct es_batch_report *from)
{
    to->gap_events += from->gap_events;
    to->views_written += from->views_written;
    to->view_retries += from->view_retries;
    to->reactions += from->reactions;
    to->dead_lettered += from->dead_lettered;
    to->io.round_trips += from->io.round_trips;
    to->io.events_read += from->io.events_read;
    to->io.retries += from->io.retries;
    to->io.request_charge += from->io.request_charge;
}

/* One view's load, with what it cost and why it failed. */
struct view_job {
    const struct es_projector_opts *p;
    struct view_state *v;
    const char *aggregate_id;
    enum es_status st;
    struct es_error err;
    struct es_batch_report report;
};

static void *view_job_run(void *arg)
{
    struct view_job *j = arg;
    j->st = load_view(j->p, j->v, j->aggregate_id, &j->report, &j->err);
    return NULL;
}

/*
 * Runs the loads at once when there are several and the runner is parallel (a
 * view's read is a network round trip on Cosmos DB), then adds their costs to
 * report in order: the first failure, in view order, is the stream's.
 */
static enum es_status view_jobs_run(const struct es_projector_opts *p,
                                    struct view_job *jobs, size_t n,
                                    struct es_batch_report *report, struct es_error *err)
{
    pthread_t threads[MAX_PROJECTIONS];
    bool started[MAX_PROJECTIONS] = {false};
    for (size_t i = 1; p->parallelism > 1 && i < n; i++)
        started[i] = pthread_create(&threads[i], NULL, view_job_run, &jobs[i]) == 0;
    for (size_t i = 0; i < n; i++)
        if (!started[i])
            view_job_run(&jobs[i]); /* the first here, and any thread refused */
    enum es_status st = ES_OK;
    for (size_t i = 0; i < n; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        add_report(report, &jobs[i].report);
        if (st == ES_OK && jobs[i].st != ES_OK) {
            st = jobs[i].st;
            *err = jobs[i].err;
        }
    }
    return st;
}

static enum es_status project_stream(const struct es_projector_opts *p,
                                     const struct es_event *delivered, size_t n,
                                     struct es_batch_report *report, struct es_error *err)
{
    const char *stream = delivered[0].stream_id;
    struct view_state views[MAX_PROJECTIONS];
    size_t n_views = 0;
    const char *aggregate_id = stream;
    enum es_status st = ES_OK;
    struct es_event_page passed = {0}, fresh = {0};
    const struct es_event **all = NULL;
    size_t n_all = 0;
    for (size_t i = 0; i < p->n_projections && n_views < MAX_PROJECTIONS; i++) {
        const struct es_projection *proj = p->projections[i];
        if (!has_prefix(stream, proj->stream_prefix))
            continue;
        aggregate_id = stream + strlen(proj->stream_prefix);
        struct view_state *v = &views[n_views++];
        memset(v, 0, sizeof(*v));
        v->proj = proj;
        if (es_fmt(v->id, sizeof(v->id), "%s%s", proj->view_prefix, aggregate_id) !=
            ES_OK) {
            st = es_error_set(err, ES_EINVAL, "view id for '%.80s...' is too long",
                              aggregate_id);
            goto out;
        }
    }
    struct view_job jobs[MAX_PROJECTIONS];
    for (size_t i = 0; i < n_views; i++)
        jobs[i] = (struct view_job){.p = p, .v = &views[i], .aggregate_id = aggregate_id};
    if ((st = view_jobs_run(p, jobs, n_views, report, err)) != ES_OK)
        goto out;
    /*
     * A remembered view that this batch brings nothing new for (a redelivery, a
     * redrive) is read from the store after all: no write will check it against
     * the store, which may have been set back behind it (views deleted or
     * replaced by hand).
     */
    for (size_t i = 0; i < n_views; i++) {
        if (!views[i].cached || delivered[n - 1].version > views[i].version)
            continue;
        views[i].no_cache = true;
        if ((st = load_view(p, &views[i], aggregate_id, report, err)) != ES_OK)
            goto out;
    }
    /* base: the version every view has reached (with no view, all is new). */
    int64_t last = delivered[n - 1].version;
    int64_t base = n_views > 0 ? views[0].version : delivered[0].version - 1;
    for (size_t i = 1; i < n_views; i++)
        base = views[i].version < base ? views[i].version : base;
    size_t k = 0; /* delivered[k..n) are above base */
    while (k < n && delivered[k].version <= base)
        k++;

    /*
     * The new versions: the delivered ones when they run on from base + 1; after a
     * hole before them (a skipped batch), the stored ones of the hole first; after a
     * hole among them, the stored ones of the whole range.
     */
    const struct es_event *news = delivered + k;
    size_t n_news = n - k;
    int64_t from = n_news > 0 ? news[0].version : base + 1;
    if (n_news > 0 && !consecutive(news, n_news, from)) {
        st = read_range(p, stream, base + 1, last, &fresh, report, err);
        news = fresh.events;
        n_news = fresh.n;
    } else if (n_news > 0 && from > base + 1) {
        st = read_range(p, stream, base + 1, from - 1, &fresh, report, err);
    }
    if (st != ES_OK)
        goto out;
    if ((all = calloc(fresh.n + n_news + 1, sizeof(*all))) == NULL) {
        st = ES_ENOMEM;
        goto out;
    }
    for (size_t i = 0; news != fresh.events && i < fresh.n; i++)
        all[n_all++] = &fresh.events[i];
    for (size_t i = 0; i < n_news; i++)
        all[n_all++] = &news[i];
    if ((st = project_views(p, views, n_views, aggregate_id, all, n_all, report, err)) !=
        ES_OK)
        goto out;

    if (st == ES_OK && k > 0 && reacted_to(p, stream))
        st = read_range(p, stream, delivered[0].version, delivered[k - 1].version,
                        &passed, report, err);
    /* Of the stored range, the versions that were delivered (both in order). */
    for (size_t i = 0, d = 0; st == ES_OK && i < passed.n; i++) {
        while (d < k && delivered[d].version < passed.events[i].version)
            d++;
        if (d < k && delivered[d].version == passed.events[i].version)
            st = react(p, stream, &passed.events[i], 1, report, err);
    }
    for (size_t i = 0; st == ES_OK && i < n_all; i++)
        st = react(p, stream, all[i], 1, report, err);
out:
    free(all);
    es_event_page_release(&passed);
    es_event_page_release(&fresh);
    for (size_t i = 0; i < n_views; i++) {
        /* After a failure a view may hold events it was not written with. */
        if (st == ES_OK)
            view_to_cache(p, &views[i]);
        json_decref(views[i].doc);
        free(views[i].etag);
    }
    return st;
}

enum es_status es_project_stream(const struct es_projector_opts *p,
                                 const struct es_event *events, size_t n,
                                 struct es_batch_report *report, struct es_error *err)
{
    if (n == 0)
        return ES_OK;
    struct es_batch_report own = {0};
    enum es_status st = project_stream(p, events, n, &own, err);
    add_report(report, &own);
    report->events += (unsigned)n;
    report->streams++;
    return st;
}

/* ---- the batch ---- */

/*
 * Decodes the event documents; dead-letters malformed ones at once. *n_out
 * counts the events decoded into out, on failure too. A document that could
 * not be decoded for want of memory is not malformed: it fails the batch, so
 * that the host sends it again - unless this is the last attempt.
 */
static enum es_status collect_events(const struct es_projector_opts *p,
                                     const json_t *docs, bool last_attempt,
                                     int64_t attempt, struct es_event *out, size_t *n_out,
                                     struct es_batch_report *report, struct es_error *err)
{
    size_t i;
    json_t *doc;
    *n_out = 0;
    json_array_foreach(docs, i, doc)
    {
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        if (kind == NULL || strcmp(kind, "event") != 0)
            continue;
        struct es_error bad = {0};
        enum es_status st = es_event_from_doc(doc, &out[*n_out], &bad);
        if (st == ES_OK) {
            (*n_out)++;
            continue;
        }
        if (st == ES_ENOMEM && !last_attempt)
            return st;
        const char *stream = json_string_value(json_object_get(doc, "streamId"));
        st = dead_letter_raw(p, doc, stream != NULL ? stream : "_undecodable",
                             bad.message[0] != '\0' ? bad.message : es_status_message(st),
                             attempt, report, err);
        if (st != ES_OK)
            return st;
    }
    report->events = (unsigned)*n_out;
    return ES_OK;
}

/* ---- what this process has projected ---- */

#define LAG_SAMPLES 1000
#define RATE_WINDOW 60 /* seconds */

static struct {
    pthread_mutex_t lock;
    struct es_projection_stats s;
    int64_t lags[LAG_SAMPLES];
    size_t n_lags, next_lag;
    int64_t second[RATE_WINDOW]; /* events per second, by epoch second % RATE_WINDOW */
    int64_t at[RATE_WINDOW];     /* the epoch second each slot holds */
    int64_t started_s;
} stats = {.lock = PTHREAD_MUTEX_INITIALIZER, .s = {.lag_ms = -1}};

static void stats_note(const struct es_batch_report *r, enum es_status st,
                       const char *newest_id, int64_t now_ms)
{
    int64_t now_s = now_ms / 1000;
    pthread_mutex_lock(&stats.lock);
    if (stats.started_s == 0)
        stats.started_s = now_s;
    stats.s.batches++;
    stats.s.failed_batches += st != ES_OK;
    stats.s.events += r->events;
    stats.s.dead_lettered += r->dead_lettered;
    stats.s.last_batch_ms = now_ms;
    size_t slot = (size_t)(now_s % RATE_WINDOW);
    if (stats.at[slot] != now_s) {
        stats.at[slot] = now_s;
        stats.second[slot] = 0;
    }
    stats.second[slot] += r->events;
    if (r->lag_ms >= 0) {
        stats.s.lag_ms = r->lag_ms;
        stats.s.last_event_ms = r->newest_ms;
        snprintf(stats.s.last_event_id, sizeof(stats.s.last_event_id), "%s", newest_id);
        stats.lags[stats.next_lag] = r->lag_ms;
        stats.next_lag = (stats.next_lag + 1) % LAG_SAMPLES;
        stats.n_lags += stats.n_lags < LAG_SAMPLES;
    }
    pthread_mutex_unlock(&stats.lock);
}

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void es_projection_stats_get(struct es_projection_stats *out)
{
    int64_t sorted[LAG_SAMPLES];
    int64_t now_s = es_time_now_ms() / 1000;
    pthread_mutex_lock(&stats.lock);
    *out = stats.s;
    size_t n = stats.n_lags;
    memcpy(sorted, stats.lags, n * sizeof(sorted[0]));
    int64_t events = 0;
    for (size_t i = 0; i < RATE_WINDOW; i++)
        if (stats.at[i] > now_s - RATE_WINDOW)
            events += stats.second[i];
    int64_t span = stats.started_s == 0 ? 0
                   : now_s - stats.started_s + 1 < RATE_WINDOW
                       ? now_s - stats.started_s + 1
                       : RATE_WINDOW;
    pthread_mutex_unlock(&stats.lock);
    out->events_per_s = span > 0 ? (double)events / (double)span : 0.0;
    qsort(sorted, n, sizeof(sorted[0]), by_value);
    out->lag_p50_ms = n > 0 ? sorted[(n - 1) / 2] : -1;
    out->lag_p99_ms = n > 0 ? sorted[(n - 1) * 99 / 100] : -1;
}

/* The newest occurredAt among the events, and the id of that event. */
static int64_t newest_event(const struct es_event *events, size_t n, char *id, size_t len)
{
    int64_t newest = 0;
    id[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int64_t at;
        const char *text =
            json_string_value(json_object_get(events[i].meta, "occurredAt"));
        if (es_time_parse_rfc3339_ms(text, &at) && at >= newest &&
            es_event_id(events[i].stream_id, events[i].version, id, len) == ES_OK)
            newest = at;
    }
    return newest;
}

/* ---- the streams of a batch, at once ---- */

/* One stream's events in a batch, and what projecting them did. */
struct stream_run {
    const struct es_event *events;
    size_t n;
    bool ran;
    enum es_status st;
    struct es_error err;
    struct es_batch_report report; /* its own: merged in stream order afterwards */
};

struct run_queue {
    const struct es_projector_opts *p;
    struct stream_run *runs;
    size_t n_runs;
    bool last_attempt;
    atomic_size_t next;  /* the next run to take */
    atomic_bool give_up; /* out of memory with a retry to come: leave the rest */
};

static void run_one(struct run_queue *q, struct stream_run *run)
{
    run->st = project_stream(q->p, run->events, run->n, &run->report, &run->err);
    run->ran = true;
    if (run->st == ES_ENOMEM && !q->last_attempt)
        atomic_store(&q->give_up, true);
}

static void *run_worker(void *arg)
{
    struct run_queue *q = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&q->next, 1);
        if (i >= q->n_runs || atomic_load(&q->give_up))
            return NULL;
        run_one(q, &q->runs[i]);
    }
}

/*
 * Projects the runs, up to p->parallelism of them at once: the streams are
 * independent (every view belongs to one stream, every reaction follows its
 * own stream's views), so only the order within a stream matters, and each
 * run keeps it. Runs left out after running out of memory stay !ran.
 */
static void run_streams(const struct es_projector_opts *p, struct stream_run *runs,
                        size_t n_runs, bool last_attempt)
{
    struct run_queue q = {
        .p = p, .runs = runs, .n_runs = n_runs, .last_attempt = last_attempt};
    atomic_init(&q.next, 0);
    atomic_init(&q.give_up, false);
    size_t extra = p->parallelism > 1 ? p->parallelism - 1 : 0;
    if (extra > n_runs - (n_runs > 0))
        extra = n_runs > 0 ? n_runs - 1 : 0;
    pthread_t threads[PROJECTOR_THREADS_MAX];
    size_t started = 0;
    while (started < extra && started < PROJECTOR_THREADS_MAX &&
           pthread_create(&threads[started], NULL, run_worker, &q) == 0)
        started++;
    run_worker(&q); /* this thread works too, so a refused thread only slows things */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
}

static enum es_status project_batch(const struct es_projector_opts *p,
                                    const json_t *documents, bool last_attempt,
                                    int64_t attempt, struct es_batch_report *report,
                                    char *newest_id, size_t newest_len,
                                    struct es_error *err);

enum es_status es_project_batch(const struct es_projector_opts *p,
                                const json_t *documents, bool last_attempt,
                                int64_t attempt, struct es_batch_report *report,
                                struct es_error *err)
{
    int64_t t0 = es_time_mono_ms();
    char newest_id[ES_DOC_ID_MAX] = "";
    enum es_status st = project_batch(p, documents, last_attempt, attempt, report,
                                      newest_id, sizeof(newest_id), err);
    int64_t now = es_time_now_ms();
    report->duration_ms = es_time_mono_ms() - t0;
    report->lag_ms = report->newest_ms > 0 ? now - report->newest_ms : -1;
    stats_note(report, st, newest_id, now);
    return st;
}

static enum es_status project_batch(const struct es_projector_opts *p,
                                    const json_t *documents, bool last_attempt,
                                    int64_t attempt, struct es_batch_report *report,
                                    char *newest_id, size_t newest_len,
                                    struct es_error *err)
{
    memset(report, 0, sizeof(*report));
    if (!json_is_array(documents)) {
        /* The invoke layer's note on an envelope it refused says why itself. */
        const char *why = json_string_value(json_object_get(documents, "error"));
        return dead_letter_raw(p, documents, "_undecodable",
                               why != NULL ? why
                                           : "the trigger payload is not an array of "
                                             "documents",
                               attempt, report, err);
    }
    report->documents = (unsigned)json_array_size(documents);
    struct es_event *events = calloc(json_array_size(documents) + 1, sizeof(*events));
    if (events == NULL)
        return ES_ENOMEM;
    size_t n = 0;
    enum es_status st =
        collect_events(p, documents, last_attempt, attempt, events, &n, report, err);
    qsort(events, n, sizeof(events[0]), es_event_cmp);
    report->newest_ms = newest_event(events, n, newest_id, newest_len);

    /* Each stream's run of events, duplicates dropped. */
    struct stream_run *runs = calloc(n + 1, sizeof(*runs));
    size_t n_runs = 0;
    if (runs == NULL)
        st = ES_ENOMEM;
    for (size_t start = 0; st == ES_OK && start < n;) {
        size_t end = start + 1, keep = start + 1;
        while (end < n && strcmp(events[end].stream_id, events[start].stream_id) == 0) {
            if (events[end].version != events[keep - 1].version) {
                if (keep != end) {
                    struct es_event tmp = events[keep];
                    events[keep] = events[end];
                    events[end] = tmp;
                }
                keep++;
            }
            end++;
        }
        runs[n_runs++] = (struct stream_run){.events = &events[start], .n = keep - start};
        start = end;
    }
    if (st == ES_OK)
        run_streams(p, runs, n_runs, last_attempt);

    /* The outcomes, in stream order; failures noted per stream. */
    size_t *failed_at = calloc(n + 1, sizeof(*failed_at));
    size_t *failed_len = calloc(n + 1, sizeof(*failed_len));
    char(*failed_why)[256] = calloc(n + 1, sizeof(*failed_why));
    bool *failed_for_good = calloc(n + 1, sizeof(*failed_for_good));
    size_t n_failed = 0, n_retryable = 0;
    if (failed_at == NULL || failed_len == NULL || failed_why == NULL ||
        failed_for_good == NULL)
        st = ES_ENOMEM;
    for (size_t r = 0; st == ES_OK && r < n_runs && runs[r].ran; r++) {
        struct stream_run *run = &runs[r];
        add_report(report, &run->report);
        report->streams++;
        enum es_status s = run->st;
        if (s == ES_ENOMEM && !last_attempt) {
            st = s;
        } else if (s != ES_OK) {
            /* On the last attempt whatever failed is dead-lettered, even for want of
             * memory: the host moves past the batch after it either way. */
            failed_at[n_failed] = (size_t)(run->events - events);
            failed_len[n_failed] = run->n;
            /* Out of memory often leaves no message: the status says it then. */
            const char *why =
                run->err.message[0] != '\0' ? run->err.message : es_status_message(s);
            snprintf(failed_why[n_failed], sizeof(failed_why[0]), "%s", why);
            /* A view past the store's size limit stays past it: no retry helps. */
            failed_for_good[n_failed] = s == ES_ETOOBIG;
            n_retryable += s != ES_ETOOBIG;
            if (report->first_error[0] == '\0')
                snprintf(report->first_error, sizeof(report->first_error), "%s", why);
            n_failed++;
        }
    }
    report->failed_streams = (unsigned)n_failed;
    for (size_t f = 0; st == ES_OK && f < n_failed; f++)
        for (size_t i = 0;
             st == ES_OK && (last_attempt || failed_for_good[f]) && i < failed_len[f];
             i++)
            st = dead_letter_event(p, &events[failed_at[f] + i], failed_why[f], attempt,
                                   report, err);
    if (st == ES_OK && n_retryable > 0 && !last_attempt)
        st = es_error_set(err, ES_EUNAVAILABLE, "%zu stream(s) failed, first: %s",
                          n_failed, report->first_error);
    for (size_t i = 0; i < n; i++)
        es_event_release(&events[i]);
    free(events);
    free(failed_at);
    free(failed_len);
    free(failed_why);
    free(failed_for_good);
    free(runs);
    return st;
}

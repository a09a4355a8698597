/*
 * rebuild.c - recomputing every view from the events (see rebuild.h).
 *
 * The cache is an open-addressing table of view ids, emptied whole when
 * full (after writing what changed), so it never needs to remove one entry.
 * A view the target may already hold (a resumed run, or one the cache let go)
 * is read from the target before its first fold; a view of a target made
 * just now is not, which keeps a clean rebuild to one write per view per
 * cache fill.
 */
#include "rebuild.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/text.h"
#include "util/timeutil.h"

struct entry {
    char *id; /* NULL: a free slot */
    json_t *doc;
    char *etag; /* NULL: not in the target yet */
    int64_t version;
    bool dirty;
};

struct cache {
    struct entry *slots;
    size_t cap; /* a power of two, at least twice max */
    size_t n, max;
    bool spilled; /* it was emptied once: a view may be in the target only */
};

struct run {
    const struct es_rebuild_opts *o;
    struct es_rebuild_progress *p;
    struct cache c;
    bool read_first; /* read each view from the target before folding into it */
    json_t *record;  /* the progress document */
    char *record_etag;
};

static void cache_clear(struct cache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        free(c->slots[i].id);
        json_decref(c->slots[i].doc);
        free(c->slots[i].etag);
    }
    memset(c->slots, 0, c->cap * sizeof(*c->slots));
    c->n = 0;
}

static struct entry *cache_slot(struct cache *c, const char *id)
{
    size_t i = (size_t)es_fnv1a(id) & (c->cap - 1);
    while (c->slots[i].id != NULL && strcmp(c->slots[i].id, id) != 0)
        i = (i + 1) & (c->cap - 1);
    return &c->slots[i];
}

/*
 * The flush: the changed views sorted by partition, written a partition at a
 * time (one views_put, up to ES_STORE_BATCH_MAX_OPS views) by up to
 * parallelism threads that take the next partition from a shared index.
 */
struct flush {
    struct es_store *target;
    struct entry **dirty;
    size_t n;
    pthread_mutex_t lock;
    size_t next;         /* the first view no thread has taken */
    enum es_status st;   /* the first failure */
    struct es_error err; /* its message */
    int64_t written, requests;
};

static int by_partition(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a;
    const struct entry *y = *(const struct entry *const *)b;
    return strcmp(es_view_partition(x->id), es_view_partition(y->id));
}

/* Takes the next partition's views, dirty[*from..*to); false when none is left. */
static bool take(struct flush *f, size_t *from, size_t *to)
{
    pthread_mutex_lock(&f->lock);
    bool any = f->st == ES_OK && f->next < f->n;
    if (any) {
        *from = f->next;
        const char *part = es_view_partition(f->dirty[*from]->id);
        size_t i = *from + 1;
        while (i < f->n && i - *from < ES_STORE_BATCH_MAX_OPS &&
               strcmp(es_view_partition(f->dirty[i]->id), part) == 0)
            i++;
        *to = f->next = i;
    }
    pthread_mutex_unlock(&f->lock);
    return any;
}

/*
 * Writes dirty[from..to), one partition's views: in one request, or one by
 * one when they are too big together. *requests counts the requests made.
 */
static enum es_status put_partition(struct flush *f, size_t from, size_t to,
                                    int64_t *requests, struct es_error *err)
{
    struct es_view_write w[ES_STORE_BATCH_MAX_OPS];
    size_t k = to - from;
    for (size_t j = 0; j < k; j++)
        w[j] = (struct es_view_write){f->dirty[from + j]->doc, f->dirty[from + j]->etag,
                                      NULL, 0};
    size_t refused = 0;
    enum es_status st = f->target->ops->views_put(f->target, w, k, &refused, NULL, err);
    (*requests)++;
    if (st == ES_ETOOBIG) {
        st = ES_OK;
        for (size_t j = 0; j < k; j++)
            w[j].etag = NULL;
        for (size_t j = 0; j < k && st == ES_OK; j++, (*requests)++)
            st = f->target->ops->view_put(f->target, w[j].doc, w[j].if_match, &w[j].etag,
                                          NULL, err);
        if (st != ES_OK)
            for (size_t j = 0; j < k; j++)
                free(w[j].etag);
    }
    if (st != ES_OK)
        return st;
    for (size_t j = 0; j < k; j++) {
        struct entry *e = f->dirty[from + j];
        free(e->etag);
        e->etag = w[j].etag;
        e->dirty = false;
    }
    return ES_OK;
}

static void *flush_worker(void *arg)
{
    struct flush *f = arg;
    size_t from, to;
    while (take(f, &from, &to)) {
        struct es_error err = {0};
        int64_t requests = 0;
        enum es_status st = put_partition(f, from, to, &requests, &err);
        pthread_mutex_lock(&f->lock);
        f->requests += requests;
        if (st == ES_OK)
            f->written += (int64_t)(to - from);
        else if (f->st == ES_OK) {
            f->st = st;
            f->err = err;
        }
        pthread_mutex_unlock(&f->lock);
    }
    return NULL;
}

/* Writes every view that changed since it was read or last written. */
static enum es_status flush(struct run *r, struct es_error *err)
{
    struct flush f = {.target = r->o->target};
    for (size_t i = 0; i < r->c.cap; i++)
        f.n += r->c.slots[i].id != NULL && r->c.slots[i].dirty;
    if (f.n == 0)
        return ES_OK;
    if ((f.dirty = malloc(f.n * sizeof(*f.dirty))) == NULL)
        return ES_ENOMEM;
    for (size_t i = 0, k = 0; i < r->c.cap; i++)
        if (r->c.slots[i].id != NULL && r->c.slots[i].dirty)
            f.dirty[k++] = &r->c.slots[i];
    qsort(f.dirty, f.n, sizeof(*f.dirty), by_partition);
    pthread_mutex_init(&f.lock, NULL);
    unsigned parallelism =
        r->o->parallelism > 0 ? r->o->parallelism : ES_REBUILD_PARALLELISM;
    size_t extra = parallelism - 1;
    if (extra > f.n)
        extra = f.n;
    pthread_t *threads = extra > 0 ? malloc(extra * sizeof(*threads)) : NULL;
    size_t started = 0;
    while (threads != NULL && started < extra &&
           pthread_create(&threads[started], NULL, flush_worker, &f) == 0)
        started++;
    flush_worker(&f); /* this thread writes too: with no other, it writes them all */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    pthread_mutex_destroy(&f.lock);
    free(f.dirty);
    r->p->views_written += f.written;
    r->p->view_requests += f.requests;
    if (f.st != ES_OK && err != NULL)
        *err = f.err;
    return f.st;
}

/* The cache entry of view id (read from the target, or new), making room first. */
static enum es_status view_entry(struct run *r, const struct es_projection *proj,
                                 const char *id, const char *aggregate_id,
                                 struct entry **out, struct es_error *err)
{
    struct entry *e = cache_slot(&r->c, id);
    if (e->id != NULL) {
        *out = e;
        return ES_OK;
    }
    if (r->c.n >= r->c.max) {
        enum es_status st = flush(r, err);
        if (st != ES_OK)
            return st;
        cache_clear(&r->c);
        r->c.spilled = true;
        e = cache_slot(&r->c, id);
    }
    json_t *doc = NULL;
    char *etag = NULL;
    enum es_status st = ES_ENOTFOUND;
    if (r->read_first || r->c.spilled) {
        st = r->o->target->ops->view_get(r->o->target, id, &doc, &etag, NULL, err);
        r->p->views_read += st == ES_OK;
    }
    if (st == ES_ENOTFOUND)
        st = (doc = proj->initial(aggregate_id)) != NULL ? ES_OK : ES_ENOMEM;
    const json_t *version = json_object_get(doc, "version");
    if (st == ES_OK && !json_is_integer(version))
        st = es_error_set(err, ES_EIO, "view '%s' in the target has no version", id);
    if (st == ES_OK && (e->id = strdup(id)) == NULL)
        st = ES_ENOMEM;
    if (st != ES_OK) {
        json_decref(doc);
        free(etag);
        return st;
    }
    e->doc = doc;
    e->etag = etag;
    e->version = (int64_t)json_integer_value(version);
    e->dirty = false;
    r->c.n++;
    *out = e;
    return ES_OK;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Folds one event into each view of its stream that has not reached it. */
static enum es_status fold(struct run *r, const struct es_event *ev, struct es_error *err)
{
    for (size_t i = 0; i < r->o->n_projections; i++) {
        const struct es_projection *proj = r->o->projections[i];
        if (!has_prefix(ev->stream_id, proj->stream_prefix))
            continue;
        const char *aggregate_id = ev->stream_id + strlen(proj->stream_prefix);
        char id[ES_DOC_ID_MAX];
        if (es_fmt(id, sizeof(id), "%s%s", proj->view_prefix, aggregate_id) != ES_OK)
            return es_error_set(err, ES_EINVAL, "view id for '%.80s...' is too long",
                                aggregate_id);
        struct entry *e = NULL;
        enum es_status st = view_entry(r, proj, id, aggregate_id, &e, err);
        if (st != ES_OK)
            return st;
        if (ev->version <= e->version)
            continue; /* folded by an earlier run */
        if ((st = proj->apply(e->doc, ev)) == ES_ENOMEM)
            return st;
        if (st != ES_OK)
            return es_error_set(err, st, "view '%s' cannot fold %s version %lld: %s", id,
                                ev->type, (long long)ev->version, es_status_message(st));
        if (json_object_set_new(e->doc, "version",
                                json_integer((json_int_t)ev->version)) != 0)
            return ES_ENOMEM;
        e->version = ev->version;
        e->dirty = true;
    }
    r->p->streams += ev->version == 1;
    return ES_OK;
}

/* Writes the changed views, then the progress document naming cursor. */
static enum es_status record(struct run *r, const char *cursor, bool done,
                             struct es_error *err)
{
    enum es_status st = flush(r, err);
    if (st != ES_OK)
        return st;
    char now[40];
    es_time_rfc3339_ms(es_time_now_ms(), now, sizeof(now));
    json_t *rec = r->record;
    if (json_object_set_new(rec, "cursor",
                            cursor != NULL ? json_string(cursor) : json_null()) != 0 ||
        json_object_set_new(
            rec, "events",
            json_integer((json_int_t)(r->p->events_before + r->p->events))) != 0 ||
        json_object_set_new(rec, "updatedAt", json_string(now)) != 0 ||
        json_object_set_new(rec, "done", json_boolean(done)) != 0)
        return ES_ENOMEM;
    char *etag = NULL;
    st = r->o->target->ops->view_put(r->o->target, rec, r->record_etag, &etag, NULL, err);
    if (st == ES_OK) {
        free(r->record_etag);
        r->record_etag = etag;
    }
    return st;
}

/* Reads the progress document: resumes from it, or starts one. */
static enum es_status start(struct run *r, char **cursor, struct es_error *err)
{
    struct es_store *t = r->o->target;
    enum es_status st =
        t->ops->view_get(t, ES_REBUILD_RECORD_ID, &r->record, &r->record_etag, NULL, err);
    if (st == ES_OK) {
        const json_t *c = json_object_get(r->record, "cursor");
        const json_t *events = json_object_get(r->record, "events");
        if (!json_is_object(r->record) || !(json_is_string(c) || json_is_null(c)) ||
            !json_is_integer(events) || json_integer_value(events) < 0)
            return es_error_set(err, ES_EIO,
                                "the target's progress record '%s' is malformed: remove "
                                "it, or rebuild into a new target",
                                ES_REBUILD_RECORD_ID);
        r->p->resumed = true;
        r->p->events_before = (int64_t)json_integer_value(events);
        if (json_is_string(c) && (*cursor = strdup(json_string_value(c))) == NULL)
            return ES_ENOMEM;
        return ES_OK;
    }
    if (st != ES_ENOTFOUND)
        return st;
    char now[40];
    es_time_rfc3339_ms(es_time_now_ms(), now, sizeof(now));
    r->record = json_pack("{s:s, s:s, s:n, s:i, s:s, s:s, s:b}", "id",
                          ES_REBUILD_RECORD_ID, "view", ES_REBUILD_RECORD_ID, "cursor",
                          "events", 0, "startedAt", now, "updatedAt", now, "done", 0);
    return r->record != NULL ? ES_OK : ES_ENOMEM;
}

/* Reads and folds pages until the end, or until tick says stop. */
static enum es_status scan(struct run *r, char **cursor, int64_t t0, struct es_error *err)
{
    const struct es_rebuild_opts *o = r->o;
    size_t page_events = o->page_events > 0 ? o->page_events : ES_REBUILD_PAGE_EVENTS;
    int64_t every = o->record_every > 0 ? o->record_every : ES_REBUILD_RECORD_EVERY;
    int64_t since_record = 0;
    enum es_status st = ES_OK;
    for (;;) {
        struct es_event_page page = {0};
        size_t skipped = 0;
        st = o->source->ops->events_scan(o->source, cursor, page_events, &page, &skipped,
                                         NULL, err);
        r->p->skipped += (int64_t)skipped;
        for (size_t i = 0; st == ES_OK && i < page.n; i++)
            st = fold(r, &page.events[i], err);
        size_t n = page.n;
        es_event_page_release(&page);
        if (st != ES_OK)
            return st;
        if (n == 0) {
            st = record(r, *cursor, true, err);
            r->p->done = st == ES_OK;
            return st;
        }
        r->p->events += (int64_t)n;
        r->p->elapsed_ms = es_time_mono_ms() - t0;
        if ((since_record += (int64_t)n) >= every) {
            if ((st = record(r, *cursor, false, err)) != ES_OK)
                return st;
            since_record = 0;
        }
        if (o->tick != NULL && !o->tick(o->ctx, r->p))
            return record(r, *cursor, false, err);
    }
}

enum es_status es_rebuild(const struct es_rebuild_opts *o, struct es_rebuild_progress *p,
                          struct es_error *err)
{
    memset(p, 0, sizeof(*p));
    int64_t t0 = es_time_mono_ms();
    struct run r = {.o = o, .p = p};
    r.c.max = o->cache_views > 0 ? o->cache_views : ES_REBUILD_CACHE_VIEWS;
    r.c.cap = 16;
    while (r.c.cap < 2 * r.c.max)
        r.c.cap *= 2;
    r.c.slots = calloc(r.c.cap, sizeof(*r.c.slots));
    char *cursor = NULL;
    enum es_status st = r.c.slots != NULL ? start(&r, &cursor, err) : ES_ENOMEM;
    r.read_first = !o->target_new || p->resumed;
    p->total = -1;
    int64_t total = 0;
    if (st == ES_OK &&
        o->source->ops->events_count(o->source, &total, NULL, NULL) == ES_OK)
        p->total = total;
    if (st == ES_OK && o->tick != NULL && !o->tick(o->ctx, p))
        st = ES_OK; /* stopped before reading anything: nothing to record */
    else if (st == ES_OK)
        st = scan(&r, &cursor, t0, err);
    p->elapsed_ms = es_time_mono_ms() - t0;
    p->cursor = cursor;
    if (r.c.slots != NULL)
        cache_clear(&r.c);
    free(r.c.slots);
    json_decref(r.record);
    free(r.record_etag);
    return st;
}

void es_rebuild_progress_release(struct es_rebuild_progress *p)
{
    free(p->cursor);
    p->cursor = NULL;
}

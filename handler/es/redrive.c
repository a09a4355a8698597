/*
 * redrive.c - running dead letters again (see redrive.h for the contract).
 *
 * A dead letter read back is input like any other: its id must be the one
 * asked for, the event ids taken from it must be well-formed, and the events
 * they name are read from the event store, never taken from the dead letter.
 */
#include "redrive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

/* An event a dead letter names. */
struct ref {
    char stream[ES_STREAM_ID_MAX + 1];
    int64_t version;
};

static int by_ref(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    int c = strcmp(x->stream, y->stream);
    if (c != 0)
        return c;
    return x->version < y->version ? -1 : x->version > y->version;
}

/* "{stream}:{version}" (an event document id) into r; false when it is not one. */
static bool parse_event_id(const char *s, struct ref *r)
{
    const char *colon = s != NULL ? strrchr(s, ':') : NULL;
    if (colon == NULL || (size_t)(colon - s) > ES_STREAM_ID_MAX)
        return false;
    memcpy(r->stream, s, (size_t)(colon - s));
    r->stream[colon - s] = '\0';
    char *end = NULL;
    const char *v = colon + 1;
    long long n = v[0] >= '1' && v[0] <= '9' ? strtoll(v, &end, 10) : 0;
    r->version = n;
    return es_stream_id_valid(r->stream) && end != NULL && *end == '\0' && n >= 1 &&
           n <= ES_VERSION_MAX;
}

/* A stream and version given as JSON fields into r; false when they are not valid. */
static bool ref_of_fields(const json_t *stream, const json_t *version, struct ref *r)
{
    const char *s = json_string_value(stream);
    if (!es_stream_id_valid(s) || !json_is_integer(version) ||
        json_integer_value(version) < 1 || json_integer_value(version) > ES_VERSION_MAX)
        return false;
    snprintf(r->stream, sizeof(r->stream), "%s", s);
    r->version = (int64_t)json_integer_value(version);
    return true;
}

/*
 * The events the dead letter doc names, into *refs (malloc'd, sorted,
 * distinct). ES_EREDRIVE (why in err) when it names none, or names them
 * badly; ES_ENOMEM.
 */
static enum es_status refs_of(const json_t *doc, const char *stream, struct ref **refs,
                              size_t *n, struct es_error *err)
{
    const json_t *event = json_object_get(doc, "event");
    const json_t *payload = json_object_get(doc, "payload");
    const json_t *ids = json_object_get(payload, "documentIds");
    size_t cap = json_is_array(ids) ? json_array_size(ids) : 1;
    if (cap > ES_REDRIVE_EVENTS_MAX)
        return es_error_set(err, ES_EREDRIVE,
                            "the dead letter names %zu events, more than %d a redrive "
                            "runs: rebuild the views instead (handler rebuild)",
                            cap, ES_REDRIVE_EVENTS_MAX);
    struct ref *out = calloc(cap > 0 ? cap : 1, sizeof(*out));
    if (out == NULL)
        return ES_ENOMEM;
    size_t k = 0;
    bool ok = true;
    if (json_is_object(event)) {
        ok = ref_of_fields(json_object_get(event, "streamId"),
                           json_object_get(event, "version"), &out[k]) &&
             strcmp(out[k].stream, stream) == 0;
        k += ok;
    } else if (json_is_array(ids)) {
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v)
        {
            if (!(ok = parse_event_id(json_string_value(v), &out[k])))
                break;
            k++;
        }
    } else if (json_is_object(payload) && json_object_get(payload, "version") != NULL) {
        /* A malformed document: its stream and version, if those at least are sound. */
        ok = ref_of_fields(json_object_get(payload, "streamId"),
                           json_object_get(payload, "version"), &out[k]);
        k += ok;
    }
    if (!ok || k == 0) {
        free(out);
        return es_error_set(
            err, ES_EREDRIVE, "%s",
            !ok ? "the dead letter names its event badly: there is no event to run"
                : "the dead letter holds no event id (a payload that could not be "
                  "decoded): there is no event to run; rebuild the views if needed "
                  "(handler rebuild)");
    }
    qsort(out, k, sizeof(*out), by_ref);
    size_t w = 0;
    for (size_t i = 0; i < k; i++)
        if (w == 0 || by_ref(&out[w - 1], &out[i]) != 0)
            out[w++] = out[i];
    *refs = out;
    *n = w;
    return ES_OK;
}

/* The stored event r names into *out. ES_EREDRIVE when the store has no such event. */
static enum es_status read_event(const struct es_projector_opts *p, const struct ref *r,
                                 struct es_event *out, struct es_batch_report *report,
                                 struct es_error *err)
{
    struct es_event_page page = {0};
    enum es_status st = p->store->ops->read_stream(p->store, r->stream, r->version, 1,
                                                   &page, &report->io, err);
    if (st == ES_OK && (page.n != 1 || page.events[0].version != r->version))
        st = es_error_set(err, ES_EREDRIVE, "the event store holds no event %s:%lld",
                          r->stream, (long long)r->version);
    if (st == ES_OK) {
        *out = page.events[0];
        page.n = 0;
    }
    es_event_page_release(&page);
    return st;
}

/* Reads the events refs name and projects them, a stream at a time. */
static enum es_status run_refs(const struct es_projector_opts *p, const struct ref *refs,
                               size_t n, struct es_error *err)
{
    struct es_event *events = calloc(n, sizeof(*events));
    if (events == NULL)
        return ES_ENOMEM;
    struct es_batch_report report = {0};
    size_t n_read = 0;
    enum es_status st = ES_OK;
    for (; st == ES_OK && n_read < n; n_read++)
        if ((st = read_event(p, &refs[n_read], &events[n_read], &report, err)) != ES_OK)
            break;
    for (size_t start = 0; st == ES_OK && start < n;) {
        size_t end = start + 1;
        while (end < n && strcmp(refs[end].stream, refs[start].stream) == 0)
            end++;
        st = es_project_stream(p, &events[start], end - start, &report, err);
        start = end;
    }
    for (size_t i = 0; i < n_read; i++)
        es_event_release(&events[i]);
    free(events);
    return st;
}

/* Writes the dead letter back with the new error, one more attempt and the time. */
static enum es_status note_failure(const struct es_projector_opts *p, const json_t *doc,
                                   const char *why, struct es_redrive_result *out,
                                   struct es_error *err)
{
    const json_t *was = json_object_get(doc, "attempts");
    int64_t attempts = json_is_integer(was) && json_integer_value(was) >= 0 &&
                               json_integer_value(was) < ES_VERSION_MAX
                           ? (int64_t)json_integer_value(was)
                           : 0;
    char now[40];
    es_time_rfc3339_ms(es_time_now_ms(), now, sizeof(now));
    json_t *copy = es_json_deep_copy(doc);
    enum es_status st = copy != NULL ? ES_OK : ES_ENOMEM;
    if (st == ES_OK &&
        (json_object_set_new(copy, "error", json_string(why)) != 0 ||
         json_object_set_new(copy, "attempts", json_integer((json_int_t)attempts + 1)) !=
             0 ||
         json_object_set_new(copy, "failedAt", json_string(now)) != 0))
        st = ES_ENOMEM;
    if (st == ES_OK)
        st = p->store->ops->deadletter_put(p->store, copy, NULL, err);
    json_decref(copy);
    if (st != ES_OK)
        return st;
    out->attempts = attempts + 1;
    snprintf(out->error, sizeof(out->error), "%s", why);
    return es_error_set(err, ES_EREDRIVE, "%s", why);
}

enum es_status es_redrive(const struct es_projector_opts *p, const char *id,
                          struct es_redrive_result *out, struct es_error *err)
{
    memset(out, 0, sizeof(*out));
    if (es_deadletter_stream(id, out->stream_id, sizeof(out->stream_id)) != ES_OK)
        return ES_ENOTFOUND; /* not an id a dead letter can have */
    json_t *doc = NULL;
    struct ref *refs = NULL;
    size_t n = 0;
    enum es_status st = p->store->ops->deadletter_get(p->store, id, &doc, NULL, err);
    if (st != ES_OK)
        return st;
    const char *stored_id = json_string_value(json_object_get(doc, "id"));
    if (!json_is_object(doc) || stored_id == NULL || strcmp(stored_id, id) != 0) {
        json_decref(doc);
        return es_error_set(err, ES_EIO, "dead letter '%s' reads back malformed", id);
    }
    /*
     * Another subscriber's dead letter (the Publisher's: an integration event it
     * could not deliver) is not the Projector's to run: running the views and
     * reactions and then removing it would drop the record of a message never
     * sent. It stays as it is.
     */
    const char *subscriber = json_string_value(json_object_get(doc, "subscriber"));
    if (subscriber != NULL && strcmp(subscriber, "Projector") != 0) {
        const json_t *was = json_object_get(doc, "attempts");
        out->attempts = json_is_integer(was) ? (int64_t)json_integer_value(was) : 0;
        snprintf(
            out->error, sizeof(out->error),
            "dead letter '%s' is the %.40s's, not the Projector's: a redrive runs the "
            "read side's handlers only (docs/operations.md, \"Redriving them\")",
            id, subscriber);
        json_decref(doc);
        return es_error_set(err, ES_EREDRIVE, "%s", out->error);
    }
    struct es_error why = {0};
    st = refs_of(doc, out->stream_id, &refs, &n, &why);
    if (st == ES_OK)
        st = run_refs(p, refs, n, &why);
    if (n > 0)
        out->version = refs[n - 1].version;
    if (st == ES_OK) {
        st = p->store->ops->deadletter_delete(p->store, id, NULL, err);
        if (st == ES_ENOTFOUND)
            st = ES_OK; /* another redrive of it finished first */
        if (st == ES_OK)
            es_log_info("redrive: dead letter %s ran and is removed", id);
    } else if (st != ES_ENOMEM) {
        if (why.message[0] == '\0')
            es_error_set(&why, st, "%s", es_status_message(st));
        st = note_failure(p, doc, why.message, out, err);
        es_log_error("redrive: dead letter %s failed again (%lld attempts): %s", id,
                     (long long)out->attempts, why.message);
    }
    free(refs);
    json_decref(doc);
    return st;
}

/* ---- every dead letter, in stream order ---- */

#define SCAN_PAGE 500

/* Where a dead letter sorts: stream, version, id. */
struct key {
    char stream[ES_DOC_ID_MAX];
    int64_t version;
    char *id;
};

static int key_cmp(const struct key *a, const struct key *b)
{
    int c = strcmp(a->stream, b->stream);
    if (c != 0)
        return c;
    if (a->version != b->version)
        return a->version < b->version ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* A dead letter's key (id borrowed from doc); false when it has no usable id. */
static bool key_of(const json_t *doc, struct key *k)
{
    k->id = (char *)json_string_value(json_object_get(doc, "id"));
    if (k->id == NULL ||
        es_deadletter_stream(k->id, k->stream, sizeof(k->stream)) != ES_OK)
        return false;
    const json_t *v = json_object_get(json_object_get(doc, "event"), "version");
    k->version = json_is_integer(v) && json_integer_value(v) >= 1 &&
                         json_integer_value(v) <= ES_VERSION_MAX
                     ? (int64_t)json_integer_value(v)
                     : 0;
    return true;
}

/* "{stream}\n{version}\n{id}" - a page's next - into k (id malloc'd); ES_EINVAL. */
static enum es_status key_parse(const char *text, struct key *k)
{
    const char *a = strchr(text, '\n');
    const char *b = a != NULL ? strchr(a + 1, '\n') : NULL;
    if (b == NULL || (size_t)(a - text) >= sizeof(k->stream) || a[1] < '0' || a[1] > '9')
        return ES_EINVAL;
    memcpy(k->stream, text, (size_t)(a - text));
    k->stream[a - text] = '\0';
    char *end = NULL;
    long long v = strtoll(a + 1, &end, 10);
    if (end != b || v < 0 || v > ES_VERSION_MAX)
        return ES_EINVAL;
    k->version = v;
    k->id = strdup(b + 1);
    return k->id != NULL ? ES_OK : ES_ENOMEM;
}

/* The smallest `limit` keys above `after`, kept sorted; *more when others were left. */
struct selection {
    struct key *keys;
    size_t n, limit;
    bool more;
};

static enum es_status select_key(struct selection *s, const struct key *k)
{
    size_t at = s->n;
    while (at > 0 && key_cmp(k, &s->keys[at - 1]) < 0)
        at--;
    if (at == s->limit) {
        s->more = true;
        return ES_OK;
    }
    char *id = strdup(k->id);
    if (id == NULL)
        return ES_ENOMEM;
    if (s->n == s->limit) {
        free(s->keys[s->n - 1].id);
        s->n--;
        s->more = true;
    }
    memmove(&s->keys[at + 1], &s->keys[at], (s->n - at) * sizeof(*s->keys));
    s->keys[at] = *k;
    s->keys[at].id = id;
    s->n++;
    return ES_OK;
}

/* Lists every dead letter, keeping the first s->limit keys above after (NULL: all). */
static enum es_status scan(const struct es_projector_opts *p, const struct key *after,
                           struct selection *s, struct es_error *err)
{
    char *cont = NULL;
    enum es_status st = ES_OK;
    do {
        json_t *docs = NULL;
        char *next = NULL;
        st = p->store->ops->deadletter_query(p->store, cont, SCAN_PAGE, &docs, &next,
                                             NULL, err);
        free(cont);
        cont = next;
        size_t i;
        json_t *doc;
        json_array_foreach(docs, i, doc)
        {
            struct key k;
            if (st == ES_OK && key_of(doc, &k) &&
                (after == NULL || key_cmp(&k, after) > 0))
                st = select_key(s, &k);
        }
        json_decref(docs);
    } while (st == ES_OK && cont != NULL);
    free(cont);
    return st;
}

static char *key_text(const struct key *k)
{
    size_t n = strlen(k->stream) + strlen(k->id) + 24;
    char *text = malloc(n);
    if (text != NULL && es_fmt(text, n, "%s\n%lld\n%s", k->stream, (long long)k->version,
                               k->id) != ES_OK) {
        free(text);
        text = NULL;
    }
    return text;
}

static enum es_status redrive_selected(const struct es_projector_opts *p,
                                       const struct selection *s,
                                       struct es_redrive_page *out, struct es_error *err)
{
    enum es_status st = ES_OK;
    for (size_t i = 0; st == ES_OK && i < s->n; i++) {
        struct es_redrive_result r;
        struct es_error one = {0};
        enum es_status rs = es_redrive(p, s->keys[i].id, &r, &one);
        if (rs == ES_OK)
            out->redriven++;
        else if (rs == ES_EREDRIVE &&
                 json_array_append_new(out->failed,
                                       json_pack("{s:s, s:s, s:I}", "id", s->keys[i].id,
                                                 "error", r.error, "attempts",
                                                 (json_int_t)r.attempts)) != 0)
            st = ES_ENOMEM;
        else if (rs != ES_EREDRIVE && rs != ES_ENOTFOUND) {
            *err = one;
            st = rs;
        }
    }
    return st;
}

enum es_status es_redrive_all(const struct es_projector_opts *p, const char *after,
                              size_t limit, struct es_redrive_page *out,
                              struct es_error *err)
{
    memset(out, 0, sizeof(*out));
    struct key from = {0};
    enum es_status parsed = after != NULL ? key_parse(after, &from) : ES_OK;
    if (parsed != ES_OK)
        return parsed == ES_EINVAL
                   ? es_error_set(err, ES_EINVAL, "not a continuation of this listing")
                   : parsed;
    struct selection s = {.limit = limit > 0 ? limit : 1};
    s.keys = calloc(s.limit, sizeof(*s.keys));
    out->failed = json_array();
    enum es_status st = s.keys != NULL && out->failed != NULL ? ES_OK : ES_ENOMEM;
    if (st == ES_OK)
        st = scan(p, after != NULL ? &from : NULL, &s, err);
    if (st == ES_OK)
        st = redrive_selected(p, &s, out, err);
    if (st == ES_OK && s.more && s.n > 0 &&
        (out->next = key_text(&s.keys[s.n - 1])) == NULL)
        st = ES_ENOMEM;
    for (size_t i = 0; i < s.n; i++)
        free(s.keys[i].id);
    free(s.keys);
    free(from.id);
    if (st != ES_OK)
        es_redrive_page_release(out);
    return st;
}

void es_redrive_page_release(struct es_redrive_page *page)
{
    json_decref(page->failed);
    free(page->next);
    memset(page, 0, sizeof(*page));
}

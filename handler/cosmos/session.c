/*
 * session.c - session tokens per container (the rules are in session.h).
 */
#include "session.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define RANGE_ID_MAX 32
#define REGIONS_MAX  16
#define LINK_MAX     528 /* "dbs/<255>/colls/<255>" */

struct region_lsn {
    int64_t region, lsn;
};

/* One partition key range's token. */
struct range_token {
    char id[RANGE_ID_MAX + 1];
    bool vector; /* "<version>#<global>[#r=l...]"; else simple: global alone */
    int64_t version, global;
    size_t n_regions;
    struct region_lsn regions[REGIONS_MAX];
};

struct container {
    char link[LINK_MAX];
    struct range_token *ranges;
    size_t n, cap;
};

struct cosmos_sessions {
    pthread_mutex_t lock;
    struct container containers[COSMOS_SESSION_MAX_CONTAINERS];
    size_t n;
};

struct cosmos_sessions *cosmos_sessions_new(void)
{
    struct cosmos_sessions *s = calloc(1, sizeof(*s));
    if (s != NULL)
        pthread_mutex_init(&s->lock, NULL);
    return s;
}

void cosmos_sessions_free(struct cosmos_sessions *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->containers[i].ranges);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- parsing ---- */

/* An optionally negative decimal of 1-18 digits filling [p, end). */
static bool parse_int(const char *p, const char *end, int64_t *out)
{
    bool neg = p < end && *p == '-';
    if (neg)
        p++;
    if (p == end || end - p > 18)
        return false;
    int64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return true;
}

/* "<version>#<global>[#<region>=<lsn>...]" or "<lsn>" in [p, end). */
static bool parse_token(const char *p, const char *end, struct range_token *t)
{
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash == NULL) {
        t->vector = false;
        return parse_int(p, end, &t->global) && t->global >= 0;
    }
    t->vector = true;
    if (!parse_int(p, hash, &t->version))
        return false;
    p = hash + 1;
    hash = memchr(p, '#', (size_t)(end - p));
    if (!parse_int(p, hash != NULL ? hash : end, &t->global))
        return false;
    while (hash != NULL) {
        p = hash + 1;
        hash = memchr(p, '#', (size_t)(end - p));
        const char *seg_end = hash != NULL ? hash : end;
        const char *eq = memchr(p, '=', (size_t)(seg_end - p));
        if (eq == NULL || t->n_regions == REGIONS_MAX)
            return false;
        struct region_lsn *r = &t->regions[t->n_regions++];
        if (!parse_int(p, eq, &r->region) || !parse_int(eq + 1, seg_end, &r->lsn))
            return false;
    }
    return true;
}

/* "<range>:<token>" in [p, end). */
static bool parse_pair(const char *p, const char *end, struct range_token *t)
{
    memset(t, 0, sizeof(*t));
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (colon == NULL || colon == p || colon - p > RANGE_ID_MAX)
        return false;
    for (const char *c = p; c < colon; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z') || *c == '-' || *c == '_'))
            return false;
    memcpy(t->id, p, (size_t)(colon - p));
    return parse_token(colon + 1, end, t);
}

/* ---- merging ---- */

static const struct region_lsn *region_of(const struct range_token *t, int64_t region)
{
    for (size_t i = 0; i < t->n_regions; i++)
        if (t->regions[i].region == region)
            return &t->regions[i];
    return NULL;
}

/* held := the merge of held and got (both for one range). */
static void merge_token(struct range_token *held, const struct range_token *got)
{
    if (held->vector != got->vector) {
        *held = *got; /* the service changed format: what it says now counts */
        return;
    }
    if (!got->vector) {
        if (got->global > held->global)
            held->global = got->global;
        return;
    }
    const struct range_token *hi = got->version >= held->version ? got : held;
    const struct range_token *lo = hi == got ? held : got;
    struct range_token m = *hi;
    m.global = held->global > got->global ? held->global : got->global;
    for (size_t i = 0; i < m.n_regions; i++) {
        const struct region_lsn *other = region_of(lo, m.regions[i].region);
        if (other != NULL && other->lsn > m.regions[i].lsn)
            m.regions[i].lsn = other->lsn;
    }
    *held = m;
}

static struct container *container_of(struct cosmos_sessions *s, const char *link,
                                      bool create)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->containers[i].link, link) == 0)
            return &s->containers[i];
    if (!create || s->n == COSMOS_SESSION_MAX_CONTAINERS || strlen(link) >= LINK_MAX)
        return NULL;
    struct container *c = &s->containers[s->n++];
    memset(c, 0, sizeof(*c));
    memcpy(c->link, link, strlen(link) + 1);
    return c;
}

static enum es_status merge_pair(struct container *c, const struct range_token *t)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->ranges[i].id, t->id) == 0) {
            merge_token(&c->ranges[i], t);
            return ES_OK;
        }
    if (c->n == COSMOS_SESSION_MAX_RANGES)
        return ES_EINVAL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        struct range_token *r = realloc(c->ranges, cap * sizeof(*r));
        if (r == NULL)
            return ES_ENOMEM;
        c->ranges = r;
        c->cap = cap;
    }
    c->ranges[c->n++] = *t;
    return ES_OK;
}

enum es_status cosmos_sessions_merge(struct cosmos_sessions *s, const char *container,
                                     const char *value, size_t len)
{
    if (len == 0 || len > COSMOS_SESSION_MAX_BYTES)
        return ES_EINVAL;
    /* Parse all of it first: a value that is wrong anywhere changes nothing. */
    size_t n_pairs = 1;
    for (size_t i = 0; i < len; i++)
        n_pairs += value[i] == ',';
    if (n_pairs > COSMOS_SESSION_MAX_RANGES)
        return ES_EINVAL;
    struct range_token *pairs = calloc(n_pairs, sizeof(*pairs));
    if (pairs == NULL)
        return ES_ENOMEM;
    enum es_status st = ES_OK;
    const char *p = value, *end = value + len;
    for (size_t i = 0; i < n_pairs && st == ES_OK; i++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *pair_end = comma != NULL ? comma : end;
        if (!parse_pair(p, pair_end, &pairs[i]))
            st = ES_EINVAL;
        p = pair_end + 1;
    }
    if (st == ES_OK) {
        pthread_mutex_lock(&s->lock);
        struct container *c = container_of(s, container, true);
        if (c == NULL)
            st = ES_EINVAL;
        for (size_t i = 0; c != NULL && i < n_pairs && st == ES_OK; i++)
            st = merge_pair(c, &pairs[i]);
        pthread_mutex_unlock(&s->lock);
    }
    free(pairs);
    return st;
}

/* ---- sending ---- */

static enum es_status render(const struct container *c, struct es_buf *b)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct range_token *t = &c->ranges[i];
        enum es_status st =
            t->vector ? es_buf_addf(b, "%s%s:%" PRId64 "#%" PRId64, i ? "," : "", t->id,
                                    t->version, t->global)
                      : es_buf_addf(b, "%s%s:%" PRId64, i ? "," : "", t->id, t->global);
        for (size_t r = 0; st == ES_OK && t->vector && r < t->n_regions; r++)
            st = es_buf_addf(b, "#%" PRId64 "=%" PRId64, t->regions[r].region,
                             t->regions[r].lsn);
        if (st != ES_OK)
            return st;
    }
    return ES_OK;
}

enum es_status cosmos_sessions_get(struct cosmos_sessions *s, const char *container,
                                   char **out)
{
    *out = NULL;
    struct es_buf b;
    es_buf_init(&b, (size_t)COSMOS_SESSION_MAX_RANGES * 128);
    pthread_mutex_lock(&s->lock);
    const struct container *c = container_of(s, container, false);
    enum es_status st = c != NULL && c->n > 0 ? render(c, &b) : ES_OK;
    bool any = c != NULL && c->n > 0;
    pthread_mutex_unlock(&s->lock);
    if (st == ES_OK && any && (*out = es_buf_take(&b, NULL)) == NULL)
        st = ES_ENOMEM;
    es_buf_release(&b);
    return st;
}

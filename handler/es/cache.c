/*
 * cache.c - LRU: a chained hash table for lookup and a doubly linked list for
 * recency, under one mutex. The lock is never held across I/O; a get clones
 * under the lock, which keeps the entry alive without reference counts; a
 * take hands the state over without copying it.
 */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

struct entry {
    char *key;
    void *state;
    void (*state_free)(void *);
    int64_t version;
    size_t cost;
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* recency list, most recent first */
};

struct es_cache {
    pthread_mutex_t lock;
    size_t max, n, n_buckets;
    size_t max_cost, cost; /* max_cost 0: unbounded */
    struct entry **buckets;
    struct entry *head, *tail;
};

struct es_cache *es_cache_new(size_t max_entries)
{
    return es_cache_new_sized(max_entries, 0);
}

struct es_cache *es_cache_new_sized(size_t max_entries, size_t max_cost)
{
    struct es_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->max = max_entries > 0 ? max_entries : 1;
    c->max_cost = max_cost;
    c->n_buckets = 64;
    while (c->n_buckets < c->max)
        c->n_buckets *= 2;
    c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void entry_free(struct entry *e)
{
    e->state_free(e->state);
    free(e->key);
    free(e);
}

void es_cache_free(struct es_cache *c)
{
    if (c == NULL)
        return;
    for (struct entry *e = c->head, *next; e != NULL; e = next) {
        next = e->next;
        entry_free(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static struct entry **slot(struct es_cache *c, const char *key)
{
    struct entry **p = &c->buckets[es_fnv1a(key) & (c->n_buckets - 1)];
    while (*p != NULL && strcmp((*p)->key, key) != 0)
        p = &(*p)->hnext;
    return p;
}

static void unlink_lru(struct es_cache *c, struct entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(struct es_cache *c, struct entry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

bool es_cache_get(struct es_cache *c, const char *stream_id, void *(*clone)(const void *),
                  void **state_out, int64_t *version_out)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = *slot(c, stream_id);
    void *copy = NULL;
    if (e != NULL) {
        unlink_lru(c, e);
        push_front(c, e);
        copy = clone(e->state);
        *version_out = e->version;
    }
    pthread_mutex_unlock(&c->lock);
    *state_out = copy;
    return copy != NULL;
}

bool es_cache_take(struct es_cache *c, const char *stream_id, void **state_out,
                   int64_t *version_out)
{
    pthread_mutex_lock(&c->lock);
    struct entry **p = slot(c, stream_id);
    struct entry *e = *p;
    if (e != NULL) {
        *p = e->hnext;
        unlink_lru(c, e);
        c->n--;
        c->cost -= e->cost;
    }
    pthread_mutex_unlock(&c->lock);
    *state_out = NULL;
    if (e == NULL)
        return false;
    *state_out = e->state;
    *version_out = e->version;
    free(e->key);
    free(e);
    return true;
}

/* Unlinks the least recently used entry (not keep) onto *out; false when none. */
static bool evict_one(struct es_cache *c, const struct entry *keep, struct entry **out)
{
    struct entry *e = c->tail;
    if (e == NULL || e == keep)
        return false;
    unlink_lru(c, e);
    struct entry **q = slot(c, e->key);
    *q = e->hnext;
    c->n--;
    c->cost -= e->cost;
    e->hnext = *out;
    *out = e;
    return true;
}

void es_cache_put(struct es_cache *c, const char *stream_id, void *state, int64_t version,
                  void (*state_free)(void *))
{
    es_cache_put_sized(c, stream_id, state, version, 0, state_free);
}

void es_cache_put_sized(struct es_cache *c, const char *stream_id, void *state,
                        int64_t version, size_t cost, void (*state_free)(void *))
{
    if (c->max_cost > 0 && cost > c->max_cost) {
        /* It alone passes the bound: keep nothing of it (an older copy is stale). */
        void *old = NULL;
        int64_t v;
        if (es_cache_take(c, stream_id, &old, &v) && old != NULL)
            state_free(old);
        state_free(state);
        return;
    }
    pthread_mutex_lock(&c->lock);
    struct entry **p = slot(c, stream_id);
    struct entry *e = *p;
    void *drop = NULL;
    struct entry *evicted = NULL;
    if (e != NULL) {
        if (version > e->version) {
            e->state_free(e->state);
            e->state = state;
            e->state_free = state_free;
            e->version = version;
            c->cost = c->cost - e->cost + cost;
            e->cost = cost;
        } else {
            drop = state;
        }
        unlink_lru(c, e);
        push_front(c, e);
    } else if ((e = calloc(1, sizeof(*e))) != NULL &&
               (e->key = strdup(stream_id)) != NULL) {
        e->state = state;
        e->state_free = state_free;
        e->version = version;
        e->cost = cost;
        *p = e;
        push_front(c, e);
        c->n++;
        c->cost += cost;
    } else {
        free(e);
        e = NULL;
        drop = state;
    }
    while ((c->n > c->max || (c->max_cost > 0 && c->cost > c->max_cost)) &&
           evict_one(c, e, &evicted))
        ;
    pthread_mutex_unlock(&c->lock);
    if (drop != NULL)
        state_free(drop);
    while (evicted != NULL) {
        struct entry *next = evicted->hnext;
        entry_free(evicted);
        evicted = next;
    }
}

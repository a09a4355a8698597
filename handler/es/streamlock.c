/*
 * streamlock.c - per-stream exclusion (see streamlock.h).
 *
 * One mutex guards the table (a hash of chained entries); each entry has a
 * condition variable its waiters sleep on. The table mutex is held only to
 * find, create or drop an entry, never while a stream is in use, so a slow
 * command on one stream holds up no other.
 */
#include "streamlock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

#define BUCKETS 1024

struct es_streamlock {
    struct es_streamlock *next; /* in its bucket */
    pthread_cond_t free_again;
    unsigned users; /* the holder and the waiters */
    bool held;
    char stream_id[];
};

struct es_streamlocks {
    pthread_mutex_t lock;
    struct es_streamlock *buckets[BUCKETS];
    size_t in_use;
};

struct es_streamlocks *es_streamlocks_new(void)
{
    struct es_streamlocks *t = calloc(1, sizeof(*t));
    if (t != NULL)
        pthread_mutex_init(&t->lock, NULL);
    return t;
}

void es_streamlocks_free(struct es_streamlocks *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static struct es_streamlock **slot(struct es_streamlocks *t, const char *stream_id)
{
    struct es_streamlock **p = &t->buckets[es_fnv1a(stream_id) % BUCKETS];
    while (*p != NULL && strcmp((*p)->stream_id, stream_id) != 0)
        p = &(*p)->next;
    return p;
}

enum es_status es_streamlock_take(struct es_streamlocks *t, const char *stream_id,
                                  struct es_streamlock **out)
{
    pthread_mutex_lock(&t->lock);
    struct es_streamlock **p = slot(t, stream_id);
    struct es_streamlock *e = *p;
    if (e == NULL) {
        size_t n = strlen(stream_id) + 1;
        e = calloc(1, sizeof(*e) + n);
        if (e == NULL) {
            pthread_mutex_unlock(&t->lock);
            return ES_ENOMEM;
        }
        memcpy(e->stream_id, stream_id, n);
        pthread_cond_init(&e->free_again, NULL);
        *p = e;
        t->in_use++;
    }
    e->users++;
    while (e->held)
        pthread_cond_wait(&e->free_again, &t->lock);
    e->held = true;
    pthread_mutex_unlock(&t->lock);
    *out = e;
    return ES_OK;
}

void es_streamlock_give(struct es_streamlocks *t, struct es_streamlock *held)
{
    pthread_mutex_lock(&t->lock);
    held->held = false;
    if (--held->users > 0) {
        pthread_cond_signal(&held->free_again);
        pthread_mutex_unlock(&t->lock);
        return;
    }
    struct es_streamlock **p = slot(t, held->stream_id);
    *p = held->next;
    t->in_use--;
    pthread_mutex_unlock(&t->lock);
    pthread_cond_destroy(&held->free_again);
    free(held);
}

size_t es_streamlocks_in_use(struct es_streamlocks *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->in_use;
    pthread_mutex_unlock(&t->lock);
    return n;
}

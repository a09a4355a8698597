/*
 * pool.c - worker threads over a mutex-protected singly linked FIFO.
 */
#include "pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct task {
    struct task *next;
    es_pool_task_fn fn;
    void *arg;
};

struct es_pool {
    pthread_mutex_t lock;
    pthread_cond_t ready;     /* signalled when a task is queued or on stop */
    struct task *head, *tail; /* FIFO of queued tasks */
    size_t pending;           /* queued + running */
    bool stopping;            /* refuse new tasks, exit when the queue is empty */
    unsigned n_threads;
    pthread_t threads[];
};

static void *worker(void *arg)
{
    struct es_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->head == NULL && !pool->stopping)
            pthread_cond_wait(&pool->ready, &pool->lock);
        struct task *t = pool->head;
        if (t == NULL)
            break;
        pool->head = t->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->lock);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&pool->lock);
        pool->pending--;
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

struct es_pool *es_pool_new(unsigned n_threads)
{
    if (n_threads == 0)
        n_threads = 1;
    struct es_pool *pool = calloc(1, sizeof(*pool) + n_threads * sizeof(pthread_t));
    if (pool == NULL)
        return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    for (unsigned i = 0; i < n_threads; i++) {
        if (pthread_create(&pool->threads[i], NULL, worker, pool) != 0) {
            pool->n_threads = i;
            es_pool_free(pool);
            return NULL;
        }
    }
    pool->n_threads = n_threads;
    return pool;
}

enum es_status es_pool_submit(struct es_pool *pool, es_pool_task_fn fn, void *arg)
{
    struct task *t = malloc(sizeof(*t));
    if (t == NULL)
        return ES_ENOMEM;
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&pool->lock);
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        free(t);
        return ES_EUNAVAILABLE;
    }
    if (pool->tail != NULL)
        pool->tail->next = t;
    else
        pool->head = t;
    pool->tail = t;
    pool->pending++;
    pthread_cond_signal(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    return ES_OK;
}

void es_pool_free(struct es_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->ready);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

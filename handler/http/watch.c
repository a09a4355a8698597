/*
 * watch.c - the slow-client watchdog: a list of connections with deadlines,
 * checked every WATCH_TICK_MS. A connection past its deadline has its socket
 * shut down (both ways), which wakes its thread with an end of file; libmicrohttpd
 * reports the close before it closes the descriptor, and removal takes the same
 * lock, so a descriptor is never shut down after it was reused.
 */
#include "watch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "util/log.h"
#include "util/timeutil.h"

#define WATCH_TICK_MS 100

struct http_watch_conn {
    int fd;
    int64_t deadline_ms; /* monotonic; 0: none */
    struct http_watch_conn *prev, *next;
};

struct http_watch {
    int64_t headers_ms, body_ms, idle_ms;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    struct http_watch_conn *head;
    uint64_t cut;
    pthread_t thread;
};

static int64_t after(int64_t budget_ms)
{
    return budget_ms > 0 ? es_time_mono_ms() + budget_ms : 0;
}

static void *watchdog(void *arg)
{
    struct http_watch *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        int64_t now = es_time_mono_ms();
        for (struct http_watch_conn *c = w->head; c != NULL; c = c->next) {
            if (c->deadline_ms == 0 || now < c->deadline_ms)
                continue;
            c->deadline_ms = 0;
            w->cut++;
            shutdown(c->fd, SHUT_RDWR);
            es_log_debug("http: a connection missed its deadline and was closed");
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WATCH_TICK_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&w->wake, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct http_watch *http_watch_start(int64_t headers_ms, int64_t body_ms, int64_t idle_ms)
{
    struct http_watch *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->headers_ms = headers_ms;
    w->body_ms = body_ms;
    w->idle_ms = idle_ms;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, watchdog, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        free(w);
        return NULL;
    }
    return w;
}

void http_watch_stop(struct http_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    while (w->head != NULL) {
        struct http_watch_conn *c = w->head;
        w->head = c->next;
        free(c);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    free(w);
}

struct http_watch_conn *http_watch_add(struct http_watch *w, int fd)
{
    struct http_watch_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->deadline_ms = after(w->headers_ms);
    pthread_mutex_lock(&w->lock);
    c->next = w->head;
    if (w->head != NULL)
        w->head->prev = c;
    w->head = c;
    pthread_mutex_unlock(&w->lock);
    return c;
}

void http_watch_remove(struct http_watch *w, struct http_watch_conn *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&w->lock);
    free(c);
}

static void set_deadline(struct http_watch *w, struct http_watch_conn *c, int64_t at)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    c->deadline_ms = at;
    pthread_mutex_unlock(&w->lock);
}

void http_watch_headers_in(struct http_watch *w, struct http_watch_conn *c)
{
    set_deadline(w, c, after(w->body_ms));
}

void http_watch_body_in(struct http_watch *w, struct http_watch_conn *c)
{
    set_deadline(w, c, 0);
}

void http_watch_answered(struct http_watch *w, struct http_watch_conn *c)
{
    set_deadline(w, c, w->headers_ms > 0 ? after(w->idle_ms + w->headers_ms) : 0);
}

uint64_t http_watch_cut(struct http_watch *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t n = w->cut;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/*
 * receiver.c - a loopback receiver of CloudEvents batches (see receiver.h).
 * One connection at a time, "Connection: close" on every answer: enough for
 * one pump, and simple.
 */
#include "receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECEIVER_MAX_BYTES (16u << 20)

struct receiver {
    int fd, port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    json_t *events;
    size_t posts;
    char content_type[128];
};

/* The value of header `name` ("Name:") in head (which ends at end), or NULL. */
static const char *header(const char *head, const char *end, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL && p < end;
         p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, n) == 0) {
            p += 2 + n;
            while (*p == ' ')
                p++;
            return p;
        }
    return NULL;
}

/* Reads one request; its body (malloc'd, NUL-ended) or NULL. */
static char *read_request(int c, char *ct, size_t ct_len)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    char *body = NULL;
    long want = -1;
    while (buf != NULL && len < RECEIVER_MAX_BYTES) {
        if (len == cap) {
            char *grown = realloc(buf, cap * 2 + 1);
            if (grown == NULL)
                break;
            buf = grown;
            cap *= 2;
        }
        ssize_t n = recv(c, buf + len, cap - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL)
            continue;
        if (want < 0) {
            const char *cl = header(buf, end, "Content-Length:");
            want = cl != NULL ? strtol(cl, NULL, 10) : 0;
            const char *t = header(buf, end, "Content-Type:");
            if (t != NULL) {
                size_t k = strcspn(t, "\r");
                snprintf(ct, ct_len, "%.*s", (int)k, t);
            }
        }
        size_t head = (size_t)(end + 4 - buf);
        if (len - head >= (size_t)want) {
            body = strndup(end + 4, (size_t)want);
            break;
        }
    }
    free(buf);
    return body;
}

static void serve_one(struct receiver *r, int c)
{
    char ct[128] = "";
    char *body = read_request(c, ct, sizeof(ct));
    json_t *batch = body != NULL ? json_loads(body, 0, NULL) : NULL;
    const char *answer = json_is_array(batch)
                             ? "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
                             : "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
    if (json_is_array(batch)) {
        pthread_mutex_lock(&r->lock);
        json_array_extend(r->events, batch);
        r->posts++;
        snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
        pthread_mutex_unlock(&r->lock);
    }
    (void)!send(c, answer, strlen(answer), MSG_NOSIGNAL);
    json_decref(batch);
    free(body);
}

static void *run(void *arg)
{
    struct receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            continue;
        struct timeval tv = {.tv_sec = 5};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        serve_one(r, c);
        close(c);
    }
    return NULL;
}

struct receiver *receiver_start(int port)
{
    struct receiver *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    r->events = json_array();
    pthread_mutex_init(&r->lock, NULL);
    if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(r->fd, 16) != 0 || getsockname(r->fd, (struct sockaddr *)&a, &alen) != 0 ||
        r->events == NULL || pthread_create(&r->thread, NULL, run, r) != 0) {
        if (r->fd >= 0)
            close(r->fd);
        json_decref(r->events);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    r->port = ntohs(a.sin_port);
    return r;
}

int receiver_port(const struct receiver *r)
{
    return r->port;
}

json_t *receiver_events(struct receiver *r)
{
    pthread_mutex_lock(&r->lock);
    json_t *copy = json_deep_copy(r->events);
    pthread_mutex_unlock(&r->lock);
    return copy;
}

size_t receiver_posts(struct receiver *r, char *ct, size_t ct_len)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->posts;
    if (ct != NULL)
        snprintf(ct, ct_len, "%s", r->content_type);
    pthread_mutex_unlock(&r->lock);
    return n;
}

void receiver_stop(struct receiver *r)
{
    if (r == NULL)
        return;
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    close(r->fd);
    json_decref(r->events);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/*
 * watch.h - deadlines for slow clients on the serve face.
 *
 * An idle timeout alone does not stop a client that trickles a request one
 * byte at a time: every byte resets it, and the connection's thread is held
 * for as long as the trickle goes on. So each connection has a deadline by
 * which the next step must be done:
 *   accepted, or a response sent   the request's headers within headers_ms
 *                                  (plus idle_ms for a kept-alive connection)
 *   headers in                     the body within body_ms
 *   body in                        none: the function runs as long as it needs
 * A watchdog thread shuts down the socket of a connection past its deadline;
 * the server then closes it as it would a client that went away.
 */
#ifndef ES_HTTP_WATCH_H
#define ES_HTTP_WATCH_H

#include <stdint.h>

struct http_watch;
struct http_watch_conn;

/* A watchdog with these budgets (ms; 0 disables that deadline). NULL on ENOMEM. */
struct http_watch *http_watch_start(int64_t headers_ms, int64_t body_ms, int64_t idle_ms);

/* Stops the watchdog; every connection must have been removed. NULL is a no-op. */
void http_watch_stop(struct http_watch *w);

/* A new connection on socket fd, due to send its headers. NULL on ENOMEM (unwatched). */
struct http_watch_conn *http_watch_add(struct http_watch *w, int fd);

/* The connection is closed: forget it (before its socket is closed). NULL is a no-op. */
void http_watch_remove(struct http_watch *w, struct http_watch_conn *c);

/* The request's headers are in: the body is due. */
void http_watch_headers_in(struct http_watch *w, struct http_watch_conn *c);

/* The whole request is in: no deadline while it runs. */
void http_watch_body_in(struct http_watch *w, struct http_watch_conn *c);

/* The response is sent: the next request's headers are due (after idling). */
void http_watch_answered(struct http_watch *w, struct http_watch_conn *c);

/* Connections cut for missing a deadline so far. */
uint64_t http_watch_cut(struct http_watch *w);

#endif

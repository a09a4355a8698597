/*
 * receiver.h - a webhook receiver for tests: a thread of the test process
 * listening on loopback, taking POSTs of CloudEvents batches (a JSON array
 * body) and answering 204. It keeps every event received, in arrival order,
 * and the Content-Type of the last POST. Stopping it closes the listening
 * socket, so the port refuses connections until a receiver is started on it
 * again.
 */
#ifndef ES_TEST_RECEIVER_H
#define ES_TEST_RECEIVER_H

#include <jansson.h>
#include <stddef.h>

struct receiver;

/* Listens on 127.0.0.1:port (0: a free port). NULL when it cannot. */
struct receiver *receiver_start(int port);

int receiver_port(const struct receiver *r);

/* A copy of the events received so far (new reference). */
json_t *receiver_events(struct receiver *r);

/* POSTs answered so far, and the Content-Type of the last one (copied into ct). */
size_t receiver_posts(struct receiver *r, char *ct, size_t ct_len);

/* Stops listening, joins the thread and frees r. NULL is a no-op. */
void receiver_stop(struct receiver *r);

#endif

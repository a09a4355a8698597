/*
 * hostproto.h - the custom-handler face: what the Functions host talks to.
 *
 *   GET  /            readiness and health pings: 200 at once
 *   POST /{Function}  one invocation: envelope in, reply out (handler/invoke)
 * Anything else gets a JSON 404 or 405.
 *
 * An HTTP function's envelope may be max_envelope_bytes; a trigger's, which
 * carries a whole batch of documents encoded twice, max_trigger_envelope_bytes.
 * A larger envelope is read but not kept; for a trigger, the event ids in it
 * are noted on the way and the batch is dead-lettered (invoke_reply_oversize).
 */
#ifndef ES_HTTP_HOSTPROTO_H
#define ES_HTTP_HOSTPROTO_H

#include "invoke/invoke.h"
#include "server.h"

struct hostproto {
    const struct invoke_app *app;
    size_t max_envelope_bytes;         /* HTTP functions */
    size_t max_trigger_envelope_bytes; /* trigger functions */
};

/* A router serving the host protocol for hp (which must outlive the server). */
struct http_router hostproto_router(struct hostproto *hp);

#endif

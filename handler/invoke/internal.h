/*
 * internal.h - what the files of handler/invoke/ share and nothing else sees.
 */
#ifndef ES_INVOKE_INTERNAL_H
#define ES_INVOKE_INTERNAL_H

#include "invoke.h"

/* The host reply for an HTTP function's response (consumed). */
void invoke_reply_http(struct invoke_reply *out, const struct fn_def *def,
                       struct fn_http_response *res);

/*
 * Runs trigger function def on payload (borrowed) with the retry context
 * given, and builds the reply: 200 with the Logs when it completed, 500 (the
 * host retries) when it failed.
 */
void invoke_run_trigger(const struct invoke_app *app, const struct fn_def *def,
                        const char *invocation_id, const struct fn_retry *retry,
                        json_t *payload, struct invoke_reply *out);

#endif

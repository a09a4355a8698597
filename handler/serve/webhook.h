/*
 * webhook.h - integration events POSTed to a URL, for `handler serve`: what
 * the Service Bus output binding is under Azure (INTEGRATION_WEBHOOK_URL).
 *
 * One POST per batch, in the CloudEvents HTTP binding's batched mode: the
 * body is the JSON array of the batch's CloudEvents, with Content-Type
 * application/cloudevents-batch+json. Any 2xx answer means the receiver took
 * them all; anything else (another status, a refused connection, a timeout)
 * means it took none, and the change-feed pump retries the batch with its
 * backoff (pump.h). Redirects are not followed, and only http and https are
 * spoken. The answer's body is read and discarded.
 *
 * A webhook is used by one thread at a time (its pump's): the connection is
 * kept alive between batches.
 */
#ifndef ES_SERVE_WEBHOOK_H
#define ES_SERVE_WEBHOOK_H

#include <jansson.h>
#include <stdint.h>

#include "util/status.h"

#define WEBHOOK_CONTENT_TYPE "application/cloudevents-batch+json"

struct webhook;

/*
 * A webhook for url (checked: http or https, as es_config_webhook_url_valid),
 * each POST bounded by timeout_ms, connecting included. ES_EINVAL with err
 * filled for a URL it refuses, ES_ENOMEM.
 */
enum es_status webhook_new(const char *url, int64_t timeout_ms, struct webhook **out,
                           struct es_error *err) ES_MUST_CHECK;

/* NULL is a no-op. */
void webhook_free(struct webhook *w);

/*
 * POSTs messages (a JSON array, borrowed) to the webhook; ctx is the webhook
 * (the shape of struct pump_sink's send). ES_OK on a 2xx answer;
 * ES_EUNAVAILABLE with err saying what happened otherwise; ES_ENOMEM.
 */
enum es_status webhook_send(void *ctx, const json_t *messages,
                            struct es_error *err) ES_MUST_CHECK;

#endif

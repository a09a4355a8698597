/*
 * front.h - `handler serve`: the app's HTTP routes served directly, without
 * the Functions host, for running and trying the system on one machine.
 *
 * At start the front reads the staged app folder as the host would: the
 * route prefix from host.json (extensions.http.routePrefix, default "api")
 * and every <Function>/function.json with an httpTrigger binding (route,
 * methods). A request is matched against those routes, turned into the very
 * envelope the host would send (handler/invoke build.c), run in-process
 * through the same dispatcher as under the host, and the reply is read back
 * with the host's rules. A request that matches no route, method included,
 * gets a JSON 404, as the host answers 404 for a path served only under
 * another method.
 *
 * As under the host, a body that arrives without Content-Length (chunked)
 * is not put in the envelope; a command then answers 411 length_required.
 * Difference from the host, on purpose: no function keys are checked (like
 * `func start`).
 */
#ifndef ES_HTTP_FRONT_H
#define ES_HTTP_FRONT_H

#include "invoke/invoke.h"
#include "http/server.h"

struct front;

/*
 * Loads the app folder's host.json and function.json files. Functions whose
 * folder has no registered C implementation, or whose route cannot be
 * parsed, are reported in err (ES_EINVAL) and the front is not created.
 */
enum es_status front_load(const char *app_dir, const struct invoke_app *app,
                          struct front **out, struct es_error *err) ES_MUST_CHECK;

void front_free(struct front *f);

/* A router for the HTTP server; f must outlive the server. */
struct http_router front_router(struct front *f);

/* A Cosmos DB trigger function of the app folder, as its function.json sets it up. */
struct front_trigger {
    const char *function;
    const char *binding;
    size_t max_items;       /* maxItemsPerInvocation (default 100) */
    int64_t poll_ms;        /* feedPollDelay (default 5000) */
    bool has_retry;         /* a "retry" policy is present */
    int64_t max_retries;    /* its maxRetryCount */
    int64_t min_backoff_ms; /* minimumInterval (or delayInterval) */
    int64_t max_backoff_ms; /* maximumInterval (or delayInterval) */
    const char *messages;   /* its serviceBus output binding's name, or NULL */
};

/* The first Cosmos DB trigger function without a message output (the read side), or
 * NULL when the app has none. */
const struct front_trigger *front_cosmos_trigger(const struct front *f);

/* The first Cosmos DB trigger function with a serviceBus output binding (a publisher of
 * messages), or NULL. */
const struct front_trigger *front_publisher_trigger(const struct front *f);

/* Writes "  Name: [GET,POST] http://host:port/api/route" lines to the log. */
void front_log_routes(const struct front *f, const char *base_url);

#endif

/*
 * pump.c - the embedded store's change feed, delivered like the host's
 * Cosmos DB trigger (see pump.h).
 */
#include "pump.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

struct pump {
    struct pump_opts o;
    char *function, *binding, *checkpoint, *messages;
    json_t *undelivered;  /* the messages the sink refused on the last attempt */
    char send_error[256]; /* and why */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    bool woken; /* an append happened since the last read */
};

void pump_notify(void *ctx)
{
    struct pump *p = ctx;
    pthread_mutex_lock(&p->lock);
    p->woken = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

/* Waits up to ms or until woken or stopped. Returns false when stopping. */
static bool wait_for(struct pump *p, int64_t ms, bool wake_on_append)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->lock);
    while (!p->stop && !(wake_on_append && p->woken))
        if (pthread_cond_timedwait(&p->wake, &p->lock, &until) != 0)
            break;
    p->woken = false;
    bool go_on = !p->stop;
    pthread_mutex_unlock(&p->lock);
    return go_on;
}

/* The documents Cosmos DB would deliver for these events. */
static json_t *feed_documents(const struct es_event_page *page)
{
    json_t *docs = json_array();
    int64_t now_s = es_time_now_ms() / 1000;
    for (size_t i = 0; docs != NULL && i < page->n; i++) {
        json_t *d = es_event_to_doc(&page->events[i]);
        if (d == NULL ||
            json_object_set_new(d, "_lsn", json_integer(page->events[i].seq)) != 0 ||
            json_object_set_new(d, "_ts", json_integer(now_s)) != 0 ||
            json_array_append_new(docs, d) != 0) {
            json_decref(docs);
            return NULL;
        }
    }
    return docs;
}

/* What became of a batch. */
enum delivery {
    DELIVERED, /* the host would count it as done */
    FAILED,    /* the function failed: an attempt */
    NOT_SENT /* out of memory before the function ran, or reading its reply: no attempt */
};

/*
 * Hands the invocation's messages to the sink, as the host runs an output
 * binding after the function. False when the sink refused them: they are kept
 * (p->undelivered) for the dead letters of a last attempt.
 */
static bool send_messages(struct pump *p, json_t *messages, size_t n_events,
                          int64_t attempt)
{
    json_decref(p->undelivered);
    p->undelivered = NULL;
    if (!json_is_array(messages) || json_array_size(messages) == 0 ||
        p->o.sink.send == NULL)
        return true;
    struct es_error err = {0};
    enum es_status st = p->o.sink.send(p->o.sink.ctx, messages, &err);
    if (st == ES_OK)
        return true;
    snprintf(p->send_error, sizeof(p->send_error), "%s",
             err.message[0] != '\0' ? err.message : es_status_message(st));
    p->undelivered = json_incref(messages);
    es_log_error(
        "[%s] batch of %zu event(s): %zu message(s) not delivered (attempt %lld): "
        "%s",
        p->function, n_events, json_array_size(messages), (long long)attempt + 1,
        p->send_error);
    return false;
}

/* The stream of a message id "{streamId}:{version}", into out; false when it is not one.
 */
static bool stream_of(const char *id, char *out, size_t len)
{
    const char *colon = id != NULL ? strrchr(id, ':') : NULL;
    if (colon == NULL || colon == id || colon[1] == '\0' ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        (size_t)(colon - id) >= len)
        return false;
    memcpy(out, id, (size_t)(colon - id));
    out[colon - id] = '\0';
    return es_stream_id_valid(out);
}

/* After the last attempt failed in the sink: a dead letter per message not delivered. */
static void dead_letter_messages(struct pump *p, int64_t attempt)
{
    char now[40], stream[ES_DOC_ID_MAX], id[ES_DOC_ID_MAX], fallback[ES_DOC_ID_MAX];
    es_time_rfc3339_ms(es_time_now_ms(), now, sizeof(now));
    size_t i;
    json_t *m;
    json_array_foreach(p->undelivered, i, m)
    {
        const char *mid = json_string_value(json_object_get(m, "id"));
        snprintf(fallback, sizeof(fallback), "_%.100s", p->function);
        /* A message without a usable id is still kept, under the batch's time. */
        if (mid == NULL ||
            es_fmt(id, sizeof(id), "%s:%s:dead", mid, p->function) != ES_OK)
            snprintf(id, sizeof(id), "%.100s:%lld:%zu:dead", p->function,
                     (long long)es_time_now_ms(), i);
        const char *sid = stream_of(mid, stream, sizeof(stream)) ? stream : fallback;
        json_t *doc =
            json_pack("{s:s, s:s, s:s, s:O, s:s, s:I, s:s}", "id", id, "streamId", sid,
                      "subscriber", p->function, "message", m, "error", p->send_error,
                      "attempts", (json_int_t)attempt + 1, "failedAt", now);
        struct es_error err = {0};
        enum es_status st =
            doc != NULL ? p->o.store->ops->deadletter_put(p->o.store, doc, NULL, &err)
                        : ES_ENOMEM;
        json_decref(doc);
        if (st == ES_OK)
            es_log_error("dead letter %s (stream '%s'): %s", id, sid, p->send_error);
        else
            es_log_error("[%s] cannot dead-letter message '%s': %s", p->function,
                         mid != NULL ? mid : "?",
                         err.message[0] ? err.message : es_status_message(st));
    }
    json_decref(p->undelivered);
    p->undelivered = NULL;
}

/* Invokes the function on one batch. */
static enum delivery deliver(struct pump *p, const struct es_event_page *page,
                             int64_t attempt)
{
    json_decref(p->undelivered);
    p->undelivered = NULL;
    json_t *docs = feed_documents(page);
    struct fn_retry retry = {.present = p->o.has_retry,
                             .retry_count = attempt,
                             .max_retry_count = p->o.max_retries};
    json_t *env = docs != NULL ? invoke_trigger_envelope_new(p->function, p->binding,
                                                             docs, 2, &retry)
                               : NULL;
    json_decref(docs);
    size_t len = 0;
    char *text = env != NULL ? es_json_dumps(env, &len) : NULL;
    json_decref(env);
    if (text == NULL) {
        es_log_error("[%s] batch of %zu event(s) not sent: out of memory", p->function,
                     page->n);
        return NOT_SENT;
    }
    struct invoke_reply reply;
    invoke_dispatch(p->o.app, p->function, NULL, text, len, &reply);
    free(text);
    struct invoke_host_result hr;
    if (invoke_host_result_parse(reply.host_status, "application/json", reply.body,
                                 reply.body_len, NULL, &hr) != ES_OK) {
        /* The function may have run; a batch is safe to deliver again. */
        es_log_error("[%s] batch of %zu event(s): out of memory reading the reply",
                     p->function, page->n);
        invoke_reply_release(&reply);
        return NOT_SENT;
    }
    bool ok = hr.ok;
    if (ok && p->messages != NULL)
        ok = send_messages(p, json_object_get(hr.outputs, p->messages), page->n, attempt);
    size_t i;
    json_t *line;
    json_array_foreach(hr.logs, i, line)
    {
        es_log_info("[%s] %s", p->function, json_string_value(line));
    }
    if (!hr.ok)
        es_log_error("[%s] batch of %zu event(s) failed (attempt %lld): %s", p->function,
                     page->n, (long long)attempt + 1, reply.body ? reply.body : "");
    invoke_host_result_release(&hr);
    invoke_reply_release(&reply);
    return ok ? DELIVERED : FAILED;
}

static int64_t backoff(const struct pump *p, int64_t attempt)
{
    int64_t ms = p->o.min_backoff_ms > 0 ? p->o.min_backoff_ms : 1000;
    for (int64_t i = 1; i < attempt && ms < p->o.max_backoff_ms; i++)
        ms *= 2;
    return ms < p->o.max_backoff_ms ? ms : p->o.max_backoff_ms;
}

static void *run(void *arg)
{
    struct pump *p = arg;
    struct es_store *s = p->o.store;
    int64_t checkpoint = 0, attempt = 0;
    struct es_error err = {0};
    while (s->ops->checkpoint_get(s, p->checkpoint, &checkpoint, NULL, &err) != ES_OK)
        if (!wait_for(p, 1000, false))
            return NULL;
    es_log_info("pump: delivering the change feed to '%s' from position %lld (checkpoint "
                "'%s')",
                p->function, (long long)checkpoint, p->checkpoint);
    for (;;) {
        struct es_event_page page = {0};
        es_error_clear(&err);
        enum es_status st =
            s->ops->feed_read(s, checkpoint, p->o.max_items, &page, NULL, &err);
        if (st != ES_OK)
            es_log_error("pump: cannot read the change feed: %s", err.message);
        if (st != ES_OK || page.n == 0) {
            es_event_page_release(&page);
            if (!wait_for(p, p->o.poll_ms, true))
                break;
            continue;
        }
        enum delivery d = deliver(p, &page, attempt);
        bool done = d == DELIVERED;
        bool give_up =
            d == FAILED &&
            (!p->o.has_retry || (p->o.max_retries >= 0 && attempt >= p->o.max_retries));
        if (done || give_up) {
            if (give_up && p->undelivered != NULL)
                dead_letter_messages(p, attempt);
            if (give_up)
                es_log_error(
                    "pump: passing a batch that failed %lld time(s), as the host does",
                    (long long)attempt + 1);
            int64_t last = page.events[page.n - 1].seq;
            es_error_clear(&err);
            if (s->ops->checkpoint_put(s, p->checkpoint, last, NULL, &err) == ES_OK)
                checkpoint = last;
            else
                es_log_error("pump: cannot save the checkpoint: %s", err.message);
            attempt = 0;
        } else if (d == FAILED) {
            attempt++;
        }
        es_event_page_release(&page);
        if (!done && !give_up && !wait_for(p, backoff(p, attempt), false))
            break;
        pthread_mutex_lock(&p->lock);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            break;
    }
    return NULL;
}

struct pump *pump_start(const struct pump_opts *opts, struct es_error *err)
{
    if (opts->store->ops->feed_read == NULL) {
        es_error_set(err, ES_EINVAL, "the %s store has no change feed of its own",
                     opts->store->ops->name);
        return NULL;
    }
    struct pump *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->o = *opts;
    p->function = strdup(opts->function);
    p->binding = strdup(opts->binding);
    p->checkpoint = strdup(opts->checkpoint != NULL ? opts->checkpoint : opts->function);
    p->messages = opts->messages != NULL ? strdup(opts->messages) : NULL;
    p->o.function = p->function;
    p->o.binding = p->binding;
    p->o.checkpoint = p->checkpoint;
    p->o.messages = p->messages;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (p->function == NULL || p->binding == NULL || p->checkpoint == NULL ||
        (opts->messages != NULL && p->messages == NULL) ||
        pthread_create(&p->thread, NULL, run, p) != 0) {
        free(p->function);
        free(p->binding);
        free(p->checkpoint);
        free(p->messages);
        free(p);
        es_error_set(err, ES_ENOMEM, "cannot start the change-feed pump");
        return NULL;
    }
    return p;
}

void pump_stop(struct pump *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->function);
    free(p->binding);
    free(p->checkpoint);
    free(p->messages);
    json_decref(p->undelivered);
    free(p);
}

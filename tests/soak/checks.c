/*
 * checks.c - the soak's invariants, over what the store holds once the load
 * has stopped, the fault rules are cleared and the change feed is drained:
 *
 *   streams   every list's events have versions 1..n (no gap, no duplicate
 *             id), and every event but a reaction's carries the correlation id
 *             of a command a client sent;
 *   acks      a command answered 2xx has exactly the events its answer listed,
 *             at those versions, in its list - once; a refused one (4xx) has
 *             none; one answered 503 or not at all has none or one append, and
 *             if it landed, a send of it was told it may have been applied;
 *   read side read_side.h's checks over every list of every client: views
 *             equal folds, the index agrees, each move settled once, no item
 *             in two lists;
 *   feed      every event came through the change feed;
 *   dead      no dead letters.
 * Failures go through soak_check; the counts go to soak_results.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Checks versions; groups command events by correlation id (id -> [event refs]). */
static json_t *check_streams(json_t *by_list, struct soak_results *out)
{
    json_t *by_corr = json_object();
    const char *list;
    json_t *events;
    json_object_foreach(by_list, list, events)
    {
        out->lists++;
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e)
        {
            out->events++;
            json_int_t v = json_integer_value(json_object_get(e, "version"));
            soak_check(v == (json_int_t)i + 1,
                       "stream %s: event %zu has version %lld (a gap or a duplicate)",
                       list, i + 1, (long long)v);
            json_t *meta = json_object_get(e, "meta");
            if (json_is_string(json_object_get(meta, "causationId")))
                continue; /* a reaction: rs_check_moves counts those */
            const char *corr = str(meta, "correlationId");
            soak_check(corr != NULL, "stream %s version %lld has no correlation id", list,
                       (long long)v);
            if (corr == NULL)
                continue;
            json_t *group = json_object_get(by_corr, corr);
            if (group == NULL) {
                group = json_array();
                json_object_set_new(by_corr, corr, group);
            }
            json_array_append_new(group,
                                  json_pack("{s:s, s:I, s:s?, s:s?}", "list", list,
                                            "version", v, "type", str(e, "type"), "item",
                                            str(json_object_get(e, "data"), "itemId")));
        }
    }
    return by_corr;
}

static bool group_has(json_t *group, const char *list, json_int_t version,
                      const char *type)
{
    size_t i;
    json_t *g;
    json_array_foreach(group, i, g)
    {
        if (rs_str_eq(str(g, "list"), list) &&
            json_integer_value(json_object_get(g, "version")) == version &&
            rs_str_eq(str(g, "type"), type))
            return true;
    }
    return false;
}

/* One append at most: one list, consecutive versions, no (type, item) twice. */
static bool one_append(json_t *group)
{
    size_t i;
    json_t *g;
    json_t *first = json_array_get(group, 0);
    json_int_t v0 = json_integer_value(json_object_get(first, "version"));
    json_array_foreach(group, i, g)
    {
        if (!rs_str_eq(str(g, "list"), str(first, "list")) ||
            json_integer_value(json_object_get(g, "version")) != v0 + (json_int_t)i)
            return false;
        for (size_t k = 0; k < i; k++) {
            json_t *h = json_array_get(group, k);
            if (rs_str_eq(str(g, "type"), str(h, "type")) &&
                json_equal(json_object_get(g, "item"), json_object_get(h, "item")))
                return false;
        }
    }
    return true;
}

static void check_command(const struct soak_cmd *cmd, json_t *group,
                          struct soak_results *out)
{
    size_t n = json_array_size(group);
    if (cmd->status >= 200 && cmd->status < 300) {
        size_t m = json_array_size(cmd->events);
        out->acked++;
        out->acked_events += (long)m;
        soak_check(n == m,
                   "command %s on %s answered %d with %zu event(s); the store has %zu",
                   cmd->corr, cmd->list, cmd->status, m, n);
        size_t i;
        json_t *ae;
        json_array_foreach(cmd->events, i, ae)
        {
            json_int_t v = json_integer_value(json_object_get(ae, "version"));
            soak_check(group_has(group, cmd->list, v, str(ae, "type")),
                       "command %s: its acknowledged %s at version %lld of %s is not in "
                       "the store",
                       cmd->corr, str(ae, "type") ? str(ae, "type") : "(no type)",
                       (long long)v, cmd->list);
        }
    } else if (cmd->status == 0 || cmd->status >= 500) {
        out->unanswered++;
        out->landed_without_ack += n > 0;
        out->said_maybe += cmd->said_maybe;
        soak_check(cmd->status == 0 || cmd->status == 503,
                   "command %s on %s answered %d: only 503 (retry) is an answer of a "
                   "store in trouble",
                   cmd->corr, cmd->list, cmd->status);
        soak_check(n == 0 || one_append(group),
                   "command %s answered %d landed more than once (%zu events)", cmd->corr,
                   cmd->status, n);
        soak_check(n == 0 || cmd->status != 503 || cmd->said_maybe,
                   "command %s (%s, %u send(s)): every send answered 503 without saying "
                   "it may have been applied, yet its %zu event(s) are in the store",
                   cmd->corr, cmd->keyed ? "with a key" : "no key", cmd->attempts, n);
    } else {
        out->refused++;
        soak_check(n == 0, "command %s refused with %d appended %zu event(s)", cmd->corr,
                   cmd->status, n);
        soak_check(!cmd->wrong_404,
                   "command %s answered 404: list %s does not exist, after its create "
                   "was acknowledged to the same client",
                   cmd->corr, cmd->list);
    }
}

static void check_acks(struct soak *s, json_t *by_corr, struct soak_results *out)
{
    for (int c = 0; c < s->o.clients; c++) {
        const struct soak_client *cl = &s->clients[c];
        for (size_t i = 0; i < cl->n_cmds; i++) {
            const struct soak_cmd *cmd = &cl->cmds[i];
            check_command(cmd, json_object_get(by_corr, cmd->corr), out);
            json_object_del(by_corr, cmd->corr);
        }
    }
    const char *corr;
    json_t *group;
    json_object_foreach(by_corr, corr, group)
    {
        json_t *g = json_array_get(group, 0);
        soak_check(false,
                   "%zu event(s) from no command sent: correlation id %s, %s v%lld",
                   json_array_size(group), corr, str(g, "list"),
                   (long long)json_integer_value(json_object_get(g, "version")));
    }
}

static void check_feed(struct soak *s, json_t *by_list, struct soak_results *out)
{
    json_t *ids = s->feed.event_ids;
    out->feed_event_ids = (long)json_object_size(ids);
    long missing = 0;
    const char *list;
    json_t *events;
    json_object_foreach(by_list, list, events)
    {
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e)
        {
            char id[128];
            snprintf(id, sizeof(id), "todolist-%s:%lld", list,
                     (long long)json_integer_value(json_object_get(e, "version")));
            missing += json_object_get(ids, id) == NULL;
        }
    }
    soak_check(missing == 0, "%ld event(s) never came through the change feed", missing);
    soak_check(out->feed_event_ids == out->events,
               "the change feed carried %ld event ids; the streams hold %ld events",
               out->feed_event_ids, out->events);
}

static long count_dead_letters(struct rs_api *api)
{
    long n = 0;
    char cont[512] = "";
    for (int pages = 0; pages < 1000; pages++) {
        char path[700];
        snprintf(path, sizeof(path), "/api/deadletters?limit=500%s%s",
                 cont[0] ? "&continuation=" : "", cont);
        json_t *page = NULL;
        int st = rs_send(api, "GET", path, NULL, &page);
        soak_check(st == 200, "GET %s: %d", path, st);
        n += (long)json_array_size(json_object_get(page, "deadLetters"));
        const char *next = str(page, "continuation");
        snprintf(cont, sizeof(cont), "%s", next != NULL ? next : "");
        json_decref(page);
        if (cont[0] == '\0')
            break;
    }
    return n;
}

void soak_check_all(struct soak *s, struct soak_results *out)
{
    memset(out, 0, sizeof(*out));
    struct hostdrv_conn *conn = hostdrv_conn_new(s->h);
    struct rs_api api = {soak_get, conn};
    json_t *by_list = json_object();
    for (int c = 0; c < s->o.clients; c++)
        for (int m = 0; m < s->clients[c].n_models; m++)
            rs_read_streams(&api, s->clients[c].models[m], by_list);

    long before = soak_failures();
    json_t *by_corr = check_streams(by_list, out);
    out->failures_streams = soak_failures() - before;

    before = soak_failures();
    check_acks(s, by_corr, out);
    json_decref(by_corr);
    out->failures_acks = soak_failures() - before;

    before = soak_failures();
    out->moves = rs_check_streams(&api, by_list);
    out->failures_read_side = soak_failures() - before;

    before = soak_failures();
    check_feed(s, by_list, out);
    out->failures_feed = soak_failures() - before;

    out->dead_letters = count_dead_letters(&api);
    soak_check(out->dead_letters == 0, "%ld dead letter(s)", out->dead_letters);
    json_decref(by_list);
    hostdrv_conn_free(conn);
}

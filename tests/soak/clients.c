/*
 * clients.c - the soak's client threads. Each has its own keep-alive
 * connection and its own models of the read-side workload (read_side.h's
 * rs_step), one model per generation of lists: a generation ends when its
 * lists are mostly deleted or after a while, so the mix stays the same for a
 * whole run however long. Lists are "s<client>g<generation>-<n>", so no two
 * clients share a list; moves stay inside a generation.
 *
 * Every command carries a unique X-Correlation-Id (the events' correlationId),
 * a third an Idempotency-Key, an eighth If-Match on the version last
 * acknowledged for the list. A keyed command answered 503 is sent again with
 * the same key, as a client following Retry-After would. A 503 means that
 * send appended nothing, unless it says the command may have been applied. Each command's
 * final answer is recorded for checks.c: its status and, when acknowledged,
 * the events the answer lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"
#include "soak.h"

#define GENERATION_STEPS 1500 /* commands before a client starts new lists */
#define GENERATION_LISTS 6    /* lists a generation starts with */
#define KEYED_RETRIES    3    /* sends of a keyed command after its first 503 */

static unsigned client_rand(struct soak_client *c, unsigned bound)
{
    c->rnd = c->rnd * 1103515245u + 12345u;
    return bound ? (c->rnd >> 8) % bound : 0;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 1024;
    void *q = realloc(*p, n * size);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* The list a command addresses: the route's id, or the body's for a create. */
static void list_of(const char *path, const char *body, char *out, size_t len)
{
    const char *prefix = "/api/todolists/";
    out[0] = '\0';
    if (strncmp(path, prefix, strlen(prefix)) == 0) {
        const char *id = path + strlen(prefix);
        snprintf(out, len, "%.*s", (int)strcspn(id, "/?"), id);
        return;
    }
    json_t *j = body != NULL ? json_loads(body, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    snprintf(out, len, "%s", id != NULL ? id : "");
    json_decref(j);
}

int soak_get(void *ctx, const char *method, const char *path, const char *body,
             json_t **json)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    struct hostdrv_reply r;
    int st = 0;
    *json = NULL;
    if (hostdrv_call(ctx, method, path, body != NULL ? h : NULL, body, &r) == 0 &&
        r.result.ok) {
        st = r.result.http_status;
        *json = json_incref(r.client_json);
    }
    hostdrv_reply_release(&r);
    return st;
}

static void record_latency(struct soak_client *c, int64_t us)
{
    if (grow((void **)&c->lat_us, &c->cap_lat, c->n_lat + 1, sizeof(*c->lat_us)))
        c->lat_us[c->n_lat++] = (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us);
}

/* The headers of one command; strings live in the caller's buffers. */
static void command_headers(struct soak_client *c, const struct soak_cmd *cmd,
                            bool has_body, char key[64], char corr[64], char if_match[64],
                            const char *out[5])
{
    size_t n = 0;
    if (has_body)
        out[n++] = "Content-Type: application/json";
    snprintf(corr, 64, "X-Correlation-Id: %s", cmd->corr);
    out[n++] = corr;
    if (cmd->keyed) {
        snprintf(key, 64, "Idempotency-Key: k-%s", cmd->corr);
        out[n++] = key;
    }
    json_t *known = json_object_get(c->versions, cmd->list);
    if (known != NULL && client_rand(c, 8) == 0) {
        snprintf(if_match, 64, "If-Match: \"%lld\"",
                 (long long)json_integer_value(known));
        out[n++] = if_match;
        c->if_match++;
    }
    out[n] = NULL;
}

/* rs_api.call for the workload: one command, recorded. */
static int client_call(void *ctx, const char *method, const char *path, const char *body,
                       json_t **json)
{
    struct soak_client *c = ctx;
    if (strcmp(method, "GET") == 0)
        return soak_get(c->conn, method, path, body, json);
    *json = NULL;
    if (!grow((void **)&c->cmds, &c->cap_cmds, c->n_cmds + 1, sizeof(*c->cmds)))
        return 0;
    struct soak_cmd *cmd = &c->cmds[c->n_cmds++];
    memset(cmd, 0, sizeof(*cmd));
    snprintf(cmd->corr, sizeof(cmd->corr), "c%d-%ld", c->index, c->seq++);
    list_of(path, body, cmd->list, sizeof(cmd->list));
    cmd->keyed = client_rand(c, 3) == 0;
    c->keyed += cmd->keyed;
    char key[64], corr[64], if_match[64];
    const char *headers[5];
    command_headers(c, cmd, body != NULL, key, corr, if_match, headers);
    for (;;) {
        struct hostdrv_reply r;
        int64_t t0 = mono_us();
        /* With several handlers, sends go round them, as a load balancer spreads them. */
        struct hostdrv_conn *to = c->conns[c->sends % c->s->o.handlers];
        int rc = hostdrv_call(to, method, path, headers, body, &r);
        record_latency(c, mono_us() - t0);
        c->sends++;
        cmd->attempts++;
        cmd->status = rc == 0 && r.result.ok ? r.result.http_status : 0;
        const char *msg = json_string_value(json_object_get(r.client_json, "message"));
        cmd->said_maybe =
            cmd->said_maybe || (cmd->status == 503 && msg != NULL &&
                                strstr(msg, "may have been applied") != NULL);
        if (cmd->status == 503 && cmd->keyed && cmd->attempts <= KEYED_RETRIES) {
            hostdrv_reply_release(&r);
            c->retried++;
            es_time_sleep_ms(50 + client_rand(c, 200));
            continue;
        }
        /* The client saw the list created: "does not exist" can only be a stale read. */
        cmd->wrong_404 = cmd->status == 404 && msg != NULL &&
                         strstr(msg, "list does not exist") != NULL &&
                         json_object_get(c->created, cmd->list) != NULL;
        if (cmd->status == 201 && strcmp(path, "/api/todolists") == 0)
            json_object_set_new(c->created, cmd->list, json_true());
        if (cmd->status >= 200 && cmd->status < 300) {
            cmd->events = json_incref(json_object_get(r.client_json, "events"));
            atomic_fetch_add(&c->s->acked_events, (long)json_array_size(cmd->events));
            json_t *v = json_object_get(r.client_json, "version");
            if (json_is_integer(v))
                json_object_set(c->versions, cmd->list, v);
        }
        *json = json_incref(r.client_json);
        hostdrv_reply_release(&r);
        break;
    }
    c->by_status[cmd->status >= 0 && cmd->status < 600 ? cmd->status : 0]++;
    return cmd->status;
}

/* Lists not deleted in a model. */
static int live_lists(const struct rs_model *m)
{
    int n = 0;
    for (int l = 0; l < m->n_lists; l++)
        n += !m->deleted[l];
    return n;
}

/*
 * The next command, if the run goes on. The clients wait while the change
 * feed trails their acknowledged events by more than SOAK_MAX_LAG: a soak
 * runs at a load the read side can follow, so the Projector works through
 * the same faults as the commands, and the final drain stays short.
 */
static bool take_command(struct soak_client *c)
{
    struct soak *s = c->s;
    while (!atomic_load(&s->stop_load) &&
           atomic_load(&s->acked_events) - atomic_load(&s->fed_events) > s->o.max_lag) {
        es_time_sleep_ms(10);
        c->waited_ms += 10;
    }
    return !atomic_load(&s->stop_load) &&
           atomic_fetch_add(&s->commands, 1) < s->o.max_commands;
}

/* Starts a new generation of lists; false when the client has no room for one. */
static bool new_generation(struct soak_client *c, struct rs_api *api, char prefix[16])
{
    if (c->n_models >= SOAK_MODELS_MAX)
        return false;
    struct rs_model *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return false;
    m->seed =
        c->s->o.seed * 1000003u + (unsigned)c->index * 7919u + (unsigned)c->n_models;
    c->models[c->n_models++] = m;
    snprintf(prefix, 16, "s%dg%d", c->index, c->n_models - 1);
    for (int l = 0; l < GENERATION_LISTS && take_command(c); l++)
        rs_create_list(api, m, prefix);
    return true;
}

void *soak_client_run(void *arg)
{
    struct soak_client *c = arg;
    struct soak *s = c->s;
    struct rs_api api = {client_call, c};
    char prefix[16];
    for (int i = 0; i < s->o.handlers; i++)
        if ((c->conns[i] = hostdrv_conn_new(s->hs[i])) == NULL)
            return NULL;
    c->conn = c->conns[0];
    c->versions = json_object();
    c->created = json_object();
    c->rnd = s->o.seed + (unsigned)c->index * 31u;
    if (c->conn == NULL || c->versions == NULL || c->created == NULL ||
        !new_generation(c, &api, prefix))
        return NULL;
    long gen_steps = 0;
    while (take_command(c)) {
        struct rs_model *m = c->models[c->n_models - 1];
        if ((gen_steps >= GENERATION_STEPS || (m->n_lists > 0 && live_lists(m) < 3)) &&
            new_generation(c, &api, prefix)) {
            gen_steps = 0;
            continue;
        }
        if (m->n_lists == 0) {
            rs_create_list(&api, m, prefix);
            continue;
        }
        rs_step(&api, m, (int)c->step++, prefix);
        gen_steps++;
    }
    for (int i = 0; i < SOAK_HANDLERS_MAX; i++) {
        hostdrv_conn_free(c->conns[i]);
        c->conns[i] = NULL;
    }
    c->conn = NULL;
    return NULL;
}

void soak_client_release(struct soak_client *c)
{
    for (size_t i = 0; i < c->n_cmds; i++)
        json_decref(c->cmds[i].events);
    free(c->cmds);
    free(c->lat_us);
    for (int i = 0; i < c->n_models; i++)
        free(c->models[i]);
    json_decref(c->versions);
    json_decref(c->created);
    for (int i = 0; i < SOAK_HANDLERS_MAX; i++)
        hostdrv_conn_free(c->conns[i]);
    memset(c, 0, sizeof(*c));
}

/*
 * front.c - route table from the app folder, and the host's part of an HTTP
 * invocation: envelope out, reply in, response to the client.
 */
#include "front.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/ids.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"
#include "routes.h"

#define FRONT_MAX_METHODS 8

struct route {
    char *function;      /* folder name */
    char *template_text; /* as written in function.json */
    struct route_template *tmpl;
    char *trigger_binding;              /* "req" */
    char *http_binding;                 /* "res" or "$return" */
    char methods[FRONT_MAX_METHODS][8]; /* upper case; none listed means any */
    size_t n_methods;
};

#define FRONT_MAX_TRIGGERS 8

struct front {
    const struct invoke_app *app;
    struct front_trigger triggers[FRONT_MAX_TRIGGERS]; /* Cosmos DB triggers, by name */
    size_t n_triggers;
    char *prefix; /* route prefix without slashes, may be empty */
    struct route *routes;
    size_t n_routes;
};

static void route_release(struct route *r)
{
    free(r->function);
    free(r->template_text);
    route_template_free(r->tmpl);
    free(r->trigger_binding);
    free(r->http_binding);
}

void front_free(struct front *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n_routes; i++)
        route_release(&f->routes[i]);
    free(f->routes);
    free(f->prefix);
    for (size_t i = 0; i < f->n_triggers; i++) {
        free((char *)f->triggers[i].function);
        free((char *)f->triggers[i].binding);
        free((char *)f->triggers[i].messages);
    }
    free(f);
}

static json_t *load_json_file(const char *path, struct es_error *err)
{
    json_error_t jerr;
    json_t *j = NULL;
    enum es_status st = es_json_parse_file(path, 0, &j, &jerr);
    if (st == ES_ENOMEM)
        es_error_set(err, ES_ENOMEM, "cannot read '%s': out of memory", path);
    else if (st != ES_OK)
        es_error_set(err, ES_EINVAL, "cannot read '%s': %s (line %d)", path, jerr.text,
                     jerr.line);
    return j;
}

static enum es_status load_prefix(struct front *f, const char *app_dir,
                                  struct es_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/host.json", app_dir);
    json_t *host = load_json_file(path, err);
    if (host == NULL)
        return ES_EINVAL;
    json_t *v = json_object_get(
        json_object_get(json_object_get(host, "extensions"), "http"), "routePrefix");
    const char *prefix = json_is_string(v) ? json_string_value(v) : "api";
    while (*prefix == '/')
        prefix++;
    f->prefix = strdup(prefix);
    json_decref(host);
    if (f->prefix == NULL)
        return ES_ENOMEM;
    size_t n = strlen(f->prefix);
    while (n > 0 && f->prefix[n - 1] == '/')
        f->prefix[--n] = '\0';
    return ES_OK;
}

static enum es_status route_from_bindings(const char *name, json_t *bindings,
                                          struct route *r, struct es_error *err)
{
    json_t *trigger = NULL, *out = NULL, *b;
    size_t i;
    json_array_foreach(bindings, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        if (type != NULL && strcasecmp(type, "httpTrigger") == 0)
            trigger = b;
        else if (type != NULL && strcasecmp(type, "http") == 0)
            out = b;
    }
    if (trigger == NULL)
        return ES_ENOTFOUND;
    const char *route = json_string_value(json_object_get(trigger, "route"));
    const char *tname = json_string_value(json_object_get(trigger, "name"));
    const char *oname =
        out != NULL ? json_string_value(json_object_get(out, "name")) : NULL;
    r->function = strdup(name);
    r->template_text = strdup(route != NULL ? route : name);
    r->trigger_binding = strdup(tname != NULL ? tname : "req");
    r->http_binding = strdup(oname != NULL ? oname : "$return");
    if (!r->function || !r->template_text || !r->trigger_binding || !r->http_binding)
        return ES_ENOMEM;
    json_t *m;
    json_array_foreach(json_object_get(trigger, "methods"), i, m)
    {
        const char *s = json_string_value(m);
        if (s == NULL || strlen(s) >= sizeof(r->methods[0]) ||
            r->n_methods >= FRONT_MAX_METHODS)
            return es_error_set(err, ES_EINVAL, "function '%s': invalid method list",
                                name);
        char *dst = r->methods[r->n_methods++];
        size_t k = 0;
        for (; s[k] != '\0'; k++)
            dst[k] = (char)toupper((unsigned char)s[k]);
        dst[k] = '\0';
    }
    struct es_error terr = {0};
    if (route_template_parse(r->template_text, &r->tmpl, &terr) != ES_OK)
        return es_error_set(err, ES_EINVAL, "function '%s': %s", name, terr.message);
    return ES_OK;
}

/* "hh:mm:ss" (a .NET TimeSpan as function.json writes it) in milliseconds, or dflt. */
static int64_t timespan_ms(const json_t *v, int64_t dflt)
{
    const char *s = json_string_value(v);
    int h, m, sec;
    if (s == NULL || sscanf(s, "%d:%d:%d", &h, &m, &sec) != 3)
        return dflt;
    return ((int64_t)h * 3600 + m * 60 + sec) * 1000;
}

static int64_t int_or(const json_t *v, int64_t dflt)
{
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* The name of fj's first output binding of type `type`, or NULL. */
static const char *output_named(json_t *fj, const char *type)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(fj, "bindings"), i, b)
    {
        const char *t = json_string_value(json_object_get(b, "type"));
        const char *dir = json_string_value(json_object_get(b, "direction"));
        if (t != NULL && dir != NULL && strcasecmp(t, type) == 0 &&
            strcasecmp(dir, "out") == 0)
            return json_string_value(json_object_get(b, "name"));
    }
    return NULL;
}

/* Notes a cosmosDBTrigger function for the change-feed pumps. */
static enum es_status note_trigger(struct front *f, const char *name, json_t *fj)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(fj, "bindings"), i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        if (type == NULL || strcasecmp(type, "cosmosDBTrigger") != 0 ||
            f->n_triggers == FRONT_MAX_TRIGGERS)
            continue;
        const char *binding = json_string_value(json_object_get(b, "name"));
        const char *messages = output_named(fj, "serviceBus");
        json_t *retry = json_object_get(fj, "retry");
        int64_t fixed = timespan_ms(json_object_get(retry, "delayInterval"), 1000);
        struct front_trigger t = {
            .function = strdup(name),
            .binding = strdup(binding != NULL ? binding : "documents"),
            .messages = messages != NULL ? strdup(messages) : NULL,
            .max_items = (size_t)int_or(json_object_get(b, "maxItemsPerInvocation"), 100),
            .poll_ms = int_or(json_object_get(b, "feedPollDelay"), 5000),
            .has_retry = json_is_object(retry),
            .max_retries = int_or(json_object_get(retry, "maxRetryCount"), 0),
            .min_backoff_ms =
                timespan_ms(json_object_get(retry, "minimumInterval"), fixed),
            .max_backoff_ms =
                timespan_ms(json_object_get(retry, "maximumInterval"), fixed),
        };
        if (t.function == NULL || t.binding == NULL ||
            (messages != NULL && !t.messages)) {
            free((char *)t.function);
            free((char *)t.binding);
            free((char *)t.messages);
            return ES_ENOMEM;
        }
        f->triggers[f->n_triggers++] = t;
        break; /* one trigger per function */
    }
    return ES_OK;
}

static const struct front_trigger *first_trigger(const struct front *f, bool messages)
{
    for (size_t i = 0; i < f->n_triggers; i++)
        if ((f->triggers[i].messages != NULL) == messages)
            return &f->triggers[i];
    return NULL;
}

const struct front_trigger *front_cosmos_trigger(const struct front *f)
{
    return first_trigger(f, false);
}

const struct front_trigger *front_publisher_trigger(const struct front *f)
{
    return first_trigger(f, true);
}

static enum es_status load_function(struct front *f, const char *app_dir,
                                    const char *name, struct es_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/function.json", app_dir, name);
    FILE *probe = fopen(path, "r");
    if (probe == NULL)
        return ES_OK; /* not a function folder */
    fclose(probe);
    json_t *fj = load_json_file(path, err);
    if (fj == NULL)
        return ES_EINVAL;
    enum es_status st = ES_OK;
    if (fn_table_find(f->app->fns, name) == NULL) {
        st = es_error_set(
            err, ES_EINVAL,
            "function '%s' has a function.json but no implementation in this "
            "handler",
            name);
        goto out;
    }
    struct route *grown = realloc(f->routes, (f->n_routes + 1) * sizeof(*grown));
    if (grown == NULL) {
        st = ES_ENOMEM;
        goto out;
    }
    f->routes = grown;
    struct route *r = &f->routes[f->n_routes];
    memset(r, 0, sizeof(*r));
    st = note_trigger(f, name, fj);
    if (st == ES_OK)
        st = route_from_bindings(name, json_object_get(fj, "bindings"), r, err);
    if (st == ES_OK) {
        f->n_routes++;
    } else {
        route_release(r);
        if (st == ES_ENOTFOUND)
            st = ES_OK; /* not HTTP-triggered: nothing to route */
    }
out:
    json_decref(fj);
    return st;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum es_status front_load(const char *app_dir, const struct invoke_app *app,
                          struct front **out, struct es_error *err)
{
    struct front *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return ES_ENOMEM;
    f->app = app;
    enum es_status st = load_prefix(f, app_dir, err);
    DIR *d = st == ES_OK ? opendir(app_dir) : NULL;
    if (st == ES_OK && d == NULL)
        st = es_error_set(err, ES_EINVAL, "cannot open app folder '%s'", app_dir);
    char *names[1024];
    size_t n = 0;
    struct dirent *de;
    while (d != NULL && n < sizeof(names) / sizeof(names[0]) &&
           (de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.' && (names[n] = strdup(de->d_name)) != NULL)
            n++;
    }
    if (d != NULL)
        closedir(d);
    /* Sorted, so the start-up listing and error messages are stable. */
    qsort(names, n, sizeof(names[0]), name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (st == ES_OK)
            st = load_function(f, app_dir, names[i], err);
        free(names[i]);
    }
    if (st != ES_OK) {
        front_free(f);
        return st;
    }
    *out = f;
    return ES_OK;
}

/* Appends sep (unless buf is empty) and word to buf, truncating at cap. */
static void append_word(char *buf, size_t cap, const char *sep, const char *word)
{
    size_t used = strlen(buf);
    if (used < cap)
        snprintf(buf + used, cap - used, "%s%s", used > 0 ? sep : "", word);
}

void front_log_routes(const struct front *f, const char *base_url)
{
    es_log_info("functions:");
    for (size_t i = 0; i < f->n_routes; i++) {
        const struct route *r = &f->routes[i];
        char methods[80] = "";
        for (size_t k = 0; k < r->n_methods; k++)
            append_word(methods, sizeof(methods), ",", r->methods[k]);
        es_log_info("  %s: [%s] %s/%s%s%s", r->function, r->n_methods ? methods : "ANY",
                    base_url, f->prefix, f->prefix[0] ? "/" : "", r->template_text);
    }
}

/* ---- request path ---- */

static bool method_allowed(const struct route *r, const char *method)
{
    if (r->n_methods == 0)
        return true;
    for (size_t k = 0; k < r->n_methods; k++)
        if (strcmp(r->methods[k], method) == 0)
            return true;
    return false;
}

/* The path after the route prefix (no leading '/'), or NULL when outside it. */
static const char *strip_prefix(const struct front *f, const char *target, size_t *len)
{
    size_t path_len = strcspn(target, "?#");
    if (target[0] != '/')
        return NULL;
    const char *p = target + 1;
    path_len--;
    size_t plen = strlen(f->prefix);
    if (plen > 0) {
        if (path_len < plen || strncasecmp(p, f->prefix, plen) != 0 ||
            (path_len > plen && p[plen] != '/'))
            return NULL;
        p += plen;
        path_len -= plen;
        if (path_len > 0) {
            p++;
            path_len--;
        }
    }
    *len = path_len;
    return p;
}

/*
 * The best route for the request, or NULL (*nomem when memory ran out, so that
 * none could be told). The method is part of the match, as in the host's
 * routing: a path served only under another method is simply not found.
 */
static const struct route *find_route(const struct front *f, const char *target,
                                      const char *method, bool *nomem)
{
    size_t len = 0;
    const char *path = strip_prefix(f, target, &len);
    const struct route *best = NULL;
    *nomem = false;
    for (size_t i = 0; path != NULL && i < f->n_routes; i++) {
        const struct route *r = &f->routes[i];
        enum es_status m = route_template_match(r->tmpl, path, len, NULL);
        if (m == ES_ENOMEM) {
            *nomem = true;
            return NULL;
        }
        if (m != ES_OK)
            continue;
        if (method_allowed(r, method) &&
            (best == NULL || route_template_compare(r->tmpl, best->tmpl) < 0))
            best = r;
    }
    return best;
}

/* A reply that could not be built went out as a bare 503 (server.h): noted here. */
static void replied(enum es_status st, const char *what)
{
    if (st != ES_OK)
        es_log_warn("serve: out of memory: %s answered with a bare 503", what);
}

/* Under serve the body cap is MAX_BODY_BYTES itself (inclusive), as commands check it. */
static void reply_too_large(struct http_exchange *x)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "the request body is over MAX_BODY_BYTES (%zu bytes)",
             x->body_cap);
    replied(http_reply_error(x, ES_ETOOBIG, msg), "a request too large");
}

static void on_headers(void *cls, struct http_exchange *x)
{
    struct front *f = cls;
    size_t path_len = strcspn(x->target, "?#");
    if (path_len == 1 && x->target[0] == '/') {
        replied(http_reply(x, 200, "application/json", "{\"status\":\"running\"}", 20),
                "a readiness probe");
        return;
    }
    bool nomem = false;
    const struct route *r = find_route(f, x->target, x->method, &nomem);
    if (nomem) {
        replied(http_reply_error(x, ES_ENOMEM, "out of memory"), "a request");
        return;
    }
    if (r == NULL) {
        replied(
            http_reply_error(x, ES_ENOTFOUND, "no route matches this method and path"),
            "a request for no route");
        return;
    }
    x->route = (void *)r;
}

/* Sends the function's HTTP output (res) to the client: whole, or a bare 503. */
static void relay_http(struct http_exchange *x, struct invoke_host_result *hr)
{
    bool has_type = false;
    const char *k;
    json_t *v;
    char *body = hr->http_body;
    hr->http_body = NULL;
    enum es_status st = http_reply_own(x, hr->http_status, NULL, body, hr->http_body_len);
    json_object_foreach(hr->http_headers, k, v)
    {
        has_type = has_type || strcasecmp(k, "Content-Type") == 0;
        if (st == ES_OK)
            st = http_reply_header(x, k, json_string_value(v));
    }
    if (st == ES_OK && !has_type && hr->http_body_len > 0)
        st = http_reply_header(x, "Content-Type", "text/plain; charset=utf-8");
    replied(st, "a function's answer");
}

static void log_outcome(const struct route *r, const char *id,
                        struct invoke_host_result *hr, int64_t started_ms)
{
    size_t i;
    json_t *line;
    json_array_foreach(hr->logs, i, line)
    {
        if (json_is_string(line))
            es_log_info("[%s] %s", r->function, json_string_value(line));
    }
    int64_t ms = es_time_mono_ms() - started_ms;
    if (hr->ok)
        es_log_info("executed '%s' (succeeded, id=%s, %lld ms)", r->function, id,
                    (long long)ms);
    else
        es_log_error("executed '%s' (failed, id=%s, %lld ms): %s", r->function, id,
                     (long long)ms, hr->failure);
}

/*
 * The request's path, query and header values are text (UTF-8, no NUL) once
 * percent-decoded, as an envelope must be; else a reason for the client.
 */
static const char *not_text(struct http_exchange *x)
{
    if (!es_url_text_valid(x->target, strlen(x->target)))
        return "the URL is not UTF-8 text once percent-decoded";
    if (http_exchange_collect_headers(x) != ES_OK)
        return NULL;
    for (size_t i = 0; i < x->n_headers; i++)
        if (!es_text_valid(x->headers[i].name, strlen(x->headers[i].name)) ||
            !es_text_valid(x->headers[i].value, strlen(x->headers[i].value)))
            return "a header is not UTF-8 text";
    return NULL;
}

static json_t *build_envelope(const struct front *f, const struct route *r,
                              struct http_exchange *x)
{
    size_t len = 0;
    const char *path = strip_prefix(f, x->target, &len);
    json_t *params = NULL;
    if (path == NULL || route_template_match(r->tmpl, path, len, &params) != ES_OK)
        return NULL;
    if (http_exchange_collect_headers(x) != ES_OK) {
        json_decref(params);
        return NULL;
    }
    const char *host = http_exchange_header(x, "Host");
    size_t url_len = strlen(host ? host : "localhost") + strlen(x->target) + 16;
    char *url = malloc(url_len);
    struct invoke_header *hdrs = calloc(x->n_headers + 1, sizeof(*hdrs));
    json_t *env = NULL;
    if (url != NULL && hdrs != NULL) {
        snprintf(url, url_len, "http://%s%s", host ? host : "localhost", x->target);
        for (size_t i = 0; i < x->n_headers; i++) {
            hdrs[i].name = x->headers[i].name;
            hdrs[i].value = x->headers[i].value;
        }
        struct invoke_http_spec spec = {
            .function_name = r->function,
            .binding = r->trigger_binding,
            .method = x->method,
            .url = url,
            .headers = hdrs,
            .n_headers = x->n_headers,
            .params = params,
            .body = x->body,
            .body_len = x->body_len,
        };
        env = invoke_http_envelope_new(&spec);
    }
    free(url);
    free(hdrs);
    json_decref(params);
    return env;
}

static void on_request(void *cls, struct http_exchange *x)
{
    struct front *f = cls;
    const struct route *r = x->route;
    if (x->body_too_large) {
        /* A chunked body that outgrew the cap while it arrived. */
        reply_too_large(x);
        return;
    }
    const char *bad = not_text(x);
    if (bad != NULL) {
        es_log_debug("serve: %s %.200s refused: %s", x->method, x->target, bad);
        replied(http_reply_error(x, ES_EFIELD, bad), "a request that is not text");
        return;
    }
    int64_t started = es_time_mono_ms();
    char id[ES_UUID_STR_LEN + 1];
    es_uuid4(id);

    json_t *env = build_envelope(f, r, x);
    size_t len = 0;
    char *text = env != NULL ? es_json_dumps(env, &len) : NULL;
    json_decref(env);
    if (text == NULL) {
        replied(http_reply_error(x, ES_ENOMEM, "out of memory"), "a request");
        return;
    }
    struct invoke_reply reply;
    invoke_dispatch(f->app, r->function, id, text, len, &reply);
    free(text);
    struct invoke_host_result hr;
    if (invoke_host_result_parse(reply.host_status, "application/json", reply.body,
                                 reply.body_len, r->http_binding, &hr) != ES_OK) {
        invoke_reply_release(&reply);
        replied(http_reply_error(x, ES_ENOMEM, "out of memory"), "a function's answer");
        return;
    }
    invoke_reply_release(&reply);
    log_outcome(r, id, &hr, started);
    relay_http(x, &hr);
    invoke_host_result_release(&hr);
}

struct http_router front_router(struct front *f)
{
    struct http_router r = {.on_headers = on_headers, .on_request = on_request, .cls = f};
    return r;
}

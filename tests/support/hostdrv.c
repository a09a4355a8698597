/*
 * hostdrv.c - the host-protocol driver: process control with fork/exec and
 * the wire side with libcurl.
 */
#define _XOPEN_SOURCE 700
#include "hostdrv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve/routes.h"
#include "util/buf.h"
#include "util/ids.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"

#define HOST_VERSION    "4.1037.0.0"
#define REPLY_MAX_BYTES (64u << 20)

extern char **environ;

struct drv_route {
    char function[256];
    char methods[8][8];
    size_t n_methods;
    struct route_template *tmpl;
};

struct hostdrv {
    struct drv_route routes[64];
    size_t n_routes;
    char prefix[64];
    pid_t pid;
    int port;
    int exit_status; /* valid once reaped */
    bool reaped;
    int64_t ready_ms;
    char tmpdir[256];
    bool serve; /* `handler serve`: its answers are the API's own */
};

int hostdrv_port(const struct hostdrv *d)
{
    return d->port;
}

pid_t hostdrv_pid(const struct hostdrv *d)
{
    return d->pid;
}

const char *hostdrv_tmpdir(const struct hostdrv *d)
{
    return d->tmpdir;
}

int64_t hostdrv_ready_ms(const struct hostdrv *d)
{
    return d->ready_ms;
}

/* The host's WorkerUtilities.GetUnusedTcpPort: bind port 0, read it, release it. */
int hostdrv_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Runs in the child: environment as the host sets it, then exec. */
static void exec_handler(const struct hostdrv_opts *o, const struct hostdrv *d,
                         pid_t parent)
{
    char port[16], id[ES_UUID_STR_LEN + 1];
    snprintf(port, sizeof(port), "%d", d->port);
    es_uuid4(id);
    setenv("FUNCTIONS_CUSTOMHANDLER_PORT", port, 1);
    setenv("FUNCTIONS_HTTPWORKER_PORT", port, 1);
    setenv("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", id, 1);
    setenv("FUNCTIONS_HTTPWORKER_ID", id, 1);
    setenv("FUNCTIONS_APP_ROOT_PATH", o->app_dir, 1);
    char store[512];
    snprintf(store, sizeof(store), "%s/eventstore.db", d->tmpdir);
    setenv("EVENT_STORE_PATH", store, 1);
    for (const char *const *e = o->env; e != NULL && *e != NULL; e++)
        putenv(strdup(*e)); /* the child execs: nothing to free */

    char out_path[512], err_path[512];
    snprintf(out_path, sizeof(out_path), "%s/stdout.log", d->tmpdir);
    snprintf(err_path, sizeof(err_path), "%s/stderr.log", d->tmpdir);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0 || (o->chroot == NULL && chdir(o->app_dir) != 0))
        _exit(127);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);

    char exe[512];
    snprintf(exe, sizeof(exe), "%s/handler", o->app_dir);
    char *argv[32];
    size_t n = 0;
    if (o->chroot != NULL) {
        /* The handler sees the root as /: its own path is the part under it. */
        argv[n++] = "chroot";
        argv[n++] = (char *)o->chroot;
        snprintf(exe, sizeof(exe), "%s/handler", o->app_dir + strlen(o->chroot));
        setenv("FUNCTIONS_APP_ROOT_PATH", o->app_dir + strlen(o->chroot), 1);
    }
    argv[n++] = exe;
    if (o->serve) {
        argv[n++] = "serve";
        argv[n++] = "--port";
        argv[n++] = port;
    }
    for (const char *const *a = o->args; a != NULL && *a != NULL && n < 30; a++)
        argv[n++] = (char *)*a;
    argv[n] = NULL;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* A test that dies (a failed assertion) takes its handler with it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    if (o->chroot != NULL)
        execvp("chroot", argv);
    else
        execv(exe, argv);
    _exit(127);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* GET / until any HTTP answer, as the host's IsWorkerReady does. */
static int wait_ready(struct hostdrv *d, int64_t started)
{
    CURL *h = curl_easy_init();
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", d->port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    int rc = -1;
    while (es_time_mono_ms() - started < 30000) {
        if (curl_easy_perform(h) == CURLE_OK) {
            d->ready_ms = es_time_mono_ms() - started;
            rc = 0;
            break;
        }
        int status;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->reaped = true;
            d->exit_status =
                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            fprintf(stderr, "hostdrv: the handler exited with %d before it was ready\n",
                    d->exit_status);
            break;
        }
        es_time_sleep_ms(25);
    }
    curl_easy_cleanup(h);
    return rc;
}

/* Reads host.json's route prefix and every function.json's HTTP route, as the host does.
 */
static void load_routes(struct hostdrv *d, const char *app_dir)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/host.json", app_dir);
    json_t *host = json_load_file(path, 0, NULL);
    const char *prefix = json_string_value(json_object_get(
        json_object_get(json_object_get(host, "extensions"), "http"), "routePrefix"));
    snprintf(d->prefix, sizeof(d->prefix), "%s", prefix != NULL ? prefix : "api");
    json_decref(host);
    DIR *dir = opendir(app_dir);
    struct dirent *de;
    while (dir != NULL && (de = readdir(dir)) != NULL && d->n_routes < 64) {
        snprintf(path, sizeof(path), "%s/%s/function.json", app_dir, de->d_name);
        json_t *fj = de->d_name[0] != '.' ? json_load_file(path, 0, NULL) : NULL;
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(fj, "bindings"), i, b)
        {
            const char *type = json_string_value(json_object_get(b, "type"));
            if (type == NULL || strcasecmp(type, "httpTrigger") != 0)
                continue;
            struct drv_route *r = &d->routes[d->n_routes];
            const char *route = json_string_value(json_object_get(b, "route"));
            if (route_template_parse(route != NULL ? route : de->d_name, &r->tmpl,
                                     NULL) != ES_OK)
                continue;
            snprintf(r->function, sizeof(r->function), "%s", de->d_name);
            size_t k;
            json_t *m;
            json_array_foreach(json_object_get(b, "methods"), k, m)
            {
                if (r->n_methods < 8) {
                    snprintf(r->methods[r->n_methods], sizeof(r->methods[0]), "%s",
                             json_string_value(m));
                    for (char *p = r->methods[r->n_methods]; *p; p++)
                        *p = (char)toupper((unsigned char)*p);
                    r->n_methods++;
                }
            }
            d->n_routes++;
        }
        json_decref(fj);
    }
    if (dir != NULL)
        closedir(dir);
}

int hostdrv_start(const struct hostdrv_opts *opts, struct hostdrv **out)
{
    static bool curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
    struct hostdrv *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -1;
    snprintf(d->tmpdir, sizeof(d->tmpdir), "/tmp/hostdrv-XXXXXX");
    if (mkdtemp(d->tmpdir) == NULL || (d->port = hostdrv_free_port()) < 0) {
        free(d);
        return -1;
    }
    /* `--app <dir>` serves another folder: its routes (and prefix) are the ones in use.
     */
    const char *app_dir = opts->app_dir;
    for (const char *const *a = opts->args; a != NULL && *a != NULL && a[1] != NULL; a++)
        if (strcmp(*a, "--app") == 0)
            app_dir = a[1];
    load_routes(d, app_dir);
    d->serve = opts->serve;
    int64_t started = es_time_mono_ms();
    pid_t parent = getpid();
    d->pid = fork();
    if (d->pid < 0) {
        free(d);
        return -1;
    }
    if (d->pid == 0)
        exec_handler(opts, d, parent);
    if (wait_ready(d, started) != 0) {
        char *err = hostdrv_read_output(d, true);
        fprintf(stderr, "hostdrv: handler not ready; its stderr:\n%s\n", err ? err : "");
        free(err);
        hostdrv_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

char *hostdrv_read_output(const struct hostdrv *d, bool stderr_stream)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", d->tmpdir,
             stderr_stream ? "stderr.log" : "stdout.log");
    struct es_buf b;
    es_buf_init(&b, 64u << 20);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        char chunk[4096];
        size_t n;
        /* A failed append fails the take too (the buffer is sticky): NULL, not a
         * log with a hole in it. */
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            if (es_buf_add(&b, chunk, n) != ES_OK)
                break;
        fclose(f);
    }
    return es_buf_take(&b, NULL);
}

int hostdrv_stop(struct hostdrv *d, int sig, int timeout_ms)
{
    if (!d->reaped) {
        kill(d->pid, sig);
        int64_t deadline = es_time_mono_ms() + timeout_ms;
        int status;
        for (;;) {
            pid_t r = waitpid(d->pid, &status, WNOHANG);
            if (r == d->pid) {
                d->exit_status =
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
            if (es_time_mono_ms() > deadline) {
                kill(d->pid, SIGKILL);
                waitpid(d->pid, &status, 0);
                d->exit_status = -1;
                break;
            }
            es_time_sleep_ms(5);
        }
        d->reaped = true;
    }
    char *err = hostdrv_read_output(d, true);
    if (err != NULL &&
        (strstr(err, "Sanitizer") != NULL || strstr(err, "runtime error") != NULL))
        fprintf(stderr, "---- handler stderr ----\n%s\n------------------------\n", err);
    free(err);
    return d->exit_status;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void hostdrv_free(struct hostdrv *d)
{
    if (d == NULL)
        return;
    if (!d->reaped) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
    }
    nftw(d->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < d->n_routes; i++)
        route_template_free(d->routes[i].tmpl);
    free(d);
}

/* ---- the response log ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* The log file of this process: <dir>/<executable>-<pid>.jsonl. */
static void log_path(const char *dir, char *path, size_t cap)
{
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    snprintf(path, cap, "%s/%s-%d.jsonl", dir, n > 0 ? basename(exe) : "test",
             (int)getpid());
}

void hostdrv_log_response(const struct hostdrv_logged *l)
{
    const char *dir = getenv("ES_API_LOG_DIR");
    if (dir == NULL || *dir == '\0')
        return;
    json_t *rec = json_pack("{s:s, s:s, s:s?, s:s, s:s%, s:i, s:O?}", "face", l->face,
                            "prefix", l->prefix, "function", l->function, "method",
                            l->method, "target", l->target, strlen(l->target), "status",
                            (int)l->status, "headers", l->headers);
    json_t *body = l->body != NULL ? json_stringn(l->body, l->body_len) : json_string("");
    if (rec != NULL && body == NULL)
        body = json_pack("{s:b}", "notText", true); /* stays a JSON line */
    size_t len = 0;
    char *text = rec != NULL && json_object_set_new(rec, "body", body) == 0
                     ? es_json_dumps(rec, &len)
                     : NULL;
    json_decref(rec);
    char path[1024];
    log_path(dir, path, sizeof(path));
    pthread_mutex_lock(&log_lock);
    int fd = text != NULL ? open(path, O_WRONLY | O_APPEND | O_CREAT, 0644) : -1;
    bool written =
        fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    if (fd >= 0)
        close(fd);
    pthread_mutex_unlock(&log_lock);
    /* The validator then misses a response: say so where the test's output shows. */
    if (!written)
        fprintf(stderr, "hostdrv: cannot log the answer to %s %s in %s\n", l->method,
                l->target, path);
    free(text);
}

/* ---- connections ---- */

struct hostdrv_conn {
    const struct hostdrv *d;
    CURL *curl;
    int port;
    long connects;
};

long hostdrv_conn_connects(const struct hostdrv_conn *c)
{
    return c->connects;
}

struct hostdrv_conn *hostdrv_conn_new(const struct hostdrv *d)
{
    struct hostdrv_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->curl = curl_easy_init();
    c->port = d->port;
    c->d = d;
    if (c->curl == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void hostdrv_conn_free(struct hostdrv_conn *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

void hostdrv_reply_release(struct hostdrv_reply *r)
{
    free(r->content_type);
    free(r->body);
    invoke_host_result_release(&r->result);
    json_decref(r->client_json);
    memset(r, 0, sizeof(*r));
}

struct upload {
    const char *p;
    size_t left;
};

static size_t read_body(char *dst, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    /* Small pieces, so the body really arrives in several chunks. */
    size_t max = size * n < 1024 ? size * n : 1024;
    size_t k = u->left < max ? u->left : max;
    memcpy(dst, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

/* Response headers of a plain request, kept as the host result's http_headers. */
static size_t keep_header(char *p, size_t size, size_t n, void *ud)
{
    json_t *headers = ud;
    size_t len = size * n;
    const char *colon = memchr(p, ':', len);
    if (colon != NULL && colon > p) {
        const char *v = colon + 1;
        size_t vlen = len - (size_t)(v - p);
        while (vlen > 0 && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
            vlen--;
        char *name = strndup(p, (size_t)(colon - p));
        if (name != NULL)
            json_object_set_new(headers, name, json_stringn(v, vlen));
        free(name);
    }
    return len;
}

static size_t write_body(char *p, size_t size, size_t n, void *ud)
{
    struct es_buf *b = ud;
    return es_buf_add(b, p, size * n) == ES_OK ? size * n : 0;
}

int hostdrv_request(struct hostdrv_conn *c, const char *method, const char *path,
                    const char *const *headers, const char *body, size_t len,
                    enum hostdrv_framing framing, struct hostdrv_reply *out)
{
    memset(out, 0, sizeof(*out));
    CURL *h = c->curl;
    curl_easy_reset(h);
    char url[2048];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", c->port, path);
    struct curl_slist *hl = NULL;
    for (const char *const *hp = headers; hp != NULL && *hp != NULL; hp++)
        hl = curl_slist_append(hl, *hp);
    hl = curl_slist_append(hl, "Expect:");
    struct upload up = {body, len};
    struct es_buf resp;
    es_buf_init(&resp, REPLY_MAX_BYTES);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, &up);
        if (framing == HOSTDRV_CHUNKED)
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        else
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    out->result.http_headers = json_object();
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, keep_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out->result.http_headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hl);
    if (rc != CURLE_OK) {
        fprintf(stderr, "hostdrv: %s %s failed: %s\n", method, path,
                curl_easy_strerror(rc));
        es_buf_release(&resp);
        hostdrv_reply_release(out); /* nothing came back: the caller owns nothing */
        return -1;
    }
    char *ct = NULL;
    long connects = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    c->connects += connects;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    out->content_type = ct != NULL ? strdup(ct) : NULL;
    out->body = es_buf_take(&resp, &out->body_len);
    out->client_json = json_loadb(out->body, out->body_len, JSON_DECODE_ANY, NULL);
    if (c->d->serve) {
        struct hostdrv_logged l = {"serve",
                                   c->d->prefix,
                                   NULL,
                                   method,
                                   path,
                                   out->status,
                                   out->result.http_headers,
                                   out->body,
                                   out->body_len};
        hostdrv_log_response(&l);
    }
    return 0;
}

int hostdrv_post(struct hostdrv_conn *c, const char *path, const char *body, size_t len,
                 enum hostdrv_framing framing, const char *http_binding,
                 struct hostdrv_reply *out)
{
    char id[ES_UUID_STR_LEN + 1];
    char id_header[80];
    snprintf(id_header, sizeof(id_header), "X-Azure-Functions-InvocationId: %s",
             es_uuid4(id));
    const char *headers[] = {"Content-Type: application/json; charset=utf-8",
                             "X-Azure-Functions-HostVersion: " HOST_VERSION, id_header,
                             "User-Agent: Azure-Functions-Host/" HOST_VERSION, NULL};
    if (hostdrv_request(c, "POST", path, headers, body, len, framing, out) != 0)
        return -1;
    json_decref(out->client_json);
    out->client_json = NULL;
    invoke_host_result_release(&out->result); /* the plain request's headers */
    if (invoke_host_result_parse((int)out->status, out->content_type, out->body,
                                 out->body_len, http_binding, &out->result) != ES_OK)
        return -1;
    if (out->result.has_http)
        out->client_json = json_loadb(out->result.http_body, out->result.http_body_len,
                                      JSON_DECODE_ANY, NULL);
    return 0;
}

static int post_envelope(struct hostdrv_conn *c, const char *function, json_t *env,
                         const char *http_binding, struct hostdrv_reply *out)
{
    size_t len = 0;
    char *text = env != NULL ? es_json_dumps(env, &len) : NULL;
    json_decref(env);
    if (text == NULL)
        return -1;
    char path[300];
    snprintf(path, sizeof(path), "/%s", function);
    int rc = hostdrv_post(c, path, text, len, HOSTDRV_CHUNKED, http_binding, out);
    free(text);
    return rc;
}

int hostdrv_http(struct hostdrv_conn *c, const struct hostdrv_http *req,
                 struct hostdrv_reply *out)
{
    struct invoke_header hdrs[64];
    char *copies[64];
    size_t n = 0, n_copies = 0;
    size_t body_len =
        req->body != NULL && req->body_len == 0 ? strlen(req->body) : req->body_len;
    char url[2048], clen[32];
    snprintf(url, sizeof(url), "http://localhost:7071%s", req->path_query);
    hdrs[n++] = (struct invoke_header){"Host", "localhost:7071"};
    for (const char *const *h = req->headers; h != NULL && *h != NULL && n < 60; h++) {
        char *copy = strdup(*h);
        char *colon = copy != NULL ? strchr(copy, ':') : NULL;
        if (colon == NULL) {
            free(copy);
            continue;
        }
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        copies[n_copies++] = copy;
        hdrs[n++] = (struct invoke_header){copy, v};
    }
    /*
     * Content-Length as a client sends it: with any body, and 0 on a POST, PUT or
     * PATCH without one - unless the test frames the body itself (for instance
     * Transfer-Encoding: chunked, which leaves the envelope without Body).
     */
    bool framed = false;
    for (size_t i = 0; i < n; i++)
        framed = framed || strcasecmp(hdrs[i].name, "Content-Length") == 0 ||
                 strcasecmp(hdrs[i].name, "Transfer-Encoding") == 0;
    bool writes = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
                  strcmp(req->method, "PATCH") == 0;
    if (!framed && (body_len > 0 || writes)) {
        snprintf(clen, sizeof(clen), "%zu", body_len);
        hdrs[n++] = (struct invoke_header){"Content-Length", clen};
    }
    struct invoke_http_spec spec = {
        .function_name = req->function,
        .binding = "req",
        .method = req->method,
        .url = url,
        .headers = hdrs,
        .n_headers = n,
        .params = req->params,
        .body = req->body,
        .body_len = body_len,
    };
    json_t *env = invoke_http_envelope_new(&spec);
    for (size_t i = 0; i < n_copies; i++)
        free(copies[i]);
    int rc = post_envelope(c, req->function, env, "res", out);
    if (rc == 0 && out->result.has_http) {
        /* The client's response, as the host would relay it. */
        struct hostdrv_logged l = {"host",
                                   c->d->prefix,
                                   req->function,
                                   req->method,
                                   req->path_query,
                                   out->result.http_status,
                                   out->result.http_headers,
                                   out->result.http_body,
                                   out->result.http_body_len};
        hostdrv_log_response(&l);
    }
    return rc;
}

int hostdrv_trigger(struct hostdrv_conn *c, const char *function, const char *binding,
                    const json_t *payload, int string_levels,
                    const struct fn_retry *retry, struct hostdrv_reply *out)
{
    json_t *env =
        invoke_trigger_envelope_new(function, binding, payload, string_levels, retry);
    return post_envelope(c, function, env, NULL, out);
}

int hostdrv_call(struct hostdrv_conn *c, const char *method, const char *path_query,
                 const char *const *headers, const char *body, struct hostdrv_reply *out)
{
    const struct hostdrv *d = c->d;
    memset(out, 0, sizeof(*out));
    size_t plen = strlen(d->prefix);
    const char *path = path_query;
    if (*path == '/')
        path++;
    if (plen > 0) {
        if (strncasecmp(path, d->prefix, plen) != 0 || path[plen] != '/')
            return -1;
        path += plen + 1;
    }
    size_t len = strcspn(path, "?#");
    for (size_t i = 0; i < d->n_routes; i++) {
        const struct drv_route *r = &d->routes[i];
        bool method_ok = r->n_methods == 0;
        for (size_t k = 0; k < r->n_methods; k++)
            method_ok = method_ok || strcmp(r->methods[k], method) == 0;
        json_t *params = NULL;
        if (!method_ok || route_template_match(r->tmpl, path, len, &params) != ES_OK)
            continue;
        struct hostdrv_http req = {.function = r->function,
                                   .method = method,
                                   .path_query = path_query,
                                   .headers = headers,
                                   .body = body,
                                   .params = params};
        int rc = hostdrv_http(c, &req, out);
        json_decref(params);
        return rc;
    }
    fprintf(stderr, "hostdrv: no function serves %s %s\n", method, path_query);
    return -1;
}

const char *hostdrv_reply_header(const struct hostdrv_reply *r, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach(r->result.http_headers, k, v)
    {
        if (strcasecmp(k, name) == 0)
            return json_string_value(v);
    }
    return NULL;
}

/*
 * cosmosrig.c - process control of the Node rig, and its control endpoints.
 */
#include "cosmosrig.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "store/store_cosmos.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

#define RIG_DIR ES_SOURCE_DIR "/tests/support/cosmos-rig"

/* snprintf that refuses to truncate: a test helper stops rather than send a cut value. */
#define FMT(buf, ...) fmt_checked((buf), sizeof(buf), __VA_ARGS__)
__attribute__((format(printf, 3, 4))) static void fmt_checked(char *buf, size_t size,
                                                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr,
                "cosmosrig: a %d-byte value does not fit a %zu-byte buffer: %.60s...\n",
                n, size, buf);
        abort();
    }
}

bool cosmosrig_available(void)
{
    return access(RIG_DIR "/node_modules/@vercel/cosmosdb-server", R_OK) == 0;
}

/* Waits for the rig's "listening on <url>" line in its log; the url into out. */
static bool wait_listening(const char *log, pid_t pid, char *out, size_t out_len)
{
    const char *marker = "listening on ";
    int64_t deadline = es_time_mono_ms() + 30000;
    while (es_time_mono_ms() < deadline) {
        FILE *f = fopen(log, "r");
        char line[512];
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            char *url = strstr(line, marker);
            if (url != NULL) {
                url += strlen(marker);
                url[strcspn(url, "\r\n")] = '\0';
                snprintf(out, out_len, "%s", url);
                fclose(f);
                return true;
            }
        }
        if (f != NULL)
            fclose(f);
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return false;
        es_time_sleep_ms(20);
    }
    return false;
}

pid_t cosmosrig_start_shared(void)
{
    if (!cosmosrig_available())
        return -1;
    char log[128];
    snprintf(log, sizeof(log), "/tmp/cosmosrig-%d.log", (int)getpid());
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(127);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        char token_bytes[16];
        snprintf(token_bytes, sizeof(token_bytes), "%d", COSMOSRIG_TOKEN_BYTES);
        /* ES_TEST_COSMOS_LAG_MS: replicas lag that long behind the primary. */
        const char *lag = getenv("ES_TEST_COSMOS_LAG_MS");
        execlp("node", "node", RIG_DIR "/rig.js", "--port", "0", "--host", "127.0.0.1",
               "--key", COSMOSRIG_KEY, "--identity-header", COSMOSRIG_IDENTITY_HEADER,
               "--identity-client-id", COSMOSRIG_IDENTITY_CLIENT_ID, "--token-bytes",
               token_bytes, "--replica-lag-ms", lag != NULL ? lag : "0", (char *)NULL);
        _exit(127);
    }
    char url[256];
    if (!wait_listening(log, pid, url, sizeof(url))) {
        fprintf(stderr, "cosmosrig: the rig did not start (see %s)\n", log);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    char pid_text[32];
    snprintf(pid_text, sizeof(pid_text), "%d", (int)pid);
    setenv("COSMOS_RIG_ENDPOINT", url, 1);
    setenv("COSMOS_RIG_KEY", COSMOSRIG_KEY, 1);
    setenv("COSMOS_RIG_PID", pid_text, 1);
    setenv("COSMOS_RIG_LOG", log, 1);
    return pid;
}

void cosmosrig_stop_shared(void)
{
    const char *p = getenv("COSMOS_RIG_PID");
    if (p == NULL)
        return;
    pid_t pid = (pid_t)strtol(p, NULL, 10);
    kill(pid, SIGTERM);
    int64_t deadline = es_time_mono_ms() + 5000;
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (es_time_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        es_time_sleep_ms(10);
    }
    unsetenv("COSMOS_RIG_PID");
    unsetenv("COSMOS_RIG_ENDPOINT");
    const char *log = getenv("COSMOS_RIG_LOG");
    if (log != NULL)
        unlink(log);
}

const char *cosmosrig_endpoint(void)
{
    return getenv("COSMOS_RIG_ENDPOINT");
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return es_buf_add(ud, p, size * n) == ES_OK ? size * n : 0;
}

/* A control request to the rig; the response body into out (may be NULL). */
static long control(const char *method, const char *path, const char *body,
                    struct es_buf *out)
{
    const char *ep = cosmosrig_endpoint();
    if (ep == NULL)
        return -1;
    char url[1024];
    FMT(url, "%s%s", ep, path);
    CURL *h = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    struct es_buf sink;
    es_buf_init(&sink, 1 << 20);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    if (body != NULL)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out != NULL ? out : &sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    long status = -1;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    es_buf_release(&sink);
    return status;
}

int cosmosrig_faults(const char *rules_json)
{
    return control("POST", "/__rig/faults", rules_json, NULL) == 200 ? 0 : -1;
}

json_t *cosmosrig_stats(void)
{
    struct es_buf b;
    es_buf_init(&b, 1 << 20);
    json_t *j = NULL;
    if (control("GET", "/__rig/stats", NULL, &b) == 200)
        j = json_loadb(b.ptr, b.len, 0, NULL);
    es_buf_release(&b);
    return j;
}

long long cosmosrig_stat(const char *name)
{
    json_t *all = cosmosrig_stats();
    json_t *v = all;
    char part[128];
    for (const char *p = name; v != NULL && *p != '\0';) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof(part)) {
            v = NULL;
            break;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        v = json_object_get(v, part);
        p += n + (p[n] == '.');
    }
    long long r = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    json_decref(all);
    return r;
}

int cosmosrig_msi_config(const char *json)
{
    return control("POST", "/__rig/msi/config", json, NULL) == 200 ? 0 : -1;
}

int cosmosrig_msi_ttl(int ttl_seconds)
{
    char body[64];
    if (ttl_seconds < 0)
        FMT(body, "{\"ttlSeconds\":null}");
    else
        FMT(body, "{\"ttlSeconds\":%d}", ttl_seconds);
    return cosmosrig_msi_config(body);
}

int cosmosrig_msi_fail(int status, int count)
{
    char body[96];
    if (status == 0 || count <= 0)
        FMT(body, "{\"fail\":null}");
    else
        FMT(body, "{\"fail\":{\"status\":%d,\"count\":%d}}", status, count);
    return cosmosrig_msi_config(body);
}

int cosmosrig_config(const char *json)
{
    return control("POST", "/__rig/config", json, NULL) == 200 ? 0 : -1;
}

int cosmosrig_split(const char *db, const char *coll, const char *range, json_t **ranges)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "db", db, "coll", coll, "range", range);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct es_buf b;
    es_buf_init(&b, 1 << 16);
    long status = text != NULL ? control("POST", "/__rig/split", text, &b) : 0;
    free(text);
    json_t *j = status == 200 ? json_loadb(b.ptr, b.len, 0, NULL) : NULL;
    es_buf_release(&b);
    if (ranges != NULL)
        *ranges = json_incref(json_object_get(j, "ranges"));
    json_decref(j);
    return status == 200 ? 0 : -1;
}

bool cosmosrig_identity_mode(void)
{
    const char *a = getenv("ES_TEST_COSMOS_AUTH");
    return a != NULL && strcmp(a, "identity") == 0;
}

void cosmosrig_env_for(const char *db, struct cosmosrig_env *out)
{
    const char *ep = cosmosrig_endpoint();
    if (ep == NULL)
        ep = "http://127.0.0.1:1";
    size_t k = 0;
    memset(out, 0, sizeof(*out));
    if (cosmosrig_identity_mode()) {
        FMT(out->conn, "CosmosDB__accountEndpoint=%s/", ep);
        FMT(out->credential, "CosmosDB__credential=managedidentity");
        FMT(out->client_id, "CosmosDB__clientId=%s", COSMOSRIG_IDENTITY_CLIENT_ID);
        FMT(out->identity_endpoint, "IDENTITY_ENDPOINT=%s/__rig/msi/token", ep);
        FMT(out->identity_header, "IDENTITY_HEADER=%s", COSMOSRIG_IDENTITY_HEADER);
        out->list[k++] = out->conn;
        out->list[k++] = out->credential;
        out->list[k++] = out->client_id;
        out->list[k++] = out->identity_endpoint;
        out->list[k++] = out->identity_header;
    } else {
        FMT(out->conn, "CosmosDB=AccountEndpoint=%s/;AccountKey=%s;", ep, COSMOSRIG_KEY);
        out->list[k++] = out->conn;
    }
    FMT(out->db, "COSMOS_DATABASE=%s", db);
    out->list[k++] = out->db;
    out->list[k] = NULL;
}

int cosmosrig_init_db(const char *db)
{
    /* Always the master key: creating databases and containers is control plane,
     * which Cosmos (and the rig) refuse to an Entra token. */
    char conn[1024];
    FMT(conn, "AccountEndpoint=%s/;AccountKey=%s;", cosmosrig_endpoint(), COSMOSRIG_KEY);
    struct es_config cfg;
    setenv("CosmosDB", conn, 1);
    setenv("COSMOS_DATABASE", db, 1);
    struct es_error err = {0};
    int rc = -1;
    es_log_set_level(ES_LOG_WARN); /* init reports each container it creates */
    if (es_config_load(&cfg, &err) == ES_OK) {
        struct es_store *s = NULL;
        if (es_app_store_open(&cfg, &s, &err) == ES_OK &&
            es_store_cosmos_init(s, &err) == ES_OK)
            rc = 0;
        es_store_close(s);
        es_config_release(&cfg);
    }
    unsetenv("CosmosDB");
    unsetenv("COSMOS_DATABASE");
    if (rc != 0)
        fprintf(stderr, "cosmosrig: init of '%s' failed: %s\n", db, err.message);
    return rc;
}

int cosmosrig_store_open(const char *db, struct es_config *cfg, struct es_store **out)
{
    *out = NULL;
    if (cosmosrig_endpoint() == NULL || cosmosrig_init_db(db) != 0)
        return -1;
    static struct cosmosrig_env env; /* putenv keeps pointers into it */
    cosmosrig_env_for(db, &env);
    for (const char *const *e = env.list; *e != NULL; e++)
        putenv((char *)*e);
    struct es_error err = {0};
    if (es_config_load(cfg, &err) != ES_OK) {
        fprintf(stderr, "cosmosrig: settings for '%s': %s\n", db, err.message);
        return -1;
    }
    if (es_app_store_open(cfg, out, &err) != ES_OK) {
        fprintf(stderr, "cosmosrig: store on '%s': %s\n", db, err.message);
        es_config_release(cfg);
        return -1;
    }
    return 0;
}

/*
 * config.c - settings from the environment. Numbers are parsed strictly (the
 * whole value, in range) so a typo is a start-up error, not a silent default.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

static enum es_status env_u64(const char *name, uint64_t min, uint64_t max, uint64_t dflt,
                              uint64_t *out, struct es_error *err)
{
    const char *v = env(name);
    if (v == NULL) {
        *out = dflt;
        return ES_OK;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || v[0] < '0' || v[0] > '9' || *end != '\0' || n < min || n > max)
        return es_error_set(err, ES_EINVAL,
                            "invalid setting '%s': expected an integer from %llu to %llu",
                            name, (unsigned long long)min, (unsigned long long)max);
    *out = n;
    return ES_OK;
}

static enum es_status env_str(const char *name, const char *dflt, char **out)
{
    const char *v = env(name);
    *out = strdup(v != NULL ? v : dflt);
    return *out != NULL ? ES_OK : ES_ENOMEM;
}

static enum es_status load_numbers(struct es_config *cfg, struct es_error *err)
{
    uint64_t port, body, envelope, trigger_envelope, connections, per_client, headers_ms,
        body_ms, shutdown, snap, cache, attempts;
    uint64_t c_connect, c_request, c_budget, c_retries, parallel, read_wait, view_cache,
        view_cache_mb;
    const struct {
        const char *name;
        uint64_t min, max, dflt;
        uint64_t *out;
    } settings[] = {
        {env("FUNCTIONS_CUSTOMHANDLER_PORT") ? "FUNCTIONS_CUSTOMHANDLER_PORT"
                                             : "FUNCTIONS_HTTPWORKER_PORT",
         1, 65535, 0, &port},
        {"MAX_BODY_BYTES", 1, 1ull << 30, 1u << 20, &body},
        {"MAX_ENVELOPE_BYTES", 1024, 1ull << 31, 4u << 20, &envelope},
        {"MAX_TRIGGER_ENVELOPE_BYTES", 1024, 1ull << 31, 64u << 20, &trigger_envelope},
        {"HANDLER_MAX_CONNECTIONS", 1, 65536, 1024, &connections},
        {"SERVE_MAX_CONNECTIONS_PER_CLIENT", 0, 65536, 128, &per_client},
        {"SERVE_HEADERS_TIMEOUT_MS", 0, 3600000, 10000, &headers_ms},
        {"SERVE_BODY_TIMEOUT_MS", 0, 3600000, 30000, &body_ms},
        {"HANDLER_SHUTDOWN_TIMEOUT_MS", 0, 3600000, 30000, &shutdown},
        {"SNAPSHOT_EVERY", 0, 1000000, 100, &snap},
        {"STATE_CACHE_STREAMS", 1, 10000000, 10000, &cache},
        {"COMMAND_MAX_ATTEMPTS", 1, 1000, 10, &attempts},
        {"PROJECTOR_PARALLELISM", 1, 256, 32, &parallel},
        {"PROJECTOR_VIEW_CACHE", 0, 10000000, 4096, &view_cache},
        {"PROJECTOR_VIEW_CACHE_MB", 1, 1u << 20, 8, &view_cache_mb},
        {"READ_WAIT_MS", 0, 10000, 2000, &read_wait},
        {"COSMOS_CONNECT_TIMEOUT_MS", 100, 600000, 5000, &c_connect},
        {"COSMOS_REQUEST_TIMEOUT_MS", 100, 600000, 15000, &c_request},
        {"COSMOS_RETRY_BUDGET_MS", 0, 3600000, 30000, &c_budget},
        {"COSMOS_MAX_RETRIES", 0, 100, 9, &c_retries},
    };
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        enum es_status st = env_u64(settings[i].name, settings[i].min, settings[i].max,
                                    settings[i].dflt, settings[i].out, err);
        if (st != ES_OK)
            return st;
    }
    cfg->port = (int)port;
    cfg->max_body_bytes = (size_t)body;
    /*
     * The host re-sends a body inside the envelope: escaped in Body, and a JSON
     * body's strings twice more in Metadata. A body of backslashes grows 4x that
     * way, raw control bytes 6x (\u00XX), so the default leaves room for the worst
     * case of a body within MAX_BODY_BYTES, plus headers and URL.
     */
    if (env("MAX_ENVELOPE_BYTES") == NULL)
        envelope = body * ES_ENVELOPE_GROWTH + ES_ENVELOPE_SLACK_BYTES;
    cfg->max_envelope_bytes = (size_t)envelope;
    cfg->max_trigger_envelope_bytes = (size_t)trigger_envelope;
    cfg->max_connections = (unsigned)connections;
    cfg->serve_max_connections_per_client = (unsigned)per_client;
    cfg->serve_headers_timeout_ms = (int64_t)headers_ms;
    cfg->serve_body_timeout_ms = (int64_t)body_ms;
    cfg->shutdown_timeout_ms = (int64_t)shutdown;
    cfg->snapshot_every = (unsigned)snap;
    cfg->state_cache_streams = (size_t)cache;
    cfg->command_max_attempts = (unsigned)attempts;
    cfg->projector_parallelism = (unsigned)parallel;
    cfg->read_wait_ms = (int64_t)read_wait;
    cfg->projector_view_cache = (size_t)view_cache;
    cfg->projector_view_cache_mb = (size_t)view_cache_mb;
    cfg->cosmos_connect_timeout_ms = (long)c_connect;
    cfg->cosmos_request_timeout_ms = (long)c_request;
    cfg->cosmos_retry_budget_ms = (long)c_budget;
    cfg->cosmos_max_retries = (int)c_retries;
    return ES_OK;
}

/*
 * The variable that shows we run on an Azure Functions plan, or NULL: the
 * signals the Functions host itself reads (EnvironmentExtensions.cs).
 * CONTAINER_NAME alone is not enough, as generic container platforms set it
 * too; on Linux Consumption it comes with WEBSITE_SITE_NAME.
 */
static const char *azure_marker(void)
{
    const char *alone[] = {"WEBSITE_INSTANCE_ID", "WEBSITE_SKU", "LEGION_SERVICE_HOST"};
    for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++)
        if (env(alone[i]) != NULL)
            return alone[i];
    if (env("CONTAINER_NAME") != NULL && env("WEBSITE_SITE_NAME") != NULL)
        return "CONTAINER_NAME";
    return NULL;
}

/* Cosmos DB's rule for database and container ids. */
static bool cosmos_name_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 255 && strpbrk(s, "/\\?#") == NULL && s[n - 1] != ' ';
}

static enum es_status load_store(struct es_config *cfg, struct es_error *err)
{
    const char *conn = env("CosmosDB");
    const char *endpoint = env("CosmosDB__accountEndpoint");
    enum es_status st = ES_OK;
    if (conn != NULL) {
        st = es_config_parse_cosmos_connection(conn, &cfg->cosmos_endpoint,
                                               &cfg->cosmos_key, err);
        if (st != ES_OK)
            return st;
        cfg->store_kind = ES_STORE_COSMOS;
    } else if (endpoint != NULL) {
        if (strncasecmp(endpoint, "https://", 8) != 0 &&
            strncasecmp(endpoint, "http://", 7) != 0)
            return es_error_set(
                err, ES_EINVAL,
                "invalid setting 'CosmosDB__accountEndpoint': expected an "
                "https:// URL");
        cfg->cosmos_endpoint = strdup(endpoint);
        if (cfg->cosmos_endpoint == NULL)
            return ES_ENOMEM;
        cfg->store_kind = ES_STORE_COSMOS;
    } else if (azure_marker() != NULL) {
        return es_error_set(
            err, ES_EINVAL,
            "missing setting 'CosmosDB__accountEndpoint' (or 'CosmosDB'): running in "
            "Azure (%s is set), where the embedded SQLite store would be neither "
            "shared nor kept",
            azure_marker());
    } else {
        cfg->store_kind = ES_STORE_SQLITE;
    }
    if ((st = env_str("EVENT_STORE_PATH", "data/eventstore.db", &cfg->sqlite_path)) !=
            ES_OK ||
        (st = env_str("COSMOS_DATABASE", "eventsourcing", &cfg->cosmos_database)) !=
            ES_OK ||
        (st = env_str("EVENTS_CONTAINER", "events", &cfg->events_container)) != ES_OK ||
        (st = env_str("VIEWS_CONTAINER", "views", &cfg->views_container)) != ES_OK ||
        (st = env_str("LEASES_CONTAINER", "leases", &cfg->leases_container)) != ES_OK ||
        (st = env_str("DEADLETTERS_CONTAINER", "deadletters",
                      &cfg->deadletters_container)) != ES_OK)
        return es_error_set(err, st, "cannot load settings: %s", es_status_message(st));
    const struct {
        const char *name, *value;
    } ids[] = {{"COSMOS_DATABASE", cfg->cosmos_database},
               {"EVENTS_CONTAINER", cfg->events_container},
               {"VIEWS_CONTAINER", cfg->views_container},
               {"LEASES_CONTAINER", cfg->leases_container},
               {"DEADLETTERS_CONTAINER", cfg->deadletters_container}};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        if (!cosmos_name_valid(ids[i].value))
            return es_error_set(err, ES_EINVAL,
                                "invalid setting '%s': a Cosmos DB name is 1 to 255 "
                                "characters without / \\ ? # or a trailing space",
                                ids[i].name);
    return ES_OK;
}

/* Managed identity and TLS settings of the Cosmos DB client. */
static enum es_status load_cosmos_client(struct es_config *cfg, struct es_error *err)
{
    const char *verify = env("COSMOS_TLS_VERIFY");
    cfg->cosmos_tls_verify = true;
    if (verify != NULL) {
        if (strcasecmp(verify, "false") == 0 || strcmp(verify, "0") == 0)
            cfg->cosmos_tls_verify = false;
        else if (strcasecmp(verify, "true") != 0 && strcmp(verify, "1") != 0)
            return es_error_set(
                err, ES_EINVAL,
                "invalid setting 'COSMOS_TLS_VERIFY': expected true or false");
    }
    const char *credential = env("CosmosDB__credential");
    if (credential != NULL && strcasecmp(credential, "managedidentity") != 0)
        return es_error_set(err, ES_EINVAL,
                            "invalid setting 'CosmosDB__credential': only "
                            "'managedidentity' is supported");
    /* The older names of the App Service identity endpoint stand in for the newer. */
    const struct {
        const char *name, *fallback;
        char **slot;
    } identity[] = {
        {"IDENTITY_ENDPOINT", "MSI_ENDPOINT", &cfg->identity_endpoint},
        {"IDENTITY_HEADER", "MSI_SECRET", &cfg->identity_header},
        {"CosmosDB__clientId", NULL, &cfg->identity_client_id},
        {"CosmosDB__managedIdentityResourceId", NULL, &cfg->identity_resource_id},
    };
    for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++) {
        const char *v = env(identity[i].name);
        if (v == NULL && identity[i].fallback != NULL)
            v = env(identity[i].fallback);
        if (v != NULL && (*identity[i].slot = strdup(v)) == NULL)
            return ES_ENOMEM;
    }
    if (cfg->identity_client_id != NULL && cfg->identity_resource_id != NULL)
        return es_error_set(err, ES_EINVAL,
                            "invalid settings: set 'CosmosDB__clientId' or "
                            "'CosmosDB__managedIdentityResourceId', not both");
    return ES_OK;
}

bool es_config_webhook_url_valid(const char *url)
{
    size_t scheme = strncmp(url, "http://", 7) == 0    ? 7
                    : strncmp(url, "https://", 8) == 0 ? 8
                                                       : 0;
    if (scheme == 0 || url[scheme] == '\0' || url[scheme] == '/' || url[scheme] == ':' ||
        url[scheme] == '@' || url[scheme] == '?' || url[scheme] == '#')
        return false;
    for (const unsigned char *c = (const unsigned char *)url; *c != '\0'; c++)
        if (*c <= ' ' || *c == 0x7f)
            return false;
    return strlen(url) <= 2048;
}

/* INTEGRATION_WEBHOOK_URL, read at start-up so a wrong value is a start-up error. */
static enum es_status load_webhook(struct es_config *cfg, struct es_error *err)
{
    uint64_t timeout_ms;
    enum es_status st =
        env_u64("INTEGRATION_WEBHOOK_TIMEOUT_MS", 100, 600000, 10000, &timeout_ms, err);
    if (st != ES_OK)
        return st;
    cfg->integration_webhook_timeout_ms = (int64_t)timeout_ms;
    const char *url = env("INTEGRATION_WEBHOOK_URL");
    if (url == NULL)
        return ES_OK;
    if (!es_config_webhook_url_valid(url))
        return es_error_set(err, ES_EINVAL,
                            "invalid setting 'INTEGRATION_WEBHOOK_URL': expected an "
                            "http:// or https:// URL with a host, without spaces");
    cfg->integration_webhook_url = strdup(url);
    return cfg->integration_webhook_url != NULL ? ES_OK : ES_ENOMEM;
}

enum es_status es_config_load(struct es_config *cfg, struct es_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = ES_LOG_INFO;
    const char *level = env("HANDLER_LOG_LEVEL");
    if (level != NULL) {
        int l = es_log_parse_level(level);
        if (l < 0)
            return es_error_set(
                err, ES_EINVAL,
                "invalid setting 'HANDLER_LOG_LEVEL': expected debug, info, "
                "warn, error or off");
        cfg->log_level = (enum es_log_level)l;
    }
    enum es_status st = load_numbers(cfg, err);
    if (st == ES_OK)
        st = load_store(cfg, err);
    if (st == ES_OK)
        st = load_cosmos_client(cfg, err);
    if (st == ES_OK)
        st = load_webhook(cfg, err);
    if (st != ES_OK)
        es_config_release(cfg);
    return st;
}

void es_config_release(struct es_config *cfg)
{
    free(cfg->sqlite_path);
    free(cfg->cosmos_endpoint);
    if (cfg->cosmos_key != NULL) {
        /* Keys should not linger in freed memory. */
        memset(cfg->cosmos_key, 0, strlen(cfg->cosmos_key));
        free(cfg->cosmos_key);
    }
    free(cfg->cosmos_database);
    free(cfg->events_container);
    free(cfg->views_container);
    free(cfg->leases_container);
    free(cfg->deadletters_container);
    free(cfg->identity_endpoint);
    if (cfg->identity_header != NULL)
        memset(cfg->identity_header, 0, strlen(cfg->identity_header));
    free(cfg->identity_header);
    free(cfg->identity_client_id);
    free(cfg->identity_resource_id);
    free(cfg->integration_webhook_url);
    memset(cfg, 0, sizeof(*cfg));
}

void es_config_describe_store(const struct es_config *cfg, char *out, size_t out_len)
{
    if (cfg->store_kind == ES_STORE_SQLITE)
        snprintf(out, out_len, "sqlite:%s", cfg->sqlite_path);
    else
        snprintf(out, out_len, "cosmos:%s (%s)", cfg->cosmos_endpoint,
                 cfg->cosmos_key != NULL ? "key" : "managed identity");
}

static char *dup_trimmed(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return strndup(p, n);
}

enum es_status es_config_parse_cosmos_connection(const char *conn, char **endpoint_out,
                                                 char **key_out, struct es_error *err)
{
    char *endpoint = NULL, *key = NULL;
    enum es_status st = ES_OK;
    for (const char *p = conn; *p != '\0';) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t part = strcspn(p, ";");
        const char *eq = memchr(p, '=', part);
        if (eq != NULL) {
            size_t name_len = (size_t)(eq - p);
            while (name_len > 0 && (p[name_len - 1] == ' ' || p[name_len - 1] == '\t'))
                name_len--;
            char **slot = NULL;
            if (name_len == 15 && strncasecmp(p, "AccountEndpoint", 15) == 0)
                slot = &endpoint;
            else if (name_len == 10 && strncasecmp(p, "AccountKey", 10) == 0)
                slot = &key;
            if (slot != NULL) {
                free(*slot);
                *slot = dup_trimmed(eq + 1, part - (size_t)(eq + 1 - p));
                if (*slot == NULL) {
                    st = ES_ENOMEM;
                    goto fail;
                }
            }
        }
        p += part;
        if (*p == ';')
            p++;
    }
    if (endpoint == NULL || endpoint[0] == '\0' || key == NULL || key[0] == '\0') {
        st = es_error_set(err, ES_EINVAL,
                          "invalid setting 'CosmosDB': expected "
                          "'AccountEndpoint=https://…;AccountKey=…;'");
        goto fail;
    }
    *endpoint_out = endpoint;
    *key_out = key;
    return ES_OK;
fail:
    free(endpoint);
    free(key);
    return st;
}

/*
 * config.h - the handler's settings, read from the environment exactly as
 * Azure Functions delivers app settings (and local.settings.json Values).
 *
 * Settings (defaults in parentheses):
 *   FUNCTIONS_CUSTOMHANDLER_PORT   port of the host protocol (legacy name
 *                                  FUNCTIONS_HTTPWORKER_PORT is accepted)
 *   MAX_BODY_BYTES                 largest command body (1 MiB)
 *   MAX_ENVELOPE_BYTES             largest HTTP invocation envelope (by default
 *                                  6 x MAX_BODY_BYTES + 256 KiB: room for the
 *                                  worst-case escaping of a full body)
 *   MAX_TRIGGER_ENVELOPE_BYTES     largest trigger invocation envelope (64 MiB)
 *   HANDLER_MAX_CONNECTIONS        connections served at once, each by its own
 *                                  thread (1024)
 *   HANDLER_SHUTDOWN_TIMEOUT_MS    how long SIGTERM waits for in-flight work (30000)
 *   SERVE_MAX_CONNECTIONS_PER_CLIENT  handler serve: connections one client address
 *                                  may hold (128; 0: no limit)
 *   SERVE_HEADERS_TIMEOUT_MS       handler serve: time for a request's headers to
 *                                  arrive (10000; 0: none)
 *   SERVE_BODY_TIMEOUT_MS          handler serve: time for its body (30000; 0: none)
 *   HANDLER_LOG_LEVEL              debug, info, warn, error, off (info)
 *   CosmosDB                       Cosmos connection string
 * AccountEndpoint=..;AccountKey=..; CosmosDB__accountEndpoint      identity-based Cosmos
 * endpoint (managed identity) COSMOS_DATABASE (eventsourcing), EVENTS_CONTAINER (events),
 * VIEWS_CONTAINER (views), LEASES_CONTAINER (leases), DEADLETTERS_CONTAINER (deadletters)
 *   EVENT_STORE_PATH               SQLite file when no Cosmos setting is present
 *                                  (data/eventstore.db, relative to the working
 * directory)
 *
 * The store is Cosmos DB when either Cosmos setting is present, else SQLite,
 * except on an Azure plan (WEBSITE_INSTANCE_ID, WEBSITE_SKU or
 * LEGION_SERVICE_HOST set, or CONTAINER_NAME with WEBSITE_SITE_NAME), where a
 * missing Cosmos setting is a start-up error: an instance's local file is
 * neither shared nor kept.
 * Managed identity: IDENTITY_ENDPOINT and IDENTITY_HEADER (or MSI_ENDPOINT and
 * MSI_SECRET), CosmosDB__credential (only "managedidentity"), and
 * CosmosDB__clientId or CosmosDB__managedIdentityResourceId for a
 * user-assigned identity.
 */
#ifndef ES_UTIL_CONFIG_H
#define ES_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "status.h"

enum es_store_kind { ES_STORE_SQLITE, ES_STORE_COSMOS };

/* The default envelope cap: how much a body can grow in an envelope, plus room. */
#define ES_ENVELOPE_GROWTH      6
#define ES_ENVELOPE_SLACK_BYTES (256u << 10)

struct es_config {
    int port;                          /* host-protocol port; 0 when not set */
    size_t max_body_bytes;             /* command body cap (inclusive) */
    size_t max_envelope_bytes;         /* invocation envelope cap (inclusive) */
    size_t max_trigger_envelope_bytes; /* ... of a trigger's (a batch, encoded twice) */
    unsigned max_connections;          /* connections (and threads) served at once */
    unsigned serve_max_connections_per_client; /* handler serve: per client address */
    int64_t serve_headers_timeout_ms;          /* handler serve: a request's headers */
    int64_t serve_body_timeout_ms;             /* handler serve: its body */
    int64_t shutdown_timeout_ms;               /* drain budget on SIGTERM */
    enum es_log_level log_level;
    unsigned snapshot_every;        /* events between snapshots; 0 disables them */
    size_t state_cache_streams;     /* entries of the aggregate state cache */
    unsigned command_max_attempts;  /* appends per command before 409 conflict */
    unsigned projector_parallelism; /* streams of a batch projected at once */
    int64_t read_wait_ms;           /* longest wait of a read for ?minVersion */
    size_t projector_view_cache;    /* views the projector keeps with their etags */
    size_t projector_view_cache_mb; /* and the memory they may take */
    enum es_store_kind store_kind;
    char *sqlite_path;     /* SQLite store file */
    char *cosmos_endpoint; /* https://account.documents.azure.com:443/ */
    char *cosmos_key;      /* master key (secret: never logged); NULL for identity */
    char *cosmos_database;
    char *events_container;
    char *views_container;
    char *leases_container;
    char *deadletters_container;
    char *identity_endpoint;    /* managed identity, or NULL */
    char *identity_header;      /* secret: never logged */
    char *identity_client_id;   /* user-assigned identity (CosmosDB__clientId) */
    char *identity_resource_id; /* ... or by resource id */
    long cosmos_connect_timeout_ms;
    long cosmos_request_timeout_ms;
    long cosmos_retry_budget_ms;
    int cosmos_max_retries;
    bool cosmos_tls_verify;
    /* handler serve: where integration events are POSTed (http/https), NULL: nowhere */
    char *integration_webhook_url;
    int64_t integration_webhook_timeout_ms; /* one POST, connecting included */
};

/*
 * Reads every setting from the environment into cfg (which the caller owns and
 * later passes to es_config_release). ES_EINVAL with a message naming the
 * setting when a value is malformed; cfg is then released.
 */
enum es_status es_config_load(struct es_config *cfg, struct es_error *err) ES_MUST_CHECK;

/*
 * True when url is an absolute http:// or https:// URL with a host and no
 * space or control character (what INTEGRATION_WEBHOOK_URL must be).
 */
bool es_config_webhook_url_valid(const char *url);

/* Frees the strings held by cfg. */
void es_config_release(struct es_config *cfg);

/*
 * Describes the store for logs and the health function without secrets:
 * "sqlite:data/eventstore.db" or "cosmos:https://…/ (key)" / "(managed identity)".
 */
void es_config_describe_store(const struct es_config *cfg, char *out, size_t out_len);

/*
 * Parses a Cosmos connection string ("AccountEndpoint=…;AccountKey=…;", keys in
 * any case, in any order). On success *endpoint_out and *key_out are malloc'd.
 */
enum es_status es_config_parse_cosmos_connection(const char *conn, char **endpoint_out,
                                                 char **key_out,
                                                 struct es_error *err) ES_MUST_CHECK;

#endif

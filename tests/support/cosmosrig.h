/*
 * cosmosrig.h - starts and drives the local Cosmos DB test server
 * (tests/support/cosmos-rig, a wrapper around @vercel/cosmosdb-server that
 * checks signatures, makes batches atomic, serves the change feed and injects
 * faults).
 *
 * A test executable starts one rig (cosmosrig_start_shared, from a Criterion
 * PRE_ALL hook) and its tests share it through the environment variables
 * COSMOS_RIG_ENDPOINT and COSMOS_RIG_KEY; each test uses its own database.
 */
#ifndef ES_COSMOSRIG_H
#define ES_COSMOSRIG_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#define COSMOSRIG_KEY                                                                    \
    "C2y6yDjf5/"                                                                         \
    "R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
#define COSMOSRIG_IDENTITY_HEADER "rig-identity-secret"
/* The shared rig's app has this user-assigned identity and no system-assigned one, so
 * a token request must name it (client_id), as on a Functions app with a user-assigned
 * identity. */
#define COSMOSRIG_IDENTITY_CLIENT_ID "5d0c3a9e-7b14-4c2f-9e61-2f8b7a4c1d05"
/* Length of the Entra tokens the shared rig issues (real ones are 1.5-4 KB). */
#define COSMOSRIG_TOKEN_BYTES 2900

/*
 * For a Criterion test executable whose every test uses the rig: one shared
 * rig, started before the tests and stopped after them. At file scope, each
 * on a line of its own (Criterion names a hook by its line):
 *   COSMOSRIG_START_BEFORE_ALL_TESTS
 *   COSMOSRIG_STOP_AFTER_ALL_TESTS
 */
#define COSMOSRIG_START_BEFORE_ALL_TESTS                                                 \
    ReportHook(PRE_ALL)(struct criterion_test_set * set)                                 \
    {                                                                                    \
        (void)set;                                                                       \
        cosmosrig_start_shared();                                                        \
    }
#define COSMOSRIG_STOP_AFTER_ALL_TESTS                                                   \
    ReportHook(POST_ALL)(struct criterion_global_stats * stats)                          \
    {                                                                                    \
        (void)stats;                                                                     \
        cosmosrig_stop_shared();                                                         \
    }

/* True when the rig's npm packages are installed (npm ci in tests/support/cosmos-rig). */
bool cosmosrig_available(void);

/*
 * Starts a rig on a free loopback port and exports COSMOS_RIG_ENDPOINT,
 * COSMOS_RIG_KEY and COSMOS_RIG_PID. Returns the pid, or -1.
 */
pid_t cosmosrig_start_shared(void);

/* Stops the rig started by cosmosrig_start_shared (SIGTERM, then SIGKILL). */
void cosmosrig_stop_shared(void);

/* The shared rig's endpoint ("http://127.0.0.1:PORT"), or NULL when none runs. */
const char *cosmosrig_endpoint(void);

/* POSTs rules (a JSON array, see the rig's README) to /__rig/faults. 0 on success. */
int cosmosrig_faults(const char *rules_json);

/* GET /__rig/stats as JSON (new reference), or NULL. */
json_t *cosmosrig_stats(void);

/*
 * Environment entries that point the handler at the rig with database `db`.
 *
 * By default: CosmosDB (a connection string with the master key) and
 * COSMOS_DATABASE. When the environment says ES_TEST_COSMOS_AUTH=identity, the
 * managed-identity settings instead: CosmosDB__accountEndpoint,
 * CosmosDB__credential=managedidentity, CosmosDB__clientId, IDENTITY_ENDPOINT
 * (the rig's /__rig/msi/token), IDENTITY_HEADER and COSMOS_DATABASE.
 *
 * Use `list` (NULL-terminated, pointing into the struct): `conn` and `db` alone
 * are only the whole environment in key mode. A value that does not fit aborts.
 */
#define COSMOSRIG_ENV_MAX 8
struct cosmosrig_env {
    char conn[1024]; /* CosmosDB=... or CosmosDB__accountEndpoint=... */
    char db[320];    /* COSMOS_DATABASE=<db> */
    char credential[64];
    char client_id[96];
    char identity_endpoint[1024];
    char identity_header[256];
    const char *list[COSMOSRIG_ENV_MAX + 1];
};
void cosmosrig_env_for(const char *db, struct cosmosrig_env *out);

/*
 * A Cosmos store on database db of the shared rig, created afresh, reached as
 * the handlers reach it (key or identity, cosmosrig_env_for); cfg holds its
 * settings (es_config_release it after es_store_close). Each call opens a
 * client of its own, as another process would. 0 on success.
 */
struct es_config;
struct es_store;
int cosmosrig_store_open(const char *db, struct es_config *cfg, struct es_store **out);

/* True when ES_TEST_COSMOS_AUTH=identity: handlers reach the rig by managed identity. */
bool cosmosrig_identity_mode(void);

/*
 * POSTs settings (a JSON object, see the rig's README) to /__rig/msi/config:
 * {"ttlSeconds": n, "tokenBytes": n, "fail": {"status": 500, "count": 3} | "drop" |
 * null}. 0 on success.
 */
int cosmosrig_msi_config(const char *json);

/* Tokens issued from now on live ttl_seconds (< 0: back to the rig's default). 0 on
 * success. */
int cosmosrig_msi_ttl(int ttl_seconds);

/* The next `count` token requests get `status` (0: heal the endpoint). 0 on success. */
int cosmosrig_msi_fail(int status, int count);

/* POSTs settings to /__rig/config, e.g. {"replicaLagMs": 200}. 0 on success. */
int cosmosrig_config(const char *json);

/*
 * Splits partition key range `range` of container coll in database db in two
 * (POST /__rig/split): reading its change feed then answers 410 with
 * substatus 1002, as the service does after a split. *ranges (optional, the
 * caller's to json_decref) gets the container's ranges after it. 0 on success.
 */
int cosmosrig_split(const char *db, const char *coll, const char *range, json_t **ranges);

/* A whole-number entry of /__rig/stats ("tokensIssued", "maxAuthorizationBytes",
 * "aadRefused.expired", ...: a dot goes one object down), or -1. */
long long cosmosrig_stat(const char *name);

/* Creates database `db` and its containers through the store code (handler init). 0 on
 * success. */
int cosmosrig_init_db(const char *db);

#endif

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
 * Environment entries that point the handler at the rig with database `db`:
 * CosmosDB (connection string) and COSMOS_DATABASE. Written into buf; returns
 * a NULL-terminated array of 2 strings inside buf's storage.
 */
struct cosmosrig_env {
    char conn[512];
    char db[160];
    const char *list[3];
};
void cosmosrig_env_for(const char *db, struct cosmosrig_env *out);

/* Creates database `db` and its containers through the store code (handler init). 0 on
 * success. */
int cosmosrig_init_db(const char *db);

#endif

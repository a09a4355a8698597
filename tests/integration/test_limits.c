/*
 * The engine against the store's limits on Cosmos DB (the local rig, which
 * refuses what the service refuses: 413 for a document over 2 MiB or a batch
 * over its size, 400 for more than 100 operations). The same cases run on
 * SQLite in tests/unit/es/test_engine.c: both answer alike.
 */
#include <criterion/criterion.h>
#include <unistd.h>

#include "app.h"
#include "store/store_cosmos.h"
#include "../support/cosmosrig.h"

COSMOSRIG_START_BEFORE_ALL_TESTS
COSMOSRIG_STOP_AFTER_ALL_TESTS

static struct es_config cfg;
static struct es_store *store;

static void setup(void)
{
    cr_assert_not_null(
        cosmosrig_endpoint(),
        "the Cosmos rig is not running: run 'npm ci' in tests/support/cosmos-rig "
        "(make test does)");
    static int n;
    char db[64];
    snprintf(db, sizeof(db), "limits-%d-%d", (int)getpid(), n++);
    cr_assert_eq(cosmosrig_store_open(db, &cfg, &store), 0);
}

static void teardown(void)
{
    es_store_close(store);
    es_config_release(&cfg);
}

TestSuite(engine, .init = setup, .fini = teardown, .timeout = 120);

#include "../unit/es/engine_limits.h"

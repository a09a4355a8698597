/*
 * The shared store suite against the Cosmos DB store, on the local rig with
 * signatures checked. Each test gets its own database.
 */
#include <unistd.h>

#include "app.h"
#include "store/store_cosmos.h"
#include "../support/cosmosrig.h"
#include "../unit/store/store_suite.h"

COSMOSRIG_START_BEFORE_ALL_TESTS
COSMOSRIG_STOP_AFTER_ALL_TESTS

static struct es_config cfg;

static struct es_store *suite_open(void)
{
    cr_assert_not_null(
        cosmosrig_endpoint(),
        "the Cosmos rig is not running: run 'npm ci' in tests/support/cosmos-rig "
        "(make test does)");
    static int n;
    char db[64];
    snprintf(db, sizeof(db), "suite-%d-%d", (int)getpid(), n++);
    struct es_store *s = NULL;
    cr_assert_eq(cosmosrig_store_open(db, &cfg, &s), 0);
    return s;
}

static void suite_close(struct es_store *s)
{
    es_store_close(s);
    es_config_release(&cfg);
}

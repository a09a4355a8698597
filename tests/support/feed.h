/*
 * feed.h - reads a store's change feed from a test, the way the Functions
 * host's trigger does: the embedded store's global order, or the Cosmos DB
 * change feed (A-IM: Incremental feed, etag continuation) of the rig. The
 * documents come as Cosmos delivers them, snapshots and receipts included.
 */
#ifndef ES_TEST_FEED_H
#define ES_TEST_FEED_H

#include <jansson.h>
#include <stddef.h>

struct feed;

/* The embedded store's feed at path. NULL on error. */
struct feed *feed_open_sqlite(const char *path);

/* The rig's events container in database db. NULL on error. */
struct feed *feed_open_cosmos(const char *db);

/* The next documents (at most max) as a new array, empty at the end; NULL on error. */
json_t *feed_next(struct feed *f, size_t max);

void feed_close(struct feed *f);

#endif

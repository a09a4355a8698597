/*
 * store_cosmos.h - the event store on Cosmos DB (NoSQL API), and the parts of
 * it that tests and `handler init` reach directly.
 */
#ifndef ES_STORE_STORE_COSMOS_H
#define ES_STORE_STORE_COSMOS_H

#include "store.h"
#include "util/config.h"

/* Opens the Cosmos store the settings describe (no network I/O). */
enum es_status es_store_cosmos_open(const struct es_config *cfg, struct es_store **out,
                                    struct es_error *err) ES_MUST_CHECK;

/*
 * With the account key: creates the database and the containers (events
 * /streamId, views /id, leases /id, deadletters /streamId) when missing;
 * existing ones are left alone. With a managed identity, which Cosmos DB lets
 * read and write data but not create databases or containers: checks that
 * they exist, and fails (ES_ENOTFOUND) naming the missing ones and pointing
 * to infra/. Logs what it did.
 */
enum es_status es_store_cosmos_init(struct es_store *s,
                                    struct es_error *err) ES_MUST_CHECK;

/*
 * The views container of s (VIEWS_CONTAINER, a rebuild's --into) made ready:
 * with the account key created when missing, partition key /partitionKey as
 * `handler init` and infra/ make it (*created says whether it was); with a
 * managed identity only checked, ES_ENOTFOUND naming it when it does not
 * exist. ES_EINVAL, saying how to move, when it exists with another partition
 * key path (/id, as versions before 2026-12 made it).
 */
enum es_status es_store_cosmos_views_ready(struct es_store *s, bool *created,
                                           struct es_error *err) ES_MUST_CHECK;

/*
 * Reads the events and views containers once to tell an operator early
 * whether the endpoint, the credentials, the names and the views' partition
 * key are right. ES_OK, or the problem in err.
 */
enum es_status es_store_cosmos_check(struct es_store *s,
                                     struct es_error *err) ES_MUST_CHECK;

/* How the operations of an append batch are laid out, for reading its reply. */
struct cosmos_batch_layout {
    int receipt_index; /* index of the receipt's Create, or -1 */
    int read_index;    /* index of the Read of the previous event, or -1 */
    int first_event;   /* index of the first event's Create */
    int n_events;
};

/*
 * Reads a transactional batch reply: ES_OK when every operation succeeded
 * (200), ES_ECONFLICT with *conflict when the receipt or a version was taken
 * (or the previous version is missing), ES_ETOOBIG when a document is too
 * large, ES_EIO otherwise (*op_status, *op_index tell the failing operation).
 */
enum es_status cosmos_batch_outcome(long http_status, const char *body, size_t len,
                                    const struct cosmos_batch_layout *layout,
                                    enum es_conflict *conflict, int *op_index,
                                    int *op_status) ES_MUST_CHECK;

#endif

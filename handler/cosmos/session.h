/*
 * session.h - session tokens per container, kept as the official SDKs keep
 * them, so that with Session consistency this process reads its own writes.
 *
 * Every reply on a container's documents carries x-ms-session-token: one or
 * more "<range>:<token>" pairs joined by ',', one per partition key range,
 * where a token is "<version>#<globalLSN>[#<region>=<localLSN>...]" (vector)
 * or "<LSN>" (simple). Each reply's pairs are merged into what the container
 * already holds, range by range: the higher version, the higher global LSN,
 * and per region the higher local LSN (azure-cosmos for Python,
 * _vector_session_token.py merge; _session.py keeps them per container and
 * sends them all, joined by ','). A read in the container then sends the
 * merged value, and Cosmos DB serves it from a replica that has reached it
 * (or answers 404/1002, which the client retries).
 *
 * The token names what one process has seen. A read that must see every
 * process's writes does not rely on it: store_cosmos.c reads those through a
 * transactional batch, which the partition's primary serves.
 *
 * Thread-safe. Bounded: a reply's value is at most COSMOS_SESSION_MAX_BYTES,
 * a container keeps at most COSMOS_SESSION_MAX_RANGES ranges, and the table
 * at most COSMOS_SESSION_MAX_CONTAINERS containers; a value that does not
 * parse is ignored (ES_EINVAL) and what was held stays.
 */
#ifndef ES_COSMOS_SESSION_H
#define ES_COSMOS_SESSION_H

#include <stddef.h>

#include "util/status.h"

#define COSMOS_SESSION_MAX_BYTES      (64u << 10)
#define COSMOS_SESSION_MAX_RANGES     2048
#define COSMOS_SESSION_MAX_CONTAINERS 32

struct cosmos_sessions;

struct cosmos_sessions *cosmos_sessions_new(void);
void cosmos_sessions_free(struct cosmos_sessions *s);

/*
 * Merges a reply's x-ms-session-token (value of len bytes) into the tokens of
 * container ("dbs/<db>/colls/<coll>"). ES_EINVAL when it does not parse or
 * passes a bound (nothing changes), ES_ENOMEM.
 */
enum es_status cosmos_sessions_merge(struct cosmos_sessions *s, const char *container,
                                     const char *value, size_t len)
    __attribute__((warn_unused_result));

/*
 * The value to send on a read in container (malloc'd into *out), or *out NULL
 * when no reply from it has been seen. ES_ENOMEM.
 */
enum es_status cosmos_sessions_get(struct cosmos_sessions *s, const char *container,
                                   char **out) __attribute__((warn_unused_result));

#endif

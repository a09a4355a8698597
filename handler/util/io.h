/*
 * io.h - what a call to a store cost: round trips, events read, retries and
 * Cosmos request units. Callers pass an optional struct es_io to store and
 * client calls, which add to it; commands and batches report it in their
 * logs. It lives here, below both the store and its Cosmos client.
 */
#ifndef ES_UTIL_IO_H
#define ES_UTIL_IO_H

struct es_io {
    unsigned round_trips; /* requests sent to the store (SQLite: transactions) */
    unsigned events_read;
    unsigned retries;      /* throttled or failed requests retried */
    double request_charge; /* Cosmos request units */
};

#endif

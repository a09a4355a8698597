/*
 * rebuild.h - recomputing every view from the events (`handler rebuild`).
 *
 * Every event of the source store is read from the start (events_scan: the
 * global order on SQLite, each partition key range's change feed on Cosmos
 * DB) and folded with the Projector's projections into the views of a
 * target store; reactors never run. A view takes an event only above its
 * version, as in the Projector, so folding an event twice changes nothing.
 *
 * Memory: the views being folded are held in a cache of at most cache_views;
 * when it is full every changed view is written to the target and the cache
 * is emptied (the views of one partition in one views_put, up to parallelism
 * requests in flight at once), and a view met again is read back from the target. So a
 * store of any number of streams is rebuilt in bounded memory, at the price of reads when
 * the streams' events are spread far apart.
 *
 * Progress: a document "_rebuild" (kind "_rebuild", never listed by the API's
 * queries) in the target records how far the scan got, written after every
 * changed view has been written: {"id", "view", "cursor", "events",
 * "startedAt", "updatedAt", "done"}. A run that finds it resumes from its
 * cursor (the views it wrote are kept, and events at or below a view's
 * version are passed over); a run that does not starts clean. A finished
 * record ("done": true) is resumed too: the run then folds the events
 * appended since.
 */
#ifndef ES_ES_REBUILD_H
#define ES_ES_REBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "projector.h"

#define ES_REBUILD_CACHE_VIEWS  10000 /* views held at once, by default */
#define ES_REBUILD_PAGE_EVENTS  1000  /* events per read of the source */
#define ES_REBUILD_RECORD_EVERY 20000 /* events between progress records */
#define ES_REBUILD_RECORD_ID    "_rebuild"
#define ES_REBUILD_PARALLELISM  32 /* view writes in flight at once, by default */

struct es_rebuild_progress {
    bool resumed;          /* the run goes on from an earlier one's record */
    int64_t events_before; /* events the earlier runs had folded */
    int64_t events;        /* events read by this run */
    int64_t total;         /* events in the source when the run started; -1 unknown */
    int64_t streams;       /* streams whose first event this run read */
    int64_t views_written;
    int64_t
        view_requests;  /* the requests that wrote them (a partition's views share one) */
    int64_t views_read; /* read back from the target (a resumed run, a full cache) */
    int64_t skipped;    /* documents that were not well-formed events */
    int64_t elapsed_ms;
    bool done;    /* the scan reached the end of the events */
    char *cursor; /* the source's scan cursor at the end (malloc'd) */
};

struct es_rebuild_opts {
    struct es_store *source; /* events are read here */
    struct es_store *target; /* views are read and written here */
    const struct es_projection *const *projections;
    size_t n_projections;
    bool target_new;      /* the target was just made: no view to read before writing */
    size_t cache_views;   /* 0: ES_REBUILD_CACHE_VIEWS */
    size_t page_events;   /* 0: ES_REBUILD_PAGE_EVENTS */
    int64_t record_every; /* 0: ES_REBUILD_RECORD_EVERY */
    unsigned parallelism; /* view writes in flight at once; 0: ES_REBUILD_PARALLELISM */
    /*
     * Called after each page read (and once at the start, with nothing read
     * yet); returning false stops the run at once, after its progress is
     * recorded (an interrupt). May be NULL.
     */
    bool (*tick)(void *ctx, const struct es_rebuild_progress *p);
    void *ctx;
};

/*
 * Runs a rebuild (see above). ES_OK with p->done when every event was folded
 * and written, or without it when tick stopped the run (its progress
 * recorded). Else the failure; what was recorded before it stays, so a rerun
 * resumes. Release p with es_rebuild_progress_release in every case.
 */
enum es_status es_rebuild(const struct es_rebuild_opts *o, struct es_rebuild_progress *p,
                          struct es_error *err) ES_MUST_CHECK;

void es_rebuild_progress_release(struct es_rebuild_progress *p);

#endif

/*
 * redrive.h - running dead letters again (POST /api/deadletters/{id}/retry
 * and POST /api/deadletters/retry).
 *
 * A dead letter (its format in projector.c) names what the read side gave up
 * on. A redrive never trusts the copy it holds: it takes the event ids from it
 * - the event's stream and version, or for a payload dead letter the ids it
 * lists (payload.documentIds of an oversize batch, or the "streamId" and
 * "version" of a malformed document) - reads those events from the event
 * store, and projects them stream by stream with es_project_stream: views
 * folded above their versions, then the reactors, which are idempotent by
 * key. So a redrive of an event already applied changes nothing, and running
 * one twice is safe.
 *
 * On success the dead letter is deleted. When the events fail again (or the
 * dead letter holds no event id, or names events the store does not have)
 * the dead letter is written back with the new error, one more attempt and
 * the time, and the redrive answers ES_EREDRIVE.
 */
#ifndef ES_ES_REDRIVE_H
#define ES_ES_REDRIVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "projector.h"

/* The most events one dead letter may name (an oversize batch names its documents). */
#define ES_REDRIVE_EVENTS_MAX 10000

struct es_redrive_result {
    char stream_id[ES_STREAM_ID_MAX + 1]; /* the dead letter's stream */
    int64_t version;  /* its event's version (a payload's: the last event run), or 0 */
    int64_t attempts; /* ES_EREDRIVE: the attempts the dead letter now records */
    char error[256];  /* ES_EREDRIVE: the new error */
};

/*
 * Redrives the dead letter id with p's projections and reactors. ES_OK: its
 * events ran and it is deleted. ES_ENOTFOUND: there is no such dead letter.
 * ES_EREDRIVE: they failed again, the dead letter is updated and out says
 * with what. Else the store's failure reading, deleting or updating the dead
 * letter (ES_EUNAVAILABLE, ...), or ES_ENOMEM; the dead letter then stays as
 * it was.
 */
enum es_status es_redrive(const struct es_projector_opts *p, const char *id,
                          struct es_redrive_result *out,
                          struct es_error *err) ES_MUST_CHECK;

/* What a page of es_redrive_all did. Release with es_redrive_page_release. */
struct es_redrive_page {
    size_t redriven;
    json_t *failed; /* [{"id", "error", "attempts"}] */
    char *next;     /* where the next page starts (malloc'd), NULL at the end */
};

/*
 * Redrives up to limit dead letters in stream order - stream id, then the
 * event's version (0 for a payload), then the id - starting after `after`
 * (NULL: from the first; else a page's `next`). Each one visited is either
 * redriven or listed in failed; one that vanished meanwhile is passed over.
 * The dead letters are listed in full on every call and only limit keys are
 * kept, so memory stays bounded whatever their number. ES_EINVAL when after
 * is not a `next`; a store failure stops the page (what was redriven stays
 * done).
 */
enum es_status es_redrive_all(const struct es_projector_opts *p, const char *after,
                              size_t limit, struct es_redrive_page *out,
                              struct es_error *err) ES_MUST_CHECK;

void es_redrive_page_release(struct es_redrive_page *page);

#endif

/*
 * status.h - the one table of outcomes, from the domain to the wire.
 *
 * Every fallible function returns an enum es_status (ES_OK == 0) and may fill
 * an optional struct es_error passed last, whose message says what failed and
 * why. The table gives each code the API's name for it (the "error" of a JSON
 * error body), the HTTP status a client sees, a default message, and whether
 * it is one of the API's documented answers: the domain refuses commands
 * with these codes, the engine reports them in its outcome, and the API's one
 * renderer (handler/api) turns them into responses. docs/api.md's error table
 * is checked against it (tests/unit/util/test_status.c).
 */
#ifndef ES_UTIL_STATUS_H
#define ES_UTIL_STATUS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Marks a fallible function: the compiler warns when a caller drops its
 * status (ES_WARNINGS makes that an error where warnings are). Every exported
 * function that returns an enum es_status carries it, except es_error_set,
 * which cannot fail and only hands its code back. A call whose status truly
 * does not matter keeps it in a variable and says why; GCC does not take a
 * (void) cast as an answer.
 */
#define ES_MUST_CHECK __attribute__((warn_unused_result))

/* X(code, API name, HTTP status, documented answer?, default message) */
#define ES_STATUS_MAP(X)                                                                 \
    X(ES_OK, "ok", 200, false, "success")                                                \
    X(ES_ENOMEM, "out_of_memory", 503, true, "out of memory")                            \
    X(ES_EINVAL, "invalid_argument", 400, false, "invalid argument")                     \
    X(ES_EJSON, "invalid_json", 400, true, "malformed JSON")                             \
    X(ES_EFIELD, "invalid_field", 400, true, "invalid field")                            \
    X(ES_ETARGET, "invalid_target", 400, true, "invalid target")                         \
    X(ES_EREQUEST, "invalid_request", 400, true, "malformed request")                    \
    X(ES_ENOTFOUND, "not_found", 404, true, "not found")                                 \
    X(ES_EMETHOD, "method_not_allowed", 405, false, "method not allowed")                \
    X(ES_ECONFLICT, "conflict", 409, true, "conflict")                                   \
    X(ES_ELIST_EXISTS, "list_exists", 409, true, "the list already exists")              \
    X(ES_ETASK_EXISTS, "task_exists", 409, true, "the task already exists")              \
    X(ES_ELIST_FULL, "list_full", 409, true, "the list is full")                         \
    X(ES_EGONE, "list_deleted", 410, true, "the list has been deleted")                  \
    X(ES_ELENGTH, "length_required", 411, true, "length required")                       \
    X(ES_EPRECONDITION, "precondition_failed", 412, true, "precondition failed")         \
    X(ES_ETOOBIG, "payload_too_large", 413, true, "payload too large")                   \
    X(ES_EMEDIA, "unsupported_media_type", 415, true, "unsupported media type")          \
    X(ES_EREDRIVE, "redrive_failed", 409, true, "the dead letter failed again")          \
    X(ES_EKEY_REUSE, "idempotency_key_reuse", 422, true,                                 \
      "the Idempotency-Key was used for a different request")                            \
    X(ES_EUNAVAILABLE, "store_unavailable", 503, true,                                   \
      "the event store is unavailable; retry later")                                     \
    X(ES_EVIEW_BEHIND, "view_behind", 503, true,                                         \
      "the view has not reached the version asked for yet; retry later")                 \
    X(ES_EUNKNOWN, "store_unavailable", 503, false,                                      \
      "the event store did not confirm the command: it may have been applied; retry "    \
      "it with the same Idempotency-Key, or read the list's events before sending it "   \
      "again")                                                                           \
    X(ES_ETIMEOUT, "store_unavailable", 503, false,                                      \
      "the event store is unavailable; retry later")                                     \
    X(ES_EAUTH, "store_unavailable", 503, false,                                         \
      "the event store refused the credentials; retry later")                            \
    X(ES_EIO, "internal_error", 500, true, "the store failed")                           \
    X(ES_EINTERNAL, "internal_error", 500, true, "internal error")

enum es_status {
#define ES_STATUS_ENUM(code, name, http, api, msg) code,
    ES_STATUS_MAP(ES_STATUS_ENUM)
#undef ES_STATUS_ENUM
        ES_STATUS_COUNT
};

#define ES_ERROR_MSG_MAX 256

/* Optional error detail. The first error recorded wins; later ones are ignored. */
struct es_error {
    enum es_status code;
    char message[ES_ERROR_MSG_MAX];
};

/* Stable snake_case name of a status, e.g. "invalid_json". Never NULL. */
const char *es_status_name(enum es_status s);

/* Default human message of a status. Never NULL. */
const char *es_status_message(enum es_status s);

/* HTTP status a client sees for this code. */
int es_status_http(enum es_status s);

/* True for the codes docs/api.md lists as answers of the API. */
bool es_status_documented(enum es_status s);

/*
 * Records code and a printf-style message in err unless err is NULL or already
 * holds an error. Returns code, so callers can write `return es_error_set(...)`.
 */
enum es_status es_error_set(struct es_error *err, enum es_status code, const char *fmt,
                            ...) __attribute__((format(printf, 3, 4)));

/* Resets err to "no error". */
void es_error_clear(struct es_error *err);

#endif

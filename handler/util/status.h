/*
 * status.h - the one table of error codes used across the handler.
 *
 * Every fallible function returns an enum es_status (ES_OK == 0) and may fill
 * an optional struct es_error passed last, whose message says what failed and
 * why. The table gives each code a stable name, a default message and the HTTP
 * status it maps to when it reaches a client, so layers never invent their own.
 */
#ifndef ES_UTIL_STATUS_H
#define ES_UTIL_STATUS_H

#include <stddef.h>

/* X(code, name, http_status, default message) */
#define ES_STATUS_MAP(X)                                                                 \
    X(ES_OK, "ok", 200, "success")                                                       \
    X(ES_ENOMEM, "out_of_memory", 503, "out of memory")                                  \
    X(ES_EINVAL, "invalid_argument", 400, "invalid argument")                            \
    X(ES_EJSON, "invalid_json", 400, "malformed JSON")                                   \
    X(ES_EFIELD, "invalid_field", 400, "invalid field")                                  \
    X(ES_ETOOBIG, "payload_too_large", 413, "payload too large")                         \
    X(ES_EMEDIA, "unsupported_media_type", 415, "unsupported media type")                \
    X(ES_ENOTFOUND, "not_found", 404, "not found")                                       \
    X(ES_EMETHOD, "method_not_allowed", 405, "method not allowed")                       \
    X(ES_ECONFLICT, "conflict", 409, "conflict")                                         \
    X(ES_EGONE, "gone", 410, "gone")                                                     \
    X(ES_EPRECONDITION, "precondition_failed", 412, "precondition failed")               \
    X(ES_EUNPROCESSABLE, "unprocessable", 422, "unprocessable request")                  \
    X(ES_EUNAVAILABLE, "store_unavailable", 503, "service unavailable")                  \
    X(ES_EUNKNOWN, "outcome_unknown", 503, "outcome unknown")                            \
    X(ES_ETIMEOUT, "timeout", 503, "timed out")                                          \
    X(ES_EIO, "io_error", 500, "input/output error")                                     \
    X(ES_EAUTH, "unauthorized", 500, "authentication failed")                            \
    X(ES_EINTERNAL, "internal_error", 500, "internal error")

enum es_status {
#define ES_STATUS_ENUM(code, name, http, msg) code,
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

/*
 * Records code and a printf-style message in err unless err is NULL or already
 * holds an error. Returns code, so callers can write `return es_error_set(...)`.
 */
enum es_status es_error_set(struct es_error *err, enum es_status code, const char *fmt,
                            ...) __attribute__((format(printf, 3, 4)));

/* Resets err to "no error". */
void es_error_clear(struct es_error *err);

#endif

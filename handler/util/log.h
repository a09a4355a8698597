/*
 * log.h - process logging to stdout (debug, info) and stderr (warn, error).
 *
 * Under the Functions host, stdout lines are logged as information and stderr
 * lines as errors, so the level picks the stream. Each line is written with a
 * single write() so concurrent threads never interleave within a line. Text
 * that looks like a credential (an AccountKey= value, a signature) is masked
 * before it is written: secrets never reach a log, even by mistake.
 */
#ifndef ES_UTIL_LOG_H
#define ES_UTIL_LOG_H

enum es_log_level { ES_LOG_DEBUG, ES_LOG_INFO, ES_LOG_WARN, ES_LOG_ERROR, ES_LOG_OFF };

/* Sets the lowest level written (default ES_LOG_INFO). Call before threads start. */
void es_log_set_level(enum es_log_level level);

/* Parses "debug", "info", "warn", "error" or "off"; returns -1 when unknown. */
int es_log_parse_level(const char *name);

/* Writes one line, prefixed with a UTC timestamp and the level. */
void es_log(enum es_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Masks credentials in s in place: the value after "AccountKey=", "sig=" or
 * "sig%3D" up to the next ';', '&' or quote becomes "***". Returns s.
 */
char *es_log_mask_secrets(char *s);

#define es_log_debug(...) es_log(ES_LOG_DEBUG, __VA_ARGS__)
#define es_log_info(...)  es_log(ES_LOG_INFO, __VA_ARGS__)
#define es_log_warn(...)  es_log(ES_LOG_WARN, __VA_ARGS__)
#define es_log_error(...) es_log(ES_LOG_ERROR, __VA_ARGS__)

#endif

/*
 * status.c - names, messages and HTTP statuses of enum es_status, and the
 * first-error-wins recorder behind struct es_error.
 */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int http;
    bool api;
    const char *message;
} status_table[] = {
#define ES_STATUS_ROW(code, name, http, api, msg) {name, http, api, msg},
    ES_STATUS_MAP(ES_STATUS_ROW)
#undef ES_STATUS_ROW
};

static int in_range(enum es_status s)
{
    return (int)s >= 0 && s < ES_STATUS_COUNT;
}

const char *es_status_name(enum es_status s)
{
    return in_range(s) ? status_table[s].name : "unknown";
}

const char *es_status_message(enum es_status s)
{
    return in_range(s) ? status_table[s].message : "unknown error";
}

int es_status_http(enum es_status s)
{
    return in_range(s) ? status_table[s].http : 500;
}

bool es_status_documented(enum es_status s)
{
    return in_range(s) && status_table[s].api;
}

enum es_status es_error_set(struct es_error *err, enum es_status code, const char *fmt,
                            ...)
{
    if (err == NULL || err->code != ES_OK)
        return code;
    err->code = code;
    if (fmt == NULL) {
        snprintf(err->message, sizeof(err->message), "%s", es_status_message(code));
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

void es_error_clear(struct es_error *err)
{
    if (err == NULL)
        return;
    err->code = ES_OK;
    err->message[0] = '\0';
}

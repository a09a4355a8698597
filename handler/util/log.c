/*
 * log.c - line-at-a-time logging with credential masking.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "timeutil.h"

static enum es_log_level min_level = ES_LOG_INFO;

void es_log_set_level(enum es_log_level level)
{
    min_level = level;
}

int es_log_parse_level(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

static void mask_after(char *s, const char *marker)
{
    size_t mlen = strlen(marker);
    for (char *p = strstr(s, marker); p != NULL; p = strstr(p, marker)) {
        char *v = p + mlen;
        size_t n = strcspn(v, ";&\"' ");
        if (n > 3) {
            memcpy(v, "***", 3);
            memmove(v + 3, v + n, strlen(v + n) + 1);
        }
        p = v;
    }
}

char *es_log_mask_secrets(char *s)
{
    mask_after(s, "AccountKey=");
    mask_after(s, "sig=");
    mask_after(s, "sig%3D");
    mask_after(s, "sig%3d");
    return s;
}

void es_log(enum es_log_level level, const char *fmt, ...)
{
    static const char *const tags[] = {"debug", "info", "warn", "error"};
    if (level < min_level || level >= ES_LOG_OFF)
        return;

    char line[2048];
    char stamp[32];
    es_time_rfc3339_ms(es_time_now_ms(), stamp, sizeof(stamp));
    int head = snprintf(line, sizeof(line), "%s %s ", stamp, tags[level]);
    if (head < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + head, sizeof(line) - (size_t)head - 1, fmt, ap);
    va_end(ap);
    if (body < 0)
        return;
    es_log_mask_secrets(line);
    size_t len = strlen(line);
    line[len++] = '\n';
    int fd = level >= ES_LOG_WARN ? STDERR_FILENO : STDOUT_FILENO;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, line + off, len - off);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

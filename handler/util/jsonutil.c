/*
 * jsonutil.c - jansson helpers.
 */
#include "jsonutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

json_t *es_json_object_iget(const json_t *obj, const char *key)
{
    if (!json_is_object(obj))
        return NULL;
    json_t *exact = json_object_get(obj, key);
    if (exact != NULL)
        return exact;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

json_t *es_json_unwrap(json_t *v, int max_depth)
{
    if (v == NULL)
        return NULL;
    json_t *cur = json_incref(v);
    for (int depth = 0; depth < max_depth && json_is_string(cur); depth++) {
        size_t len = json_string_length(cur);
        const char *s = json_string_value(cur);
        /* Only text that starts like a JSON value is worth a parse attempt. */
        size_t i = 0;
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
            i++;
        if (i == len || strchr("{[\"-0123456789tfn", s[i]) == NULL)
            break;
        json_t *next = json_loadb(s, len, ES_JSON_LOAD_FLAGS | JSON_DECODE_ANY, NULL);
        if (next == NULL)
            break;
        json_decref(cur);
        cur = next;
    }
    return cur;
}

char *es_json_dumps(const json_t *v, size_t *len_out)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s != NULL && len_out != NULL)
        *len_out = strlen(s);
    return s;
}

const char *es_json_str(const json_t *v, size_t *len_out)
{
    if (!json_is_string(v))
        return NULL;
    if (len_out != NULL)
        *len_out = json_string_length(v);
    return json_string_value(v);
}

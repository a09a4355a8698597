/* libFuzzer: route templates and matching (handler/http/routes.c). Input: template \n
 * path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    if (text == NULL)
        return 0;
    char *path = strchr(text, '\n');
    if (path != NULL)
        *path++ = '\0';
    struct route_template *t = NULL;
    if (route_template_parse(text, &t, NULL) == ES_OK) {
        json_t *params = NULL;
        if (path != NULL && route_template_match(t, path, strlen(path), &params) == ES_OK)
            json_decref(params);
        route_template_compare(t, t);
        route_template_free(t);
    }
    free(text);
    return 0;
}

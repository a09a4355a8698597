/* libFuzzer: the invocation envelope readers and their accessors
 * (handler/invoke/envelope.c, fast.c); the fast reader must agree with the
 * tree reader on every envelope it takes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../handler/invoke/invoke.h"
#include "../support/envelope_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool taken = false;
    const char *why = envelope_diff((const char *)data, size, &taken);
    if (why != NULL) {
        fprintf(stderr, "fast and tree envelope readers disagree: %s\n", why);
        abort();
    }
    struct invoke_envelope env;
    if (invoke_envelope_parse((const char *)data, size, &env, NULL) != ES_OK)
        return 0;
    struct fn_http_request req;
    if (invoke_http_request_parse(&env, "req", &req, NULL) == ES_OK) {
        fn_header(&req, "Content-Type");
        fn_query(&req, "from");
        fn_param(&req, "id");
    }
    struct fn_retry retry;
    invoke_retry_parse(env.metadata, &retry);
    free(invoke_meta_string(env.metadata, "id"));
    invoke_envelope_release(&env);
    return 0;
}

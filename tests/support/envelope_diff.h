/*
 * envelope_diff.h - holds the fast envelope reader (handler/invoke/fast.c) to
 * the tree reader (envelope.c): whenever the fast one takes an envelope, the
 * tree one must take it too and read the same request, identities and
 * metadata. Used by the envelope unit test and the envelope fuzz target.
 */
#ifndef ES_TEST_ENVELOPE_DIFF_H
#define ES_TEST_ENVELOPE_DIFF_H

#include <jansson.h>
#include <string.h>

#include "invoke/invoke.h"

static inline bool envelope_diff_same_text(const char *a, size_t a_len, const char *b,
                                           size_t b_len)
{
    if (a == NULL || b == NULL)
        return a == b;
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

static inline bool envelope_diff_same_json(json_t *a, json_t *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && json_equal(a, b));
}

/*
 * NULL when the readers agree on buf (binding "req"), else what differs.
 * *taken says whether the fast reader took the envelope.
 */
static inline const char *envelope_diff(const char *buf, size_t len, bool *taken)
{
    struct invoke_fast fast;
    *taken = invoke_http_fast(buf, len, "req", &fast);
    if (!*taken)
        return NULL;
    const char *why = NULL;
    struct invoke_envelope env;
    struct fn_http_request tree;
    if (invoke_envelope_parse(buf, len, &env, NULL) != ES_OK) {
        invoke_fast_release(&fast);
        return "the tree reader refused the envelope";
    }
    struct fn_retry retry;
    const struct fn_http_request *f = &fast.req;
    if (invoke_retry_parse(env.metadata, &retry) != ES_OK)
        why = "the tree reader ran out of memory";
    else if (invoke_http_request_parse(&env, "req", &tree, NULL) != ES_OK)
        why = "the tree reader refused the request";
    else if (retry.present)
        why = "the fast reader took a RetryContext";
    else if (strcmp(f->method, tree.method) != 0)
        why = "Method differs";
    else if (strcmp(f->url, tree.url) != 0)
        why = "Url differs";
    else if (!envelope_diff_same_text(f->body, f->body_len, tree.body, tree.body_len))
        why = "Body differs";
    else if (!envelope_diff_same_json(f->query, tree.query))
        why = "Query differs";
    else if (!envelope_diff_same_json(f->headers, tree.headers))
        why = "Headers differ";
    else if (!envelope_diff_same_json(f->params, tree.params))
        why = "Params differ";
    if (why == NULL) {
        json_t *a = fn_identities(f), *b = fn_identities(&tree);
        if (!envelope_diff_same_json(a, b))
            why = "Identities differ";
        json_decref(a);
        json_decref(b);
    }
    if (why == NULL) {
        struct fn_ctx fc = {.metadata_text = fast.metadata_text,
                            .metadata_len = fast.metadata_len};
        struct fn_ctx tc = {.metadata = env.metadata};
        json_t *a = fn_metadata(&fc), *b = fn_metadata(&tc);
        if (!envelope_diff_same_json(a, b))
            why = "Metadata differs";
        json_decref(a);
        json_decref(b);
    }
    invoke_envelope_release(&env);
    invoke_fast_release(&fast);
    return why;
}

#endif

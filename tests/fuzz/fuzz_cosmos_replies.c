/*
 * libFuzzer: what Cosmos DB sends back - batch replies, error bodies, query
 * pages of event documents (handler/store/store_cosmos.c, cosmos/client.c,
 * store/store.c). The first byte picks the HTTP status of the batch reply.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos/client.h"
#include "store/store_cosmos.h"
#include "util/jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const long statuses[] = {200, 207, 400, 409, 413, 429, 503};
    long status = statuses[data[0] % 7];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct cosmos_batch_layout layout = {
        .receipt_index = 0, .read_index = 1, .first_event = 2, .n_events = 3};
    enum es_conflict conflict;
    int index, op;
    enum es_status st =
        cosmos_batch_outcome(status, body, len, &layout, &conflict, &index, &op);
    /* Any outcome will do; a conflict must name which kind. */
    if (st == ES_ECONFLICT && conflict == ES_CONFLICT_NONE)
        abort();

    char *copy = malloc(len + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, body, len);
    copy[len] = '\0';
    struct cosmos_response r = {.status = status, .body = copy, .body_len = len};
    cosmos_parse_error(&r);

    json_t *page = json_loadb(body, len, ES_JSON_LOAD_FLAGS, NULL);
    size_t i;
    json_t *doc;
    json_array_foreach(json_object_get(page, "Documents"), i, doc)
    {
        struct es_event e;
        if (es_event_from_doc(doc, &e, NULL) == ES_OK)
            es_event_release(&e);
    }
    json_decref(page);
    free(copy);
    return 0;
}

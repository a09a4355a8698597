/*
 * feed.c - change-feed readers for tests.
 */
#include "feed.h"

#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos/client.h"
#include "store/store.h"
#include "cosmosrig.h"

struct feed {
    struct es_store *sqlite;
    int64_t seq;
    struct cosmos_client *cosmos;
    char link[256];
    char *etag;
};

struct feed *feed_open_sqlite(const char *path)
{
    struct feed *f = calloc(1, sizeof(*f));
    if (f != NULL && es_store_sqlite_open(path, &f->sqlite, NULL) != ES_OK) {
        free(f);
        return NULL;
    }
    return f;
}

struct feed *feed_open_cosmos(const char *db)
{
    struct cosmos_opts o;
    cosmos_opts_defaults(&o);
    o.endpoint = cosmosrig_endpoint();
    o.key = COSMOSRIG_KEY;
    struct feed *f = calloc(1, sizeof(*f));
    if (f == NULL || o.endpoint == NULL ||
        (f->cosmos = cosmos_client_new(&o, NULL)) == NULL) {
        free(f);
        return NULL;
    }
    snprintf(f->link, sizeof(f->link), "dbs/%s/colls/events", db);
    return f;
}

static json_t *next_sqlite(struct feed *f, size_t max)
{
    struct es_event_page p;
    if (f->sqlite->ops->feed_read(f->sqlite, f->seq, max, &p, NULL, NULL) != ES_OK)
        return NULL;
    json_t *docs = json_array();
    for (size_t i = 0; i < p.n; i++) {
        json_t *d = es_event_to_doc(&p.events[i]);
        json_object_set_new(d, "_lsn", json_integer(p.events[i].seq));
        json_array_append_new(docs, d);
        f->seq = p.events[i].seq;
    }
    es_event_page_release(&p);
    return docs;
}

static json_t *next_cosmos(struct feed *f, size_t max)
{
    struct cosmos_request req = {.method = "GET",
                                 .resource_type = "docs",
                                 .resource_link = f->link,
                                 .feed = true,
                                 .change_feed = true,
                                 .if_none_match = f->etag,
                                 .max_item_count = (int)max,
                                 .idempotent = true};
    struct cosmos_response r;
    json_t *docs = NULL;
    if (cosmos_execute(f->cosmos, &req, &r, NULL, NULL) == ES_OK) {
        if (r.status == 304) {
            docs = json_array();
        } else if (r.status == 200) {
            json_t *page = json_loadb(r.body, r.body_len, 0, NULL);
            docs = json_incref(json_object_get(page, "Documents"));
            json_decref(page);
            if (r.etag != NULL) {
                free(f->etag);
                f->etag = strdup(r.etag);
            }
        }
    }
    cosmos_response_release(&r);
    return docs;
}

json_t *feed_next(struct feed *f, size_t max)
{
    if (f->sqlite != NULL)
        return next_sqlite(f, max);
    json_t *docs = next_cosmos(f, max);
    /*
     * With lagging replicas (ES_TEST_COSMOS_LAG_MS) the feed is behind by up to
     * that long, as the host's is: "nothing more" is only believed after it.
     */
    const char *lag = getenv("ES_TEST_COSMOS_LAG_MS");
    long lag_ms = lag != NULL ? strtol(lag, NULL, 10) : 0;
    if (docs != NULL && json_array_size(docs) == 0 && lag_ms > 0) {
        json_decref(docs);
        es_time_sleep_ms(lag_ms + 100);
        docs = next_cosmos(f, max);
    }
    return docs;
}

void feed_close(struct feed *f)
{
    if (f == NULL)
        return;
    es_store_close(f->sqlite);
    cosmos_client_free(f->cosmos);
    free(f->etag);
    free(f);
}

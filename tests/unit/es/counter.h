/*
 * counter.h - the toy projection the read-side runners are tested with
 * (test_projector.c, test_redrive.c, test_rebuild.c), and its twin (below):
 * view "count:{id}" of the streams "s-{id}", counting events ("n"), listing
 * the versions folded ("seen"), and taking a "Rename" event's name. Its fold
 * fails for an event of type "Poison", and for every event while
 * `counter_poisoned` is set; a "Big" event pads the view by BIG_PAD bytes, so
 * two of them pass the store's document limit.
 */
#ifndef ES_TEST_COUNTER_H
#define ES_TEST_COUNTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es/projector.h"

/* Half the store's document limit and a little more: two of them do not fit. */
#define BIG_PAD (ES_STORE_DOC_MAX_BYTES / 2 + 1000)

static bool counter_poisoned;

static json_t *count_initial(const char *id)
{
    char vid[64];
    snprintf(vid, sizeof(vid), "count:%s", id);
    return json_pack("{s:s, s:s, s:i, s:[], s:i}", "id", vid, "view", "count", "n", 0,
                     "seen", "version", 0);
}

static enum es_status count_apply(json_t *view, const struct es_event *ev)
{
    if (counter_poisoned || strcmp(ev->type, "Poison") == 0)
        return ES_EFIELD;
    if (strcmp(ev->type, "Big") == 0) {
        char *pad = malloc(BIG_PAD + 1);
        memset(pad, 'x', BIG_PAD);
        pad[BIG_PAD] = '\0';
        if (json_object_get(view, "pads") == NULL)
            json_object_set_new(view, "pads", json_array());
        json_array_append_new(json_object_get(view, "pads"), json_string(pad));
        free(pad);
    }
    if (strcmp(ev->type, "Rename") == 0)
        json_object_set(view, "name", json_object_get(ev->data, "name"));
    json_object_set_new(view, "n",
                        json_integer(json_integer_value(json_object_get(view, "n")) + 1));
    json_array_append_new(json_object_get(view, "seen"), json_integer(ev->version));
    return ES_OK;
}

static const struct es_projection counter = {"count", "s-", "count:", count_initial,
                                             count_apply};

/*
 * A second view of the same streams, "twin:{id}", folded as the count: in the
 * count's partition, so a stream's two views are written together.
 */
__attribute__((unused)) static json_t *twin_initial(const char *id)
{
    json_t *doc = count_initial(id);
    char vid[64];
    snprintf(vid, sizeof(vid), "twin:%s", id);
    json_object_set_new(doc, "id", json_string(vid));
    json_object_set_new(doc, "view", json_string("twin"));
    return doc;
}

__attribute__((unused)) static const struct es_projection twin = {
    "twin", "s-", "twin:", twin_initial, count_apply};

#endif

/*
 * app.h - the handler process: settings, store, server and signals wired
 * together. main.c calls es_app_main with the app's function table; the
 * test build calls it with extra test-only functions.
 *
 * Usage:
 *   handler                 serve the Functions host on FUNCTIONS_CUSTOMHANDLER_PORT
 *   handler serve [--port N] [--listen ADDR] [--app DIR]
 *                           serve the app's HTTP routes directly (default port 7071)
 *   handler rebuild [--into NAME] [--cache-views N] [--batch N]
 *                           recompute every view from the events (es/rebuild.h)
 *   handler --version | --help
 */
#ifndef ES_APP_H
#define ES_APP_H

#include "invoke/fn.h"
#include "store/store.h"
#include "util/config.h"

#include "es/projector.h"

/* Runs the process; returns its exit status (0 after a clean SIGTERM/SIGINT). */
int es_app_main(int argc, char **argv, const struct fn_table *fns);

/*
 * The same, for an app with a read side: readside gives the projections that
 * `handler rebuild` recomputes (its reactors are never run there). Without
 * it (es_app_main), `handler rebuild` says there is nothing to rebuild.
 */
int es_app_main_views(
    int argc, char **argv, const struct fn_table *fns,
    struct es_projector_opts (*readside)(const struct fn_services *svc));

/*
 * Opens the store the settings select: Cosmos DB when a Cosmos setting is
 * present (no network I/O), else SQLite at cfg->sqlite_path. The one place
 * that knows both back ends.
 */
enum es_status es_app_store_open(const struct es_config *cfg, struct es_store **out,
                                 struct es_error *err) ES_MUST_CHECK;

#endif

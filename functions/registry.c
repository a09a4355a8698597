/*
 * registry.c - the functions this app serves. One line per function folder;
 * a test checks that every functions/<Name>/function.json has an entry here
 * with matching binding names, and the other way round.
 */
#include "fn.h"

extern const struct fn_def fn_health;

static const struct fn_def *const app_defs[] = {
    &fn_health,
};

const struct fn_table fn_app_table = {app_defs, sizeof(app_defs) / sizeof(app_defs[0])};

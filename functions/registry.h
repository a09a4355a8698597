/*
 * registry.h - the functions of this app, as a table for the runtime. The
 * wiring (handler/main.c) hands it to es_app_main; nothing in handler/ names
 * it otherwise.
 */
#ifndef ES_FUNCTIONS_REGISTRY_H
#define ES_FUNCTIONS_REGISTRY_H

#include "invoke/fn.h"

extern const struct fn_table fn_app_table;

#endif

/*
 * readside.h - what the read side of this app is made of: the projections
 * that build its views and the reactors that run its processes. The
 * Projector function runs them; adding one is a line in readside.c.
 */
#ifndef ES_FUNCTIONS_READSIDE_H
#define ES_FUNCTIONS_READSIDE_H

#include "es/projector.h"
#include "invoke/fn.h"

/* The runner's options for this app's projections and reactors over svc's store. */
struct es_projector_opts readside_opts(const struct fn_services *svc);

#endif

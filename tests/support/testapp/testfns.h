/* testfns.h - test-only functions, added to the app's own in the test app. */
#ifndef ES_TESTFNS_H
#define ES_TESTFNS_H

#include "invoke/fn.h"

/* Fills table with the app's functions followed by the test functions. */
void testfns_table(const struct fn_def **defs, size_t cap, struct fn_table *table);

#endif

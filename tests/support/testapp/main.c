/*
 * The test app: the handler with its real functions plus test-only ones that
 * let the e2e tests hold an invocation open (Sleep), see exactly what a
 * function received (Echo) and make a trigger ask for a retry (Fail).
 */
#include "app.h"
#include "testfns.h"

int main(int argc, char **argv)
{
    const struct fn_def *defs[64];
    struct fn_table table;
    testfns_table(defs, sizeof(defs) / sizeof(defs[0]), &table);
    return es_app_main(argc, argv, &table);
}

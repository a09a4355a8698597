/*
 * main.c - the handler executable: the app's functions and read side, run by the
 * runtime.
 */
#include "app.h"
#include "functions/readside.h"
#include "functions/registry.h"

int main(int argc, char **argv)
{
    return es_app_main_views(argc, argv, &fn_app_table, readside_opts);
}

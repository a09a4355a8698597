/*
 * main.c - the handler executable: the app's functions, run by the runtime.
 */
#include "app.h"
#include "functions/registry.h"

int main(int argc, char **argv)
{
    return es_app_main(argc, argv, &fn_app_table);
}

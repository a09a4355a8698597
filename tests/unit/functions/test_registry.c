#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "functions/registry.h"
#include "invoke/fn.h"
#include "../../support/fixtures.h"

#define FUNCTIONS_DIR ES_SOURCE_DIR "/functions"

/* The binding of the given type and direction in a function.json, or NULL. */
static json_t *binding(json_t *fj, const char *type)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(fj, "bindings"), i, b)
    {
        if (strcasecmp(json_string_value(json_object_get(b, "type")), type) == 0)
            return b;
    }
    return NULL;
}

Test(registry, every_function_folder_has_a_matching_registration)
{
    char *names[256];
    size_t n = fixture_cases(FUNCTIONS_DIR, names, 256);
    size_t folders = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), FUNCTIONS_DIR "/%s/function.json", names[i]);
        json_t *fj = json_load_file(path, 0, NULL);
        if (fj != NULL) {
            folders++;
            const struct fn_def *def = fn_table_find(&fn_app_table, names[i]);
            cr_assert_not_null(def, "functions/%s has no entry in registry.c", names[i]);
            cr_expect_str_eq(def->name, names[i], "registered name matches the folder");
            json_t *http = binding(fj, "httpTrigger");
            json_t *trig = http != NULL ? http : binding(fj, "cosmosDBTrigger");
            cr_assert_not_null(trig, "functions/%s has no trigger", names[i]);
            cr_expect_str_eq(def->trigger_binding,
                             json_string_value(json_object_get(trig, "name")),
                             "%s: trigger binding name", names[i]);
            if (http != NULL) {
                cr_expect_eq(def->kind, FN_HTTP, "%s is HTTP-triggered", names[i]);
                json_t *out = binding(fj, "http");
                cr_assert_not_null(out, "%s: http output binding", names[i]);
                cr_expect_str_eq(def->output_binding,
                                 json_string_value(json_object_get(out, "name")),
                                 "%s: output binding name", names[i]);
                cr_expect_not_null(def->http);
            } else {
                cr_expect_eq(def->kind, FN_TRIGGER);
                cr_expect_not_null(def->trigger);
                /* The output binding a trigger fills is the one its function.json
                 * declares (the host matches Outputs keys exactly). */
                json_t *bus = binding(fj, "serviceBus");
                if (bus != NULL)
                    cr_expect_str_eq(def->output_binding,
                                     json_string_value(json_object_get(bus, "name")),
                                     "%s: output binding name", names[i]);
                else
                    cr_expect_null(def->output_binding, "%s has no output binding",
                                   names[i]);
            }
            json_decref(fj);
        }
        free(names[i]);
    }
    cr_expect_eq(folders, fn_app_table.n, "every registered function has a folder");
}

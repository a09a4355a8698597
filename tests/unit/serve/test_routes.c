#include <criterion/criterion.h>
#include <string.h>

#include "serve/routes.h"

static struct route_template *parse(const char *t)
{
    struct route_template *r = NULL;
    struct es_error err = {0};
    cr_assert_eq(route_template_parse(t, &r, &err), ES_OK, "%s: %s", t, err.message);
    return r;
}

static json_t *match(const char *tmpl, const char *path)
{
    struct route_template *r = parse(tmpl);
    json_t *params = NULL;
    enum es_status st = route_template_match(r, path, strlen(path), &params);
    route_template_free(r);
    cr_assert(st == ES_OK || st == ES_ENOTFOUND, "%s: %s", tmpl, es_status_name(st));
    return st == ES_OK ? params : NULL;
}

static void expect_param(json_t *p, const char *name, const char *value)
{
    cr_assert_not_null(p);
    cr_expect_str_eq(json_string_value(json_object_get(p, name)), value, "param %s",
                     name);
}

Test(routes, literals_match_ignoring_case_and_one_trailing_slash)
{
    json_t *p;
    cr_expect_not_null(p = match("health", "health"));
    json_decref(p);
    cr_expect_not_null(p = match("health", "HEALTH/"));
    json_decref(p);
    cr_expect_null(match("health", "healthz"));
    cr_expect_null(match("health", "health/x"));
    cr_expect_null(match("todolists/{id}", "todolists"));
}

Test(routes, parameters_take_decoded_whole_segments)
{
    json_t *p = match("todolists/{id}/items/{itemId}", "todolists/a%2Db/items/x%20y");
    expect_param(p, "id", "a-b");
    expect_param(p, "itemId", "x y");
    json_decref(p);
    cr_expect_null(match("todolists/{id}", "todolists//"));
    cr_expect_null(match("todolists/{id}/items", "todolists//items"));
}

Test(routes, optional_and_catch_all_parameters)
{
    json_t *p = match("test/echo/{id}/{rest?}", "test/echo/1");
    expect_param(p, "id", "1");
    cr_expect_null(json_object_get(p, "rest"));
    json_decref(p);
    p = match("test/echo/{id}/{rest?}", "test/echo/1/two");
    expect_param(p, "rest", "two");
    json_decref(p);
    p = match("files/{*path}", "files/a/b/c");
    expect_param(p, "path", "a/b/c");
    json_decref(p);
    p = match("files/{*path}", "files");
    cr_expect_not_null(p);
    json_decref(p);
}

Test(routes, constraints)
{
    json_t *p;
    cr_expect_not_null(p = match("n/{x:int}", "n/-12"));
    json_decref(p);
    cr_expect_null(match("n/{x:int}", "n/12a"));
    cr_expect_null(match("n/{x:alpha}", "n/ab1"));
    cr_expect_not_null(p = match("n/{x:bool}", "n/TRUE"));
    json_decref(p);
    cr_expect_not_null(p = match("n/{x:guid}", "n/3e4ea15e-30cf-408b-8e72-58409d33e9c4"));
    json_decref(p);
    cr_expect_null(match("n/{x:guid}", "n/3e4ea15e"));
}

Test(routes, bad_templates_are_rejected_with_a_reason)
{
    const char *bad[] = {"a/{x",   "a/{x}{y}", "a/b{x}",           "{*rest}/a",
                         "{x?}/a", "a//b",     "a/{x:regex(^a$)}", "a/{}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct route_template *r = NULL;
        struct es_error err = {0};
        cr_expect_eq(route_template_parse(bad[i], &r, &err), ES_EINVAL, "%s", bad[i]);
        cr_expect_neq(err.message[0], '\0');
        route_template_free(r);
    }
}

Test(routes, more_specific_templates_win)
{
    struct route_template *lit = parse("todolists/export");
    struct route_template *par = parse("todolists/{id}");
    struct route_template *con = parse("todolists/{id:int}");
    struct route_template *all = parse("todolists/{*rest}");
    cr_expect_lt(route_template_compare(lit, par), 0);
    cr_expect_lt(route_template_compare(con, par), 0);
    cr_expect_lt(route_template_compare(par, all), 0);
    cr_expect_gt(route_template_compare(all, lit), 0);
    route_template_free(lit);
    route_template_free(par);
    route_template_free(con);
    route_template_free(all);
}

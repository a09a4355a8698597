#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static char *page_token(const char *kind, const char *store_token)
{
    struct fn_http_response res = {0};
    api_reply_page(&res, kind, json_array(), store_token);
    json_t *body = json_loadb(res.body, res.body_len, 0, NULL);
    char *token = strdup(json_string_value(json_object_get(body, "continuation")));
    json_decref(body);
    fn_http_response_release(&res);
    return token;
}

static int paging(const char *kind, const char *continuation, char **store_token)
{
    struct fn_http_request req = {0};
    req.query = json_pack("{s:s}", "continuation", continuation);
    struct fn_http_response res = {0};
    int64_t limit;
    bool ok = api_paging(&req, &res, kind, 50, 500, &limit, store_token);
    int status = ok ? 200 : res.status;
    fn_http_response_release(&res);
    json_decref(req.query);
    return status;
}

Test(api_paging, a_continuation_comes_back_to_its_own_route_only)
{
    char *token = page_token("lists", "after:summary:b");
    char *store = NULL;
    cr_expect_eq(paging("lists", token, &store), 200);
    cr_expect_str_eq(store, "after:summary:b");
    free(store);
    store = NULL;
    cr_expect_eq(paging("deadLetters", token, &store), 400);
    cr_expect_null(store);
    free(token);
    /* base64url of "after:zzz": the store's format, made up by a client. */
    cr_expect_eq(paging("lists", "YWZ0ZXI6enp6", &store), 400);
    cr_expect_eq(paging("lists", "!!", &store), 400);
}

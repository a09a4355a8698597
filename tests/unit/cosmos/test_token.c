#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos/token.h"

Test(token, refresh_comes_at_half_life_for_long_tokens_else_five_minutes_early)
{
    /* 24 h (as App Service issues): half its life. */
    cr_expect_eq(cosmos_token_refresh_at(1000, 1000 + 86400), 1000 + 43200);
    /* 1 h: five minutes before it expires. */
    cr_expect_eq(cosmos_token_refresh_at(1000, 1000 + 3600), 1000 + 3600 - 300);
    /* 12 s: never later than half its life. */
    cr_expect_eq(cosmos_token_refresh_at(1000, 1012), 1006);
    cr_expect_eq(cosmos_token_refresh_at(1000, 1000), 1000);
}

Test(token, a_token_is_not_sent_in_its_last_tenth_or_30_seconds)
{
    cr_expect_eq(cosmos_token_usable_until(0, 86400), 86400 - 30);
    cr_expect_eq(cosmos_token_usable_until(0, 100), 90);
}

static void parse_ok(const char *body, int64_t now, int64_t want_expiry)
{
    char *token = NULL;
    int64_t expires = 0;
    struct es_error err = {0};
    cr_assert_eq(cosmos_token_parse(body, strlen(body), now, &token, &expires, &err),
                 ES_OK, "%s: %s", body, err.message);
    cr_expect_str_eq(token, "eyJ0.eyJ1.c2ln");
    cr_expect_eq(expires, want_expiry, "%s: %lld", body, (long long)expires);
    cosmos_token_wipe(token);
}

Test(token, reads_every_expiry_form_the_endpoints_answer_with)
{
    /* 2019-08-01: epoch seconds in a string; some hosts send a number. */
    parse_ok("{\"access_token\":\"eyJ0.eyJ1.c2ln\",\"expires_on\":\"1765000000\"}", 0,
             1765000000);
    parse_ok("{\"access_token\":\"eyJ0.eyJ1.c2ln\",\"expires_on\":1765000000}", 0,
             1765000000);
    /* 2017-09-01 (MSI_ENDPOINT): a date, Linux and Windows forms. */
    parse_ok("{\"access_token\":\"eyJ0.eyJ1.c2ln\",\"expires_on\":\"06/20/2019 02:57:58 "
             "+00:00\"}",
             0, 1560999478);
    parse_ok("{\"access_token\":\"eyJ0.eyJ1.c2ln\",\"expires_on\":\"1/16/2020 5:24:12 PM "
             "+00:00\"}",
             0, 1579195452);
    /* Only a lifetime. */
    parse_ok("{\"access_token\":\"eyJ0.eyJ1.c2ln\",\"expires_in\":\"3599\"}", 1000, 4599);
}

Test(token, refuses_answers_without_a_usable_token)
{
    const char *bad[] = {
        "",
        "{}",
        "{\"access_token\":\"\",\"expires_on\":\"9999999999\"}",
        "{\"access_token\":\"t\"}",
        "{\"access_token\":\"t\",\"expires_on\":\"soon\"}",
        "{\"access_token\":\"t\",\"expires_on\":\"100\"}", /* already past */
        "{\"access_token\":\"t\",\"expires_on\":\"06/20/2019 02:57:58 +01:00\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *token = NULL;
        int64_t expires = 0;
        struct es_error err = {0};
        cr_expect_eq(
            cosmos_token_parse(bad[i], strlen(bad[i]), 1000, &token, &expires, &err),
            ES_EAUTH, "%s", bad[i]);
        cr_expect_null(token);
    }
}

Test(token, a_source_needs_the_endpoint_and_its_secret)
{
    struct cosmos_token_opts o = {.endpoint = "http://127.0.0.1:1/msi",
                                  .resource = "https://acct.documents.azure.com"};
    struct es_error err = {0};
    cr_expect_null(cosmos_tokens_new(&o, &err));
    cr_expect(strstr(err.message, "IDENTITY_HEADER") != NULL, "%s", err.message);
    cr_expect(strstr(err.message, "MSI_SECRET") != NULL, "%s", err.message);
}

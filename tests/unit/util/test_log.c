#include <criterion/criterion.h>
#include <string.h>

#include "util/log.h"

Test(log, masks_account_keys_and_signatures)
{
    char s[] = "conn AccountEndpoint=https://x/;AccountKey=c2VjcmV0a2V5;rest "
               "auth type%3Dmaster%26ver%3D1.0%26sig%3DabcdEFGH1234 sig=zzzzzz&x=1";
    es_log_mask_secrets(s);
    cr_expect(strstr(s, "c2VjcmV0a2V5") == NULL, "%s", s);
    cr_expect(strstr(s, "abcdEFGH1234") == NULL, "%s", s);
    cr_expect(strstr(s, "zzzzzz") == NULL, "%s", s);
    cr_expect(strstr(s, "AccountKey=***;rest") != NULL, "%s", s);
    cr_expect(strstr(s, "&x=1") != NULL, "%s", s);
}

Test(log, leaves_ordinary_text_alone)
{
    char s[] = "appended 3 events to stream 'todolist-42' at version 7";
    char copy[sizeof(s)];
    memcpy(copy, s, sizeof(s));
    es_log_mask_secrets(s);
    cr_expect_str_eq(s, copy);
}

Test(log, parses_level_names)
{
    cr_expect_eq(es_log_parse_level("debug"), ES_LOG_DEBUG);
    cr_expect_eq(es_log_parse_level("WARN"), ES_LOG_WARN);
    cr_expect_eq(es_log_parse_level("off"), ES_LOG_OFF);
    cr_expect_eq(es_log_parse_level("verbose"), -1);
}

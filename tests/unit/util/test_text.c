#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

static void check_decode(const char *in, bool plus, const char *want)
{
    size_t len = 0;
    char *out = es_url_decode(in, strlen(in), plus, &len);
    cr_assert_not_null(out);
    cr_expect_eq(len, strlen(want), "decode('%s') length %zu", in, len);
    cr_expect_str_eq(out, want, "decode('%s')", in);
    free(out);
}

Test(text, url_decode_handles_escapes_plus_and_bad_escapes)
{
    check_decode("a%20b", false, "a b");
    check_decode("a+b", true, "a b");
    check_decode("a+b", false, "a+b");
    check_decode("%zz%4", false, "%zz%4");
    check_decode("%41%62%", false, "Ab%");
    check_decode("%C3%A9", false, "\xc3\xa9");
}

Test(text, base64_matches_rfc4648_vectors)
{
    const char *vectors[][2] = {{"", ""},
                                {"f", "Zg=="},
                                {"fo", "Zm8="},
                                {"foo", "Zm9v"},
                                {"foob", "Zm9vYg=="},
                                {"fooba", "Zm9vYmE="},
                                {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char *out = es_base64_encode(vectors[i][0], strlen(vectors[i][0]));
        cr_expect_str_eq(out, vectors[i][1]);
        free(out);
    }
}

Test(text, utf8_sanitize_replaces_only_invalid_sequences)
{
    const char in[] = "ok \xc3\xa9 \xff \xe2\x82 \xed\xa0\x80 \xf0\x9f\x98\x80";
    size_t len = 0;
    char *out = es_utf8_sanitize(in, sizeof(in) - 1, &len);
    cr_assert_str_eq(out, "ok \xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
                          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80");
    free(out);
}

Test(text, media_type_ignores_case_parameters_and_blanks)
{
    cr_expect(es_media_type_is("application/json", "application/json"));
    cr_expect(es_media_type_is("Application/JSON; charset=utf-8", "application/json"));
    cr_expect(es_media_type_is("  application/json ;x=y", "application/json"));
    cr_expect_not(es_media_type_is("application/jsonx", "application/json"));
    cr_expect_not(es_media_type_is("text/plain", "application/json"));
    cr_expect_not(es_media_type_is(NULL, "application/json"));
    cr_expect(es_media_type_is("application/merge-patch+json", "application/+json"));
    cr_expect(es_media_type_is("APPLICATION/PROBLEM+JSON; q=1", "application/+json"));
    cr_expect_not(es_media_type_is("application/+json", "application/+json"));
    cr_expect_not(es_media_type_is("text/x+json", "application/+json"));
    cr_expect_not(es_media_type_is("application/ +json", "application/+json"));
    cr_expect_not(es_media_type_is("application/a b+json", "application/+json"));
    cr_expect_not(es_media_type_is("application/a/b+json", "application/+json"));
    cr_expect(es_media_type_is("application/vnd.api.v1+json", "application/+json"));
}

Test(text, fmt_fits_exactly_or_refuses_without_cutting)
{
    char out[8];
    cr_expect_eq(es_fmt(out, sizeof(out), "%s:%d", "abc", 123), ES_OK);
    cr_expect_str_eq(out, "abc:123");
    /* 8 characters need 9 bytes: refused, and nothing shorter is left behind. */
    cr_expect_eq(es_fmt(out, sizeof(out), "%s:%d", "abcd", 123), ES_ETOOBIG);
    cr_expect_str_eq(out, "");
    cr_expect_eq(es_fmt(out, 0, "x"), ES_ETOOBIG);
    cr_expect_eq(es_fmt(out, 1, "%s", ""), ES_OK);
}

Test(text, token_lists_match_whole_tokens_ignoring_case)
{
    cr_expect(es_token_list_has("chunked", "chunked"));
    cr_expect(es_token_list_has("gzip, Chunked", "chunked"));
    cr_expect(es_token_list_has(" gzip ,chunked ", "chunked"));
    cr_expect(!es_token_list_has("chunkedx", "chunked"));
    cr_expect(!es_token_list_has("gzip", "chunked"));
    cr_expect(!es_token_list_has("", "chunked"));
}

Test(text, request_text_is_utf8_without_nul_in_raw_and_percent_encoded_form)
{
    cr_expect(es_text_valid("caf\xc3\xa9", 5));
    cr_expect(!es_text_valid("a\xff", 2));
    cr_expect(!es_text_valid("a\0b", 3));
    cr_expect(!es_text_valid("\xc3", 1), "a cut sequence");
    cr_expect(!es_text_valid("\xed\xa0\x80", 3), "a surrogate");
    const char *good[] = {
        "/api/todolists/a", "/x?q=caf%C3%A9", "a+b%20c", "%e2%82%ac", "%", "%zz"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_expect(es_url_text_valid(good[i], strlen(good[i])), "%s", good[i]);
    const char *bad[] = {"/api/todolists/%FF", "/x?q=%C3", "%00", "a%c3%28",
                         "%ed%a0%80",          "\xff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect(!es_url_text_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
}

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "util/buf.h"
#include "util/jsonutil.h"

/* Writes s with es_json_write_string and reads it back with jansson. */
static void round_trip(const char *s, size_t len)
{
    struct es_buf b;
    es_buf_init(&b, SIZE_MAX);
    cr_assert_eq(es_json_write_string(&b, s, len), ES_OK);
    json_t *back = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    cr_assert(json_is_string(back), "not a JSON string: %.*s", (int)b.len, b.ptr);
    cr_expect_eq(json_string_length(back), len);
    cr_expect_eq(memcmp(json_string_value(back), s, len), 0);
    json_decref(back);
    es_buf_release(&b);
}

Test(jsonutil, strings_are_written_as_jansson_reads_them)
{
    round_trip("", 0);
    round_trip("plain", 5);
    round_trip("q\"b\\s/", 6);
    round_trip("\b\f\n\r\t\x01\x1f", 7);
    round_trip("nul\0inside", 10);
    round_trip("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14);
}

Test(jsonutil, escapes_are_the_short_forms_where_json_has_them)
{
    struct es_buf b;
    es_buf_init(&b, SIZE_MAX);
    cr_assert_eq(es_json_write_string(&b, "a\"\n\x01", 4), ES_OK);
    cr_expect_eq(b.len, strlen("\"a\\\"\\n\\u0001\""));
    cr_expect_eq(memcmp(b.ptr, "\"a\\\"\\n\\u0001\"", b.len), 0);
    es_buf_release(&b);
}

Test(jsonutil, text_that_is_not_utf8_is_refused)
{
    const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82",
                         "\xff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_buf b;
        es_buf_init(&b, SIZE_MAX);
        cr_expect_eq(es_json_write_string(&b, bad[i], strlen(bad[i])), ES_EJSON,
                     "case %zu", i);
        es_buf_release(&b);
    }
}

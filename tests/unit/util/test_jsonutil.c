#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
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

Test(jsonutil, parse_tells_json_from_text_that_is_not)
{
    json_t *v = NULL;
    json_error_t jerr;
    cr_assert_eq(es_json_parse("{\"a\":[1,\"x\"]}", 13, 0, &v, &jerr), ES_OK);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(v, "a"), 1)), "x");
    json_decref(v);
    cr_expect_eq(es_json_parse("{\"a\":", 5, 0, &v, &jerr), ES_EJSON);
    cr_expect_null(v);
    cr_expect_neq(jerr.text[0], '\0', "jerr says why");
    cr_expect_eq(es_json_parse(NULL, 0, 0, &v, NULL), ES_EJSON, "no text is not JSON");
    cr_expect_eq(es_json_parse("\"s\"", 3, JSON_DECODE_ANY, &v, NULL), ES_OK);
    cr_expect_str_eq(json_string_value(v), "s");
    json_decref(v);
}

Test(jsonutil, dumps_and_deep_copies_are_whole)
{
    json_t *v = json_pack("{s:s, s:[i, {s:n}]}", "a key past sixteen bytes", "value", "b",
                          1, "c");
    size_t len = 0;
    char *text = es_json_dumps(v, &len);
    cr_assert_str_eq(text,
                     "{\"a key past sixteen bytes\":\"value\",\"b\":[1,{\"c\":null}]}");
    cr_expect_eq(len, strlen(text));
    free(text);
    text = es_json_dumps_flags(v, JSON_COMPACT | JSON_SORT_KEYS, NULL);
    cr_expect_str_eq(text,
                     "{\"a key past sixteen bytes\":\"value\",\"b\":[1,{\"c\":null}]}");
    free(text);
    json_t *copy = es_json_deep_copy(v);
    cr_expect(json_equal(copy, v));
    cr_expect_neq(copy, v);
    json_decref(copy);
    json_decref(v);
}

Test(jsonutil, a_file_that_cannot_be_read_is_not_taken_for_bad_json)
{
    json_t *v = NULL;
    json_error_t jerr;
    cr_expect_eq(es_json_parse_file("/nonexistent/function.json", 0, &v, &jerr), ES_EIO);
    cr_expect_null(v);
}

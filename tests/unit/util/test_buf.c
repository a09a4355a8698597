#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

Test(buf, appends_and_keeps_a_terminator)
{
    struct es_buf b;
    es_buf_init(&b, 100);
    cr_assert_eq(es_buf_adds(&b, "hello"), ES_OK);
    cr_assert_eq(es_buf_addf(&b, " %d", 42), ES_OK);
    cr_assert_str_eq(b.ptr, "hello 42");
    cr_assert_eq(b.len, 8);
    es_buf_release(&b);
}

Test(buf, refuses_to_grow_past_its_cap_and_stays_unchanged)
{
    struct es_buf b;
    es_buf_init(&b, 8);
    cr_assert_eq(es_buf_adds(&b, "12345678"), ES_OK);
    cr_assert_eq(es_buf_adds(&b, "9"), ES_ETOOBIG);
    cr_assert_eq(es_buf_addf(&b, "%s", "x"), ES_ETOOBIG);
    cr_assert_str_eq(b.ptr, "12345678");
    es_buf_release(&b);
}

Test(buf, grows_through_many_appends)
{
    struct es_buf b;
    es_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(es_buf_add(&b, "abc", 3), ES_OK);
    cr_assert_eq(b.len, 30000);
    cr_assert_eq(memcmp(b.ptr + 29997, "abc", 4), 0);
    es_buf_release(&b);
}

Test(buf, take_hands_out_the_content_and_empties_the_buffer)
{
    struct es_buf b;
    es_buf_init(&b, 100);
    size_t len = 99;
    char *empty = es_buf_take(&b, &len);
    cr_assert_str_eq(empty, "");
    cr_assert_eq(len, 0);
    free(empty);
    es_buf_adds(&b, "xyz");
    char *s = es_buf_take(&b, &len);
    cr_assert_str_eq(s, "xyz");
    cr_assert_eq(len, 3);
    cr_assert_null(b.ptr);
    cr_assert_eq(b.len, 0);
    free(s);
}

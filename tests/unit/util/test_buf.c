#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

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
    cr_assert_eq(es_buf_adds(&b, "xyz"), ES_OK);
    char *s = es_buf_take(&b, &len);
    cr_assert_str_eq(s, "xyz");
    cr_assert_eq(len, 3);
    cr_assert_null(b.ptr);
    cr_assert_eq(b.len, 0);
    free(s);
}

Test(buf, a_failure_past_the_cap_is_sticky)
{
    struct es_buf b;
    es_buf_init(&b, 8);
    cr_assert_eq(es_buf_adds(&b, "1234"), ES_OK);
    cr_assert_eq(es_buf_adds(&b, "567890"), ES_ETOOBIG);
    /* This one would fit, but the chain already has a hole in it. */
    cr_expect_eq(es_buf_adds(&b, "5"), ES_ETOOBIG);
    cr_expect_eq(es_buf_add(&b, "5", 1), ES_ETOOBIG);
    cr_expect_eq(es_buf_addf(&b, "%d", 5), ES_ETOOBIG);
    cr_expect_eq(es_buf_status(&b), ES_ETOOBIG);
    /* What arrived before the failure stays readable. */
    cr_expect_str_eq(b.ptr, "1234");
    cr_expect_eq(b.len, 4);
    size_t len = 99;
    cr_expect_null(es_buf_take(&b, &len), "a failed buffer hands out nothing");
    cr_expect_eq(len, 0);
    cr_expect_null(b.ptr, "the take freed the content");
    cr_expect_eq(es_buf_status(&b), ES_ETOOBIG, "and the buffer stays failed");
    cr_expect_eq(es_buf_adds(&b, "x"), ES_ETOOBIG);
    es_buf_release(&b);
}

Test(buf, a_chain_of_appends_is_checked_once_at_the_end)
{
    struct es_buf b;
    es_buf_init(&b, 10);
    enum es_status st = ES_OK, first = ES_OK;
    const char *parts[] = {"abc", "defghij", "kl", "m"};
    for (size_t i = 0; i < 4; i++) {
        st = es_buf_adds(&b, parts[i]);
        if (first == ES_OK)
            first = st;
    }
    cr_expect_eq(first, ES_ETOOBIG);
    cr_expect_eq(st, ES_ETOOBIG, "the last status tells of the first failure");
    cr_expect_null(es_buf_take(&b, NULL));
    es_buf_release(&b);
}

Test(buf, reset_and_release_clear_a_failure)
{
    struct es_buf b;
    es_buf_init(&b, 4);
    cr_assert_eq(es_buf_adds(&b, "12345"), ES_ETOOBIG);
    es_buf_reset(&b);
    cr_expect_eq(es_buf_status(&b), ES_OK);
    cr_expect_eq(es_buf_adds(&b, "1234"), ES_OK);
    cr_expect_str_eq(b.ptr, "1234");
    cr_assert_eq(es_buf_adds(&b, "5"), ES_ETOOBIG);
    es_buf_release(&b);
    cr_expect_eq(es_buf_status(&b), ES_OK);
    cr_expect_eq(es_buf_adds(&b, "ok"), ES_OK);
    char *s = es_buf_take(&b, NULL);
    cr_expect_str_eq(s, "ok");
    free(s);
}

Test(buf, a_format_error_fails_the_buffer_too)
{
    struct es_buf b;
    es_buf_init(&b, 100);
    cr_assert_eq(es_buf_adds(&b, "x"), ES_OK);
    /* In the C locale a wide character past ASCII cannot be converted: vsnprintf
     * fails with EILSEQ. */
    static const wchar_t wide[] = {0x263A, 0};
    cr_expect_eq(es_buf_addf(&b, "%ls", wide), ES_EINVAL);
    cr_expect_eq(es_buf_adds(&b, "y"), ES_EINVAL);
    cr_expect_null(es_buf_take(&b, NULL));
    es_buf_release(&b);
}

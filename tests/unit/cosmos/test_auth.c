/* The master-key signer against the documented vectors (docs/cosmos.md, section 1.3). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos/auth.h"
#include "util/text.h"

#define DOC_KEY                                                                          \
    "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/"     \
    "t4bQtVNw=="
#define DOC_DATE "Thu, 27 Apr 2017 00:51:12 GMT"

static void expect_sig(const char *key_b64, const char *verb, const char *type,
                       const char *link, const char *date, const char *want)
{
    unsigned char *key = NULL;
    size_t key_len = 0;
    cr_assert_eq(es_base64_decode(key_b64, strlen(key_b64), &key, &key_len), ES_OK);
    char sig[64];
    cr_assert_eq(cosmos_signature(key, key_len, verb, type, link, date, sig), ES_OK);
    cr_expect_str_eq(sig, want, "%s %s '%s'", verb, type, link);
    free(key);
}

Test(cosmos_auth, string_to_sign_lowercases_all_but_the_link)
{
    char *s = cosmos_string_to_sign("GET", "dbs", "dbs/ToDoList", DOC_DATE);
    cr_expect_str_eq(s, "get\ndbs\ndbs/ToDoList\nthu, 27 apr 2017 00:51:12 gmt\n\n");
    free(s);
}

Test(cosmos_auth, the_official_example_vector)
{
    expect_sig(DOC_KEY, "GET", "dbs", "dbs/ToDoList", DOC_DATE,
               "c09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu+c+c=");
    unsigned char *key = NULL;
    size_t key_len = 0;
    cr_assert_eq(es_base64_decode(DOC_KEY, strlen(DOC_KEY), &key, &key_len), ES_OK);
    char *auth = cosmos_master_auth(key, key_len, "GET", "dbs", "dbs/ToDoList", DOC_DATE);
    cr_expect_str_eq(auth,
                     "type%3Dmaster%26ver%3D1.0%26sig%3Dc09PEVJrgp2uQRkr934kFbTqhByc7TVr3"
                     "OHyqlu%2Bc%2Bc%3D");
    free(auth);
    free(key);
}

Test(cosmos_auth, the_sdk_vectors)
{
    expect_sig(
        "8F8xXXOptJxkblM1DBXW7a6NMI5oE8NnwPGYBmwxLCKfejOK7B7yhcCHMGvN3PBrlMLIOeol1Hv9RCdz"
        "AZR5sg==",
        "GET", "colls", "dbs/MyDatabase/colls/MyCollection",
        "Mon, 01 Jan 1900 01:00:00 GMT", "vrHmd02almbIg1e4htVWH+Eg/OhEHip3VTwFivZLH0A=");
    expect_sig("dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxL",
               "GET", "dbs", "dbs/ToDoList", DOC_DATE,
               "KvBM8vONofkv3yKm/8zD9MEGlbu6jjHDJBp4E9c2ZZI=");
    expect_sig(
        "SB1mrDcsPfPnHN2lCLYLTXDJMEqXsjvWqS2BXbvBbro94dxVHem3gyXKLPruSeMVE7ZKf36EGC5ArCkJ"
        "qJaoOg==",
        "GET", "dbs", "", "Wed, 16 May 2018 19:47:46 GMT",
        "cK0fCpDW9YvCbmmrIVxaGL/q9o/lFlPc8GdCphvow3c=");
}

Test(cosmos_auth, feed_and_item_links_as_the_operations_use_them)
{
    expect_sig(DOC_KEY, "POST", "dbs", "", DOC_DATE,
               "k07Cl/fj8J5PB70OV9cegv7N8VjN6zaUqVnbFgZhRGY=");
    expect_sig(DOC_KEY, "POST", "colls", "dbs/events", DOC_DATE,
               "1bbxVh16R2najm54l/uWEU1YwvNUKlX3Vr2EI7kgYbs=");
    expect_sig(DOC_KEY, "POST", "docs", "dbs/events/colls/streams", DOC_DATE,
               "aAeb1FGLjdE26tIQF+jHv3BOpfrOB2fCe9M3vCOqisI=");
    expect_sig(DOC_KEY, "GET", "docs", "dbs/events/colls/streams/docs/order-123",
               DOC_DATE, "AEqc5RWleFcCQ1LHXV9xGD7GT39yCGvui8ej18km1dk=");
    expect_sig(DOC_KEY, "PUT", "docs", "dbs/events/colls/streams/docs/order-123",
               DOC_DATE, "qzLnvQYp98wNMtCcP/k+jEBEWqETNsFW+TVi+eFR9ZI=");
    expect_sig(DOC_KEY, "DELETE", "docs", "dbs/events/colls/streams/docs/order-123",
               DOC_DATE, "YG/XqKLmNp1X5vTn2raonyq+5QZnEyK/rChIANn80kU=");
    expect_sig(DOC_KEY, "GET", "pkranges", "dbs/events/colls/streams", DOC_DATE,
               "y9H5MgpsIUj/lMJS8fCH3BAayWGfU4voe+yAg7WM8U4=");
}

Test(cosmos_auth, dates_are_rfc_1123_in_english_and_gmt)
{
    char d[COSMOS_DATE_LEN];
    cosmos_date(1493254272, d);
    cr_expect_str_eq(d, DOC_DATE);
    cosmos_date(0, d);
    cr_expect_str_eq(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    cosmos_date(1795894200, d);
    cr_expect_str_eq(d, "Sat, 28 Nov 2026 19:30:00 GMT");
}

Test(cosmos_auth, aad_tokens_are_url_encoded)
{
    char *h = cosmos_aad_auth("eyJ0eXAi.abc-_x");
    cr_expect_str_eq(h, "type%3Daad%26ver%3D1.0%26sig%3DeyJ0eXAi.abc-_x");
    free(h);
}

Test(cosmos_auth, base64_and_url_encoding)
{
    unsigned char *out = NULL;
    size_t n = 0;
    cr_assert_eq(es_base64_decode("Zm9vYmFy", 8, &out, &n), ES_OK);
    cr_expect_eq(n, 6);
    cr_expect_eq(memcmp(out, "foobar", 6), 0);
    free(out);
    cr_assert_eq(es_base64_decode("Zm9vYg==", 8, &out, &n), ES_OK);
    cr_expect_eq(n, 4);
    free(out);
    cr_expect_eq(es_base64_decode("Zm9v!", 5, &out, &n), ES_EINVAL);
    cr_expect_eq(es_base64_decode("Z", 1, &out, &n), ES_EINVAL);
    char *e = es_url_encode("dbs/a b/docs/todolist-1:2", true);
    cr_expect_str_eq(e, "dbs/a%20b/docs/todolist-1%3A2");
    free(e);
    e = es_url_encode("a/b=c&d+e", false);
    cr_expect_str_eq(e, "a%2Fb%3Dc%26d%2Be");
    free(e);
}

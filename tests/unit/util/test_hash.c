#include <criterion/criterion.h>
#include <string.h>

#include "util/hash.h"

Test(hash, sha256_matches_the_fips_vector_across_parts)
{
    struct es_hash_part parts[] = {{"a", 1}, {"bc", 2}};
    char out[65];
    cr_assert_eq(es_sha256_hex(parts, 2, out), ES_OK);
    cr_expect_str_eq(out,
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(hash, uuid5_matches_the_rfc_example)
{
    /* RFC 9562 appendix A.4: the DNS namespace and "www.example.com". */
    char out[ES_UUID_STR_LEN + 1];
    cr_assert_eq(
        es_uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com", 15, out),
        ES_OK);
    cr_expect_str_eq(out, "2ed6657d-e927-568b-95e1-2665a8aea6a2");
}

Test(hash, fnv1a_matches_the_published_values)
{
    cr_expect_eq(es_fnv1a(""), 0xcbf29ce484222325ull);
    cr_expect_eq(es_fnv1a("a"), 0xaf63dc4c8601ec8cull);
    cr_expect_eq(es_fnv1a("foobar"), 0x85944171f73967e8ull);
}

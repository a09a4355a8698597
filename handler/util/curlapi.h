/*
 * curlapi.h - libcurl, loaded at run time on first use (dlopen), so that a
 * handler that never makes an outgoing request (the embedded store) maps none
 * of libcurl and the libraries it pulls in: OpenSSL's TLS, GnuTLS, Kerberos,
 * LDAP, SSH... about 4 MB resident, most of the idle process.
 *
 * The types and constants are curl's own (<curl/curl.h>); the functions are
 * called through the table es_curl_load gives, with curl's signatures. The
 * library is the one a build links against (libcurl.so.4); the deployable
 * package bundles it and its dependencies next to the handler (lib/, found
 * through the executable's $ORIGIN run path, which dlopen honours too).
 */
#ifndef ES_UTIL_CURLAPI_H
#define ES_UTIL_CURLAPI_H

#include <curl/curl.h>

#include "status.h"

struct es_curl {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    void (*easy_reset)(CURL *h);
    void (*easy_cleanup)(CURL *h);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *line);
    void (*slist_free_all)(struct curl_slist *list);
    char *(*version)(void);
};

/*
 * Loads libcurl and runs its global initialisation, once per process (safe
 * from any thread). The table (static, never freed), or NULL with err set
 * (ES_EINTERNAL, naming the library and the loader's reason) when it cannot
 * be loaded; a later call tries again.
 */
const struct es_curl *es_curl_load(struct es_error *err) ES_MUST_CHECK;

/* The table when libcurl is loaded, else NULL. Never loads it. */
const struct es_curl *es_curl_loaded(void);

/*
 * curl_global_cleanup, when loaded; at exit, once no handle is left. The
 * library itself stays mapped (unmapping it at exit would only hide its
 * allocations from a leak checker's stack traces).
 */
void es_curl_cleanup(void);

#endif

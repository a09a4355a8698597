/*
 * curlapi.c - libcurl through dlopen (see curlapi.h). The table is filled
 * under a mutex, once it is complete it is published with a release store, and
 * every later call reads it with an acquire load and no lock.
 */
#include "curlapi.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* The soname of the libcurl the build links against (libcurl4-openssl-dev). */
#define CURL_SONAME "libcurl.so.4"

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static struct es_curl table;
static _Atomic(const struct es_curl *) loaded;

/* dlsym of name into *slot; false when the library lacks it. */
static bool bind_fn(void *lib, const char *name, void *slot)
{
    void *f = dlsym(lib, name);
    if (f == NULL)
        return false;
    /* POSIX: a function pointer and void * have the same representation. */
    memcpy(slot, &f, sizeof(f));
    return true;
}

static enum es_status load_locked(struct es_error *err)
{
    void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *why = dlerror();
        return es_error_set(err, ES_EINTERNAL, "cannot load %s: %s", CURL_SONAME,
                            why != NULL ? why : "unknown reason");
    }
    const struct {
        const char *name;
        void *slot;
    } fns[] = {
        {"curl_easy_init", &table.easy_init},
        {"curl_easy_setopt", &table.easy_setopt},
        {"curl_easy_perform", &table.easy_perform},
        {"curl_easy_getinfo", &table.easy_getinfo},
        {"curl_easy_reset", &table.easy_reset},
        {"curl_easy_cleanup", &table.easy_cleanup},
        {"curl_easy_strerror", &table.easy_strerror},
        {"curl_slist_append", &table.slist_append},
        {"curl_slist_free_all", &table.slist_free_all},
        {"curl_version", &table.version},
    };
    CURLcode (*global_init)(long flags) = NULL;
    bool ok = bind_fn(lib, "curl_global_init", &global_init);
    for (size_t i = 0; ok && i < sizeof(fns) / sizeof(fns[0]); i++)
        ok = bind_fn(lib, fns[i].name, fns[i].slot);
    if (!ok) {
        dlclose(lib);
        return es_error_set(err, ES_EINTERNAL, "cannot load %s: a function is missing",
                            CURL_SONAME);
    }
    CURLcode rc = global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        /* The library stays mapped: its init may have registered handlers. */
        return es_error_set(err, ES_EINTERNAL, "cannot initialise %s (curl error %d)",
                            CURL_SONAME, (int)rc);
    }
    atomic_store_explicit(&loaded, &table, memory_order_release);
    return ES_OK;
}

const struct es_curl *es_curl_load(struct es_error *err)
{
    const struct es_curl *t = atomic_load_explicit(&loaded, memory_order_acquire);
    if (t != NULL)
        return t;
    pthread_mutex_lock(&load_lock);
    enum es_status st = atomic_load_explicit(&loaded, memory_order_relaxed) != NULL
                            ? ES_OK
                            : load_locked(err);
    pthread_mutex_unlock(&load_lock);
    return st == ES_OK ? atomic_load_explicit(&loaded, memory_order_acquire) : NULL;
}

const struct es_curl *es_curl_loaded(void)
{
    return atomic_load_explicit(&loaded, memory_order_acquire);
}

void es_curl_cleanup(void)
{
    pthread_mutex_lock(&load_lock);
    if (atomic_load_explicit(&loaded, memory_order_relaxed) != NULL) {
        void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_NOLOAD);
        void (*global_cleanup)(void) = NULL;
        if (lib != NULL && bind_fn(lib, "curl_global_cleanup", &global_cleanup))
            global_cleanup();
        if (lib != NULL)
            dlclose(lib); /* only the reference RTLD_NOLOAD took */
        atomic_store_explicit(&loaded, NULL, memory_order_release);
    }
    pthread_mutex_unlock(&load_lock);
}

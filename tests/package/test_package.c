/*
 * The deployable package (make package) on the Functions images' oldest and
 * newest Debian: unpacked into minimal Debian 11 and Debian 12 roots that
 * have only the base system (none of our libraries), the handler must find
 * everything it needs and serve the host protocol, driven by the same driver
 * as every other e2e test.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../e2e/write_side.h"

#define PACKAGE ES_SOURCE_DIR "/build/package"

static const char *roots_dir(void)
{
    const char *d = getenv("ES_ROOTS_DIR");
    return d != NULL ? d : "/var/cache/eventsourcing-azure/roots";
}

/* Skips, saying why, when the package (or the root, when given) could not be built here,
 * or when this process cannot enter the root (chroot and mount need root). */
static void need(const char *root)
{
    if (access(PACKAGE "/functionapp.zip", R_OK) != 0) {
        char why[1024] = "make test (make package-for-tests) has not run";
        FILE *f = fopen(PACKAGE "/NOT_BUILT", "r");
        if (f != NULL) {
            size_t n = fread(why, 1, sizeof(why) - 1, f);
            why[n] = '\0';
            fclose(f);
        }
        cr_skip_test("no package to test: %s", why);
    }
    char marker[512];
    snprintf(marker, sizeof(marker), "%s/.complete", root != NULL ? root : "");
    if (root != NULL && access(marker, R_OK) != 0)
        cr_skip_test("the root %s has not been built (scripts/roots.sh)", root);
    if (root != NULL && geteuid() != 0)
        cr_skip_test("running the package in %s needs root (chroot, mount)", root);
}

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), fmt, a, b);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(package, needs_no_glibc_newer_than_debian_11s)
{
    need(NULL);
    FILE *p =
        popen("objdump -T " PACKAGE
              "/app/handler | grep -o 'GLIBC_2\\.[0-9]*' | sort -t. -k2 -n | tail -1",
              "r");
    cr_assert_not_null(p);
    char newest[64] = "";
    if (fgets(newest, sizeof(newest), p) == NULL)
        newest[0] = '\0';
    pclose(p);
    newest[strcspn(newest, "\n")] = '\0';
    cr_log_info("newest glibc symbol version the handler needs: %s", newest);
    int minor = (int)strtol(newest + strlen("GLIBC_2."), NULL, 10);
    cr_expect(strncmp(newest, "GLIBC_2.", 8) == 0 && minor <= 31, "needs %s", newest);
}

static void runs_in(const char *name)
{
    char root[512], app[600];
    snprintf(root, sizeof(root), "%s/%s", roots_dir(), name);
    need(root);
    snprintf(app, sizeof(app), "%s/app", root);
    cr_assert_eq(
        sh("rm -rf '%s' && unzip -q " PACKAGE "/functionapp.zip -d '%s'", app, app), 0);
    /* The loader finds lib/ through $ORIGIN, which it reads from /proc/self/exe: a real
     * image has /proc, a bare root needs it mounted. */
    cr_assert_eq(
        sh("mountpoint -q '%s/proc' || mount -t proc proc '%s/proc'", root, root), 0,
        "mounting /proc in %s", name);
    cr_expect_eq(sh("chroot '%s' /app/handler --version >/dev/null%s", root, ""), 0,
                 "the handler starts in %s", name);
    /* libcurl is loaded at run time (for Cosmos DB): ldd cannot vouch for it. */
    cr_expect_eq(
        sh("chroot '%s' /app/handler --version | grep -q '^libcurl/'%s", root, ""), 0,
        "the bundled libcurl loads in %s", name);
    cr_expect_eq(sh("chroot '%s' ldd /app/handler | grep -q 'not found'%s", root, ""), 1,
                 "every library resolves in %s", name);

    const char *env[] = {"EVENT_STORE_PATH=/tmp/package-test.db", NULL};
    struct hostdrv_opts o = {.app_dir = app, .chroot = root, .env = env};
    struct hostdrv *d = NULL;
    cr_assert_eq(hostdrv_start(&o, &d), 0, "the handler serves the host protocol in %s",
                 name);
    struct hostdrv_conn *c = hostdrv_conn_new(d);
    struct hostdrv_reply r;
    cr_assert_eq(ws_send(c, "GET", "/api/health", NULL, NULL, &r), 200);
    cr_expect_str_eq(ws_str(r.client_json, "status"), "ok");
    hostdrv_reply_release(&r);
    char list[64];
    snprintf(list, sizeof(list), "pkg-%d", (int)getpid());
    ws_create(c, list, "Packaged");
    char *item = ws_add(c, list, "works");
    cr_expect_not_null(item);
    free(item);
    json_t *events = ws_events(c, list);
    cr_expect_eq(ws_check_gap_free(events), 2);
    json_decref(events);
    hostdrv_conn_free(c);
    cr_expect_eq(hostdrv_stop(d, SIGTERM, 10000), 0);
    hostdrv_free(d);
    cr_expect_eq(sh("test -s '%s/tmp/package-test.db'%s", root, ""), 0,
                 "the events went to EVENT_STORE_PATH in %s", name);
    sh("rm -rf '%s' '%s/tmp/package-test.db'*", app, root);
    sh("umount '%s/proc'%s", root, "");
}

Test(package, runs_on_debian_11_base, .timeout = 120)
{
    runs_in("bullseye-base");
}

Test(package, runs_on_debian_12_base, .timeout = 120)
{
    runs_in("bookworm-base");
}

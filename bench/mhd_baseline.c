/*
 * mhd_baseline.c - the baseline for the protocol-overhead benchmark: a
 * minimal libmicrohttpd server with the handler's threading (an epoll thread
 * pool of the same size), reading each request body in full and answering
 * the fixed bytes of a reply file with Content-Type application/json. Whatever
 * the handler spends beyond this is its own overhead.
 * Usage: mhd_baseline PORT REPLY_FILE THREADS   (stops on SIGTERM/SIGINT)
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *reply;
static size_t reply_len;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    if (*state == NULL) {
        *state = (void *)1;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        *upload_size = 0; /* read and dropped, as a parse would read it */
        return MHD_YES;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(reply_len, reply, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    FILE *f = fopen(argv[2], "rb");
    if (f == NULL)
        return 2;
    fseek(f, 0, SEEK_END);
    reply_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    reply = malloc(reply_len);
    if (reply == NULL || fread(reply, 1, reply_len, f) != reply_len)
        return 2;
    fclose(f);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
        (uint16_t)strtol(argv[1], NULL, 10), NULL, NULL, on_request, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)strtol(argv[3], NULL, 10),
        MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_END);
    if (d == NULL)
        return 1;
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    free(reply);
    return 0;
}

/* CloudEvents batches POSTed to a receiver, and what counts as delivered. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <string.h>

#include "serve/webhook.h"
#include "../../support/hostdrv.h"
#include "../../support/receiver.h"

static json_t *two_events(void)
{
    return json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]", "specversion", "1.0",
                     "id", "todolist-a:1", "source", "/todolists/a", "type",
                     "todo.TodoListCreated.v1", "specversion", "1.0", "id",
                     "todolist-a:2", "source", "/todolists/a", "type",
                     "todo.ItemAdded.v1");
}

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    curl_global_cleanup();
}

TestSuite(webhook, .init = init, .fini = fini);

Test(webhook, a_batch_arrives_whole_as_cloudevents_batch_json)
{
    struct receiver *r = receiver_start(0);
    cr_assert_not_null(r);
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/events", receiver_port(r));
    struct webhook *w = NULL;
    cr_assert_eq(webhook_new(url, 5000, &w, NULL), ES_OK);
    json_t *batch = two_events();
    struct es_error err = {0};
    cr_expect_eq(webhook_send(w, batch, &err), ES_OK, "%s", err.message);
    cr_expect_eq(webhook_send(w, batch, &err), ES_OK,
                 "the connection is reused or redone");
    char ct[128];
    cr_expect_eq(receiver_posts(r, ct, sizeof(ct)), 2);
    cr_expect_str_eq(ct, "application/cloudevents-batch+json");
    json_t *got = receiver_events(r);
    json_t *want = json_array();
    json_array_extend(want, batch);
    json_array_extend(want, batch);
    cr_expect(json_equal(got, want), "both batches, whole and in order");
    json_decref(got);
    json_decref(want);
    json_decref(batch);
    webhook_free(w);
    receiver_stop(r);
}

Test(webhook, a_receiver_that_is_down_is_a_failure_that_says_so)
{
    int port = hostdrv_free_port();
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/events", port);
    struct webhook *w = NULL;
    cr_assert_eq(webhook_new(url, 2000, &w, NULL), ES_OK);
    json_t *batch = two_events();
    struct es_error err = {0};
    cr_expect_eq(webhook_send(w, batch, &err), ES_EUNAVAILABLE);
    cr_expect(strstr(err.message, url) != NULL, "%s", err.message);
    /* Back up on the same port: the next send is delivered. */
    struct receiver *r = receiver_start(port);
    cr_assert_not_null(r);
    cr_expect_eq(webhook_send(w, batch, &err), ES_OK, "%s", err.message);
    cr_expect_eq(receiver_posts(r, NULL, 0), 1);
    json_decref(batch);
    webhook_free(w);
    receiver_stop(r);
}

Test(webhook, an_answer_outside_2xx_is_not_delivered)
{
    struct receiver *r = receiver_start(0);
    cr_assert_not_null(r);
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", receiver_port(r));
    struct webhook *w = NULL;
    cr_assert_eq(webhook_new(url, 2000, &w, NULL), ES_OK);
    /* The receiver answers 400 to a body that is not a batch. */
    json_t *not_batch = json_object();
    struct es_error err = {0};
    cr_expect_eq(webhook_send(w, not_batch, &err), ES_EUNAVAILABLE);
    cr_expect(strstr(err.message, "400") != NULL, "%s", err.message);
    json_decref(not_batch);
    webhook_free(w);
    receiver_stop(r);
}

Test(webhook, refuses_urls_that_are_not_http)
{
    const char *bad[] = {"ftp://h/x", "file:///etc/passwd", "http://", "gopher://h", "x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct webhook *w = NULL;
        struct es_error err = {0};
        cr_expect_eq(webhook_new(bad[i], 1000, &w, &err), ES_EINVAL, "%s", bad[i]);
        cr_expect_null(w);
        cr_expect(strstr(err.message, "http") != NULL, "%s", err.message);
    }
}

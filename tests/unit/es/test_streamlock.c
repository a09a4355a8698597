#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

#include "es/streamlock.h"
#include "util/timeutil.h"

static struct es_streamlocks *t;

static void setup(void)
{
    t = es_streamlocks_new();
    cr_assert_not_null(t);
}

static void teardown(void)
{
    es_streamlocks_free(t);
}

TestSuite(streamlock, .init = setup, .fini = teardown, .timeout = 30);

struct taker {
    const char *stream;
    atomic_bool has_it;
    struct es_streamlock *held;
};

static void *take_then_report(void *arg)
{
    struct taker *k = arg;
    cr_assert_eq(es_streamlock_take(t, k->stream, &k->held), ES_OK);
    atomic_store(&k->has_it, true);
    return NULL;
}

Test(streamlock, a_stream_is_held_by_one_at_a_time)
{
    struct es_streamlock *mine;
    cr_assert_eq(es_streamlock_take(t, "todolist-a", &mine), ES_OK);
    struct taker k = {.stream = "todolist-a"};
    pthread_t th;
    pthread_create(&th, NULL, take_then_report, &k);
    es_time_sleep_ms(50);
    cr_expect(!atomic_load(&k.has_it), "the second taker waits");
    cr_expect_eq(es_streamlocks_in_use(t), 1, "one entry, two users");
    es_streamlock_give(t, mine);
    pthread_join(th, NULL);
    cr_expect(atomic_load(&k.has_it), "and has it once it is given back");
    es_streamlock_give(t, k.held);
    cr_expect_eq(es_streamlocks_in_use(t), 0, "nothing is kept for a stream not in use");
}

/* No timing involved: the other stream is taken while the first is still held. */
Test(streamlock, other_streams_never_wait)
{
    struct es_streamlock *a, *b;
    cr_assert_eq(es_streamlock_take(t, "todolist-a", &a), ES_OK);
    cr_assert_eq(es_streamlock_take(t, "todolist-b", &b), ES_OK);
    cr_expect_eq(es_streamlocks_in_use(t), 2);
    es_streamlock_give(t, a);
    es_streamlock_give(t, b);
    cr_expect_eq(es_streamlocks_in_use(t), 0);
}

enum { THREADS = 8, ROUNDS = 2000 };
static long counter; /* guarded by the stream "shared" alone */

static void *count(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        struct es_streamlock *h;
        cr_assert_eq(es_streamlock_take(t, "shared", &h), ES_OK);
        long v = counter;
        counter = v + 1;
        es_streamlock_give(t, h);
    }
    return NULL;
}

Test(streamlock, holders_exclude_each_other)
{
    counter = 0;
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, count, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    cr_expect_eq(counter, THREADS * ROUNDS);
    cr_expect_eq(es_streamlocks_in_use(t), 0);
}

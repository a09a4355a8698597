#include <criterion/criterion.h>
#include <stdatomic.h>

#include "../../../handler/util/pool.h"
#include "../../../handler/util/timeutil.h"

static atomic_int counter;

static void bump(void *arg)
{
    (void)arg;
    es_time_sleep_ms(1);
    atomic_fetch_add(&counter, 1);
}

Test(pool, runs_every_task_queued_before_free)
{
    atomic_store(&counter, 0);
    struct es_pool *p = es_pool_new(4);
    cr_assert_not_null(p);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(es_pool_submit(p, bump, NULL), ES_OK);
    es_pool_free(p);
    cr_expect_eq(atomic_load(&counter), 200);
}

Test(pool, free_of_null_is_a_no_op)
{
    es_pool_free(NULL);
}

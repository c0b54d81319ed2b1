/* evage: an event's age above its observer's least recent delay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "ingress/evage.h"

/* An observer whose clock is 5 s behind: its steady delay is no age, a
 * wait in the queue is. */
static void test_a_steady_offset_cancels_and_a_wait_shows(void **state)
{
    (void)state;
    sg_evage_t a;
    assert_int_equal(sg_evage_init(&a, 2, 60000), SG_OK);
    int64_t now = 1790000000000LL;
    assert_int_equal(sg_evage_observe(&a, 0, now - 5000 - 2, now), 0);
    assert_int_equal(sg_evage_observe(&a, 0, now + 100 - 5000 - 2, now + 100), 0);
    /* the loop was busy: taken 40 ms after its usual delay */
    assert_int_equal(sg_evage_observe(&a, 0, now + 200 - 5000 - 2, now + 240), 40);
    /* the other observer has its own base */
    assert_int_equal(sg_evage_observe(&a, 1, now + 300 + 3000, now + 300), 0);
    assert_int_equal(sg_evage_observe(&a, 1, now + 400 + 3000, now + 410), 10);
    assert_int_equal(sg_evage_observe(&a, 2, now, now), -1);
    assert_int_equal(sg_evage_observe(&a, -1, now, now), -1);
    sg_evage_fini(&a);
}

/* A new window keeps the last one's base: a stall just after it starts is
 * still measured; after two windows a stepped clock makes a new base. */
static void test_windows_rotate_the_base(void **state)
{
    (void)state;
    sg_evage_t a;
    assert_int_equal(sg_evage_init(&a, 1, 1000), SG_OK);
    int64_t now = 1000000;
    assert_int_equal(sg_evage_observe(&a, 0, now - 3, now), 0);
    assert_int_equal(sg_evage_observe(&a, 0, now + 1000 - 503, now + 1000), 500);
    /* the observer's clock stepped 2 s back: for two windows it looks late */
    assert_int_equal(sg_evage_observe(&a, 0, now + 1500 - 2003, now + 1500), 2000);
    assert_int_equal(sg_evage_observe(&a, 0, now + 2100 - 2003, now + 2100), 1500);
    assert_int_equal(sg_evage_observe(&a, 0, now + 3200 - 2003, now + 3200), 0);
    sg_evage_fini(&a);
}

/* Numbers from outside: extreme sent_at values saturate, never wrap. */
static void test_extreme_sent_at_saturates(void **state)
{
    (void)state;
    sg_evage_t a;
    assert_int_equal(sg_evage_init(&a, 1, 1000), SG_OK);
    assert_true(sg_evage_observe(&a, 0, INT64_MIN, 1000) >= 0);
    assert_true(sg_evage_observe(&a, 0, INT64_MAX, 1001) >= 0);
    assert_true(sg_evage_observe(&a, 0, 0, 1002) >= 0);
    sg_evage_fini(&a);
    assert_int_equal(sg_evage_init(&a, 1, 0), SG_EINVAL);
    sg_evage_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_steady_offset_cancels_and_a_wait_shows),
        cmocka_unit_test(test_windows_rotate_the_base),
        cmocka_unit_test(test_extreme_sent_at_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

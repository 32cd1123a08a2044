/*
 * test_retry.c — retry schedule: the delay ladder, caps, expiry and jitter bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "retry.h"

static void test_default_ladder(void **state)
{
    struct retry_policy p;
    const int64_t want[] = { 60, 300, 900, 1800, 3600, 3600, 3600 };

    (void)state;
    retry_policy_default(&p);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(retry_delay(&p, i + 1), want[i]);
    assert_int_equal(retry_next(&p, 1, 1000, 1000, 0), 1060);
    assert_int_equal(retry_next(&p, 3, 5000, 1000, 12345), 5900);
}

static void test_configured(void **state)
{
    struct retry_policy p = { .base = 10, .max_interval = 100, .max_lifetime = 1000 };

    (void)state;
    assert_int_equal(retry_delay(&p, 1), 10);
    assert_int_equal(retry_delay(&p, 2), 50);
    assert_int_equal(retry_delay(&p, 3), 100);  /* 150 capped */
    assert_int_equal(retry_delay(&p, 40), 100);
    assert_int_equal(retry_expiry(&p, 500), 1500);
    assert_false(retry_expired(&p, 500, 1499));
    assert_true(retry_expired(&p, 500, 1500));
    /* never scheduled past expiry: the last attempt happens at it */
    assert_int_equal(retry_next(&p, 5, 1450, 500, 0), 1500);
    assert_int_equal(retry_next(&p, 5, 1600, 500, 0), 1600);
}

static void test_jitter(void **state)
{
    struct retry_policy p;
    int64_t lo = INT64_MAX, hi = 0;

    (void)state;
    retry_policy_default(&p);
    p.jitter_pct = 10;
    for (uint32_t r = 0; r < 5000; r++) {
        int64_t d = retry_next(&p, 5, 0, 0, r * 2654435761u) - 0;

        assert_true(d >= 3240 && d <= 3960);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(lo < 3300 && hi > 3900);   /* the spread is really used */
    assert_int_equal(retry_next(&p, 5, 0, 0, 7), retry_next(&p, 5, 0, 0, 7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_ladder),
        cmocka_unit_test(test_configured),
        cmocka_unit_test(test_jitter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

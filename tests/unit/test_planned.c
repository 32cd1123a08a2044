/* test_planned.c — the wait until the planned daily reconnect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "planned.h"

static long wait_at(int h, int m, int s, long at)
{
    struct tm tm = { .tm_hour = h, .tm_min = m, .tm_sec = s };
    return planned_delay_ms(at, &tm);
}

static void test_delays(void **state)
{
    long four = 4 * 60;
    assert_int_equal(wait_at(3, 59, 30, four), 30 * 1000L);            /* half a minute before */
    assert_int_equal(wait_at(0, 0, 0, four), 4 * 3600 * 1000L);        /* from midnight */
    assert_int_equal(wait_at(4, 0, 0, four), 24 * 3600 * 1000L);       /* exactly at it: tomorrow */
    assert_int_equal(wait_at(4, 0, 10, four), (24 * 3600 - 10) * 1000L);
    assert_int_equal(wait_at(23, 59, 59, 0), 1000L);                    /* 00:00 one second away */
    assert_int_equal(wait_at(12, 0, 0, 23 * 60 + 59), (11 * 3600 + 59 * 60) * 1000L);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_delays) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_spool_trailer.c — the footer that ends a committed data file: round trip and the
 * ways a damaged or foreign footer is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "envelope.h"
#include "spool_trailer.h"

static void test_round_trip(void **state)
{
    char f[SPOOL_FOOTER_LEN], why[120];
    size_t len = 0;

    (void)state;
    spool_footer_encode(f, 351);
    assert_memory_equal(f, "envelope-length 0000000351\n", SPOOL_FOOTER_LEN);
    assert_int_equal(spool_footer_decode(f, sizeof(f), &len, why, sizeof(why)), 0);
    assert_int_equal(len, 351);
    spool_footer_encode(f, ENV_MAX_ENCODED);
    assert_int_equal(spool_footer_decode(f, sizeof(f), &len, why, sizeof(why)), 0);
    assert_int_equal(len, ENV_MAX_ENCODED);
}

static void refused(const char *text, size_t n, const char *reason)
{
    char why[120] = "";
    size_t len = 7;

    assert_int_equal(spool_footer_decode(text, n, &len, why, sizeof(why)), -1);
    assert_int_equal(len, 7);                  /* untouched */
    assert_non_null(strstr(why, reason));
}

static void test_refused(void **state)
{
    char f[SPOOL_FOOTER_LEN];

    (void)state;
    refused("partial message data\r\n....", SPOOL_FOOTER_LEN, "no envelope trailer");
    refused("envelope-length 0000000351", SPOOL_FOOTER_LEN - 1, "no envelope trailer");
    refused("envelope-length 0000000351X", SPOOL_FOOTER_LEN, "no envelope trailer");
    refused("envelope-length 00000003a1\n", SPOOL_FOOTER_LEN, "not a number");
    refused("envelope-length -000000351\n", SPOOL_FOOTER_LEN, "not a number");
    refused("envelope-length 0000000000\n", SPOOL_FOOTER_LEN, "out of range");
    spool_footer_encode(f, ENV_MAX_ENCODED + 1);
    refused(f, sizeof(f), "out of range");
    refused("envelope-length 9999999999\n", SPOOL_FOOTER_LEN, "out of range");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

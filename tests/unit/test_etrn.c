/* test_etrn.c — the ETRN dialogue: success per RFC 1985 reply codes, temporary and permanent
 * failures, several domains in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "etrn.h"
#include "smtp_client.h"

static struct smtpc_reply reply(const char *text)
{
    struct smtpc_reply r;
    size_t used;
    char err[128];
    assert_int_equal(smtpc_reply_parse(text, strlen(text), &r, &used, err, sizeof(err)), 1);
    return r;
}

static const char *const two[] = { "example.net", "example.org" };

static void test_two_domains(void **state)
{
    struct etrn_dialog d;
    struct smtpc_reply r;

    etrn_dialog_init(&d, "gw.example.net", two, 2);
    r = reply("220 mx.example.com ESMTP\r\n");
    assert_int_equal(etrn_dialog_reply(&d, &r), ETRN_CONTINUE);
    assert_string_equal(d.cmd, "EHLO gw.example.net\r\n");
    r = reply("250-mx.example.com\r\n250-ETRN\r\n250 8BITMIME\r\n");
    assert_int_equal(etrn_dialog_reply(&d, &r), ETRN_CONTINUE);
    assert_string_equal(d.cmd, "ETRN example.net\r\n");
    r = reply("250 Queuing started\r\n");
    assert_int_equal(etrn_dialog_reply(&d, &r), ETRN_CONTINUE);
    assert_string_equal(d.cmd, "ETRN example.org\r\n");
    r = reply("251 OK, no messages waiting for node example.org\r\n");
    assert_int_equal(etrn_dialog_reply(&d, &r), ETRN_OK);
    assert_string_equal(d.cmd, "QUIT\r\n");
    assert_int_equal(d.accepted, 2);
}

static void test_failures(void **state)
{
    struct etrn_dialog d;
    struct smtpc_reply r;

    /* 458: the server cannot queue now: temporary */
    etrn_dialog_init(&d, "gw", two, 1);
    r = reply("220 hi\r\n"); etrn_dialog_reply(&d, &r);
    r = reply("250 hi\r\n"); etrn_dialog_reply(&d, &r);
    r = reply("458 Unable to queue messages for node example.net\r\n");
    assert_int_equal(etrn_dialog_reply(&d, &r), ETRN_TEMPFAIL);
    assert_non_null(strstr(d.why, "ETRN example.net: 458"));

    /* 502: no ETRN for us: permanent, not retried */
    etrn_dialog_init(&d, "gw", two, 1);
    r = reply("220 hi\r\n"); etrn_dialog_reply(&d, &r);
    r = reply("250 hi\r\n"); etrn_dialog_reply(&d, &r);
    r = reply("502 5.5.1 Command not implemented\r\n");
    assert_int_equal(etrn_dialog_reply(&d, &r), ETRN_PERMFAIL);

    /* busy greeting */
    etrn_dialog_init(&d, "gw", two, 1);
    r = reply("421 4.3.2 busy\r\n");
    assert_int_equal(etrn_dialog_reply(&d, &r), ETRN_TEMPFAIL);
    assert_non_null(strstr(d.why, "greeting: 421"));

    /* EHLO refused */
    etrn_dialog_init(&d, "gw", two, 1);
    r = reply("220 hi\r\n"); etrn_dialog_reply(&d, &r);
    r = reply("554 5.7.1 go away\r\n");
    assert_int_equal(etrn_dialog_reply(&d, &r), ETRN_PERMFAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_domains),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

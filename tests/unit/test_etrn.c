/* test_etrn.c — the ETRN dialogue: success per RFC 1985 reply codes, temporary and permanent
 * failures, several domains in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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

/* Issue 18.5: etrn_host without a port means port 25 (what the log said), not port 0. */
static void test_target_default_port(void **state)
{
    (void)state;
    struct conf_hostport h = { .host = "192.0.2.1", .port = 0 };
    struct sockaddr_in sin;
    const char *why = NULL;
    assert_int_equal(etrn_target(&h, &sin, &why), 0);
    assert_int_equal(ntohs(sin.sin_port), 25);
    assert_int_equal(sin.sin_family, AF_INET);
    assert_int_equal(ntohl(sin.sin_addr.s_addr), 0xc0000201u);
    h.port = 2525;      /* negative control: a given port is used */
    assert_int_equal(etrn_target(&h, &sin, &why), 0);
    assert_int_equal(ntohs(sin.sin_port), 2525);
    h.host = "provider.example";
    assert_int_equal(etrn_target(&h, &sin, &why), -1);
    assert_non_null(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_domains),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_target_default_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_relay_conf.c — mailrelayd's own checks on [relay], [inside] and [outbound] values that
 * the generic loader (test_config.c) cannot know: bounds tied to the spool's formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "envelope.h"
#include "relay_conf.h"

#define BASE "[relay]\nlisten = 192.0.2.10:25\ndomains = example.net\n"

static int load(const char *text, struct relay_conf *c, char err[CONF_ERR_LEN])
{
    memset(c, 0, sizeof(*c));
    int rc = conf_load_string("test.conf", text, relay_conf_keys, relay_conf_nkeys,
                              relay_conf_foreign, c, err);
    return rc;
}

/* Issue 18.4: the envelope holds ENV_MAX_RCPT recipients; a larger max_recipients let RCPT
 * 1001 get 250 and DATA then 451 for ever. The setting is refused, naming file, line, key. */
static void test_max_recipients_within_envelope(void **state)
{
    struct relay_conf c;
    char err[CONF_ERR_LEN], text[256];

    (void)state;
    snprintf(text, sizeof(text), BASE "max_recipients = %d\n", ENV_MAX_RCPT + 1);
    if (load(text, &c, err) == 0)
        fail_msg("max_recipients = %d accepted; the envelope holds %d", ENV_MAX_RCPT + 1,
                 ENV_MAX_RCPT);
    relay_conf_free(&c);
    snprintf(text, sizeof(text), "test.conf:4: [relay] max_recipients: out of range 1..%d",
             ENV_MAX_RCPT);
    if (!strstr(err, text))
        fail_msg("error '%s' does not say '%s'", err, text);
    /* negative control: the cap itself is fine */
    snprintf(text, sizeof(text), BASE "max_recipients = %d\n", ENV_MAX_RCPT);
    if (load(text, &c, err) != 0)
        fail_msg("max_recipients = %d refused: %s", ENV_MAX_RCPT, err);
    assert_int_equal(c.max_recipients, ENV_MAX_RCPT);
    relay_conf_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_recipients_within_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

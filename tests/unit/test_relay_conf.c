/*
 * test_relay_conf.c — mailrelayd's own checks on [relay], [inside] and [outbound] values that
 * the generic loader (test_config.c) cannot know: bounds tied to the spool's formats; and the
 * recipient policy built from them (policy.c) on both kinds of listener.
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
#include "policy.h"
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

/* Issue 18.1 through the daemon's own policy: a fixed-address listener (with or without a
 * recipients file) refuses routing in the local part; a LAN client relaying out is not
 * concerned (its mail goes to the smarthost, not to the inside server). */
static void test_inbound_listener_refuses_routing(void **state)
{
    struct relay_conf c;
    char err[CONF_ERR_LEN];

    (void)state;
    if (load(BASE "provider_networks = 192.0.2.0/24\nlan_networks = 10.0.0.0/8\n", &c, err) != 0)
        fail_msg("%s", err);
    struct policy *p = policy_new(&c, err, sizeof(err));
    assert_non_null(p);
    struct policy_client in = { .policy = p, .lan_listener = false };
    assert_int_equal(policy_client_allowed(&in, "192.0.2.1"), SMTP_ACCEPT);
    assert_int_equal(policy_rcpt_allowed(&in, "victim%target.example@example.net"), SMTP_REJECT_ROUTED);
    assert_int_equal(policy_rcpt_allowed(&in, "target.example!victim@example.net"), SMTP_REJECT_ROUTED);
    assert_int_equal(policy_rcpt_allowed(&in, "\"victim@target.example\"@example.net"), SMTP_REJECT_ROUTED);
    assert_int_equal(policy_rcpt_allowed(&in, "victim@example.net"), SMTP_ACCEPT);
    struct policy_client lan = { .policy = p, .lan_listener = true };
    assert_int_equal(policy_client_allowed(&lan, "10.0.0.5"), SMTP_ACCEPT);
    assert_int_equal(policy_rcpt_allowed(&lan, "someone@elsewhere.example"), SMTP_ACCEPT);
    policy_free(p);
    relay_conf_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_recipients_within_envelope),
        cmocka_unit_test(test_inbound_listener_refuses_routing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

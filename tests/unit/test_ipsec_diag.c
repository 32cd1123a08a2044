/*
 * test_ipsec_diag.c — tunneld/ipsec/ipsec_diag: charon's log lines of failed set-ups (as
 * charon 5.9 writes them) give the reason in plain words, the most telling line wins, and
 * nothing is claimed from lines that say nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ipsec_diag.h"

static void reason_of(bool certs, const char *const *lines, char *out, size_t len)
{
    struct ipsec_diag d;

    ipsec_diag_init(&d, certs);
    for (; *lines; lines++)
        ipsec_diag_feed(&d, *lines);
    ipsec_diag_reason(&d, out, len);
}

static void test_causes(void **state)
{
    char r[256];
    static const char *const wrong_psk[] = {
        "initiating IKE_SA mailtun[1] to 203.0.113.1",
        "sending packet: from 198.51.100.2[500] to 203.0.113.1[500] (464 bytes)",
        "received AUTHENTICATION_FAILED notify error", NULL };
    static const char *const other_ca[] = {
        "received end entity cert \"CN=vpn.example.com\"",
        "no issuer certificate found for \"CN=vpn.example.com\"",
        "no trusted ECDSA public key found for 'vpn.example.com'",
        "generating INFORMATIONAL request 2 [ N(AUTH_FAILED) ]",
        "received AUTHENTICATION_FAILED notify error", NULL };
    static const char *const no_prop[] = { "received NO_PROPOSAL_CHOSEN error notify", NULL };
    static const char *const no_child[] = { "received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built", NULL };
    static const char *const silent[] = {
        "retransmit 1 of request with message ID 0", "retransmit 2 of request with message ID 0",
        "giving up after 4 retransmits", NULL };
    /* IKEv1 quick mode, our kernel without the cipher: our own N(NO_PROP) after it is no cause */
    static const char *const v1_kernel[] = {
        "parsed QUICK_MODE response 974068442 [ HASH SA No KE ID ID ]",
        "selected proposal: ESP:AES_GCM_16_256/CURVE_25519/NO_EXT_SEQ",
        "unable to install inbound and outbound IPsec SA (SAD) in kernel",
        "generating INFORMATIONAL_V1 request 2000167152 [ HASH N(NO_PROP) ]", NULL };
    /* the provider's IKEv1 refusal, parsed from its packet: no common proposal */
    static const char *const v1_refused[] = {
        "parsed INFORMATIONAL_V1 request 3264195430 [ HASH N(NO_PROP) ]", NULL };
    static const char *const nothing[] = { "initiating IKE_SA mailtun[1] to 203.0.113.1", NULL };
    /* a certificate checked without a CRL, then the kernel refusing the SA: the latter */
    static const char *const benign_then_child[] = {
        "  certificate status is not available",
        "authentication of 'vpn.example.com' with ECDSA_WITH_SHA256_DER successful",
        "received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built", NULL };

    reason_of(false, wrong_psk, r, sizeof(r));
    assert_string_equal(r, "the provider refused us: wrong pre-shared key or identity "
                           "(charon: received AUTHENTICATION_FAILED notify error)");
    reason_of(true, wrong_psk, r, sizeof(r));
    assert_non_null(strstr(r, "the provider refused our certificate"));
    /* the untrusted certificate, not the notify that follows it; quotes made harmless */
    reason_of(true, other_ca, r, sizeof(r));
    assert_string_equal(r, "the provider's certificate is not issued by ipsec_ca (or not for ipsec_remote_id) "
                           "(charon: no trusted ECDSA public key found for 'vpn.example.com')");
    reason_of(false, no_prop, r, sizeof(r));
    assert_non_null(strstr(r, "no common proposal with the provider"));
    reason_of(false, no_child, r, sizeof(r));
    assert_non_null(strstr(r, "IKE is up but the provider refused the SA for L2TP"));
    reason_of(false, silent, r, sizeof(r));
    assert_non_null(strstr(r, "no answer from the provider's IKE"));
    reason_of(true, benign_then_child, r, sizeof(r));
    assert_non_null(strstr(r, "IKE is up but the provider refused the SA for L2TP"));
    reason_of(false, v1_kernel, r, sizeof(r));
    assert_non_null(strstr(r, "the kernel refused the SA"));
    reason_of(false, v1_kernel + 3, r, sizeof(r));
    assert_non_null(strstr(r, "our side found no acceptable proposal"));
    reason_of(false, v1_refused, r, sizeof(r));
    assert_non_null(strstr(r, "no common proposal with the provider"));
    reason_of(false, nothing, r, sizeof(r));
    assert_string_equal(r, "");
}

static void test_line_cleaned(void **state)
{
    struct ipsec_diag d;
    char r[256];

    ipsec_diag_init(&d, false);
    ipsec_diag_feed(&d, "constraint check failed: peer not authenticated by CA \"CN=ca\"\n");
    assert_true(ipsec_diag_reason(&d, r, sizeof(r)));
    assert_null(strchr(r, '"'));
    assert_null(strchr(r, '\n'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_causes),
        cmocka_unit_test(test_line_cleaned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

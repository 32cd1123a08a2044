/*
 * test_ipsec_proposal.c — tunneld/ipsec/ipsec_proposal: the defaults pass, strongSwan's
 * usual spellings pass, and each kind of garbage is refused naming the key, proposal and word.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ipsec_proposal.h"

static void ok(const char *list, enum ipsec_prop_kind kind)
{
    char err[300] = "";

    if (ipsec_proposals_check("k", list, kind, err, sizeof(err)) != 0)
        fail_msg("'%s' refused: %s", list, err);
}

static void bad(const char *list, enum ipsec_prop_kind kind, const char *why)
{
    char err[300] = "";

    if (ipsec_proposals_check("k", list, kind, err, sizeof(err)) != -1)
        fail_msg("'%s' accepted", list);
    if (!strstr(err, why))
        fail_msg("'%s': error '%s' does not contain '%s'", list, err, why);
}

static void test_accepted(void **state)
{
    ok(IPSEC_IKEV2_DEFAULT, IPSEC_PROP_IKEV2);
    ok(IPSEC_IKEV1_DEFAULT, IPSEC_PROP_IKEV1);
    ok(IPSEC_IKEV1_DEFAULT, IPSEC_PROP_IKEV2);
    ok(IPSEC_ESP_DEFAULT, IPSEC_PROP_ESP);
    ok("aes128-sha256-modp2048,aes256-sha1-modp2048", IPSEC_PROP_IKEV1);
    ok("chacha20poly1305-prfsha256-x25519", IPSEC_PROP_IKEV2);
    ok("AES256GCM16-PRFSHA384-ECP384", IPSEC_PROP_IKEV2);
    ok("aes256gcm16", IPSEC_PROP_ESP);                       /* no PFS */
    ok("aes256-sha256-esn", IPSEC_PROP_ESP);
    ok("aes128ctr-aescmac-ecp256bp", IPSEC_PROP_ESP);
}

static void test_refused(void **state)
{
    bad("", IPSEC_PROP_IKEV2, "k is empty");
    bad("aes256gcm16-prfsha384-curve2551", IPSEC_PROP_IKEV2,
        "k: 'aes256gcm16-prfsha384-curve2551': unknown algorithm 'curve2551'");
    bad("aes256gcm16-prfsha384-curve25519,", IPSEC_PROP_IKEV2, "ends with a comma");
    bad("aes256gcm16-prfsha384-curve25519,,aes256-sha256-ecp256", IPSEC_PROP_IKEV2, "an empty proposal");
    bad("aes256--sha256-ecp256", IPSEC_PROP_IKEV2, "an empty algorithm between dashes");
    bad("aes256-sha256-ecp256-", IPSEC_PROP_IKEV2, "an empty algorithm between dashes");
    bad("3des-md5-modp1024", IPSEC_PROP_IKEV1, "'md5' is broken");
    bad("des-sha1-modp2048", IPSEC_PROP_IKEV1, "'des' is broken");
    bad("null-sha256", IPSEC_PROP_ESP, "'null' is broken");
    bad("aes256-sha256-modp768", IPSEC_PROP_IKEV2, "'modp768' is broken");
    bad("aes256-modp2048", IPSEC_PROP_IKEV2, "a cipher without integrity protection");
    bad("aes256", IPSEC_PROP_ESP, "a cipher without integrity protection");
    bad("aes256gcm16-curve25519", IPSEC_PROP_IKEV2, "an AEAD cipher needs a PRF in IKE");
    bad("aes256-sha256", IPSEC_PROP_IKEV2, "no Diffie-Hellman group");
    bad("sha256-ecp256", IPSEC_PROP_IKEV2, "no cipher");
    bad("aes256gcm16-prfsha384-curve25519", IPSEC_PROP_IKEV1, "'aes256gcm16' is an AEAD cipher, which IKEv1 cannot use");
    bad("aes256gcm16-prfsha384", IPSEC_PROP_ESP, "'prfsha384' is a PRF, which ESP proposals do not have");
    bad("aes256-sha256-ecp256-esn", IPSEC_PROP_IKEV2, "'esn' belongs to ESP proposals");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

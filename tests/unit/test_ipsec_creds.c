/*
 * test_ipsec_creds.c — tunneld/ipsec/ipsec_creds: the files l2tp-ipsec authenticates with.
 * A CA, a certificate it issued and their keys are made here with OpenSSL; then each fault
 * is refused naming the key and the file: missing, a symbolic link, the private key readable
 * by others, a certificate writable by others, not PEM, an encrypted key, a key that is not
 * the certificate's, a CA certificate that is no CA. The PSK file keeps its rules. The
 * ownership checks need root (files owned by root): as another user the test skips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ipsec_creds.h"

static char dir[] = "/tmp/mailtun-creds-XXXXXX";
static char path[8][300];
enum { CA, CERT, KEY, OTHER_KEY, NOT_CA, PSK, ENC_KEY, SPARE };

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    assert_non_null(k);
    return k;
}

static X509 *new_cert(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *cn, int ca)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
    X509_NAME_free(name);
    return x;
}

static void write_pem(int which, X509 *x, EVP_PKEY *k, const char *pass, mode_t mode)
{
    FILE *f = fopen(path[which], "w");

    assert_non_null(f);
    if (x)
        PEM_write_X509(f, x);
    else if (pass)
        PEM_write_PKCS8PrivateKey(f, k, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)pass);
    else
        PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    chmod(path[which], mode);
}

static int setup(void **state)
{
    EVP_PKEY *ca_key, *key, *other;
    X509 *ca, *cert, *not_ca;
    FILE *f;

    if (geteuid() != 0)
        return 0;                       /* the tests skip */
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < 8; i++)
        snprintf(path[i], sizeof(path[i]), "%s/f%d", dir, i);
    ca_key = new_key();
    key = new_key();
    other = new_key();
    ca = new_cert(ca_key, ca_key, NULL, "test CA", 1);
    cert = new_cert(key, ca_key, ca, "gw.example.net", 0);
    not_ca = new_cert(other, other, NULL, "not a CA", 0);
    write_pem(CA, ca, NULL, NULL, 0644);
    write_pem(CERT, cert, NULL, NULL, 0644);
    write_pem(KEY, NULL, key, NULL, 0600);
    write_pem(OTHER_KEY, NULL, other, NULL, 0600);
    write_pem(NOT_CA, not_ca, NULL, NULL, 0644);
    write_pem(ENC_KEY, NULL, key, "secret", 0600);
    write_pem(SPARE, cert, NULL, NULL, 0600);          /* a certificate where a key should be */
    f = fopen(path[PSK], "w");
    assert_non_null(f);
    fputs("a-long-enough-pre-shared-key\n", f);
    fclose(f);
    chmod(path[PSK], 0600);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    X509_free(ca);
    X509_free(cert);
    X509_free(not_ca);
    return 0;
}

static int teardown(void **state)
{
    if (geteuid() != 0)
        return 0;
    for (int i = 0; i < 8; i++)
        unlink(path[i]);
    rmdir(dir);
    return 0;
}

static struct tunnel_conf conf_certs(const char *ca, const char *cert, const char *key)
{
    struct tunnel_conf c;

    memset(&c, 0, sizeof(c));
    c.ipsec_ca = (char *)ca;
    c.ipsec_cert = (char *)cert;
    c.ipsec_key = (char *)key;
    return c;
}

static void refused(struct tunnel_conf c, const char *a, const char *b)
{
    struct ipsec_creds cr;
    char err[400];

    if (ipsec_creds_load(&c, &cr, err, sizeof(err)) != -1)
        fail_msg("accepted; expected an error with '%s'", a);
    if (!strstr(err, a) || (b && !strstr(err, b)))
        fail_msg("error '%s' does not name '%s' and '%s'", err, a, b ? b : "");
    ipsec_creds_clear(&cr);
}

static void test_certs_good(void **state)
{
    struct tunnel_conf c = conf_certs(path[CA], path[CERT], path[KEY]);
    struct ipsec_creds cr;
    char err[400];

    if (geteuid() != 0)
        skip();
    if (ipsec_creds_load(&c, &cr, err, sizeof(err)) != 0)
        fail_msg("refused: %s", err);
    assert_true(cr.certs);
    assert_non_null(strstr(cr.ca_pem, "BEGIN CERTIFICATE"));
    assert_non_null(strstr(cr.cert_pem, "BEGIN CERTIFICATE"));
    assert_non_null(strstr(cr.key_pem, "PRIVATE KEY"));
    ipsec_creds_clear(&cr);
    assert_null(cr.key_pem);
}

static void test_certs_refused(void **state)
{
    char link[320];

    if (geteuid() != 0)
        skip();
    refused(conf_certs("/nonexistent/ca.pem", path[CERT], path[KEY]), "ipsec_ca /nonexistent/ca.pem",
            "No such file");
    /* the private key: root's alone */
    chmod(path[KEY], 0640);
    refused(conf_certs(path[CA], path[CERT], path[KEY]), "ipsec_key", "mode 600 or stricter");
    chmod(path[KEY], 0600);
    /* a certificate others may replace */
    chmod(path[CA], 0666);
    refused(conf_certs(path[CA], path[CERT], path[KEY]), "ipsec_ca", "writable by root only");
    chmod(path[CA], 0644);
    snprintf(link, sizeof(link), "%s/link", dir);
    assert_int_equal(symlink(path[KEY], link), 0);
    refused(conf_certs(path[CA], path[CERT], link), "ipsec_key", "is a symbolic link");
    unlink(link);
    /* wrong contents */
    refused(conf_certs(path[CA], path[PSK], path[KEY]), "ipsec_cert", "is not a PEM certificate");
    refused(conf_certs(path[CA], path[CERT], path[SPARE]), "ipsec_key", "is not a PEM private key");
    refused(conf_certs(path[CA], path[CERT], path[ENC_KEY]), "ipsec_key", "is encrypted");
    refused(conf_certs(path[CA], path[CERT], path[OTHER_KEY]), "ipsec_key", "is not the private key of ipsec_cert");
    refused(conf_certs(path[NOT_CA], path[CERT], path[KEY]), "ipsec_ca", "is not a CA certificate");
}

static void test_psk_file(void **state)
{
    struct tunnel_conf c;
    struct ipsec_creds cr;
    char err[400];

    if (geteuid() != 0)
        skip();
    memset(&c, 0, sizeof(c));
    c.ipsec_psk_file = path[PSK];
    assert_int_equal(ipsec_creds_load(&c, &cr, err, sizeof(err)), 0);
    assert_false(cr.certs);
    assert_string_equal(cr.psk, "a-long-enough-pre-shared-key");
    ipsec_creds_clear(&cr);
    chmod(path[PSK], 0604);
    assert_int_equal(ipsec_creds_load(&c, &cr, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "mode 600 or stricter"));
    ipsec_creds_clear(&cr);
    chmod(path[PSK], 0600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certs_good),
        cmocka_unit_test(test_certs_refused),
        cmocka_unit_test(test_psk_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

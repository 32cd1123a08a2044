/*
 * test_tls_ownkey.c — mailrelayd's own STARTTLS key: made once, kept on every later start,
 * never silently replaced (a damaged key is an error naming the file), a lost certificate is
 * re-made for the same key, unsafe permissions are refused; and the fingerprint codec.
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

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls_fprint.h"
#include "tls_ownkey.h"

static char dir[256];

static int setup(void **state)
{
    char tmpl[] = "/tmp/test-tls-own.XXXXXX";
    (void)state;
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(dir, sizeof(dir), "%s/var/lib/mailtun/tls", tmpl);   /* parents made too */
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", 24, dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Fingerprints of the certificate in dir. */
static void fprints(char cfp[TLS_FPRINT_LEN], char kfp[TLS_FPRINT_LEN])
{
    char path[300];
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(c);
    assert_int_equal(tls_fprint_cert(c, cfp, kfp), 0);
    X509_free(c);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_hex(void **state)
{
    const unsigned char b[] = { 0x00, 0xab, 0x5f };
    char out[9];
    (void)state;
    assert_int_equal(tls_fprint_hex(b, 3, out, sizeof(out)), 0);
    assert_string_equal(out, "00:AB:5F");
    assert_int_equal(tls_fprint_hex(b, 3, out, 8), -1);     /* no room for the NUL */
    assert_int_equal(tls_fprint_hex(b, 0, out, sizeof(out)), -1);
}

static void test_made_once_then_kept(void **state)
{
    struct tls_own_paths p;
    struct stat st;
    char err[600], c1[TLS_FPRINT_LEN], k1[TLS_FPRINT_LEN], c2[TLS_FPRINT_LEN], k2[TLS_FPRINT_LEN];
    (void)state;

    assert_int_equal(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)), 1);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(p.key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    fprints(c1, k1);
    assert_int_equal(strlen(c1), 95);
    /* a restart (or an upgrade, which does not touch tls_dir) uses the same pair */
    assert_int_equal(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)), 0);
    fprints(c2, k2);
    assert_string_equal(c1, c2);
    assert_string_equal(k1, k2);
    /* a lost certificate is made again for the same key: the public-key pin still holds */
    assert_int_equal(unlink(p.cert), 0);
    write_file("key.pem.tmp", "left over by a crash", 0600);
    assert_int_equal(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)), 0);
    fprints(c2, k2);
    assert_string_equal(k1, k2);
    assert_string_not_equal(c1, c2);
}

static void test_damaged_key_is_an_error(void **state)
{
    struct tls_own_paths p;
    char err[600], path[300], buf[64] = "";
    (void)state;

    assert_true(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)) >= 0);
    write_file("key.pem", "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n", 0600);
    assert_int_equal(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, p.key));
    assert_non_null(strstr(err, "is not a PEM private key"));
    /* and it is left as it was: no new key behind the provider's back */
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "-----BEGIN PRIVATE KEY-----\n");
    /* an empty key file (a crash of some other writer) is no key either */
    write_file("key.pem", "", 0600);
    assert_int_equal(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not a PEM private key"));
}

static void test_foreign_cert_is_an_error(void **state)
{
    struct tls_own_paths p;
    char err[600], other[300];
    (void)state;

    assert_true(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)) >= 0);
    /* a certificate of another key */
    snprintf(other, sizeof(other), "%s/other", dir);
    assert_int_equal(tls_own_ensure(other, "mx.test", &p, err, sizeof(err)), 1);
    assert_int_equal(tls_own_paths(dir, &p, err, sizeof(err)), 0);
    char cmd[8500];
    snprintf(cmd, sizeof(cmd), "cp '%s/cert.pem' '%s'", other, p.cert);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not belong to"));
    write_file("cert.pem", "garbage\n", 0644);
    assert_int_equal(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not a PEM certificate"));
}

static void test_unsafe_permissions_refused(void **state)
{
    struct tls_own_paths p;
    char err[600];
    (void)state;

    assert_true(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)) >= 0);
    unlink(p.cert);
    assert_int_equal(chmod(p.key, 0644), 0);
    assert_int_equal(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(p.key, 0600), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "chmod 700"));
    assert_int_equal(chmod(dir, 0700), 0);
    assert_true(tls_own_ensure(dir, "mx.test", &p, err, sizeof(err)) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),
        cmocka_unit_test_setup_teardown(test_made_once_then_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_key_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_cert_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_permissions_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_smtp_auth.c — the pure parts of SMTP AUTH towards the smarthost: base64 (RFC 4648
 * vectors and a cross-check against OpenSSL's decoder), AUTH PLAIN (RFC 4616) and LOGIN
 * lines, the decision to authenticate (refused without TLS), and the secrets file (parser,
 * permission and ownership checks).
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

#include <openssl/evp.h>

#include "secrets.h"
#include "smtp_client.h"

static void test_b64_vectors(void **state)
{
    /* RFC 4648 section 10 */
    static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    char buf[32];

    (void)state;
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        assert_int_equal(smtpc_b64_encode(in[i], strlen(in[i]), buf, sizeof(buf)), (int)strlen(out[i]));
        assert_string_equal(buf, out[i]);
    }
    /* binary octets, all of the alphabet's ends */
    const unsigned char bin[] = { 0x00, 0xff, 0xfe, 0xfb, 0xef, 0xbe };
    assert_int_equal(smtpc_b64_encode(bin, sizeof(bin), buf, sizeof(buf)), 8);
    assert_string_equal(buf, "AP/+++++");
    /* exactly enough room (8 + NUL), then one octet short */
    assert_int_equal(smtpc_b64_encode("foobar", 6, buf, 9), 8);
    assert_int_equal(smtpc_b64_encode("foobar", 6, buf, 8), -1);
}

static void test_b64_against_openssl(void **state)
{
    unsigned char in[300], dec[400];
    char enc[500];
    unsigned seed = 12345;

    (void)state;
    for (size_t n = 0; n < sizeof(in); n += 7) {
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
        int e = smtpc_b64_encode(in, n, enc, sizeof(enc));
        assert_int_equal(e, (int)((n + 2) / 3 * 4));
        int d = EVP_DecodeBlock(dec, (const unsigned char *)enc, e);
        /* EVP_DecodeBlock keeps the padding's zero octets: strip them */
        int pad = e >= 1 && enc[e - 1] == '=' ? (e >= 2 && enc[e - 2] == '=' ? 2 : 1) : 0;
        assert_int_equal(d - pad, (int)n);
        assert_memory_equal(dec, in, n);
    }
}

static void test_auth_plain(void **state)
{
    char line[SMTPC_MAX_CMD + 1], err[128];
    char longs[SMTPC_AUTH_MAX + 2];

    (void)state;
    /* RFC 4616 section 4: authcid "tim", password "tanstaaftanstaaf", no authzid */
    assert_int_equal(smtpc_fmt_auth_plain(line, sizeof(line), "tim", "tanstaaftanstaaf", err,
                                          sizeof(err)), 41);
    assert_string_equal(line, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    /* a password with blanks and non-ASCII survives */
    assert_true(smtpc_fmt_auth_plain(line, sizeof(line), "gw@example.net", "p w\xc3\xa4", err,
                                     sizeof(err)) > 0);
    assert_string_equal(line, "AUTH PLAIN AGd3QGV4YW1wbGUubmV0AHAgd8Ok\r\n");

    /* refused: empty, CR/LF (would inject a command), too long, no room */
    assert_int_equal(smtpc_fmt_auth_plain(line, sizeof(line), "", "x", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "user name"));
    assert_int_equal(smtpc_fmt_auth_plain(line, sizeof(line), "u", "", err, sizeof(err)), -1);
    assert_int_equal(smtpc_fmt_auth_plain(line, sizeof(line), "u", "a\r\nMAIL FROM:<x>", err,
                                          sizeof(err)), -1);
    assert_non_null(strstr(err, "CR or LF"));
    assert_null(strstr(err, "MAIL"));      /* the error never quotes the password */
    memset(longs, 'a', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    assert_int_equal(smtpc_fmt_auth_plain(line, sizeof(line), "u", longs, err, sizeof(err)), -1);
    longs[SMTPC_AUTH_MAX] = '\0';          /* the longest allowed pair still fits a line */
    assert_true(smtpc_fmt_auth_plain(line, sizeof(line), longs, longs, err, sizeof(err)) > 0);
    assert_true(strlen(line) <= SMTPC_MAX_CMD);
    assert_int_equal(smtpc_fmt_auth_plain(line, 20, "tim", "tanstaaftanstaaf", err, sizeof(err)), -1);
    assert_string_equal(line, "");         /* nothing half-written */
}

static void test_auth_login_lines(void **state)
{
    char line[SMTPC_MAX_CMD + 1], err[128];

    (void)state;
    assert_int_equal(smtpc_fmt_auth_line(line, sizeof(line), "gw", err, sizeof(err)), 6);
    assert_string_equal(line, "Z3c=\r\n");
    assert_int_equal(smtpc_fmt_auth_line(line, sizeof(line), "secret", err, sizeof(err)), 10);
    assert_string_equal(line, "c2VjcmV0\r\n");
    assert_int_equal(smtpc_fmt_auth_line(line, sizeof(line), "a\nb", err, sizeof(err)), -1);
    assert_int_equal(smtpc_fmt_auth_line(line, sizeof(line), "", err, sizeof(err)), -1);
    assert_int_equal(smtpc_fmt_auth_line(line, 6, "secret", err, sizeof(err)), -1);
}

static void ehlo(const char *text, struct smtpc_ext *ext)
{
    struct smtpc_reply r;
    size_t used;
    char err[128];

    assert_int_equal(smtpc_reply_parse(text, strlen(text), &r, &used, err, sizeof(err)), 1);
    assert_int_equal(smtpc_ehlo_parse(&r, ext), 0);
}

static void test_auth_decide(void **state)
{
    struct smtpc_ext ext;
    unsigned mech = 99;
    char why[160];

    (void)state;
    ehlo("250-smarthost.test\r\n250-PIPELINING\r\n250-AUTH LOGIN PLAIN\r\n250 8BITMIME\r\n", &ext);
    /* no credentials: nothing to do, TLS or not */
    assert_int_equal(smtpc_auth_decide(false, false, &ext, &mech, why, sizeof(why)), SMTPC_AUTH_SKIP);
    assert_int_equal(mech, 0);
    /* credentials but no TLS: refused, even though the server offers AUTH */
    assert_int_equal(smtpc_auth_decide(true, false, &ext, &mech, why, sizeof(why)), SMTPC_AUTH_REFUSE);
    assert_non_null(strstr(why, "never sent without TLS"));
    /* TLS: PLAIN preferred */
    assert_int_equal(smtpc_auth_decide(true, true, &ext, &mech, why, sizeof(why)), SMTPC_AUTH_DO);
    assert_int_equal(mech, SMTPC_AUTH_PLAIN);

    ehlo("250-smarthost.test\r\n250-AUTH=LOGIN\r\n250 SIZE 1000\r\n", &ext);
    assert_int_equal(smtpc_auth_decide(true, true, &ext, &mech, why, sizeof(why)), SMTPC_AUTH_DO);
    assert_int_equal(mech, SMTPC_AUTH_LOGIN);

    ehlo("250-smarthost.test\r\n250 AUTH CRAM-MD5 XOAUTH2\r\n", &ext);
    assert_int_equal(smtpc_auth_decide(true, true, &ext, &mech, why, sizeof(why)), SMTPC_AUTH_REFUSE);
    assert_non_null(strstr(why, "without PLAIN or LOGIN"));

    /* no AUTH offered: go on without (the server decides whether we may relay) */
    ehlo("250-smarthost.test\r\n250 STARTTLS\r\n", &ext);
    assert_int_equal(smtpc_auth_decide(true, true, &ext, &mech, why, sizeof(why)), SMTPC_AUTH_SKIP);
    /* ... but not in clear text either way */
    assert_int_equal(smtpc_auth_decide(true, false, &ext, &mech, why, sizeof(why)), SMTPC_AUTH_REFUSE);
}

static void test_secrets_parse(void **state)
{
    struct smtp_secret s;
    char err[160];
    const char *ok = "# provider account\n\n  gw@provider.test   pass with  blanks \t\r\n";

    (void)state;
    assert_int_equal(secrets_parse(ok, strlen(ok), &s, err, sizeof(err)), 0);
    assert_string_equal(s.user, "gw@provider.test");
    assert_string_equal(s.pass, "pass with  blanks");
    assert_int_equal(secrets_parse("u p", 3, &s, err, sizeof(err)), 0);     /* no newline */
    assert_string_equal(s.pass, "p");

    assert_int_equal(secrets_parse("", 0, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no 'user password' line"));
    assert_int_equal(secrets_parse("onlyuser\n", 9, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 1"));
    assert_string_equal(s.user, "");                                       /* wiped */
    assert_int_equal(secrets_parse("a b\nc d\n", 8, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 2"));
    assert_int_equal(secrets_parse("a b\0c\n", 6, &s, err, sizeof(err)), -1);
    assert_null(strstr(err, "b"));                                         /* never quoted */
    char big[600];
    memset(big, 'x', sizeof(big));
    big[3] = ' ';
    assert_int_equal(secrets_parse(big, sizeof(big), &s, err, sizeof(err)), -1);
}

static void test_secrets_file_mode(void **state)
{
    char path[] = "/tmp/test_smtp_auth.XXXXXX", err[512];
    struct smtp_secret s;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "gw s3cret\n", 10), 10);
    close(fd);

    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(secrets_load(path, &s, err, sizeof(err)), 0);
    assert_string_equal(s.user, "gw");
    assert_string_equal(s.pass, "s3cret");
    secrets_wipe(&s);
    assert_string_equal(s.pass, "");

    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(secrets_load(path, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "chmod 600"));
    assert_non_null(strstr(err, "0644"));
    assert_null(strstr(err, "s3cret"));
    assert_string_equal(s.pass, "");
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(secrets_load(path, &s, err, sizeof(err)), -1);
    assert_int_equal(chmod(path, 0602), 0);                                /* writable by others */
    assert_int_equal(secrets_load(path, &s, err, sizeof(err)), -1);

    /* a symbolic link is refused (O_NOFOLLOW), and so is a missing file, by name */
    char link[sizeof(path) + 8];
    snprintf(link, sizeof(link), "%s.lnk", path);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(secrets_load(link, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "symbolic link"));
    unlink(link);
    unlink(path);
    assert_int_equal(secrets_load(path, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_vectors),
        cmocka_unit_test(test_b64_against_openssl),
        cmocka_unit_test(test_auth_plain),
        cmocka_unit_test(test_auth_login_lines),
        cmocka_unit_test(test_auth_decide),
        cmocka_unit_test(test_secrets_parse),
        cmocka_unit_test(test_secrets_file_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_smtp_client.c — the pure SMTP client codec: replies (single, multi-line, split over
 * reads, malformed), enhanced codes, EHLO keywords, command lines, dot-stuffing and CRLF.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "envelope.h"
#include "smtp_client.h"

static int parse(const char *s, struct smtpc_reply *r, size_t *used, char *err)
{
    return smtpc_reply_parse(s, strlen(s), r, used, err, 128);
}

static void test_single_line(void **state)
{
    struct smtpc_reply r;
    size_t used = 0;
    char err[128], sum[SMTPC_SUMMARY];
    const char *s = "250 2.1.5 Ok, recipient accepted\r\nNEXT";

    (void)state;
    assert_int_equal(parse(s, &r, &used, err), 1);
    assert_int_equal(r.code, 250);
    assert_string_equal(r.enh, "2.1.5");
    assert_string_equal(r.text, "Ok, recipient accepted");
    assert_int_equal(used, strlen(s) - 4);
    assert_int_equal(r.nlines, 1);
    smtpc_reply_summary(&r, sum);
    assert_string_equal(sum, "250 2.1.5 Ok, recipient accepted");

    /* bare code, no text; LF-only ending accepted */
    assert_int_equal(parse("354\n", &r, &used, err), 1);
    assert_int_equal(r.code, 354);
    assert_string_equal(r.text, "");
    assert_int_equal(used, 4);
    smtpc_reply_summary(&r, sum);
    assert_string_equal(sum, "354");
}

static void test_multi_line(void **state)
{
    struct smtpc_reply r;
    size_t used = 0;
    char err[128], sum[SMTPC_SUMMARY];
    const char *s = "550-5.1.1 The email account that you tried to reach\r\n"
                    "550-5.1.1 does not exist.\r\n"
                    "550 5.1.1 Please check it.\r\n";

    (void)state;
    assert_int_equal(parse(s, &r, &used, err), 1);
    assert_int_equal(r.code, 550);
    assert_int_equal(r.nlines, 3);
    assert_string_equal(r.enh, "5.1.1");
    assert_string_equal(r.text, "The email account that you tried to reach\ndoes not exist.\nPlease check it.");
    assert_int_equal(used, strlen(s));
    smtpc_reply_summary(&r, sum);
    assert_string_equal(sum, "550 5.1.1 The email account that you tried to reach does not exist. Please check it.");
}

static void test_incremental(void **state)
{
    const char *s = "250-mx.example.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
    struct smtpc_reply r;
    size_t used = 0;
    char err[128];

    (void)state;
    /* every prefix is "need more", never an error, never a false completion */
    for (size_t n = 0; n < strlen(s); n++)
        assert_int_equal(smtpc_reply_parse(s, n, &r, &used, err, sizeof(err)), 0);
    assert_int_equal(smtpc_reply_parse(s, strlen(s), &r, &used, err, sizeof(err)), 1);
    assert_int_equal(used, strlen(s));
    assert_int_equal(r.nlines, 3);
}

static void test_pipelined_replies(void **state)
{
    const char *s = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 unknown\r\n354 go ahead\r\n";
    const int want[] = { 250, 250, 550, 354 };
    struct smtpc_reply r;
    size_t used, off = 0;
    char err[128];

    (void)state;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(smtpc_reply_parse(s + off, strlen(s + off), &r, &used, err, sizeof(err)), 1);
        assert_int_equal(r.code, want[i]);
        off += used;
    }
    assert_int_equal(off, strlen(s));
}

static void expect_malformed(const char *s, const char *reason_part)
{
    struct smtpc_reply r;
    size_t used = 0;
    char err[128] = "";

    assert_int_equal(smtpc_reply_parse(s, strlen(s), &r, &used, err, sizeof(err)), -1);
    if (!strstr(err, reason_part))
        fail_msg("reply %s: reason \"%s\" lacks \"%s\"", s, err, reason_part);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_malformed("hello\r\n", "three-digit code");
    expect_malformed("25\r\n", "three-digit code");
    expect_malformed("2x0 Ok\r\n", "three-digit code");
    expect_malformed("\r\n", "three-digit code");
    expect_malformed("199 hmm\r\n", "out of range");
    expect_malformed("600 hmm\r\n", "out of range");
    expect_malformed("250_Ok\r\n", "after the code");
    expect_malformed("250-first\r\n251 second\r\n", "line 2: code 251 differs from 250");

    /* a line without end longer than the limit */
    char *big = malloc(SMTPC_MAX_LINE + 10);
    memset(big, 'a', SMTPC_MAX_LINE + 9);
    memcpy(big, "250 ", 4);
    big[SMTPC_MAX_LINE + 9] = '\0';
    expect_malformed(big, "longer than");
    free(big);

    /* too many continuation lines */
    size_t n = (SMTPC_MAX_LINES + 2) * 8 + 1;
    char *many = malloc(n);
    many[0] = '\0';
    for (int i = 0; i < SMTPC_MAX_LINES + 2; i++)
        strcat(many, "250-xx\r\n");
    expect_malformed(many, "more than");
    free(many);
}

static void test_hostile_text(void **state)
{
    /* NUL, ESC and CR in the middle of text do not end or break anything: made harmless */
    const char s[] = "421 4.4.2 bye\0\x1b[31m\rx\r\n";
    struct smtpc_reply r;
    size_t used = 0;
    char err[128];

    (void)state;
    assert_int_equal(smtpc_reply_parse(s, sizeof(s) - 1, &r, &used, err, sizeof(err)), 1);
    assert_int_equal(r.code, 421);
    assert_string_equal(r.text, "bye??[31m?x");
    assert_int_equal(used, sizeof(s) - 1);
}

static void test_enhanced(void **state)
{
    char enh[16];

    (void)state;
    assert_int_equal(smtpc_enh_parse("5.7.1 denied", 12, 5, enh), 6);
    assert_string_equal(enh, "5.7.1");
    assert_int_equal(smtpc_enh_parse("4.123.456", 9, 4, enh), 9);
    assert_string_equal(enh, "4.123.456");
    /* class must match the reply code */
    assert_int_equal(smtpc_enh_parse("5.7.1 denied", 12, 4, enh), 0);
    assert_string_equal(enh, "");
    assert_int_equal(smtpc_enh_parse("5.1234.1 x", 10, 5, enh), 0);
    assert_int_equal(smtpc_enh_parse("5.1.1x", 6, 5, enh), 0);
    assert_int_equal(smtpc_enh_parse("3.1.1 x", 7, 3, enh), 0);
    assert_int_equal(smtpc_enh_parse("5..1 x", 6, 5, enh), 0);

    /* a reply whose "code" does not match its class keeps the text whole */
    struct smtpc_reply r;
    size_t used;
    char err[128];
    assert_int_equal(parse("450 5.1.1 odd\r\n", &r, &used, err), 1);
    assert_string_equal(r.enh, "");
    assert_string_equal(r.text, "5.1.1 odd");
}

static void test_ehlo(void **state)
{
    const char *s = "250-mx.example.com Hello relay.test [127.0.0.1]\r\n"
                    "250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
                    "250-starttls\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-AUTH=PLAIN LOGIN\r\n"
                    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
                    "250 CHUNKING\r\n";
    struct smtpc_reply r;
    struct smtpc_ext ext;
    size_t used;
    char err[128];

    (void)state;
    assert_int_equal(parse(s, &r, &used, err), 1);
    assert_int_equal(smtpc_ehlo_parse(&r, &ext), 0);
    assert_string_equal(ext.domain, "mx.example.com");
    assert_int_equal(ext.flags, SMTPC_EXT_PIPELINING | SMTPC_EXT_SIZE | SMTPC_EXT_STARTTLS |
                                    SMTPC_EXT_AUTH | SMTPC_EXT_ENHANCED | SMTPC_EXT_8BITMIME |
                                    SMTPC_EXT_DSN | SMTPC_EXT_SMTPUTF8 | SMTPC_EXT_CHUNKING);
    assert_int_equal(ext.size_max, 10240000);
    assert_int_equal(ext.auth, SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN | SMTPC_AUTH_CRAM_MD5);

    /* bare SIZE, broken SIZE, a single-line reply */
    assert_int_equal(parse("250-x\r\n250 SIZE\r\n", &r, &used, err), 1);
    smtpc_ehlo_parse(&r, &ext);
    assert_true(ext.flags & SMTPC_EXT_SIZE);
    assert_int_equal(ext.size_max, 0);
    assert_int_equal(parse("250-x\r\n250 SIZE 12ab\r\n", &r, &used, err), 1);
    smtpc_ehlo_parse(&r, &ext);
    assert_false(ext.flags & SMTPC_EXT_SIZE);
    assert_int_equal(parse("250-x\r\n250 SIZE 99999999999999999999999\r\n", &r, &used, err), 1);
    smtpc_ehlo_parse(&r, &ext);
    assert_false(ext.flags & SMTPC_EXT_SIZE);
    assert_int_equal(parse("250 only.name\r\n", &r, &used, err), 1);
    assert_int_equal(smtpc_ehlo_parse(&r, &ext), 0);
    assert_int_equal(ext.flags, 0);
    assert_string_equal(ext.domain, "only.name");
    /* PIPELINING as text of the first line is not a keyword */
    assert_int_equal(parse("250 PIPELINING\r\n", &r, &used, err), 1);
    smtpc_ehlo_parse(&r, &ext);
    assert_int_equal(ext.flags, 0);
    /* a refusal is not parsed */
    assert_int_equal(parse("502 5.5.1 no EHLO\r\n", &r, &used, err), 1);
    assert_int_equal(smtpc_ehlo_parse(&r, &ext), -1);
}

static void test_commands(void **state)
{
    char out[SMTPC_MAX_CMD + 1], err[128];
    struct smtpc_ext ext = { .flags = SMTPC_EXT_8BITMIME | SMTPC_EXT_SMTPUTF8 | SMTPC_EXT_SIZE };

    (void)state;
    assert_int_equal(smtpc_fmt_hello(out, sizeof(out), false, true, "relay.test", err, sizeof(err)), 17);
    assert_string_equal(out, "EHLO relay.test\r\n");
    smtpc_fmt_hello(out, sizeof(out), true, true, "relay.test", err, sizeof(err));
    assert_string_equal(out, "LHLO relay.test\r\n");
    smtpc_fmt_hello(out, sizeof(out), false, false, "relay.test", err, sizeof(err));
    assert_string_equal(out, "HELO relay.test\r\n");
    assert_int_equal(smtpc_fmt_hello(out, sizeof(out), false, true, "a b", err, sizeof(err)), -1);
    assert_int_equal(smtpc_fmt_hello(out, sizeof(out), false, true, "", err, sizeof(err)), -1);

    smtpc_fmt_mail(out, sizeof(out), "a@example.org", ENV_BODY_8BITMIME | ENV_BODY_SMTPUTF8, 1234,
                   &ext, err, sizeof(err));
    assert_string_equal(out, "MAIL FROM:<a@example.org> BODY=8BITMIME SMTPUTF8 SIZE=1234\r\n");
    smtpc_fmt_mail(out, sizeof(out), "", 0, 0, &ext, err, sizeof(err));
    assert_string_equal(out, "MAIL FROM:<>\r\n");
    /* parameters only where the server announced them */
    smtpc_fmt_mail(out, sizeof(out), "a@example.org", ENV_BODY_8BITMIME | ENV_BODY_SMTPUTF8, 1234,
                   NULL, err, sizeof(err));
    assert_string_equal(out, "MAIL FROM:<a@example.org>\r\n");

    /* smuggling attempts */
    assert_int_equal(smtpc_fmt_mail(out, sizeof(out), "a@b>\r\nRCPT TO:<x@y", 0, 0, &ext, err,
                                    sizeof(err)), -1);
    assert_non_null(strstr(err, "forbidden"));
    assert_int_equal(smtpc_fmt_rcpt(out, sizeof(out), "b@c\nDATA", err, sizeof(err)), -1);
    assert_int_equal(smtpc_fmt_rcpt(out, sizeof(out), "b@c>", err, sizeof(err)), -1);
    assert_int_equal(smtpc_fmt_rcpt(out, sizeof(out), "", err, sizeof(err)), -1);
    assert_int_equal(smtpc_fmt_rcpt(out, sizeof(out), "bob@example.com", err, sizeof(err)), 27);
    assert_string_equal(out, "RCPT TO:<bob@example.com>\r\n");

    /* too long for the line */
    char *longaddr = malloc(2000);
    memset(longaddr, 'x', 1999);
    longaddr[1999] = '\0';
    assert_int_equal(smtpc_fmt_rcpt(out, sizeof(out), longaddr, err, sizeof(err)), -1);
    free(longaddr);
}

/* Encodes in, split into chunks of size step, plus the final dot. */
static char *encode(const char *in, size_t n, size_t step, size_t *outlen)
{
    struct smtpc_dot st;
    char *out = malloc(SMTPC_DOT_BOUND(n) + 8);
    size_t o = 0;

    smtpc_dot_init(&st);
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        size_t before = o;
        o += smtpc_dot_encode(&st, in + i, k, out + o);
        assert_true(o - before <= SMTPC_DOT_BOUND(k));
    }
    o += smtpc_dot_finish(&st, out + o);
    out[o] = '\0';
    *outlen = o;
    return out;
}

static void expect_body(const char *in, const char *want)
{
    size_t n = strlen(in);

    /* any split of the input gives the same bytes */
    for (size_t step = 1; step <= n + 1; step++) {
        size_t len;
        char *out = encode(in, n, step, &len);
        if (strcmp(out, want) != 0)
            fail_msg("body %s (chunks of %zu): got [%s] want [%s]", in, step, out, want);
        free(out);
    }
}

/* Issue 18.8: a needed extension the server lacks is a bounce, never a silent downgrade. */
static void test_body_check(void **state)
{
    (void)state;
    struct smtpc_ext none = { 0 }, both = { .flags = SMTPC_EXT_8BITMIME | SMTPC_EXT_SMTPUTF8 };
    struct smtpc_ext eight = { .flags = SMTPC_EXT_8BITMIME };
    char why[200];
    assert_int_equal(smtpc_body_check(ENV_BODY_8BITMIME, &none, why, sizeof(why)), 554);
    assert_string_equal(why, "5.6.3 message has an 8-bit body, the next hop does not offer "
                        "8BITMIME and mailrelayd does not convert");
    assert_int_equal(smtpc_body_check(ENV_BODY_SMTPUTF8, &eight, why, sizeof(why)), 550);
    assert_true(strncmp(why, "5.6.7 ", 6) == 0);
    assert_int_equal(smtpc_body_check(ENV_BODY_SMTPUTF8 | ENV_BODY_8BITMIME, NULL, why, sizeof(why)), 550);
    assert_int_equal(smtpc_body_check(ENV_BODY_8BITMIME, &eight, why, sizeof(why)), 0);
    assert_int_equal(smtpc_body_check(ENV_BODY_SMTPUTF8 | ENV_BODY_8BITMIME, &both, why, sizeof(why)), 0);
    assert_int_equal(smtpc_body_check(0, &none, why, sizeof(why)), 0);
}

static void test_dot_stuffing(void **state)
{
    (void)state;
    expect_body("", ".\r\n");
    expect_body("hello\r\n", "hello\r\n.\r\n");
    expect_body("hello", "hello\r\n.\r\n");                 /* last line completed */
    expect_body(".\r\n", "..\r\n.\r\n");                    /* a lone dot is not the end */
    expect_body(".hidden\r\n..two\r\nmid.dot\r\n", "..hidden\r\n...two\r\nmid.dot\r\n.\r\n");
    expect_body("a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n");
}

static void test_bare_lf_cr(void **state)
{
    (void)state;
    /* bare LF and bare CR become CRLF, so no <LF>.<LF> or <CR>.<CR> leaves the relay */
    expect_body("a\nb\n", "a\r\nb\r\n.\r\n");
    expect_body("a\n.\nb", "a\r\n..\r\nb\r\n.\r\n");
    expect_body("a\r.\rb", "a\r\n..\r\nb\r\n.\r\n");
    expect_body("a\r", "a\r\n.\r\n");
    expect_body("a\r\r\n", "a\r\n\r\n.\r\n");
    expect_body("\n.", "\r\n..\r\n.\r\n");
}

static void test_dot_bound(void **state)
{
    /* the worst case for the bound: every octet expands */
    const char *worst = "\r.\r.\r.\n.\n.";
    struct smtpc_dot st;
    char out[64];

    (void)state;
    smtpc_dot_init(&st);
    size_t o = smtpc_dot_encode(&st, worst, strlen(worst), out);
    assert_true(o <= SMTPC_DOT_BOUND(strlen(worst)));
    /* and with a CR carried from the previous chunk */
    smtpc_dot_init(&st);
    assert_int_equal(smtpc_dot_encode(&st, "\r", 1, out), 0);
    assert_int_equal(smtpc_dot_encode(&st, ".", 1, out), 4);
    assert_memory_equal(out, "\r\n..", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_line),
        cmocka_unit_test(test_multi_line),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_pipelined_replies),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_hostile_text),
        cmocka_unit_test(test_enhanced),
        cmocka_unit_test(test_ehlo),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_body_check),
        cmocka_unit_test(test_dot_stuffing),
        cmocka_unit_test(test_bare_lf_cr),
        cmocka_unit_test(test_dot_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_dsn.c — RFC 3464 reports: parse the builder's output back and check its structure,
 * fields, CRLF discipline, the null-sender rules, and status derivation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dsn.h"

static const char orig_msg[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Subject: hello\n"                       /* a bare LF the builder must repair */
    "Message-ID: <abc@example.org>\r\n"
    "\r\n"
    "secret body text\r\n";

static void make_env(struct envelope *e)
{
    assert_int_equal(envelope_init(e), 0);
    memcpy(e->qid, "0005f3a1c2d4e0001a2b", QUEUE_ID_SIZE);
    e->arrival = 1700000000;     /* Tue, 14 Nov 2023 22:13:20 +0000 */
    e->direction = ENV_INBOUND;
    assert_int_equal(envelope_set(&e->sender, "alice@example.org"), 0);
    assert_int_equal(envelope_add_rcpt(e, "bob@example.com", 0), 0);
    assert_int_equal(envelope_add_rcpt(e, "carol@example.com", 0), 0);
    assert_int_equal(envelope_add_rcpt(e, "dave@example.com", 0), 0);
    e->rcpt[0].state = RCPT_BOUNCED;
    assert_int_equal(envelope_set(&e->rcpt[0].last_reply, "550 5.1.1 <bob@example.com>: no such user"), 0);
    e->rcpt[1].state = RCPT_SENT;
    e->rcpt[2].state = RCPT_BOUNCED;
    assert_int_equal(envelope_set(&e->rcpt[2].last_reply, "554 transaction failed\r\nInjected: x"), 0);
}

/* Value of header name in the block [p, end), or NULL. Copies into out. */
static const char *header(const char *p, const char *end, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);

    while (p < end) {
        const char *eol = strstr(p, "\r\n");

        if (!eol || eol > end || eol == p)
            return NULL;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;

            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(eol - v), v);
            return out;
        }
        p = eol + 2;
    }
    return NULL;
}

static void check_crlf(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            assert_true(i > 0 && s[i - 1] == '\r');
        if (s[i] == '\r')
            assert_true(i + 1 < len && s[i + 1] == '\n');
    }
    assert_true(len >= 2 && s[len - 2] == '\r' && s[len - 1] == '\n');
}

struct parts {
    const char *start[8], *end[8];
    int n;
};

static void split(const char *text, const char *boundary, struct parts *pt)
{
    char delim[128], close_delim[128];
    const char *p = text;

    snprintf(delim, sizeof(delim), "\r\n--%s\r\n", boundary);
    snprintf(close_delim, sizeof(close_delim), "\r\n--%s--\r\n", boundary);
    pt->n = 0;
    while ((p = strstr(p, delim))) {
        const char *body = p + strlen(delim);
        const char *next = strstr(body, delim);
        const char *last = strstr(body, close_delim);

        assert_non_null(last);
        pt->start[pt->n] = body;
        pt->end[pt->n] = next && next < last ? next : last;
        pt->n++;
        p = pt->end[pt->n - 1];
        if (p == last)
            break;
    }
}

static void test_failed_report(void **state)
{
    struct envelope e, be;
    struct dsn_output out;
    struct dsn_input in = { 0 };
    struct parts pt;
    char err[200], v[1200], boundary[100];
    const char *body, *q;

    (void)state;
    make_env(&e);
    in.env = &e;
    in.action = DSN_FAILED;
    in.reporting_mta = "gw.example.net";
    in.now = 1700003600;
    in.rnd = 0x1234abcd;
    in.orig = orig_msg;
    in.orig_len = sizeof(orig_msg) - 1;
    assert_int_equal(dsn_build(&in, &out, err, sizeof(err)), 0);
    assert_int_equal(out.nreported, 2);
    assert_int_equal(out.len, strlen(out.text));
    check_crlf(out.text, out.len);

    body = strstr(out.text, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(header(out.text, body + 2, "Date", v, sizeof(v)));
    assert_string_equal(v, "Tue, 14 Nov 2023 23:13:20 +0000");
    assert_non_null(header(out.text, body + 2, "To", v, sizeof(v)));
    assert_string_equal(v, "<alice@example.org>");
    assert_non_null(header(out.text, body + 2, "From", v, sizeof(v)));
    assert_non_null(strstr(v, "MAILER-DAEMON@gw.example.net"));
    assert_non_null(header(out.text, body + 2, "Message-ID", v, sizeof(v)));
    assert_true(v[0] == '<' && v[strlen(v) - 1] == '>' && strstr(v, "@gw.example.net"));
    assert_non_null(header(out.text, body + 2, "Auto-Submitted", v, sizeof(v)));
    assert_non_null(header(out.text, body + 2, "Content-Type", v, sizeof(v)));
    assert_non_null(strstr(v, "multipart/report; report-type=delivery-status"));
    q = strstr(out.text, "boundary=\"");
    assert_non_null(q);
    snprintf(boundary, sizeof(boundary), "%.*s", (int)strcspn(q + 10, "\""), q + 10);

    split(out.text, boundary, &pt);
    assert_int_equal(pt.n, 3);
    assert_non_null(header(pt.start[0], pt.end[0], "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "text/plain; charset=us-ascii");
    assert_non_null(header(pt.start[1], pt.end[1], "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "message/delivery-status");
    assert_non_null(header(pt.start[2], pt.end[2], "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "text/rfc822-headers");

    /* delivery-status: per-message block, then one block per reported recipient */
    {
        const char *ds = strstr(pt.start[1], "\r\n\r\n") + 4;
        const char *r1 = strstr(ds, "\r\n\r\n") + 4;
        const char *r2 = strstr(r1, "\r\n\r\n") + 4;

        assert_non_null(header(ds, r1, "Reporting-MTA", v, sizeof(v)));
        assert_string_equal(v, "dns; gw.example.net");
        assert_non_null(header(ds, r1, "Arrival-Date", v, sizeof(v)));
        assert_string_equal(v, "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_non_null(header(r1, r2, "Final-Recipient", v, sizeof(v)));
        assert_string_equal(v, "rfc822; bob@example.com");
        assert_non_null(header(r1, r2, "Action", v, sizeof(v)));
        assert_string_equal(v, "failed");
        assert_non_null(header(r1, r2, "Status", v, sizeof(v)));
        assert_string_equal(v, "5.1.1");
        assert_non_null(header(r1, r2, "Diagnostic-Code", v, sizeof(v)));
        assert_string_equal(v, "smtp; 550 5.1.1 <bob@example.com>: no such user");
        assert_non_null(header(r2, pt.end[1] + 2, "Final-Recipient", v, sizeof(v)));
        assert_string_equal(v, "rfc822; dave@example.com");
        assert_non_null(header(r2, pt.end[1] + 2, "Status", v, sizeof(v)));
        assert_string_equal(v, "5.0.0");
        /* the CRLF inside the reply cannot inject a field */
        assert_null(strstr(out.text, "\r\nInjected:"));
    }
    /* carol was delivered: not reported */
    assert_null(strstr(out.text, "carol@"));
    /* original headers quoted, body not, bare LF repaired */
    assert_non_null(strstr(pt.start[2], "Subject: hello\r\nMessage-ID: <abc@example.org>\r\n"));
    assert_null(strstr(out.text, "secret body"));

    /* the envelope it goes out with */
    assert_int_equal(dsn_bounce_envelope(&e, &out, "0005f3a1c2d4e0002fff", 1700003600, &be), 0);
    assert_string_equal(be.sender, "");
    assert_int_equal(be.nrcpt, 1);
    assert_string_equal(be.rcpt[0].addr, "alice@example.org");
    assert_int_equal(be.direction, ENV_OUTBOUND);
    assert_int_equal(be.size, out.len);
    /* and a bounce is never bounced */
    assert_false(dsn_should_bounce(&be));
    assert_true(dsn_should_bounce(&e));
    be.rcpt[0].state = RCPT_BOUNCED;
    in.env = &be;
    {
        struct dsn_output again;

        assert_int_equal(dsn_build(&in, &again, err, sizeof(err)), -1);
    }
    assert_non_null(strstr(err, "never bounce"));

    envelope_free(&be);
    envelope_free(&e);
    free(out.text);
}

static void test_delayed_and_select(void **state)
{
    struct envelope e;
    struct dsn_output out;
    struct dsn_input in = { 0 };
    bool sel[3] = { false, true, false };
    char err[200];

    (void)state;
    make_env(&e);
    e.rcpt[1].state = RCPT_PENDING;
    assert_int_equal(envelope_set(&e.rcpt[1].last_reply, "421 4.4.2 timeout"), 0);
    in.env = &e;
    in.action = DSN_DELAYED;
    in.reporting_mta = "gw";
    in.now = 1700100000;
    in.retry_until = 1700432000;
    assert_int_equal(dsn_build(&in, &out, err, sizeof(err)), 0);
    assert_int_equal(out.nreported, 1);
    assert_non_null(strstr(out.text, "Action: delayed\r\nStatus: 4.4.2\r\n"));
    assert_non_null(strstr(out.text, "Will-Retry-Until: "));
    assert_non_null(strstr(out.text, "Subject: Delayed Mail"));
    /* no headers given: the part is empty but present */
    assert_non_null(strstr(out.text, "Content-Type: text/rfc822-headers\r\n\r\n"));
    free(out.text);

    in.action = DSN_FAILED;
    in.select = sel;          /* selects carol, who is pending: nothing to report */
    assert_int_equal(dsn_build(&in, &out, err, sizeof(err)), -1);
    sel[0] = true;
    assert_int_equal(dsn_build(&in, &out, err, sizeof(err)), 0);
    assert_int_equal(out.nreported, 1);
    assert_null(strstr(out.text, "dave@"));
    free(out.text);
    envelope_free(&e);
}

static void test_status_and_headers(void **state)
{
    char s[16];
    const char big[] = "A: 1\r\nB: 2\r\nC: 3\r\n\r\nbody";

    (void)state;
    dsn_status("550 5.7.1 relaying denied", DSN_FAILED, s);
    assert_string_equal(s, "5.7.1");
    dsn_status("550 4.7.1 class mismatch", DSN_FAILED, s);
    assert_string_equal(s, "5.0.0");
    dsn_status("452-4.3.1 full", DSN_DELAYED, s);
    assert_string_equal(s, "4.3.1");
    dsn_status("connection refused", DSN_DELAYED, s);
    assert_string_equal(s, "4.0.0");
    dsn_status("", DSN_FAILED, s);
    assert_string_equal(s, "5.0.0");
    dsn_status("550 5.1.1234 too long", DSN_FAILED, s);
    assert_string_equal(s, "5.0.0");
    assert_int_equal(dsn_header_block_len(big, sizeof(big) - 1, 1000), 20);
    assert_int_equal(dsn_header_block_len(big, sizeof(big) - 1, 13), 12);  /* whole lines */
    assert_int_equal(dsn_header_block_len(big, sizeof(big) - 1, 3), 0);
}

static void test_8bit_and_bound(void **state)
{
    struct envelope e;
    struct dsn_output out;
    struct dsn_input in = { 0 };
    char err[200], *hdrs;
    size_t n = 0;

    (void)state;
    make_env(&e);
    hdrs = malloc(40 * 1024);
    while (n < 39 * 1024)
        n += (size_t)sprintf(hdrs + n, "X-Filler: \xc3\xa4%05zu\r\n", n);
    in.env = &e;
    in.reporting_mta = "gw";
    in.orig = hdrs;
    in.orig_len = n;
    assert_int_equal(dsn_build(&in, &out, err, sizeof(err)), 0);
    assert_int_equal(out.body_flags, ENV_BODY_8BITMIME);
    assert_non_null(strstr(out.text, "Content-Transfer-Encoding: 8bit"));
    assert_true(out.len < DSN_MAX_HEADERS + 4096);
    check_crlf(out.text, out.len);
    free(out.text);
    free(hdrs);
    envelope_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_report),
        cmocka_unit_test(test_delayed_and_select),
        cmocka_unit_test(test_status_and_headers),
        cmocka_unit_test(test_8bit_and_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_smtp_session.c — unit tests for mailrelay/smtp/smtp_session.c driven through its public
 * API with an in-memory store: full transaction, pipelining, sequence errors, STARTTLS
 * (pipelined input discarded, state reset), limits (recipients, size, errors, commands),
 * relay policy, RSET, asynchronous commit, store failures, smuggling through DATA, timeouts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "smtp_session.h"

/* ---- in-memory store -------------------------------------------------------------------- */

struct tstore {
    int seq;
    int begun, committed, aborted, writes;
    enum smtp_store_result begin_r, write_r, commit_r;
    int fail_write_after;       /* writes before write_r applies; -1 = never */
    char from[300];
    char rcpts[8][300];
    size_t nrcpts;
    bool tls, smtputf8;
    char body[100000];
    size_t bodylen;
    void *pending;              /* handle of a PENDING commit */
    int handle;
};

static enum smtp_store_result t_begin(void *ctx, const struct smtp_envelope *env, char *qid,
                                      size_t qs, void **msg)
{
    struct tstore *t = ctx;
    if (t->begin_r != SMTP_STORE_OK)
        return t->begin_r;
    t->begun++;
    snprintf(qid, qs, "Q%d", ++t->seq);
    snprintf(t->from, sizeof(t->from), "%s", env->mail_from);
    t->nrcpts = env->nrcpts;
    for (size_t i = 0; i < env->nrcpts && i < 8; i++)
        snprintf(t->rcpts[i], sizeof(t->rcpts[i]), "%s", env->rcpts[i]);
    t->tls = env->tls;
    t->smtputf8 = env->smtputf8;
    t->bodylen = 0;
    *msg = &t->handle;
    return SMTP_STORE_OK;
}

static enum smtp_store_result t_write(void *ctx, void *msg, const char *p, size_t n)
{
    struct tstore *t = ctx;
    assert_ptr_equal(msg, &t->handle);
    if (t->fail_write_after >= 0 && t->writes >= t->fail_write_after)
        return t->write_r;
    t->writes++;
    assert_true(t->bodylen + n < sizeof(t->body));
    memcpy(t->body + t->bodylen, p, n);
    t->bodylen += n;
    t->body[t->bodylen] = '\0';
    return SMTP_STORE_OK;
}

static enum smtp_store_result t_commit(void *ctx, void *msg)
{
    struct tstore *t = ctx;
    assert_ptr_equal(msg, &t->handle);
    if (t->commit_r == SMTP_STORE_PENDING)
        t->pending = msg;
    else if (t->commit_r == SMTP_STORE_OK)
        t->committed++;
    return t->commit_r;
}

static void t_abort(void *ctx, void *msg)
{
    struct tstore *t = ctx;
    assert_ptr_equal(msg, &t->handle);
    t->aborted++;
}

static time_t t_now(void *ctx)
{
    (void)ctx;
    return 1700000000;  /* Tue, 14 Nov 2023 22:13:20 UTC */
}

static enum smtp_verdict t_client(void *ctx, const char *addr)
{
    (void)ctx;
    return strcmp(addr, "198.51.100.66") == 0 ? SMTP_REJECT_CLIENT : SMTP_ACCEPT;
}

static const char *const domains[] = { "example.com", "Example.ORG" };
static const char *const users[] = { "alice@example.org", "bob@example.org" };

/* example.com takes anyone; example.org only alice and bob. */
static enum smtp_verdict t_rcpt(void *ctx, const char *addr)
{
    (void)ctx;
    struct smtp_policy_domains com = { domains, 1, NULL, 0 };
    struct smtp_policy_domains org = { domains + 1, 1, users, 2 };
    enum smtp_verdict v = smtp_policy_domains(&com, addr);
    return v == SMTP_ACCEPT ? v : smtp_policy_domains(&org, addr);
}

/* ---- fixture ---------------------------------------------------------------------------- */

struct fx {
    struct smtp_config cfg;
    struct smtp_callbacks cb;
    struct tstore st;
    struct smtp_session *s;
    char out[65536];
};

static void fx_open(struct fx *f, const char *client)
{
    f->s = smtp_session_new(&f->cfg, &f->cb, client, false);
    assert_non_null(f->s);
    smtp_session_start(f->s);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    smtp_config_defaults(&f->cfg);
    f->cfg.hostname = "mx.example.com";
    f->cfg.tls_available = true;
    f->st.fail_write_after = -1;
    f->cb = (struct smtp_callbacks){
        .policy_ctx = NULL, .client_allowed = t_client, .rcpt_allowed = t_rcpt,
        .store_ctx = &f->st, .msg_begin = t_begin, .msg_write = t_write,
        .msg_commit = t_commit, .msg_abort = t_abort, .now = t_now,
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    smtp_session_free(f->s);
    free(f);
    return 0;
}

/* Takes all queued output as a string. */
static const char *out(struct fx *f)
{
    size_t n;
    const char *p = smtp_session_output(f->s, &n);
    assert_true(n < sizeof(f->out));
    memcpy(f->out, p ? p : "", n);
    f->out[n] = '\0';
    smtp_session_output_consume(f->s, n);
    return f->out;
}

/* Feeds text (all of it must be used) and returns the replies. */
static const char *say(struct fx *f, const char *text)
{
    size_t n = strlen(text);
    assert_int_equal(smtp_session_input(f->s, text, n), n);
    return out(f);
}

static void expect(const char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        fail_msg("got:\n%s\nwant:\n%s", got, want);
}

static void expect_prefix(const char *got, const char *want)
{
    if (strncmp(got, want, strlen(want)) != 0)
        fail_msg("got:\n%s\nwant prefix:\n%s", got, want);
}

static void ready(struct fx *f)
{
    fx_open(f, "192.0.2.10");
    expect(out(f), "220 mx.example.com ESMTP mailrelayd\r\n");
    expect_prefix(say(f, "EHLO client.example.net\r\n"), "250-mx.example.com Hello");
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_full_transaction(void **state)
{
    struct fx *f = *state;
    fx_open(f, "192.0.2.10");
    expect(out(f), "220 mx.example.com ESMTP mailrelayd\r\n");
    expect(say(f, "EHLO client.example.net\r\n"),
           "250-mx.example.com Hello client.example.net [192.0.2.10]\r\n"
           "250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
           "250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n");
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_READY);
    expect(say(f, "MAIL FROM:<sender@example.net> BODY=8BITMIME\r\n"),
           "250 2.1.0 Sender <sender@example.net> ok\r\n");
    expect(say(f, "RCPT TO:<u@example.com>\r\n"), "250 2.1.5 Recipient <u@example.com> ok\r\n");
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_RCPT);
    expect(say(f, "DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_DATA);
    assert_string_equal(smtp_session_qid(f->s), "Q1");
    expect(say(f, "Subject: hi\r\n\r\n..dot\r\n.\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
    assert_int_equal(f->st.committed, 1);
    assert_int_equal(f->st.aborted, 0);
    assert_string_equal(f->st.from, "sender@example.net");
    assert_int_equal(f->st.nrcpts, 1);
    assert_string_equal(f->st.rcpts[0], "u@example.com");

    /* Received: first, then the unstuffed body. */
    const char *b = f->st.body;
    expect_prefix(b, "Received: from client.example.net ([192.0.2.10])\r\n\tby mx.example.com "
                     "(mailrelayd) with ESMTP id Q1\r\n\tfor <u@example.com>;\r\n\t");
    assert_non_null(strstr(b, "Nov 2023"));
    const char *body = strstr(b, "\r\n\r\n");
    assert_non_null(body);
    const char *hdr_end = strstr(b, "Subject:");
    assert_non_null(hdr_end);
    assert_string_equal(hdr_end, "Subject: hi\r\n\r\n.dot\r\n");

    expect(say(f, "QUIT\r\n"), "221 2.0.0 Bye\r\n");
    assert_int_equal(smtp_session_actions(f->s), SMTP_ACT_CLOSE);
    /* Whatever comes after QUIT is ignored. */
    expect(say(f, "NOOP\r\n"), "");
}

static void test_pipelining(void **state)
{
    struct fx *f = *state;
    ready(f);
    expect(say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\n"
                  "RCPT TO:<b@example.com>\r\nDATA\r\n"),
           "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
           "250 2.1.5 Recipient <b@example.com> ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
    expect(say(f, "body\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<c@example.com>\r\nRSET\r\nQUIT\r\n"),
           "250 2.0.0 Ok: queued as Q1\r\n250 2.1.0 Sender <> ok\r\n"
           "250 2.1.5 Recipient <c@example.com> ok\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n");
    assert_int_equal(f->st.nrcpts, 2);
    /* Two recipients: no "for" clause. */
    assert_null(strstr(f->st.body, "\tfor <"));
}

static void test_byte_by_byte(void **state)
{
    struct fx *f = *state;
    ready(f);
    const char *conv = "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n"
                       "x\r\n..\r\n.\r\nQUIT\r\n";
    char all[1024] = "";
    for (size_t i = 0; conv[i]; i++) {
        assert_int_equal(smtp_session_input(f->s, conv + i, 1), 1);
        strcat(all, out(f));
    }
    expect(all, "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
                "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as Q1\r\n"
                "221 2.0.0 Bye\r\n");
    assert_non_null(strstr(f->st.body, "\r\nx\r\n.\r\n"));
}

static void test_out_of_order(void **state)
{
    struct fx *f = *state;
    fx_open(f, "192.0.2.10");
    out(f);
    expect(say(f, "MAIL FROM:<s@example.net>\r\n"), "503 5.5.1 Send EHLO/HELO first\r\n");
    expect(say(f, "DATA\r\n"), "503 5.5.1 Send EHLO/HELO first\r\n");
    say(f, "EHLO c.example\r\n");
    expect(say(f, "RCPT TO:<a@example.com>\r\n"),
           "503 5.5.1 Bad sequence of commands: need MAIL first\r\n");
    expect(say(f, "DATA\r\n"), "503 5.5.1 Bad sequence of commands: need RCPT first\r\n");
    say(f, "MAIL FROM:<s@example.net>\r\n");
    expect(say(f, "MAIL FROM:<s@example.net>\r\n"), "503 5.5.1 Nested MAIL command\r\n");
    expect(say(f, "DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
    expect(say(f, "FOO\r\n"), "500 5.5.1 Command unrecognized\r\n");
    expect(say(f, "RCPT TO:<a@example.com> NOTIFY=NEVER\r\n"),
           "555 5.5.4 RCPT parameters are not supported\r\n");
    expect(say(f, "RCPT TO:<a..b@example.com>\r\n"),
           "501 5.1.3 Bad address syntax: empty atom in local part (leading or double dot)\r\n");
    expect(say(f, "RCPT TO:<j\xc3\xb6rg@example.com>\r\n"),
           "553 5.6.7 non-ASCII address without SMTPUTF8\r\n");
    expect(say(f, "VRFY bob\r\n"),
           "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
    expect(say(f, "EXPN list\r\n"), "502 5.5.1 EXPN not implemented\r\n");
    expect_prefix(say(f, "HELP\r\n"), "214 2.0.0 ");
    expect(say(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
    expect(say(f, "RSET now\r\n"), "501 5.5.4 Syntax error: no parameters allowed\r\n");
    /* EHLO in a transaction resets it. */
    expect_prefix(say(f, "EHLO c.example\r\n"), "250-");
    expect(say(f, "RCPT TO:<a@example.com>\r\n"),
           "503 5.5.1 Bad sequence of commands: need MAIL first\r\n");
}

static void test_smtputf8_transaction(void **state)
{
    struct fx *f = *state;
    ready(f);
    expect(say(f, "MAIL FROM:<j\xc3\xb6rg@example.net> SMTPUTF8\r\n"),
           "250 2.1.0 Sender <j\xc3\xb6rg@example.net> ok\r\n");
    expect(say(f, "RCPT TO:<\xc3\xbc@example.com>\r\nDATA\r\nx\r\n.\r\n"),
           "250 2.1.5 Recipient <\xc3\xbc@example.com> ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
           "250 2.0.0 Ok: queued as Q1\r\n");
    assert_true(f->st.smtputf8);
    assert_non_null(strstr(f->st.body, "with UTF8SMTP id Q1"));
}

static void test_starttls_discards_pipelined(void **state)
{
    struct fx *f = *state;
    ready(f);
    const char *evil = "STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<a@example.com>\r\n";
    assert_int_equal(smtp_session_input(f->s, evil, strlen(evil)), strlen(evil));
    expect(out(f), "220 2.0.0 Ready to start TLS\r\n");
    assert_int_equal(smtp_session_actions(f->s), SMTP_ACT_START_TLS);
    assert_int_equal(smtp_session_timeout_ms(f->s), 0);
    /* Still clear text before the handshake: ignored too. */
    expect(say(f, "RSET\r\n"), "");
    smtp_session_tls_started(f->s);
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_GREETING);
    assert_int_equal(smtp_session_actions(f->s), SMTP_ACT_NONE);
    /* The injected MAIL did not survive and EHLO is required again. */
    expect(say(f, "MAIL FROM:<s@example.net>\r\n"), "503 5.5.1 Send EHLO/HELO first\r\n");
    const char *ehlo = say(f, "EHLO c.example\r\n");
    assert_null(strstr(ehlo, "STARTTLS"));
    assert_non_null(strstr(ehlo, "250 ENHANCEDSTATUSCODES\r\n"));
    expect(say(f, "STARTTLS\r\n"), "503 5.5.1 TLS already active\r\n");
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\nx\r\n.\r\n");
    assert_int_equal(f->st.committed, 1);
    assert_true(f->st.tls);
    assert_non_null(strstr(f->st.body, "with ESMTPS id"));
}

static void test_starttls_refused(void **state)
{
    struct fx *f = *state;
    f->cfg.tls_available = false;
    ready(f);
    expect(say(f, "STARTTLS\r\n"), "502 5.5.1 STARTTLS not available\r\n");
    f->cfg.tls_available = true;
    say(f, "MAIL FROM:<s@example.net>\r\n");
    expect(say(f, "STARTTLS\r\n"), "503 5.5.1 STARTTLS not allowed within a transaction\r\n");
    /* A partial line before STARTTLS must not be glued to the first line after TLS. */
    say(f, "RSET\r\n");
    assert_int_equal(smtp_session_input(f->s, "STARTTLS\r\nNO", 12), 12);
    smtp_session_tls_started(f->s);
    out(f);
    expect(say(f, "OP\r\n"), "500 5.5.1 Command unrecognized\r\n");
}

static void test_too_many_recipients(void **state)
{
    struct fx *f = *state;
    f->cfg.max_rcpts = 2;
    ready(f);
    expect(say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                  "RCPT TO:<c@example.com>\r\nRCPT TO:<a@example.com>\r\n"),
           "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
           "250 2.1.5 Recipient <b@example.com> ok\r\n452 4.5.3 Too many recipients\r\n"
           "452 4.5.3 Too many recipients\r\n");
    say(f, "DATA\r\nx\r\n.\r\n");
    assert_int_equal(f->st.nrcpts, 2);
}

static void test_duplicate_recipient(void **state)
{
    struct fx *f = *state;
    ready(f);
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nRCPT TO:<a@example.com>\r\n"
           "DATA\r\nx\r\n.\r\n");
    assert_int_equal(f->st.committed, 1);
    assert_int_equal(f->st.nrcpts, 1);
}

static void test_oversize(void **state)
{
    struct fx *f = *state;
    f->cfg.max_size = 20;
    ready(f);
    expect(say(f, "MAIL FROM:<s@example.net> SIZE=21\r\n"),
           "552 5.3.4 Message size exceeds fixed maximum of 20 bytes\r\n");
    expect(say(f, "MAIL FROM:<s@example.net> SIZE=20\r\nRCPT TO:<a@example.com>\r\nDATA\r\n"
                  "0123456789\r\n0123456789\r\n.\r\n"),
           "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n"
           "552 5.3.4 Message size exceeds fixed maximum of 20 bytes\r\n");
    assert_int_equal(f->st.committed, 0);
    assert_int_equal(f->st.aborted, 1);
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_READY);
    /* Exactly at the limit is fine. */
    expect(say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n"
                  "012345678\r\n0123456\r\n.\r\n"),
           "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as Q2\r\n");
}

static void test_error_limit(void **state)
{
    struct fx *f = *state;
    f->cfg.max_errors = 3;
    ready(f);
    expect(say(f, "FOO\r\nBAR\r\n"),
           "500 5.5.1 Command unrecognized\r\n500 5.5.1 Command unrecognized\r\n");
    assert_int_equal(smtp_session_actions(f->s), SMTP_ACT_NONE);
    expect(say(f, "BAZ\r\nNOOP\r\n"),
           "500 5.5.1 Command unrecognized\r\n"
           "421 4.7.0 mx.example.com Too many errors, closing connection\r\n");
    assert_int_equal(smtp_session_actions(f->s), SMTP_ACT_CLOSE);
}

static void test_command_limit(void **state)
{
    struct fx *f = *state;
    f->cfg.max_commands = 3;
    ready(f);   /* EHLO is command 1 */
    expect(say(f, "NOOP\r\nNOOP\r\nNOOP\r\n"),
           "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
           "421 4.7.0 mx.example.com Too many commands, closing connection\r\n");
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_QUIT);
}

static void test_relay_policy(void **state)
{
    struct fx *f = *state;
    ready(f);
    say(f, "MAIL FROM:<s@example.net>\r\n");
    expect(say(f, "RCPT TO:<victim@elsewhere.example>\r\n"),
           "554 5.7.1 <victim@elsewhere.example>: Relay access denied\r\n");
    expect(say(f, "RCPT TO:<a@example.com.evil.example>\r\n"),
           "554 5.7.1 <a@example.com.evil.example>: Relay access denied\r\n");
    expect(say(f, "RCPT TO:<a@[192.0.2.1]>\r\n"), "554 5.7.1 <a@[192.0.2.1]>: Relay access denied\r\n");
    expect(say(f, "RCPT TO:<carol@example.org>\r\n"),
           "550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown\r\n");
    expect(say(f, "RCPT TO:<Alice@EXAMPLE.org>\r\n"), "250 2.1.5 Recipient <Alice@EXAMPLE.org> ok\r\n");
    expect(say(f, "RCPT TO:<x@EXAMPLE.COM>\r\n"), "250 2.1.5 Recipient <x@EXAMPLE.COM> ok\r\n");
    expect(say(f, "RCPT TO:<Postmaster>\r\n"), "250 2.1.5 Recipient <Postmaster> ok\r\n");
    /* Source routes are ignored: the relay check sees only the final mailbox. */
    expect(say(f, "RCPT TO:<@example.com:v@elsewhere.example>\r\n"),
           "554 5.7.1 <v@elsewhere.example>: Relay access denied\r\n");
}

/* Issue 18.1: a local part that routes ('%', '!', '@', quoted or not) is refused on the fixed
 * address even for a domain that takes anyone: the inside server would relay it. */
static void test_address_routing_refused(void **state)
{
    static const char *const routed[] = {
        "victim%target.example@example.com", "target.example!victim@example.com",
        "\"victim@target.example\"@example.com", "\"victim%target.example\"@example.com",
        "\"target.example!victim\"@example.com", "a%b@Example.ORG", "\"alice@example.org\"@example.org",
    };
    struct fx *f = *state;
    char cmd[400], want[400];
    ready(f);
    say(f, "MAIL FROM:<s@example.net>\r\n");
    for (size_t i = 0; i < sizeof(routed) / sizeof(routed[0]); i++) {
        snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", routed[i]);
        snprintf(want, sizeof(want), "554 5.7.1 <%s>: Relay access denied: '%%', '!' and '@' "
                 "are not allowed in the local part\r\n", routed[i]);
        expect(say(f, cmd), want);
    }
    /* negative control: the same domain still takes plain local parts */
    expect(say(f, "RCPT TO:<victim.target@example.com>\r\n"),
           "250 2.1.5 Recipient <victim.target@example.com> ok\r\n");
}

/* Sends one message whose header block holds n Received: lines (folded, mixed case, one in
 * the obsolete "Received :" form) plus one in the body; returns the reply to the end marker. */
static const char *send_hops(struct fx *f, int n)
{
    char *msg = malloc((size_t)n * 120 + 200), *p = msg;
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s from h%d.example ([192.0.2.%d])\r\n\tby mx.example; Tue, 14 Nov 2023 "
                     "22:13:20 +0000\r\n", i == 7 ? "Received :" : i % 2 ? "RECEIVED:" : "Received:",
                     i, i % 250);
    p += sprintf(p, "Subject: loop\r\n\r\nReceived: in the body does not count\r\n.\r\n");
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n");
    const char *r = say(f, msg);
    free(msg);
    return r;
}

/* Issue 18.6: a mail loop ends here. More than SMTP_MAX_HOPS Received: headers: 554 5.4.6,
 * nothing committed; exactly SMTP_MAX_HOPS still passes (negative control). */
static void test_hop_limit(void **state)
{
    struct fx *f = *state;
    ready(f);
    expect(send_hops(f, SMTP_MAX_HOPS), "250 2.0.0 Ok: queued as Q1\r\n");
    assert_int_equal(f->st.committed, 1);
    char want[200];
    snprintf(want, sizeof(want), "554 5.4.6 Too many hops: %d Received: headers (limit %d), "
             "a mail loop?\r\n", SMTP_MAX_HOPS + 1, SMTP_MAX_HOPS);
    expect(send_hops(f, SMTP_MAX_HOPS + 1), want);
    assert_int_equal(f->st.committed, 1);
    assert_int_equal(f->st.aborted, 1);
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_READY);
    expect(send_hops(f, 300), "554 5.4.6 Too many hops: 300 Received: headers (limit 100), "
           "a mail loop?\r\n");
}

static void test_no_policy_is_closed(void **state)
{
    struct fx *f = *state;
    f->cb.rcpt_allowed = NULL;
    ready(f);
    say(f, "MAIL FROM:<s@example.net>\r\n");
    expect(say(f, "RCPT TO:<a@example.com>\r\n"), "554 5.7.1 <a@example.com>: Relay access denied\r\n");
}

static void test_client_refused(void **state)
{
    struct fx *f = *state;
    fx_open(f, "198.51.100.66");
    expect(out(f), "554 5.7.1 mx.example.com Access denied\r\n");
    assert_int_equal(smtp_session_actions(f->s), SMTP_ACT_CLOSE);
    expect(say(f, "EHLO x.example\r\n"), "");
}

static void test_rset(void **state)
{
    struct fx *f = *state;
    ready(f);
    expect(say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nRSET\r\n"
                  "RCPT TO:<a@example.com>\r\n"),
           "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
           "250 2.0.0 Ok\r\n503 5.5.1 Bad sequence of commands: need MAIL first\r\n");
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_READY);
    say(f, "MAIL FROM:<t@example.net>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\n");
    assert_string_equal(f->st.from, "t@example.net");
    assert_int_equal(f->st.nrcpts, 1);
    assert_string_equal(f->st.rcpts[0], "b@example.com");
}

static void test_async_commit(void **state)
{
    struct fx *f = *state;
    f->st.commit_r = SMTP_STORE_PENDING;
    ready(f);
    const char *in = "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\nx\r\n.\r\n"
                     "QUIT\r\n";
    size_t used = smtp_session_input(f->s, in, strlen(in));
    assert_int_equal(used, strlen(in) - 6);     /* QUIT waits for the commit */
    const char *o = out(f);
    assert_null(strstr(o, "250 2.0.0"));
    assert_non_null(strstr(o, "354 "));
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_COMMIT);
    assert_int_equal(smtp_session_actions(f->s), SMTP_ACT_WAIT);
    assert_non_null(f->st.pending);
    /* Feeding while waiting uses nothing. */
    assert_int_equal(smtp_session_input(f->s, in + used, strlen(in) - used), 0);
    expect(out(f), "");
    smtp_session_commit_done(f->s, SMTP_STORE_OK);
    expect(out(f), "250 2.0.0 Ok: queued as Q1\r\n");
    assert_int_equal(f->st.aborted, 0);
    expect(say(f, in + used), "221 2.0.0 Bye\r\n");
    /* A late duplicate commit_done is ignored. */
    smtp_session_commit_done(f->s, SMTP_STORE_OK);
    expect(out(f), "");
}

/* Issue 18.7: timeout_data_term is armed while the commit runs (default 10 min, RFC 5321
 * 4.5.3.2.6): a hung disk answers 451 and ends the session instead of holding it for ever.
 * The store keeps the message (it may still complete: a duplicate, never a loss). */
static void test_commit_timeout(void **state)
{
    struct fx *f = *state;
    f->st.commit_r = SMTP_STORE_PENDING;
    ready(f);
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\nx\r\n.\r\n");
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_COMMIT);
    assert_int_equal(smtp_session_timeout_ms(f->s), 600000);
    smtp_session_timeout(f->s);
    expect(out(f), "451 4.3.0 mx.example.com Timeout writing the message to disk, try again "
           "later\r\n");
    assert_int_equal(smtp_session_actions(f->s), SMTP_ACT_CLOSE);
    assert_int_equal(f->st.aborted, 0);
    /* the late result says nothing more: the client already has its 451 */
    smtp_session_commit_done(f->s, SMTP_STORE_OK);
    expect(out(f), "");
}

static void test_async_commit_fails(void **state)
{
    struct fx *f = *state;
    f->st.commit_r = SMTP_STORE_PENDING;
    ready(f);
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\nx\r\n.\r\n");
    smtp_session_commit_done(f->s, SMTP_STORE_TEMPFAIL);
    expect(out(f), "451 4.3.0 Temporary failure storing the message, try again later\r\n");
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_READY);
}

static void test_store_failures(void **state)
{
    struct fx *f = *state;
    ready(f);
    /* Disk full at commit. */
    f->st.commit_r = SMTP_STORE_NOSPACE;
    expect(say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\nx\r\n.\r\n"),
           "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n"
           "452 4.3.1 Insufficient system storage, try again later\r\n");
    /* Disk full when opening: no 354, so the client never sends the body. */
    f->st.commit_r = SMTP_STORE_OK;
    f->st.begin_r = SMTP_STORE_NOSPACE;
    expect(say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n"),
           "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
           "452 4.3.1 Insufficient system storage, try again later\r\n");
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_READY);
    /* Write fails in the middle of the body: rest read, message aborted, 451. */
    f->st.begin_r = SMTP_STORE_OK;
    f->st.fail_write_after = f->st.writes + 1;     /* the Received: header gets through */
    f->st.write_r = SMTP_STORE_TEMPFAIL;
    int aborted = f->st.aborted;
    expect(say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n"),
           "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n"
           "451 4.3.0 Temporary failure storing the message, try again later\r\n250 2.0.0 Ok\r\n");
    assert_int_equal(f->st.aborted, aborted + 1);
    assert_int_equal(f->st.committed, 0);
}

static void test_smuggling_through_data(void **state)
{
    struct fx *f = *state;
    ready(f);
    const char *in = "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n"
                     "Subject: hi\r\n\r\nhello\n.\nMAIL FROM:<admin@example.com>\r\n"
                     "RCPT TO:<b@example.com>\r\nDATA\r\nForged\r\n.\r\n";
    expect(say(f, in),
           "250 2.1.0 Sender <s@example.net> ok\r\n250 2.1.5 Recipient <a@example.com> ok\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n"
           "554 5.6.0 Message refused: bare LF in message (CRLF line ends only)\r\n");
    assert_int_equal(f->st.committed, 0);
    assert_int_equal(f->st.aborted, 1);
    assert_int_equal(smtp_session_state(f->s), SMTP_ST_READY);
    /* And with bare CR */
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n");
    expect(say(f, "x\r.\rRSET\r\n.\r\n"),
           "554 5.6.0 Message refused: bare CR in message (CRLF line ends only)\r\n");
}

static void test_bad_lines_in_commands(void **state)
{
    struct fx *f = *state;
    ready(f);
    expect(say(f, "NO\rOP\r\n"), "500 5.5.2 Bare CR in command refused: lines must end with CRLF\r\n");
    expect(say(f, "NOOP\nNOOP\r\n"),
           "500 5.5.2 Bare LF in command refused: lines must end with CRLF\r\n250 2.0.0 Ok\r\n");
    char line[1100];
    memset(line, 'A', 999);
    strcpy(line + 999, "\r\nNOOP\r\n");
    expect(say(f, line), "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n");
    memcpy(line, "NOOP ", 5);
    strcpy(line + 998, "\r\n");     /* exactly 1000 octets with CRLF */
    expect(say(f, line), "250 2.0.0 Ok\r\n");
}

static void test_long_line_in_data(void **state)
{
    struct fx *f = *state;
    ready(f);
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n");
    char line[1100];
    memset(line, 'x', 999);
    strcpy(line + 999, "\r\n.\r\n");
    expect(say(f, line), "554 5.6.0 Message refused: line longer than 1000 octets in message "
                         "(CRLF line ends only)\r\n");
    assert_int_equal(f->st.aborted, 1);
}

static void test_timeout(void **state)
{
    struct fx *f = *state;
    ready(f);
    assert_int_equal(smtp_session_timeout_ms(f->s), 300000);
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\npartial body\r\n");
    smtp_session_timeout(f->s);
    expect(out(f), "421 4.4.2 mx.example.com Timeout exceeded, closing connection\r\n");
    assert_int_equal(f->st.aborted, 1);
    assert_int_equal(smtp_session_actions(f->s), SMTP_ACT_CLOSE);
}

static void test_free_in_data_aborts(void **state)
{
    struct fx *f = *state;
    ready(f);
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\npartial");
    smtp_session_free(f->s);
    f->s = NULL;
    assert_int_equal(f->st.aborted, 1);
}

static void test_helo_not_esmtp(void **state)
{
    struct fx *f = *state;
    fx_open(f, "2001:db8::25");
    out(f);
    expect(say(f, "HELO old.example\r\n"), "250 mx.example.com\r\n");
    expect(say(f, "MAIL FROM:<s@example.net> SIZE=10\r\n"), "555 5.5.4 MAIL parameters need EHLO\r\n");
    say(f, "MAIL FROM:<s@example.net>\r\nRCPT TO:<a@example.com>\r\nDATA\r\nx\r\n.\r\n");
    expect_prefix(f->st.body, "Received: from old.example ([IPv6:2001:db8::25])\r\n\tby "
                              "mx.example.com (mailrelayd) with SMTP id Q1");
}

static void test_backpressure(void **state)
{
    struct fx *f = *state;
    ready(f);
    /* 5000 pipelined NOOPs: the session stops reading while replies pile up. */
    size_t n = 5000 * 6;
    char *in = malloc(n + 1);
    for (size_t i = 0; i < 5000; i++)
        memcpy(in + i * 6, "NOOP\r\n", 6);
    in[n] = '\0';
    size_t used = smtp_session_input(f->s, in, n);
    assert_true(used < n);
    assert_true(smtp_session_actions(f->s) & SMTP_ACT_DRAIN);
    size_t total = used, replies = 0;
    while (total < n) {
        const char *o = out(f);
        for (const char *p = o; (p = strstr(p, "250 2.0.0 Ok\r\n")); p++)
            replies++;
        total += smtp_session_input(f->s, in + total, n - total);
    }
    const char *o = out(f);
    for (const char *p = o; (p = strstr(p, "250 2.0.0 Ok\r\n")); p++)
        replies++;
    assert_int_equal(replies, 5000);
    free(in);
}

static void test_received_header_format(void **state)
{
    (void)state;
    char buf[512];
    size_t n = smtp_received_header(buf, sizeof(buf), "h.example", "192.0.2.1", "mx.example",
                                    "ESMTPS", "ABC", "a@example.com", 0);
    assert_int_equal(n, strlen(buf));
    assert_true(n > 0);
    assert_non_null(strstr(buf, "with ESMTPS id ABC\r\n\tfor <a@example.com>;\r\n\t"));
    assert_true(buf[n - 2] == '\r' && buf[n - 1] == '\n');
    assert_int_equal(smtp_received_header(buf, 40, "h.example", "192.0.2.1", "mx.example",
                                          "ESMTP", "ABC", NULL, 0), 0);
}

int main(void)
{
    log_init("test_smtp_session", LOG_TO_STDERR, LOG_LVL_ERR);
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_full_transaction), T(test_pipelining), T(test_byte_by_byte), T(test_out_of_order),
        T(test_smtputf8_transaction), T(test_starttls_discards_pipelined), T(test_starttls_refused),
        T(test_too_many_recipients), T(test_duplicate_recipient), T(test_oversize),
        T(test_error_limit), T(test_command_limit), T(test_relay_policy), T(test_address_routing_refused), T(test_hop_limit),
        T(test_no_policy_is_closed), T(test_client_refused), T(test_rset), T(test_async_commit), T(test_commit_timeout),
        T(test_async_commit_fails), T(test_store_failures), T(test_smuggling_through_data),
        T(test_bad_lines_in_commands), T(test_long_line_in_data), T(test_timeout),
        T(test_free_in_data_aborts), T(test_helo_not_esmtp), T(test_backpressure),
        T(test_received_header_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

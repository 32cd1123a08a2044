/*
 * fuzz_smtp.c — libFuzzer target for mailrelayd's SMTP server side (smtp_session + parser).
 *
 * Input layout: byte 0 = flags (TLS offered, commit pending/failing, store failures, limits),
 * byte 1 = seed for where the rest is split into reads (1..64 octets, or 1 octet at a time),
 * then the client's byte stream. The harness plays the network code: it drains replies, does
 * the "TLS handshake" when asked, completes pending commits, and re-feeds unused input.
 * Checked on every step: replies are well-formed CRLF lines starting with a 3-digit code,
 * the store never sees a write after commit/abort, and no message is left open at the end.
 * Every command line is also run through smtp_cmd_parse() directly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "smtp_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)

struct fstore {
    uint8_t flags;
    int open;                   /* begun and neither committed nor aborted */
    int pending;                /* commit returned PENDING, not yet done */
    int seq;
    int handle;
};

static enum smtp_store_result f_begin(void *ctx, const struct smtp_envelope *env, char *qid,
                                      size_t qs, void **msg)
{
    struct fstore *s = ctx;
    CHECK(env->nrcpts > 0 && env->mail_from && env->helo);
    CHECK(s->open == 0);
    if ((s->flags & 0x0c) == 0x04)
        return SMTP_STORE_NOSPACE;
    snprintf(qid, qs, "F%d", ++s->seq);
    *msg = &s->handle;
    s->open++;
    return SMTP_STORE_OK;
}

static enum smtp_store_result f_write(void *ctx, void *msg, const char *p, size_t n)
{
    struct fstore *s = ctx;
    CHECK(msg == &s->handle && s->open == 1 && n > 0 && p);
    if ((s->flags & 0x0c) == 0x08 && n > 100)
        return SMTP_STORE_NOSPACE;
    return SMTP_STORE_OK;
}

static enum smtp_store_result f_commit(void *ctx, void *msg)
{
    struct fstore *s = ctx;
    CHECK(msg == &s->handle && s->open == 1);
    s->open--;
    switch (s->flags & 0x30) {
    case 0x10: s->pending++; return SMTP_STORE_PENDING;
    case 0x20: return SMTP_STORE_TEMPFAIL;
    default: return SMTP_STORE_OK;
    }
}

static void f_abort(void *ctx, void *msg)
{
    struct fstore *s = ctx;
    CHECK(msg == &s->handle && s->open == 1);
    s->open--;
}

static time_t f_now(void *ctx)
{
    (void)ctx;
    return 1700000000;
}

static const char *const doms[] = { "example.com" };

static void check_output(struct smtp_session *s)
{
    size_t n;
    const char *o = smtp_session_output(s, &n);
    size_t i = 0;
    while (i < n) {
        const char *e = memchr(o + i, '\n', n - i);
        CHECK(e != NULL);
        size_t len = (size_t)(e - (o + i)) + 1;
        CHECK(len >= 6 && len <= 512);
        CHECK(o[i] >= '2' && o[i] <= '5' && o[i + 1] >= '0' && o[i + 1] <= '9');
        CHECK(o[i + 3] == ' ' || o[i + 3] == '-');
        CHECK(e[-1] == '\r');
        for (size_t j = i; j < i + len - 2; j++)
            CHECK(o[j] != '\r' && o[j] != '\n');
        i += len;
    }
    smtp_session_output_consume(s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        log_init("fuzz_smtp", LOG_TO_STDERR, LOG_LVL_ERR);
        inited = 1;
    }
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    uint32_t rnd = data[1] * 2654435761u + 1;
    data += 2;
    size -= 2;

    struct smtp_config cfg;
    smtp_config_defaults(&cfg);
    cfg.hostname = "mx.example.com";
    cfg.tls_available = flags & 0x01;
    cfg.max_size = (flags & 0x02) ? 300 : 1 << 20;
    cfg.max_rcpts = (flags & 0x40) ? 2 : 100;
    cfg.max_errors = (flags & 0x80) ? 5 : 20;
    struct smtp_policy_domains pol = { doms, 1, NULL, 0 };
    struct fstore st = { .flags = flags };
    struct smtp_callbacks cb = {
        .policy_ctx = &pol, .rcpt_allowed = smtp_policy_domains,
        .store_ctx = &st, .msg_begin = f_begin, .msg_write = f_write,
        .msg_commit = f_commit, .msg_abort = f_abort, .now = f_now,
    };
    struct smtp_session *s = smtp_session_new(&cfg, &cb, "192.0.2.1", false);
    if (!s)
        return 0;
    smtp_session_start(s);
    check_output(s);

    /* Every line also through the command parser on its own. */
    struct smtp_cmd *cmd = malloc(sizeof(*cmd));
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *e = memchr(p, '\n', (size_t)(end - p));
        size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
        if (len < SMTP_LINE_MAX - 1)
            smtp_cmd_parse((const char *)p, len, flags & 0x02, cmd);
        p += len + 1;
    }
    free(cmd);

    size_t off = 0;
    int stuck = 0;
    while (off < size && stuck < 4) {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 17;
        rnd ^= rnd << 5;
        size_t chunk = (flags & 0x0c) == 0x0c ? 1 : 1 + rnd % 64;
        if (chunk > size - off)
            chunk = size - off;
        size_t used = smtp_session_input(s, (const char *)data + off, chunk);
        CHECK(used <= chunk);
        off += used;
        stuck = used ? 0 : stuck + 1;
        unsigned act = smtp_session_actions(s);
        check_output(s);
        if (act & SMTP_ACT_CLOSE)
            break;
        if (act & SMTP_ACT_START_TLS)
            smtp_session_tls_started(s);
        if (act & SMTP_ACT_WAIT) {
            CHECK(st.pending == 1);
            st.pending--;
            smtp_session_commit_done(s, (rnd & 1) ? SMTP_STORE_OK : SMTP_STORE_NOSPACE);
            check_output(s);
        }
        CHECK(st.pending == 0 || (smtp_session_actions(s) & SMTP_ACT_WAIT));
    }
    CHECK(stuck < 4);
    if (flags & 0x02) {
        smtp_session_timeout(s);
        check_output(s);
    }
    smtp_session_free(s);
    CHECK(st.open == 0);
    return 0;
}

/*
 * dsn.c — builds RFC 3464 delivery status notifications (see dsn.h).
 *
 * Pure: the caller supplies time, host name and a random value; nothing here reads a clock,
 * a file or the network. Everything remote-controlled that is quoted (replies, addresses,
 * headers) is bounded and kept from breaking the MIME structure.
 */
#include "dsn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct out {
    char *p;
    size_t len, cap;
    int failed;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        char *p;

        while (cap < o->len + n + 1)
            cap *= 2;
        p = realloc(o->p, cap);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

#define PUTS(o, lit) put((o), (lit), sizeof(lit) - 1)

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
    char tmp[1200];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->failed = 1;
        return;
    }
    put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

bool dsn_should_bounce(const struct envelope *env)
{
    return env->sender && env->sender[0] != '\0';
}

void dsn_format_date(int64_t t, char out[40])
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm)) {
        memset(&tm, 0, sizeof(tm));
        tm.tm_mday = 1;
        tm.tm_year = 70;
        tm.tm_wday = 4;
    }
    snprintf(out, 40, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool isdig(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses "d.ddd.ddd" at s; returns its length or 0. */
static size_t enhanced_len(const char *s)
{
    size_t i = 0, n;

    if (!isdig(s[0]) || s[1] != '.')
        return 0;
    i = 2;
    for (int part = 0; part < 2; part++) {
        for (n = 0; isdig(s[i]) && n < 3; n++)
            i++;
        if (n == 0 || isdig(s[i]))
            return 0;
        if (part == 0) {
            if (s[i] != '.')
                return 0;
            i++;
        }
    }
    if (s[i] != '\0' && s[i] != ' ')
        return 0;
    return i;
}

void dsn_status(const char *reply, enum dsn_action action, char status[16])
{
    char cls = action == DSN_FAILED ? '5' : '4';

    if (reply && isdig(reply[0]) && isdig(reply[1]) && isdig(reply[2]) &&
        (reply[3] == ' ' || reply[3] == '-' || reply[3] == '\0') &&
        (reply[0] == '4' || reply[0] == '5')) {
        size_t n = reply[3] ? enhanced_len(reply + 4) : 0;

        if (n > 0 && reply[4] == reply[0]) {
            memcpy(status, reply + 4, n);
            status[n] = '\0';
            return;
        }
        cls = reply[0];
    }
    snprintf(status, 16, "%c.0.0", cls);
}

size_t dsn_header_block_len(const char *msg, size_t len, size_t max)
{
    size_t i = 0, last_line_end = 0;

    if (!msg)
        return 0;
    while (i < len) {
        const char *nl = memchr(msg + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - msg) + 1 : len;
        size_t linelen = end - i;
        bool blank = (linelen == 1) || (linelen == 2 && msg[i] == '\r');

        if (end > max)
            break;
        last_line_end = end;
        if (blank || !nl)
            break;
        i = end;
    }
    return last_line_end;
}

/* Appends s as one header-safe value: printable ASCII only, bounded. */
static void put_clean(struct out *o, const char *s, size_t max)
{
    size_t n = 0;

    for (; s && *s && n < max; s++, n++) {
        char c = (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?';

        put(o, &c, 1);
    }
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* Final-Recipient / To values: rfc822 for ASCII addresses, utf-8 (RFC 6533) otherwise. */
static const char *addr_type(const char *addr)
{
    return is_ascii(addr) ? "rfc822" : "utf-8";
}

static bool reported(const struct dsn_input *in, size_t i)
{
    const struct env_rcpt *r = &in->env->rcpt[i];
    enum rcpt_state want = in->action == DSN_FAILED ? RCPT_BOUNCED : RCPT_PENDING;

    return r->state == want && (!in->select || in->select[i]);
}

/* Copies the original headers with every line ending as CRLF; notes 8-bit octets. */
static void put_headers(struct out *o, const char *h, size_t n, bool *eightbit)
{
    size_t i = 0;

    while (i < n) {
        const char *nl = memchr(h + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - h) : n;
        size_t e = end;

        if (e > i && h[e - 1] == '\r')
            e--;
        for (size_t k = i; k < e; k++) {
            char c = h[k];

            if ((unsigned char)c >= 0x80)
                *eightbit = true;
            if (c == '\r' || c == '\0')
                c = ' ';
            put(o, &c, 1);
        }
        if (e > i)
            PUTS(o, "\r\n");
        i = end + 1;
    }
}

int dsn_build(const struct dsn_input *in, struct dsn_output *res, char *err, size_t errlen)
{
    const struct envelope *env = in->env;
    const char *host = in->reporting_mta && in->reporting_mta[0] ? in->reporting_mta : "localhost";
    struct out o = { 0 };
    char date[40], arrival[40], until[40], boundary[80];
    size_t hlen = dsn_header_block_len(in->orig, in->orig_len, DSN_MAX_HEADERS);
    bool eightbit = false, failed = in->action == DSN_FAILED;
    size_t n = 0;

    memset(res, 0, sizeof(*res));
    if (!dsn_should_bounce(env)) {
        snprintf(err, errlen, "original has the null sender: never bounce a bounce");
        return -1;
    }
    for (size_t i = 0; i < env->nrcpt; i++)
        n += reported(in, i);
    if (n == 0) {
        snprintf(err, errlen, "no recipient to report");
        return -1;
    }
    dsn_format_date(in->now, date);
    dsn_format_date(env->arrival, arrival);
    dsn_format_date(in->retry_until, until);
    /* the boundary holds '=' and '_', which a header line will hardly start with;
     * make sure the quoted headers cannot contain it anyway */
    for (uint32_t k = 0;; k++) {
        snprintf(boundary, sizeof(boundary), "=_mailtun_%s_%08x", env->qid, in->rnd + k);
        if (!in->orig || !memmem(in->orig, hlen, boundary, strlen(boundary)))
            break;
    }

    putf(&o, "Date: %s\r\n", date);
    putf(&o, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", host);
    PUTS(&o, "To: <");
    put_clean(&o, env->sender, ENV_MAX_ADDR);
    PUTS(&o, ">\r\n");
    putf(&o, "Subject: %s\r\n", failed ? "Undelivered Mail Returned to Sender"
                                      : "Delayed Mail (still being retried)");
    putf(&o, "Message-ID: <%s.%08x.dsn@%s>\r\n", env->qid, in->rnd, host);
    PUTS(&o, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
    putf(&o, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
             "\tboundary=\"%s\"\r\n\r\n", boundary);
    PUTS(&o, "This is a MIME-encapsulated delivery status notification.\r\n\r\n");

    putf(&o, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
    putf(&o, "This is the mail system at %s.\r\n\r\n", host);
    if (failed)
        PUTS(&o, "Your message could not be delivered to the recipients below.\r\n"
                "The mail system gave up; the reasons are listed with each address.\r\n");
    else
        putf(&o, "Your message has not been delivered yet to the recipients below.\r\n"
                 "The mail system keeps trying%s%s. You do not need to send it again.\r\n",
             in->retry_until ? " until " : "", in->retry_until ? until : "");
    PUTS(&o, "\r\n");
    for (size_t i = 0; i < env->nrcpt; i++) {
        if (!reported(in, i))
            continue;
        PUTS(&o, "<");
        put_clean(&o, env->rcpt[i].addr, ENV_MAX_ADDR);
        PUTS(&o, ">: ");
        put_clean(&o, env->rcpt[i].last_reply[0] ? env->rcpt[i].last_reply : "no reason recorded",
                  DSN_MAX_DIAG);
        PUTS(&o, "\r\n");
    }
    PUTS(&o, "\r\n");

    putf(&o, "--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary);
    putf(&o, "Reporting-MTA: dns; %s\r\nX-Mailtun-Queue-ID: %s\r\nArrival-Date: %s\r\n",
         host, env->qid, arrival);
    for (size_t i = 0; i < env->nrcpt; i++) {
        const struct env_rcpt *r = &env->rcpt[i];
        const char *reply = r->last_reply ? r->last_reply : "";
        char status[16];

        if (!reported(in, i))
            continue;
        dsn_status(reply, in->action, status);
        putf(&o, "\r\nFinal-Recipient: %s; ", addr_type(r->addr));
        put_clean(&o, r->addr, ENV_MAX_ADDR);
        putf(&o, "\r\nAction: %s\r\nStatus: %s\r\n", failed ? "failed" : "delayed", status);
        if (reply[0]) {
            bool smtp = isdig(reply[0]) && isdig(reply[1]) && isdig(reply[2]);

            putf(&o, "Diagnostic-Code: %s; ", smtp ? "smtp" : "X-mailtun");
            put_clean(&o, reply, DSN_MAX_DIAG);
            PUTS(&o, "\r\n");
        }
        if (!failed && in->retry_until)
            putf(&o, "Will-Retry-Until: %s\r\n", until);
    }
    PUTS(&o, "\r\n");

    putf(&o, "--%s\r\nContent-Type: text/rfc822-headers\r\n", boundary);
    {
        struct out h = { 0 };

        put_headers(&h, in->orig, hlen, &eightbit);
        if (eightbit)
            PUTS(&o, "Content-Transfer-Encoding: 8bit\r\n");
        PUTS(&o, "\r\n");
        if (h.len)
            put(&o, h.p, h.len);
        if (h.failed)
            o.failed = 1;
        free(h.p);
    }
    putf(&o, "\r\n--%s--\r\n", boundary);

    if (o.failed) {
        free(o.p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    res->text = o.p;
    res->len = o.len;
    res->nreported = n;
    res->body_flags = eightbit ? ENV_BODY_8BITMIME : 0;
    return 0;
}

int dsn_bounce_envelope(const struct envelope *orig, const struct dsn_output *out,
                        const char *qid, int64_t now, struct envelope *bounce)
{
    if (!dsn_should_bounce(orig) || envelope_init(bounce))
        return -1;
    snprintf(bounce->qid, sizeof(bounce->qid), "%s", qid);
    bounce->arrival = now;
    bounce->direction = orig->direction == ENV_INBOUND ? ENV_OUTBOUND : ENV_INBOUND;
    bounce->body_flags = out->body_flags;
    bounce->size = out->len;
    if (envelope_set(&bounce->client, "") || envelope_set(&bounce->helo, "") ||
        envelope_add_rcpt(bounce, orig->sender, now)) {
        envelope_free(bounce);
        return -1;
    }
    return 0;
}

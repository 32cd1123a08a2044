/*
 * smtp_client.c — pure SMTP/LMTP client codec: reply parser, EHLO keywords, command lines,
 * dot-stuffing with CRLF enforcement. See smtp_client.h.
 *
 * Needs: nothing but libc. No I/O: smtp_client_conn.c does the network part.
 */
#include "smtp_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* 1-3 digits at s[*i]; advances *i. */
static bool digits3(const char *s, size_t len, size_t *i)
{
    size_t n = 0;

    while (*i < len && is_digit(s[*i]) && n < 4) {
        (*i)++;
        n++;
    }
    return n >= 1 && n <= 3;
}

size_t smtpc_enh_parse(const char *s, size_t len, int cls, char enh[16])
{
    size_t i = 0;

    enh[0] = '\0';
    if (len < 5 || s[0] != (char)('0' + cls) || (cls != 2 && cls != 4 && cls != 5) || s[1] != '.')
        return 0;
    i = 2;
    if (!digits3(s, len, &i) || i >= len || s[i] != '.')
        return 0;
    i++;
    if (!digits3(s, len, &i))
        return 0;
    if (i < len && s[i] != ' ' && s[i] != '\t')
        return 0;
    memcpy(enh, s, i);   /* at most 1+1+3+1+3 = 9 octets */
    enh[i] = '\0';
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* Appends one line's text, control octets made harmless, cut at the buffer's end. */
static void append_text(struct smtpc_reply *r, const char *s, size_t n)
{
    if (r->nlines > 0 && r->len + 1 < sizeof(r->text))
        r->text[r->len++] = '\n';
    for (size_t i = 0; i < n && r->len + 1 < sizeof(r->text); i++) {
        unsigned char c = (unsigned char)s[i];
        r->text[r->len++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
    }
    r->text[r->len] = '\0';
}

int smtpc_reply_parse(const char *buf, size_t len, struct smtpc_reply *r, size_t *used,
                      char *err, size_t errlen)
{
    size_t pos = 0;

    memset(r, 0, offsetof(struct smtpc_reply, text));
    r->text[0] = '\0';
    for (;;) {
        size_t room = len - pos < SMTPC_MAX_LINE ? len - pos : SMTPC_MAX_LINE;
        const char *nl = memchr(buf + pos, '\n', room);
        size_t lineno = r->nlines + 1;

        if (!nl) {
            if (len - pos >= SMTPC_MAX_LINE) {
                seterr(err, errlen, "line %zu: longer than %d octets", lineno, SMTPC_MAX_LINE);
                return -1;
            }
            return 0;
        }
        size_t eol = (size_t)(nl - buf);
        size_t end = eol > pos && buf[eol - 1] == '\r' ? eol - 1 : eol;
        const char *l = buf + pos;
        size_t n = end - pos;

        if (n < 3 || !is_digit(l[0]) || !is_digit(l[1]) || !is_digit(l[2])) {
            seterr(err, errlen, "line %zu: does not start with a three-digit code", lineno);
            return -1;
        }
        int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
        if (code < 200 || code > 599) {
            seterr(err, errlen, "line %zu: reply code %d out of range", lineno, code);
            return -1;
        }
        char sep = n == 3 ? ' ' : l[3];
        if (sep != ' ' && sep != '-') {
            seterr(err, errlen, "line %zu: expected ' ' or '-' after the code", lineno);
            return -1;
        }
        if (r->nlines > 0 && code != r->code) {
            seterr(err, errlen, "line %zu: code %d differs from %d", lineno, code, r->code);
            return -1;
        }
        if (r->nlines >= SMTPC_MAX_LINES) {
            seterr(err, errlen, "more than %d lines", SMTPC_MAX_LINES);
            return -1;
        }
        r->code = code;
        const char *t = n > 4 ? l + 4 : l + n;
        size_t tn = n > 4 ? n - 4 : 0;
        char enh[16];
        size_t skip = smtpc_enh_parse(t, tn, code / 100, enh);
        if (skip && r->nlines == 0)
            memcpy(r->enh, enh, sizeof(enh));
        append_text(r, t + skip, tn - skip);
        r->nlines++;
        pos = eol + 1;
        if (sep == ' ') {
            *used = pos;
            return 1;
        }
        if (pos >= SMTPC_MAX_BYTES) {
            seterr(err, errlen, "reply longer than %d octets", SMTPC_MAX_BYTES);
            return -1;
        }
    }
}

void smtpc_reply_summary(const struct smtpc_reply *r, char out[SMTPC_SUMMARY])
{
    int n = snprintf(out, SMTPC_SUMMARY, "%d%s%s", r->code, r->enh[0] ? " " : "", r->enh);
    size_t o = n > 0 ? (size_t)n : 0;

    if (r->len && o + 1 < SMTPC_SUMMARY)
        out[o++] = ' ';
    for (size_t i = 0; i < r->len && o + 1 < SMTPC_SUMMARY; i++)
        out[o++] = r->text[i] == '\n' || r->text[i] == '\t' ? ' ' : r->text[i];
    out[o] = '\0';
}

/* ---- EHLO ---------------------------------------------------------------------------------- */

static bool word_is(const char *w, size_t n, const char *kw)
{
    return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

static void parse_auth(const char *p, size_t n, struct smtpc_ext *ext)
{
    size_t i = 0;

    ext->flags |= SMTPC_EXT_AUTH;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '='))
            i++;
        size_t s = i;
        while (i < n && p[i] != ' ')
            i++;
        if (word_is(p + s, i - s, "PLAIN"))
            ext->auth |= SMTPC_AUTH_PLAIN;
        else if (word_is(p + s, i - s, "LOGIN"))
            ext->auth |= SMTPC_AUTH_LOGIN;
        else if (word_is(p + s, i - s, "CRAM-MD5"))
            ext->auth |= SMTPC_AUTH_CRAM_MD5;
        else if (word_is(p + s, i - s, "XOAUTH2"))
            ext->auth |= SMTPC_AUTH_XOAUTH2;
    }
}

static void parse_keyword(const char *l, size_t n, struct smtpc_ext *ext)
{
    size_t k = 0;

    while (k < n && l[k] != ' ' && l[k] != '=')
        k++;
    const char *p = l + k;
    size_t pn = n - k;
    while (pn && (*p == ' ' || *p == '=')) {
        p++;
        pn--;
    }
    if (word_is(l, k, "PIPELINING"))
        ext->flags |= SMTPC_EXT_PIPELINING;
    else if (word_is(l, k, "STARTTLS"))
        ext->flags |= SMTPC_EXT_STARTTLS;
    else if (word_is(l, k, "8BITMIME"))
        ext->flags |= SMTPC_EXT_8BITMIME;
    else if (word_is(l, k, "SMTPUTF8"))
        ext->flags |= SMTPC_EXT_SMTPUTF8;
    else if (word_is(l, k, "ENHANCEDSTATUSCODES"))
        ext->flags |= SMTPC_EXT_ENHANCED;
    else if (word_is(l, k, "DSN"))
        ext->flags |= SMTPC_EXT_DSN;
    else if (word_is(l, k, "CHUNKING"))
        ext->flags |= SMTPC_EXT_CHUNKING;
    else if (word_is(l, k, "BINARYMIME"))
        ext->flags |= SMTPC_EXT_BINARYMIME;
    else if (word_is(l, k, "AUTH"))
        parse_auth(p, pn, ext);
    else if (word_is(l, k, "SIZE")) {
        uint64_t v = 0;
        size_t i = 0;
        for (; i < pn && is_digit(p[i]); i++) {
            if (v > (UINT64_MAX - 9) / 10)
                return;   /* absurd: ignore the keyword */
            v = v * 10 + (uint64_t)(p[i] - '0');
        }
        if (i != pn)
            return;
        ext->flags |= SMTPC_EXT_SIZE;
        ext->size_max = v;
    }
}

int smtpc_ehlo_parse(const struct smtpc_reply *r, struct smtpc_ext *ext)
{
    const char *s = r->text, *end = r->text + r->len;
    bool first = true;

    memset(ext, 0, sizeof(*ext));
    if (smtpc_reply_class(r) != 2)
        return -1;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        while (n && s[n - 1] == ' ')
            n--;
        if (first) {
            size_t d = 0;
            while (d < n && s[d] != ' ' && d + 1 < sizeof(ext->domain))
                d++;
            memcpy(ext->domain, s, d);
            ext->domain[d] = '\0';
            first = false;
        } else {
            parse_keyword(s, n, ext);
        }
        s += n;
        while (s < end && *s != '\n')
            s++;
        if (s < end)
            s++;
    }
    return 0;
}

/* ---- commands ------------------------------------------------------------------------------ */

static bool arg_ok(const char *a, bool allow_space, char *err, size_t errlen, const char *what)
{
    for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>' || (*p == ' ' && !allow_space)) {
            seterr(err, errlen, "%s holds a forbidden octet 0x%02x", what, *p);
            return false;
        }
    }
    return true;
}

static int finish(size_t outlen, int n, char *err, size_t errlen)
{
    if (n < 0 || (size_t)n >= outlen || (size_t)n > SMTPC_MAX_CMD) {
        seterr(err, errlen, "command line too long");
        return -1;
    }
    return n;
}

int smtpc_fmt_hello(char *out, size_t outlen, bool lmtp, bool esmtp, const char *name,
                    char *err, size_t errlen)
{
    if (!name || !*name) {
        seterr(err, errlen, "empty hello name");
        return -1;
    }
    if (!arg_ok(name, false, err, errlen, "hello name"))
        return -1;
    return finish(outlen, snprintf(out, outlen, "%s %s\r\n",
                                        lmtp ? "LHLO" : esmtp ? "EHLO" : "HELO", name),
                  err, errlen);
}

int smtpc_fmt_mail(char *out, size_t outlen, const char *sender, unsigned body_flags,
                   uint64_t size, const struct smtpc_ext *ext, char *err, size_t errlen)
{
    unsigned f = ext ? ext->flags : 0;

    if (!arg_ok(sender, true, err, errlen, "sender"))
        return -1;
    return finish(outlen,
                  snprintf(out, outlen, "MAIL FROM:<%s>%s%s%s%.0llu\r\n", sender,
                           (body_flags & ENV_BODY_8BITMIME) && (f & SMTPC_EXT_8BITMIME)
                               ? " BODY=8BITMIME" : "",
                           (body_flags & ENV_BODY_SMTPUTF8) && (f & SMTPC_EXT_SMTPUTF8)
                               ? " SMTPUTF8" : "",
                           (f & SMTPC_EXT_SIZE) && size ? " SIZE=" : "",
                           /* "%.0llu" prints nothing for 0 */
                           (f & SMTPC_EXT_SIZE) ? (unsigned long long)size : 0ULL),
                  err, errlen);
}

int smtpc_body_check(unsigned body_flags, const struct smtpc_ext *ext, char *why, size_t whylen)
{
    unsigned f = ext ? ext->flags : 0;

    if ((body_flags & ENV_BODY_SMTPUTF8) && !(f & SMTPC_EXT_SMTPUTF8)) {
        seterr(why, whylen, "5.6.7 message needs SMTPUTF8 (UTF-8 addresses or headers), "
               "the next hop does not offer it");
        return 550;
    }
    if ((body_flags & ENV_BODY_8BITMIME) && !(f & SMTPC_EXT_8BITMIME)) {
        seterr(why, whylen, "5.6.3 message has an 8-bit body, the next hop does not offer "
               "8BITMIME and mailrelayd does not convert");
        return 554;
    }
    return 0;
}

int smtpc_fmt_rcpt(char *out, size_t outlen, const char *rcpt, char *err, size_t errlen)
{
    if (!rcpt || !*rcpt) {
        seterr(err, errlen, "empty recipient");
        return -1;
    }
    if (!arg_ok(rcpt, true, err, errlen, "recipient"))
        return -1;
    return finish(outlen, snprintf(out, outlen, "RCPT TO:<%s>\r\n", rcpt), err, errlen);
}

/* ---- AUTH --------------------------------------------------------------------------------- */

int smtpc_b64_encode(const void *in, size_t n, char *out, size_t outlen)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = in;
    size_t need = (n + 2) / 3 * 4, o = 0;

    if (n > (SIZE_MAX - 3) / 4 * 3 - 3 || outlen < need + 1)
        return -1;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return (int)o;
}

enum smtpc_auth_step smtpc_auth_decide(bool have_creds, bool tls_active,
                                       const struct smtpc_ext *ext, unsigned *mech,
                                       char *why, size_t whylen)
{
    *mech = 0;
    if (!have_creds)
        return SMTPC_AUTH_SKIP;
    if (!tls_active) {
        seterr(why, whylen, "the session is not encrypted and credentials are never sent "
                            "without TLS");
        return SMTPC_AUTH_REFUSE;
    }
    if (!(ext->flags & SMTPC_EXT_AUTH))
        return SMTPC_AUTH_SKIP;
    if (ext->auth & SMTPC_AUTH_PLAIN)
        *mech = SMTPC_AUTH_PLAIN;
    else if (ext->auth & SMTPC_AUTH_LOGIN)
        *mech = SMTPC_AUTH_LOGIN;
    else {
        seterr(why, whylen, "the server offers AUTH without PLAIN or LOGIN");
        return SMTPC_AUTH_REFUSE;
    }
    return SMTPC_AUTH_DO;
}

static bool cred_ok(const char *s, const char *what, char *err, size_t errlen)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > SMTPC_AUTH_MAX) {
        seterr(err, errlen, "%s is empty or longer than %d octets", what, SMTPC_AUTH_MAX);
        return false;
    }
    if (strpbrk(s, "\r\n")) {
        seterr(err, errlen, "%s holds CR or LF", what);
        return false;
    }
    return true;
}

int smtpc_fmt_auth_plain(char *out, size_t outlen, const char *user, const char *pass,
                         char *err, size_t errlen)
{
    unsigned char raw[2 * SMTPC_AUTH_MAX + 2];
    const size_t pre = sizeof("AUTH PLAIN ") - 1;
    size_t ul, pl;
    int n;

    if (!cred_ok(user, "user name", err, errlen) || !cred_ok(pass, "password", err, errlen))
        return -1;
    ul = strlen(user);
    pl = strlen(pass);
    raw[0] = '\0';                          /* no authorization identity */
    memcpy(raw + 1, user, ul);
    raw[1 + ul] = '\0';
    memcpy(raw + 2 + ul, pass, pl);
    if (outlen > SMTPC_MAX_CMD + 1)
        outlen = SMTPC_MAX_CMD + 1;
    n = outlen > pre + 2 ? smtpc_b64_encode(raw, 2 + ul + pl, out + pre, outlen - pre - 2) : -1;
    explicit_bzero(raw, sizeof(raw));
    if (n < 0) {
        if (outlen)
            out[0] = '\0';
        seterr(err, errlen, "command line too long");
        return -1;
    }
    memcpy(out, "AUTH PLAIN ", pre);
    memcpy(out + pre + (size_t)n, "\r\n", 3);
    return (int)pre + n + 2;
}

int smtpc_fmt_auth_line(char *out, size_t outlen, const char *s, char *err, size_t errlen)
{
    int n;

    if (!cred_ok(s, "credential", err, errlen))
        return -1;
    if (outlen > SMTPC_MAX_CMD + 1)
        outlen = SMTPC_MAX_CMD + 1;
    n = outlen > 2 ? smtpc_b64_encode(s, strlen(s), out, outlen - 2) : -1;
    if (n < 0) {
        if (outlen)
            out[0] = '\0';
        seterr(err, errlen, "command line too long");
        return -1;
    }
    memcpy(out + n, "\r\n", 3);
    return n + 2;
}

/* ---- body ---------------------------------------------------------------------------------- */

void smtpc_dot_init(struct smtpc_dot *st)
{
    st->line_start = true;
    st->pending_cr = false;
}

size_t smtpc_dot_encode(struct smtpc_dot *st, const char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (st->pending_cr) {
            st->pending_cr = false;
            out[o++] = '\r';
            out[o++] = '\n';
            st->line_start = true;
            if (c == '\n')
                continue;
        }
        if (c == '\r') {
            st->pending_cr = true;
            continue;
        }
        if (c == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
            st->line_start = true;
            continue;
        }
        if (st->line_start && c == '.')
            out[o++] = '.';
        out[o++] = c;
        st->line_start = false;
    }
    return o;
}

size_t smtpc_dot_finish(struct smtpc_dot *st, char *out)
{
    size_t o = 0;

    if (st->pending_cr || !st->line_start) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    memcpy(out + o, ".\r\n", 3);
    st->pending_cr = false;
    st->line_start = true;
    return o + 3;
}

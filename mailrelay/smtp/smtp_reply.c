/*
 * smtp_reply.c — SMTP reply formatting into an in-memory output buffer.
 *
 * Reply text never carries CR or LF from elsewhere: anything below 0x20 is replaced, so a
 * value echoed from the client cannot split a reply into two.
 */
#include "smtp_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void smtp_outbuf_init(struct smtp_outbuf *ob)
{
    ob->data = NULL;
    ob->len = 0;
    ob->cap = 0;
}

void smtp_outbuf_free(struct smtp_outbuf *ob)
{
    free(ob->data);
    smtp_outbuf_init(ob);
}

void smtp_outbuf_consume(struct smtp_outbuf *ob, size_t n)
{
    if (n >= ob->len) {
        ob->len = 0;
        return;
    }
    memmove(ob->data, ob->data + n, ob->len - n);
    ob->len -= n;
}

void smtp_outbuf_append(struct smtp_outbuf *ob, const char *p, size_t n)
{
    if (ob->len + n > ob->cap) {
        size_t cap = ob->cap ? ob->cap : 256;
        while (cap < ob->len + n)
            cap *= 2;
        char *d = realloc(ob->data, cap);
        if (!d)
            fatal("smtp reply buffer size=%zu", cap);
        ob->data = d;
        ob->cap = cap;
    }
    memcpy(ob->data + ob->len, p, n);
    ob->len += n;
}

void smtp_reply_vline(struct smtp_outbuf *ob, int code, const char *enh, int last,
                      const char *fmt, va_list ap)
{
    /* 512 octets is the RFC 5321 reply line limit including CRLF. */
    char line[512];
    int n = enh ? snprintf(line, sizeof(line), "%03d%c%s ", code, last ? ' ' : '-', enh)
                : snprintf(line, sizeof(line), "%03d%c", code, last ? ' ' : '-');
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof(line) - 2 - (size_t)n, fmt, ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 3)
        len = sizeof(line) - 3;
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[len++] = '\r';
    line[len++] = '\n';
    smtp_outbuf_append(ob, line, len);
}

void smtp_reply_line(struct smtp_outbuf *ob, int code, const char *enh, int last,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    smtp_reply_vline(ob, code, enh, last, fmt, ap);
    va_end(ap);
}

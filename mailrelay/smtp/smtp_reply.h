/*
 * smtp_reply.h — the reply side of an SMTP conversation: a small growable output buffer
 * and the formatting of RFC 5321 replies that always carry an RFC 3463 enhanced status code.
 *
 * Pure: bytes are appended to memory; the caller (the network code) drains them.
 */
#ifndef MAILTUN_SMTP_REPLY_H
#define MAILTUN_SMTP_REPLY_H

#include <stdarg.h>
#include <stddef.h>

struct smtp_outbuf {
    char *data;
    size_t len;         /* bytes waiting to be sent */
    size_t cap;
};

void smtp_outbuf_init(struct smtp_outbuf *ob);
void smtp_outbuf_free(struct smtp_outbuf *ob);
/* Drops the first n bytes (they were sent). */
void smtp_outbuf_consume(struct smtp_outbuf *ob, size_t n);
void smtp_outbuf_append(struct smtp_outbuf *ob, const char *p, size_t n);

/* One reply line "CODE ENH text\r\n"; enh such as "2.0.0". last == 0 gives "CODE-ENH text"
 * (a continuation line of a multi-line reply). Text longer than fits one line is cut.
 * enh NULL leaves the enhanced code out: RFC 2034 section 3 excludes the greeting, the
 * EHLO/HELO replies (keywords would be misread) and 3xx replies. */
void smtp_reply_line(struct smtp_outbuf *ob, int code, const char *enh, int last,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void smtp_reply_vline(struct smtp_outbuf *ob, int code, const char *enh, int last,
                      const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

#endif

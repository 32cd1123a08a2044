/*
 * dsn.h — RFC 3464 delivery status notifications (bounces and delay warnings), pure.
 *
 * dsn_build() turns the envelope of an undeliverable (or delayed) message into a complete
 * message ready to spool: CRLF lines, Date and Message-ID made from the time and host name the
 * caller passes, and a multipart/report; report-type=delivery-status body with
 *   1. a text/plain explanation,
 *   2. message/delivery-status: Reporting-MTA, Arrival-Date, then per recipient
 *      Final-Recipient, Action (failed/delayed), Status (x.y.z), Diagnostic-Code (smtp; reply),
 *   3. text/rfc822-headers: the original header block, cut at DSN_MAX_HEADERS octets.
 * dsn_bounce_envelope() makes the envelope it goes out with: null sender, one recipient (the
 * original sender), direction reversed. dsn_should_bounce() is false for a message that
 * itself has the null sender: a bounce is never bounced.
 */
#ifndef MAILTUN_DSN_H
#define MAILTUN_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define DSN_MAX_HEADERS (16u * 1024)   /* octets of original headers quoted */
#define DSN_MAX_DIAG 900               /* octets of a reply quoted in Diagnostic-Code */

enum dsn_action { DSN_FAILED, DSN_DELAYED };

struct dsn_input {
    const struct envelope *env;   /* the original message */
    enum dsn_action action;       /* FAILED reports bounced recipients, DELAYED pending ones */
    const bool *select;           /* NULL, or env->nrcpt flags: report only those set */
    const char *reporting_mta;    /* our host name, for Reporting-MTA, From and Message-ID */
    int64_t now;                  /* seconds since the epoch, for Date (written in UTC) */
    int64_t retry_until;          /* DELAYED only: Will-Retry-Until (0 = leave out) */
    uint32_t rnd;                 /* any random value: makes Message-ID and boundary unique */
    const char *orig;             /* start of the original message (headers), may be NULL */
    size_t orig_len;
};

struct dsn_output {
    char *text;                   /* malloc'd message, CRLF lines, NUL-terminated */
    size_t len;
    size_t nreported;             /* recipients listed */
    unsigned body_flags;          /* ENV_BODY_8BITMIME if the quoted headers hold 8-bit octets */
};

/* False when the original sender is the null path (never bounce a bounce). */
bool dsn_should_bounce(const struct envelope *env);

/* Builds the report. 0, or -1 with err set (no recipient to report, bad input, ENOMEM). */
int dsn_build(const struct dsn_input *in, struct dsn_output *out, char *err, size_t errlen);

/* The envelope of the report: qid, arrival=now, null sender, rcpt = env->sender, due now,
 * direction reversed, size and body flags from out. 0 or -1 (ENOMEM, or null sender). */
int dsn_bounce_envelope(const struct envelope *orig, const struct dsn_output *out,
                        const char *qid, int64_t now, struct envelope *bounce);

/* Status code x.y.z for a reply such as "550 5.1.1 no such user": the enhanced code if it is
 * there and matches the reply class, else 5.0.0 / 4.0.0 from the class, else from action. */
void dsn_status(const char *reply, enum dsn_action action, char status[16]);

/* Length of the header block at the start of msg (up to and including the blank line, or
 * all of it if none), cut back to a whole line so it stays <= max. */
size_t dsn_header_block_len(const char *msg, size_t len, size_t max);

/* RFC 5322 date in UTC ("Tue, 14 Nov 2023 22:13:20 +0000"). */
void dsn_format_date(int64_t t, char out[40]);

#endif

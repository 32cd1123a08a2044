/*
 * smtp_parser.h — pure RFC 5321 server-side codecs: line splitter, command parser and
 * DATA body processor. Bytes in, structs out; no I/O, no allocation.
 *
 * Line splitter: CRLF is the only line end. A bare CR or a bare LF anywhere is its own error
 * class (the 2023 "SMTP smuggling" class), and a line longer than the limit (1000 octets
 * including CRLF by default) is reported once at its CRLF, without buffering more than the
 * limit. A bare LF ends the (refused) line so the client gets an answer.
 *
 * Command parser: HELO/EHLO, MAIL FROM:<path> [SIZE= BODY= SMTPUTF8], RCPT TO:<path>, DATA,
 * RSET, NOOP, QUIT, VRFY, HELP, STARTTLS, EXPN. Verbs are case-insensitive. Paths are checked
 * strictly (dot-atom or quoted local part <= 64, domain or address literal <= 255, whole path
 * <= 256 octets; no '<' or '>', not even quoted, as the client side could not send them);
 * source routes are accepted and dropped; UTF-8 is allowed in the local part
 * only with SMTPUTF8 and must be well-formed. Domains must be ASCII (A-labels).
 *
 * Hop count: the Received: fields of the header block, for the mail-loop limit.
 *
 * DATA processor: dot-unstuffing, end only at CRLF "." CRLF, bare CR/LF or an over-long line
 * refuses the message (the rest is still read up to the real end, so smuggled commands are
 * swallowed as message text), size counted after unstuffing against a limit.
 */
#ifndef MAILTUN_SMTP_PARSER_H
#define MAILTUN_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_LINE_MAX       1000   /* octets including CRLF (RFC 5321 4.5.3.1.4, .1.6) */
#define SMTP_LOCAL_MAX      64
#define SMTP_DOMAIN_MAX     255
#define SMTP_PATH_MAX       256    /* including "<" ">" */
#define SMTP_DATA_CHUNK     8192   /* body bytes handed out at once */

/* ---- line splitter ---------------------------------------------------------------------- */

enum smtp_line_status {
    SMTP_LINE_NEED_MORE = 0, /* all input consumed, no complete line yet */
    SMTP_LINE_OK,            /* a line (without CRLF) is in lb->buf / lb->len */
    SMTP_LINE_TOO_LONG,      /* over the limit; the rest was skipped up to its CRLF */
    SMTP_LINE_BARE_CR,       /* the line held a CR not followed by LF */
    SMTP_LINE_BARE_LF,       /* the line ended with (or held) an LF without CR */
};

struct smtp_linebuf {
    char buf[SMTP_LINE_MAX];
    size_t len;              /* stored octets of the current line */
    size_t total;            /* octets of the current line seen so far (not counting CRLF) */
    size_t max;              /* limit including CRLF */
    bool cr;                 /* last octet was a CR */
    bool bare_cr;
    bool ready;              /* a line was returned; start afresh on the next feed */
};

/* max: line limit including CRLF, clamped to [8, SMTP_LINE_MAX]. */
void smtp_line_init(struct smtp_linebuf *lb, size_t max);
/* Consumes input up to and including the end of one line. Returns octets consumed; *st says
 * whether a line (or a refused line) is complete. lb->buf is valid until the next call. */
size_t smtp_line_feed(struct smtp_linebuf *lb, const char *in, size_t n,
                      enum smtp_line_status *st);
/* Forgets any partial line (after STARTTLS: nothing sent in clear text may survive). */
void smtp_line_reset(struct smtp_linebuf *lb);
const char *smtp_line_status_str(enum smtp_line_status st);

/* ---- command parser --------------------------------------------------------------------- */

enum smtp_verb {
    SMTP_VERB_UNKNOWN = 0,
    SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT, SMTP_VERB_DATA,
    SMTP_VERB_RSET, SMTP_VERB_NOOP, SMTP_VERB_QUIT, SMTP_VERB_VRFY, SMTP_VERB_HELP,
    SMTP_VERB_STARTTLS, SMTP_VERB_EXPN,
};

enum smtp_parse_status {
    SMTP_PARSE_OK = 0,
    SMTP_PARSE_UNKNOWN,      /* 500 5.5.1 command unrecognized */
    SMTP_PARSE_SYNTAX,       /* 501 5.5.2 (argument syntax), why says what */
    SMTP_PARSE_NO_PARAMS,    /* 501 5.5.4 the command takes no argument */
    SMTP_PARSE_BAD_PATH,     /* 501 5.1.7 (MAIL) / 5.1.3 (RCPT) bad address syntax */
    SMTP_PARSE_PATH_LENGTH,  /* 501 5.1.7 / 5.1.3 local part, domain or path too long */
    SMTP_PARSE_NON_ASCII,    /* 553 5.6.7 non-ASCII address without SMTPUTF8 */
    SMTP_PARSE_PARAM,        /* 555 5.5.4 unknown or unsupported MAIL/RCPT parameter */
    SMTP_PARSE_PARAM_SYNTAX, /* 501 5.5.4 bad parameter value or duplicate parameter */
};

enum smtp_body_type { SMTP_BODY_NONE = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

struct smtp_path {
    /* "local@domain" without brackets or source route; "" for the null path <>; for
     * RCPT TO:<Postmaster> just "Postmaster" (domain_len 0). */
    char addr[SMTP_PATH_MAX + 1];
    size_t local_len;        /* octets of the local part in addr */
    size_t domain_len;       /* octets after the "@" (0 for null path / bare postmaster) */
    bool is_null;
    bool utf8;               /* the local part holds non-ASCII */
    bool domain_literal;     /* domain is [address literal] */
};

struct smtp_cmd {
    enum smtp_verb verb;
    char arg[SMTP_LINE_MAX]; /* HELO/EHLO domain, VRFY/HELP/NOOP argument text */
    struct smtp_path path;   /* MAIL / RCPT */
    bool has_size;
    uint64_t size;           /* MAIL SIZE= */
    enum smtp_body_type body;
    bool smtputf8;           /* MAIL SMTPUTF8 */
    const char *why;         /* static text saying what is wrong, when not SMTP_PARSE_OK */
};

/* Parses one command line (without CRLF). utf8_txn: the transaction's MAIL carried SMTPUTF8
 * (only matters for RCPT). Fills cmd->verb even when the arguments are wrong. */
enum smtp_parse_status smtp_cmd_parse(const char *line, size_t len, bool utf8_txn,
                                      struct smtp_cmd *cmd);
const char *smtp_verb_name(enum smtp_verb v);

/* Helpers the session and policy code share. */
/* Length of the well-formed UTF-8 sequence at p (1..4), 0 if malformed/truncated. */
size_t smtp_utf8_seq_len(const unsigned char *p, size_t n);
bool smtp_utf8_valid(const char *p, size_t n);
/* RFC 5321 Domain (ASCII sub-domains) or address literal ("[1.2.3.4]", "[IPv6:...]"). */
bool smtp_domain_valid(const char *p, size_t n, bool *is_literal);

/* ---- DATA body processor ---------------------------------------------------------------- */

enum smtp_data_status {
    SMTP_DATA_NEED_MORE = 0, /* input consumed; feed more */
    SMTP_DATA_FLUSH,         /* d->out is full: write d->out/d->outlen, then smtp_data_flushed() */
    SMTP_DATA_END,           /* end marker seen: write what is left in d->out, check d->err */
};

enum smtp_data_error {
    SMTP_DATA_OK = 0,
    SMTP_DATA_ERR_BARE_CR,   /* 554 5.6.0 */
    SMTP_DATA_ERR_BARE_LF,   /* 554 5.6.0 */
    SMTP_DATA_ERR_LINE,      /* 554 5.6.0 line over the limit */
    SMTP_DATA_ERR_SIZE,      /* 552 5.3.4 over max_size */
};

struct smtp_data {
    int state;               /* internal */
    size_t linelen;          /* octets of the current line on the wire, without CRLF */
    size_t max_line;         /* limit including CRLF */
    uint64_t max_size;       /* 0 = unlimited */
    uint64_t size;           /* body octets after unstuffing, including CRLFs */
    enum smtp_data_error err;/* first error; once set, nothing more is emitted */
    size_t outlen;
    char out[SMTP_DATA_CHUNK];
};

void smtp_data_init(struct smtp_data *d, size_t max_line, uint64_t max_size);
/* Consumes input; returns when it needs more, when d->out is full, or at the end marker.
 * *consumed: octets of in used (input after the end marker is left for the command parser). */
enum smtp_data_status smtp_data_feed(struct smtp_data *d, const char *in, size_t n,
                                     size_t *consumed);
void smtp_data_flushed(struct smtp_data *d);
const char *smtp_data_error_str(enum smtp_data_error e);

/* ---- hop count -------------------------------------------------------------------------- */

/* A message carrying more Received: header fields than this is refused with 554 5.4.6: it is
 * looping (RFC 5321 6.3). OpenSMTPD's limit; Postfix's hopcount_limit is 50. */
#define SMTP_MAX_HOPS 100

/* Counts the Received: fields of the header block (up to the first empty line) of the
 * unstuffed message text, fed in any pieces. "Received :" (obsolete syntax) counts too;
 * folded lines and the body do not. */
struct smtp_hops {
    unsigned count;
    bool body;               /* the header block has ended */
    size_t col;              /* octets of the current line so far */
    char start[16];          /* its first octets */
};

void smtp_hops_init(struct smtp_hops *h);
void smtp_hops_feed(struct smtp_hops *h, const char *p, size_t n);

#endif

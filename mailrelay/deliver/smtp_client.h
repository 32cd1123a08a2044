/*
 * smtp_client.h — the client side of SMTP/LMTP as a pure codec (bytes in, structs out).
 *
 * Replies: smtpc_reply_parse() takes the bytes received so far and says whether they start
 * with one complete reply (single- or multi-line, "250-..." then "250 ..."), needs more, or
 * are malformed (with a reason). Enhanced status codes (RFC 3463) are split off when their
 * class matches the reply code. Lines may end in CRLF or, leniently, in LF.
 * EHLO/LHLO: smtpc_ehlo_parse() turns the reply into extension flags (RFC 5321 4.1.1.1).
 * Commands: smtpc_fmt_*() format one command line, refusing arguments that would smuggle
 * CR, LF, NUL or angle brackets into the conversation.
 * AUTH (RFC 4954): smtpc_auth_decide() says whether to authenticate after EHLO, and refuses
 * to when the session is not encrypted (credentials never travel in clear text);
 * smtpc_fmt_auth_plain() (RFC 4616) and smtpc_fmt_auth_line() (the base64 answers of the
 * LOGIN mechanism) format the lines. The caller wipes those buffers after sending them.
 * Body: smtpc_dot_encode() is a streaming dot-stuffer (RFC 5321 4.5.2) that also forces
 * every line ending to CRLF: a bare LF or a bare CR becomes CRLF, so no "SMTP smuggling"
 * sequence (<LF>.<LF>, <CR>.<CR>) can leave this relay. smtpc_dot_finish() ends the body
 * with CRLF "." CRLF.
 *
 * Limits on everything the server controls: SMTPC_MAX_LINE per line, SMTPC_MAX_LINES per
 * reply, SMTPC_MAX_REPLY octets of reply text kept.
 */
#ifndef MAILTUN_SMTP_CLIENT_H
#define MAILTUN_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTPC_MAX_LINE 2048      /* octets of one reply line incl. CRLF (RFC 5321: 512) */
#define SMTPC_MAX_LINES 64       /* lines of one multi-line reply */
#define SMTPC_MAX_REPLY 8192     /* octets of reply text kept (all lines, '\n'-separated) */
#define SMTPC_MAX_BYTES (SMTPC_MAX_LINE * SMTPC_MAX_LINES)  /* a reply longer than this is refused */
#define SMTPC_SUMMARY 512        /* smtpc_reply_summary() output, NUL included */
#define SMTPC_MAX_CMD 1024       /* a command line we send, CRLF included (RFC 5321: 512 + ext) */

struct smtpc_reply {
    int code;                    /* 200..599 */
    char enh[16];                /* "2.1.5", "" when the reply carries none */
    size_t nlines;
    size_t len;                  /* octets in text */
    /* The text of every line without code, separator and enhanced code, lines joined with
     * '\n'; control octets replaced by '?'. NUL-terminated. */
    char text[SMTPC_MAX_REPLY];
};

/* Parses one reply at the start of buf[0..len).
 * Returns 1: a complete reply is in *r and *used octets belong to it;
 *         0: incomplete, call again with more bytes (len < SMTPC_MAX_BYTES);
 *        -1: malformed (err says why, e.g. "line 2: code 251 differs from 250").
 * A reply that is still incomplete at SMTPC_MAX_BYTES octets is malformed. */
int smtpc_reply_parse(const char *buf, size_t len, struct smtpc_reply *r, size_t *used,
                      char *err, size_t errlen);

/* 2, 3, 4 or 5. */
static inline int smtpc_reply_class(const struct smtpc_reply *r) { return r->code / 100; }

/* One printable line for logs and envelopes: "550 5.1.1 first line second line". */
void smtpc_reply_summary(const struct smtpc_reply *r, char out[SMTPC_SUMMARY]);

/* Splits "X.Y.Z text" off the start of s when it is a well-formed enhanced code of class
 * cls (2, 4, 5). Returns the length of the code plus following blanks (0 if none). */
size_t smtpc_enh_parse(const char *s, size_t len, int cls, char enh[16]);

/* ---- EHLO ---------------------------------------------------------------------------------- */

#define SMTPC_EXT_PIPELINING   0x001u
#define SMTPC_EXT_STARTTLS     0x002u
#define SMTPC_EXT_SIZE         0x004u
#define SMTPC_EXT_8BITMIME     0x008u
#define SMTPC_EXT_SMTPUTF8     0x010u
#define SMTPC_EXT_AUTH         0x020u
#define SMTPC_EXT_ENHANCED     0x040u   /* ENHANCEDSTATUSCODES */
#define SMTPC_EXT_DSN          0x080u
#define SMTPC_EXT_CHUNKING     0x100u
#define SMTPC_EXT_BINARYMIME   0x200u

#define SMTPC_AUTH_PLAIN       0x1u
#define SMTPC_AUTH_LOGIN       0x2u
#define SMTPC_AUTH_CRAM_MD5    0x4u
#define SMTPC_AUTH_XOAUTH2     0x8u

struct smtpc_ext {
    unsigned flags;              /* SMTPC_EXT_* */
    uint64_t size_max;           /* SIZE value; 0 = no limit announced */
    unsigned auth;               /* SMTPC_AUTH_* mechanisms offered */
    char domain[256];            /* the server's name from the first line ("" if none) */
};

/* Reads a 250 reply to EHLO/LHLO. Unknown keywords are ignored, odd parameters of known ones
 * (SIZE abc) make the keyword count as absent. 0, or -1 if r is not a 2xx reply. */
int smtpc_ehlo_parse(const struct smtpc_reply *r, struct smtpc_ext *ext);

/* ---- commands ------------------------------------------------------------------------------ */

/* Each writes one NUL-terminated command line with CRLF into out and returns its length,
 * or -1 with err set when an argument holds CR, LF, NUL, '<' or '>' or the line would not
 * fit SMTPC_MAX_CMD (or outlen). */
int smtpc_fmt_hello(char *out, size_t outlen, bool lmtp, bool esmtp, const char *name,
                    char *err, size_t errlen);
/* body_flags: ENV_BODY_* of envelope.h; parameters are added only where ext announces them
 * (BODY=8BITMIME, SMTPUTF8, SIZE=). sender "" gives MAIL FROM:<>. */
int smtpc_fmt_mail(char *out, size_t outlen, const char *sender, unsigned body_flags,
                   uint64_t size, const struct smtpc_ext *ext, char *err, size_t errlen);
int smtpc_fmt_rcpt(char *out, size_t outlen, const char *rcpt, char *err, size_t errlen);

/* No silent downgrade (RFC 6152 section 3, RFC 6531 section 3.4): a message that needs
 * 8BITMIME or SMTPUTF8 (body_flags, ENV_BODY_*) must not go to a server that does not
 * announce it. Returns 0 when it may go, else the reply code to bounce with (550 5.6.7 for
 * SMTPUTF8, 554 5.6.3 for 8BITMIME) and why, "X.Y.Z text", for the bounce. */
int smtpc_body_check(unsigned body_flags, const struct smtpc_ext *ext, char *why, size_t whylen);

/* ---- AUTH --------------------------------------------------------------------------------- */

#define SMTPC_AUTH_MAX 255       /* octets of a user name or password */

/* Base64 (RFC 4648, with padding) of in[0..n) into out, NUL-terminated. Returns the length
 * (4 * ceil(n / 3)), or -1 if out (outlen octets) is too small. */
int smtpc_b64_encode(const void *in, size_t n, char *out, size_t outlen);

enum smtpc_auth_step {
    SMTPC_AUTH_SKIP,             /* no credentials, or the server offers no AUTH */
    SMTPC_AUTH_DO,               /* authenticate with *mech (SMTPC_AUTH_PLAIN or _LOGIN) */
    SMTPC_AUTH_REFUSE,           /* do not go on with this server; why says why */
};

/* After the (last) EHLO: have_creds says whether credentials are configured, tls_active
 * whether the session is encrypted. REFUSE when credentials are configured and the session
 * is not encrypted (whatever the server offers), or when it offers AUTH but neither PLAIN
 * nor LOGIN. PLAIN is preferred. */
enum smtpc_auth_step smtpc_auth_decide(bool have_creds, bool tls_active,
                                       const struct smtpc_ext *ext, unsigned *mech,
                                       char *why, size_t whylen);

/* "AUTH PLAIN <base64(NUL user NUL pass)>" CRLF. -1 with err when user or pass is empty,
 * longer than SMTPC_AUTH_MAX or holds NUL/CR/LF, or the line does not fit. */
int smtpc_fmt_auth_plain(char *out, size_t outlen, const char *user, const char *pass,
                         char *err, size_t errlen);
/* "<base64(s)>" CRLF: the answers to the LOGIN mechanism's two 334 challenges. Same checks. */
int smtpc_fmt_auth_line(char *out, size_t outlen, const char *s, char *err, size_t errlen);

/* ---- body ---------------------------------------------------------------------------------- */

struct smtpc_dot {
    bool line_start;             /* next octet begins a line */
    bool pending_cr;             /* last input octet was CR; its LF may come in the next chunk */
};

/* Output space smtpc_dot_encode() may need for n input octets. */
#define SMTPC_DOT_BOUND(n) (2 * (size_t)(n) + 2)

void smtpc_dot_init(struct smtpc_dot *st);
/* Encodes in[0..n) into out (room for SMTPC_DOT_BOUND(n)); returns the octets written. */
size_t smtpc_dot_encode(struct smtpc_dot *st, const char *in, size_t n, char *out);
/* Ends the body: completes an open line, then ".\r\n". out needs 5 octets; returns length. */
size_t smtpc_dot_finish(struct smtpc_dot *st, char *out);

#endif

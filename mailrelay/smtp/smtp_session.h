/*
 * smtp_session.h — one inbound SMTP conversation of mailrelayd as an explicit state machine.
 *
 * Pure: no sockets, no files, no timers. The caller (network code) feeds received bytes,
 * drains the queued reply bytes, and reacts to the session's actions:
 *   SMTP_ACT_START_TLS  send the queued output (the "220 Ready to start TLS"), then do the TLS
 *                       handshake and call smtp_session_tls_started(). All input pipelined
 *                       after STARTTLS has been discarded by the session; the caller must
 *                       drop any clear-text bytes it still holds, too.
 *   SMTP_ACT_CLOSE      send the queued output, then close.
 *   SMTP_ACT_WAIT       a commit is pending: do not feed input until commit_done.
 *   SMTP_ACT_DRAIN      much output is queued: send it before feeding more input.
 * smtp_session_input() returns how many bytes it used; the caller keeps the rest and feeds it
 * again once the action that stopped it is over (after commit_done or after draining).
 *
 * Messages go to the store through callbacks: msg_begin (at DATA: gives the queue id before
 * the 354), msg_write (the Received: header first, then the unstuffed body in chunks),
 * msg_commit (250 only once it returns SMTP_STORE_OK, or once smtp_session_commit_done(OK)
 * is called after it returned SMTP_STORE_PENDING), msg_abort (refused or broken message).
 * After msg_commit was called the session never touches that message handle again.
 *
 * Policy: client_allowed at the start, rcpt_allowed for every RCPT (NULL refuses everything:
 * never an open relay). smtp_policy_domains() is a ready rcpt_allowed for a domain list.
 */
#ifndef MAILTUN_SMTP_SESSION_H
#define MAILTUN_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "smtp_parser.h"

#define SMTP_QID_MAX 64           /* queue id buffer size including NUL */

enum smtp_state {
    SMTP_ST_GREETING = 0,         /* connected; EHLO/HELO required */
    SMTP_ST_READY,                /* after EHLO/HELO, no transaction */
    SMTP_ST_MAIL,                 /* MAIL accepted, no recipient yet */
    SMTP_ST_RCPT,                 /* at least one recipient accepted */
    SMTP_ST_DATA,                 /* receiving the message body */
    SMTP_ST_COMMIT,               /* body complete, waiting for the store's commit */
    SMTP_ST_TLS_PENDING,          /* 220 to STARTTLS queued, waiting for the handshake */
    SMTP_ST_QUIT,                 /* finished: flush output and close */
};

enum smtp_action {
    SMTP_ACT_NONE = 0,
    SMTP_ACT_START_TLS = 1 << 0,
    SMTP_ACT_CLOSE = 1 << 1,
    SMTP_ACT_WAIT = 1 << 2,
    SMTP_ACT_DRAIN = 1 << 3,
};

enum smtp_verdict {
    SMTP_ACCEPT = 0,
    SMTP_REJECT_UNKNOWN_USER,     /* 550 5.1.1 */
    SMTP_REJECT_RELAY,            /* 554 5.7.1 relay access denied */
    SMTP_REJECT_ROUTED,           /* 554 5.7.1 '%', '!' or '@' in the local part */
    SMTP_REJECT_CLIENT,           /* 554 5.7.1 at connect (client_allowed) */
    SMTP_TEMPFAIL,                /* 451 4.3.0 (RCPT) / 421 4.3.0 (connect) */
};

enum smtp_store_result {
    SMTP_STORE_OK = 0,            /* commit: the message is on stable storage */
    SMTP_STORE_PENDING,           /* commit only: smtp_session_commit_done() follows */
    SMTP_STORE_TEMPFAIL,          /* 451 4.3.0 */
    SMTP_STORE_NOSPACE,           /* 452 4.3.1 (disk full) */
};

struct smtp_config {
    const char *hostname;         /* our name in greeting, EHLO and Received: */
    size_t max_rcpts;             /* per message; more get 452 4.5.3 (default 100) */
    uint64_t max_size;            /* message bytes, advertised as SIZE (default 10 MiB) */
    unsigned max_commands;        /* per session, then 421 (default 10000) */
    unsigned max_errors;          /* negative replies per session, then 421 (default 20) */
    size_t max_line;              /* octets including CRLF, <= 1000 (default 1000) */
    bool tls_available;           /* a certificate is configured: offer STARTTLS */
    unsigned cmd_timeout_ms;      /* waiting for a command (default 300000, RFC 5321 4.5.3.2.7) */
    unsigned data_timeout_ms;     /* between DATA reads (default 300000) */
    unsigned commit_timeout_ms;   /* waiting for the store's commit (default 600000, 4.5.3.2.6) */
};

struct smtp_envelope {
    const char *client_addr;      /* as given to smtp_session_new */
    const char *helo;
    const char *mail_from;        /* "" for the null reverse path */
    const char *const *rcpts;
    size_t nrcpts;
    enum smtp_body_type body;
    bool smtputf8;
    bool tls;
    uint64_t declared_size;       /* MAIL SIZE=, 0 if not given */
};

struct smtp_callbacks {
    void *policy_ctx;
    /* NULL: every client may talk. */
    enum smtp_verdict (*client_allowed)(void *policy_ctx, const char *client_addr);
    /* NULL: every recipient is refused (554 5.7.1). */
    enum smtp_verdict (*rcpt_allowed)(void *policy_ctx, const char *address);

    void *store_ctx;
    /* Opens a message; writes a NUL-terminated queue id into qid; *msg is the store's handle.
     * Returns OK, TEMPFAIL or NOSPACE (PENDING is treated as TEMPFAIL here). */
    enum smtp_store_result (*msg_begin)(void *store_ctx, const struct smtp_envelope *env,
                                        char *qid, size_t qid_size, void **msg);
    enum smtp_store_result (*msg_write)(void *store_ctx, void *msg, const char *p, size_t n);
    /* Makes the message durable: OK, PENDING (group commit), TEMPFAIL or NOSPACE. The store
     * owns and disposes of msg from here on, whatever it returns. */
    enum smtp_store_result (*msg_commit)(void *store_ctx, void *msg);
    void (*msg_abort)(void *store_ctx, void *msg);
    /* Clock for the Received: date; NULL = time(NULL). */
    time_t (*now)(void *store_ctx);
};

struct smtp_session;

void smtp_config_defaults(struct smtp_config *cfg);

/* cfg and cb must outlive the session. client_addr: printable address ("192.0.2.1",
 * "2001:db8::1"). tls_active: the connection is TLS from the start (port 465 style). */
struct smtp_session *smtp_session_new(const struct smtp_config *cfg,
                                      const struct smtp_callbacks *cb,
                                      const char *client_addr, bool tls_active);
/* Aborts an open message (not one whose commit is pending: that belongs to the store;
 * the caller must then not call smtp_session_commit_done on the freed session). */
void smtp_session_free(struct smtp_session *s);

/* Queues the greeting (220, or 554/421 and close if client_allowed refuses). */
void smtp_session_start(struct smtp_session *s);
/* Handles received bytes in order (pipelining); returns bytes used (see above). */
size_t smtp_session_input(struct smtp_session *s, const char *data, size_t n);
/* The TLS handshake after STARTTLS succeeded: back to GREETING, client must EHLO again. */
void smtp_session_tls_started(struct smtp_session *s);
/* Result of a commit that returned SMTP_STORE_PENDING: queues 250 / 451 / 452. */
void smtp_session_commit_done(struct smtp_session *s, enum smtp_store_result result);
/* The caller's timer for smtp_session_timeout_ms() expired: 421 4.4.2 and close; while a
 * commit is pending, 451 4.3.0 and close (the store keeps the message and its result). */
void smtp_session_timeout(struct smtp_session *s);
/* Milliseconds allowed in the current state: client silence, or the commit's duration in
 * COMMIT (commit_timeout_ms); 0 = no timer (waiting on the caller). */
unsigned smtp_session_timeout_ms(const struct smtp_session *s);

/* Reply bytes waiting to be sent, and how many of them were sent. */
const char *smtp_session_output(const struct smtp_session *s, size_t *len);
void smtp_session_output_consume(struct smtp_session *s, size_t n);

unsigned smtp_session_actions(const struct smtp_session *s);   /* SMTP_ACT_* bits */
enum smtp_state smtp_session_state(const struct smtp_session *s);
const char *smtp_state_name(enum smtp_state st);
/* Queue id of the message in progress (from DATA to its final reply), "" if none. */
const char *smtp_session_qid(const struct smtp_session *s);

/* Formats the trace header (RFC 5321 4.4, RFC 5322 date, RFC 3848 "with" keyword) with its
 * CRLF-folded lines. rcpt: the recipient if exactly one, else NULL. Returns its length, or
 * 0 if it does not fit in size. */
size_t smtp_received_header(char *buf, size_t size, const char *helo, const char *client_addr,
                            const char *by_host, const char *with, const char *qid,
                            const char *rcpt, time_t when);

/* Default recipient policy: the domain must be one of domains (case-insensitive, exact, no
 * subdomains); if recipients is non-empty, the whole address must also be listed there
 * (case-insensitive) or it is an unknown user. A bare "postmaster" is always accepted
 * (RFC 5321 4.5.1). A local part holding '%', '!' or '@' (quoted or not) is refused first
 * (SMTP_REJECT_ROUTED): the percent hack, bang paths and quoted addresses are source routing,
 * and an inside server that honours them would relay for strangers. Use as rcpt_allowed with policy_ctx = struct smtp_policy_domains *. */
struct smtp_policy_domains {
    const char *const *domains;
    size_t ndomains;
    const char *const *recipients;
    size_t nrecipients;
};
enum smtp_verdict smtp_policy_domains(void *policy_ctx, const char *address);

#endif

/*
 * smtp_client_conn.h — one outgoing SMTP or LMTP connection on libevent.
 *
 * Connects over TCP (every address the host name gives, in order) or a Unix socket, reads
 * the greeting, says EHLO (HELO if EHLO is refused) or LHLO, optionally upgrades with
 * STARTTLS through bufferevent_openssl, and then runs mail transactions one at a time:
 * "send this envelope and this body fd, tell me what happened to each recipient".
 * With PIPELINING the MAIL, RCPT and DATA commands go out in one write (RFC 2920).
 * The connection is reused for the next transaction, with an RSET in between.
 *
 * Source address: with `source` set, the socket is bound to that address before connecting,
 * with IP_FREEBIND / IPV6_FREEBIND (the fixed address may not exist yet while the tunnel is
 * down). Only addresses of the same family are tried.
 * SMTP AUTH (RFC 4954): with auth_user and auth_pass set, after the EHLO that follows
 * STARTTLS, the connection authenticates with PLAIN or LOGIN if the server offers AUTH.
 * Credentials are never sent on an unencrypted session: the connection is ended instead
 * ("... credentials are never sent without TLS"), before MAIL FROM. A refused AUTH ends the
 * connection before READY with the server's reply in smtpc_conn_error(). The password
 * never reaches a log line; our copy is wiped when the connection is freed.
 *
 * Every step has a timeout (connect, greeting, each command, each data write, the reply to
 * the final dot). A peer that vanishes, times out or sends a malformed reply ends the
 * connection; recipients still open get a local 4xx result saying where it broke
 * ("lost connection with mx[192.0.2.1]:25 while sending message body").
 *
 * Events reach the owner through one callback:
 *   SMTPC_EV_READY     greeting and hello done: smtpc_conn_start() may be called.
 *   SMTPC_EV_TXN_DONE  the transaction's results are filled in; if smtpc_conn_idle() the
 *                      next one may be started (from within the callback, too).
 *   SMTPC_EV_CLOSED    the connection is gone (smtpc_conn_error() says why, "" after a
 *                      clean QUIT). Nothing follows; smtpc_conn_free() may be called here.
 * smtpc_conn_free() is allowed from the CLOSED callback or from outside any callback.
 * A failure during a transaction gives TXN_DONE (with the results) and then CLOSED; both are
 * delivered from the event loop, never from inside a call the owner made.
 *
 * Needs: libevent (+ libevent_openssl), OpenSSL, lib/log.h; the process must ignore SIGPIPE
 * (a peer that vanishes turns writes into EPIPE). Host names are resolved with
 * blocking getaddrinfo() (the inside server is on the LAN or in /etc/hosts; use an address).
 */
#ifndef MAILTUN_SMTP_CLIENT_CONN_H
#define MAILTUN_SMTP_CLIENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "smtp_client.h"

struct event_base;
struct smtpc_conn;

enum smtpc_tls_mode {
    SMTPC_TLS_OFF,              /* never STARTTLS */
    SMTPC_TLS_OPPORTUNISTIC,    /* STARTTLS when offered, no certificate check */
    SMTPC_TLS_VERIFY,           /* STARTTLS required; chain (ssl_ctx's CAs) and name verified */
};

struct smtpc_conn_config {
    const char *host;           /* address, host name, or the path of a Unix socket */
    int port;                   /* TCP port; < 0: host is a Unix socket path */
    bool lmtp;                  /* LHLO, one reply per accepted recipient after the dot */
    enum smtpc_tls_mode tls;
    SSL_CTX *ssl_ctx;           /* needed unless tls == OFF; the owner keeps and frees it */
    const char *tls_name;       /* VERIFY: name the certificate must carry (NULL: host) */
    const char *helo_name;      /* our name in EHLO/LHLO */
    const char *source;         /* numeric address to connect from (NULL: the kernel's choice) */
    const char *auth_user;      /* SMTP AUTH when both are set (only over TLS) */
    const char *auth_pass;
    int connect_timeout_ms;
    int greeting_timeout_ms;    /* also the TLS handshake */
    int command_timeout_ms;     /* each reply to EHLO, MAIL, RCPT, DATA, RSET, QUIT */
    int data_timeout_ms;        /* each write of the body making no progress */
    int dot_timeout_ms;         /* the reply(ies) to the final dot */
};

enum smtpc_event { SMTPC_EV_READY, SMTPC_EV_TXN_DONE, SMTPC_EV_CLOSED };

typedef void smtpc_conn_cb(void *arg, struct smtpc_conn *c, enum smtpc_event ev);

struct smtpc_rcpt_result {
    int code;                   /* reply code (250, 451, 550 ...); 0 = no answer yet */
    bool local;                 /* made up here (connection lost, bad address), not the server's */
    char reply[SMTPC_SUMMARY];  /* "550 5.1.1 no such user" or the local reason */
};

struct smtpc_txn {
    /* in; the strings and the fd stay the owner's and must live until TXN_DONE */
    const char *sender;         /* "" = null sender */
    const char *const *rcpt;
    size_t nrcpt;
    unsigned body_flags;        /* ENV_BODY_* */
    uint64_t size;              /* octets of the message: SIZE= and how many are sent */
    int data_fd;                /* exactly size octets are read from its current offset
                                 * (the spool file goes on with the envelope trailer) */
    /* out */
    struct smtpc_rcpt_result *result;   /* nrcpt entries, owner-allocated, filled here */
    bool stale;                 /* a reused connection died before the server answered
                                 * anything of this transaction: nothing was tried */
};

/* Starts connecting (never calls back from here). Copies the config's strings.
 * NULL only on ENOMEM. */
struct smtpc_conn *smtpc_conn_new(struct event_base *base, const struct smtpc_conn_config *cfg,
                                  smtpc_conn_cb *cb, void *arg);

/* Starts a transaction on an idle connection. 0: started, TXN_DONE will follow.
 * -1: refused locally without sending anything (sender with a forbidden octet: every
 *     result is a local 5xx); the connection stays idle, no callback follows.
 * -2: the connection is not idle. Recipients with a forbidden octet get a local 553 and
 *     are not sent; the others go ahead. */
int smtpc_conn_start(struct smtpc_conn *c, struct smtpc_txn *t);

/* Sends QUIT (when idle) and closes; CLOSED follows. */
void smtpc_conn_quit(struct smtpc_conn *c);

/* Closes at once, without callbacks. */
void smtpc_conn_free(struct smtpc_conn *c);

/* Connected, hello done, no transaction running. */
bool smtpc_conn_idle(const struct smtpc_conn *c);
/* The connection reached READY at least once (false: connect, greeting or hello failed). */
bool smtpc_conn_was_ready(const struct smtpc_conn *c);
/* "host[addr]:port", a socket path, or "none" while not connected. */
const char *smtpc_conn_relay(const struct smtpc_conn *c);
/* Why the connection ended; "" while open or after a clean QUIT. */
const char *smtpc_conn_error(const struct smtpc_conn *c);
/* The connection ended because the TLS handshake failed (opportunistic callers may want to
 * try without TLS for a while). */
bool smtpc_conn_tls_failed(const struct smtpc_conn *c);
bool smtpc_conn_tls_active(const struct smtpc_conn *c);
/* The connection authenticated (AUTH answered 235). */
bool smtpc_conn_authenticated(const struct smtpc_conn *c);
const struct smtpc_ext *smtpc_conn_ext(const struct smtpc_conn *c);
/* Transactions completed on this connection. */
unsigned smtpc_conn_txns(const struct smtpc_conn *c);

#endif

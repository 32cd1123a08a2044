/*
 * smtp_client_conn.c — one outgoing SMTP/LMTP connection on libevent (see smtp_client_conn.h).
 *
 * One state machine (enum sc_state, changed only by set_state(), each change logged at debug
 * level). A transaction is a list of commands [RSET] MAIL RCPT... DATA; `sent` and
 * `answered` index into it, so the pipelined and the one-by-one case share the reply code.
 * Failures never call back from inside the failing stack: fail() parks the connection in
 * SC_CLOSED and an event delivers TXN_DONE/CLOSED from the loop.
 * Session set-up: greeting -> hello -> [starttls -> tls-handshake -> hello] -> [auth] ->
 * ready. after_hello() is the one place that decides between STARTTLS, AUTH and READY, so
 * no path reaches AUTH or MAIL on a session that should have been encrypted.
 *
 * Needs: libevent, libevent_openssl, OpenSSL, smtp_client.c (codec), lib/log.h.
 */
#include "smtp_client_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "log.h"

#define BODY_CHUNK (64 * 1024)
#define BODY_HIGH (256 * 1024)     /* keep at most this much body queued for the socket */

enum sc_state {
    SC_CONNECTING, SC_GREETING, SC_HELLO, SC_STARTTLS, SC_HANDSHAKE, SC_AUTH, SC_READY,
    SC_TXN, SC_BODY, SC_DOT, SC_QUIT, SC_CLOSED,
};

static const char *const state_names[] = {
    "connecting", "greeting", "hello", "starttls", "tls-handshake", "auth", "ready",
    "transaction", "body", "dot", "quit", "closed",
};

/* What the server is asked while in a state: for "lost connection ... while <what>". */
static const char *const state_doing[] = {
    "connecting", "receiving the initial server greeting", "performing the EHLO handshake",
    "sending STARTTLS", "performing the TLS handshake", "performing SMTP AUTH", "idle",
    "sending MAIL/RCPT/DATA", "sending message body", "sending end of data",
    "sending QUIT", "closed",
};

enum cmd_kind { CMD_RSET, CMD_MAIL, CMD_RCPT, CMD_DATA };

struct smtpc_conn {
    struct event_base *base;
    smtpc_conn_cb *cb;
    void *arg;
    struct smtpc_conn_config cfg;      /* strings below are our copies */
    char *host, *tls_name, *helo_name, *source;
    char *auth_user, *auth_pass;       /* wiped in smtpc_conn_free() */

    enum sc_state state;
    struct bufferevent *bev;
    struct event *timer;               /* the current step's timeout */
    struct event *notify;              /* delivers TXN_DONE/CLOSED after fail() */
    struct addrinfo *ai, *ai_cur;
    char relay[300];
    char error[SMTPC_SUMMARY];
    char last_connect_err[SMTPC_SUMMARY];
    bool esmtp;                        /* EHLO (not HELO) in use */
    bool tls_active, tls_failed;
    bool was_ready;
    bool authenticated;
    unsigned auth_mech;                /* SMTPC_AUTH_PLAIN or _LOGIN while in SC_AUTH */
    unsigned auth_step;                /* LOGIN: 0 AUTH sent, 1 user sent, 2 password sent */
    bool quit_sent;
    unsigned ntxn;
    struct smtpc_ext ext;
    struct smtpc_reply reply;

    /* the running transaction */
    struct smtpc_txn *txn;
    bool txn_done_pending;             /* TXN_DONE owed to the owner (delivered by notify) */
    size_t *send_idx, nsend;           /* recipients that go out, in order */
    size_t *acc_idx, nacc;             /* recipients the server accepted, in order */
    size_t ncmd, sent, answered;
    bool with_rset, mail_ok, discard_dot, any_reply;
    size_t dot_expect, dot_got;
    struct smtpc_dot dot;
    uint64_t body_left;                /* octets of the message still to read */
};

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void try_connect(struct smtpc_conn *c);

static void set_state(struct smtpc_conn *c, enum sc_state s)
{
    if (c->state == s)
        return;
    log_debug("smtpc state relay=%s from=%s to=%s", c->relay, state_names[c->state],
              state_names[s]);
    c->state = s;
}

static void arm(struct smtpc_conn *c, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    evtimer_add(c->timer, &tv);
}

/* Ends the connection with a reason; callbacks follow from the loop. */
static void fail(struct smtpc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct smtpc_conn *c, const char *fmt, ...)
{
    va_list ap;

    if (c->state == SC_CLOSED)
        return;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
    log_debug("smtpc closed relay=%s reason=\"%s\"", c->relay, c->error);
    set_state(c, SC_CLOSED);
    evtimer_del(c->timer);
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    event_active(c->notify, 0, 0);
}

static void lost(struct smtpc_conn *c, const char *why)
{
    fail(c, "%s with %s while %s", why, c->relay, state_doing[c->state]);
}

static void send_str(struct smtpc_conn *c, const char *s, size_t n)
{
    bufferevent_write(c->bev, s, n);
}

/* ---- connecting ---------------------------------------------------------------------------- */

static void set_relay_from_peer(struct smtpc_conn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char addr[INET6_ADDRSTRLEN] = "?";
    int fd = bufferevent_getfd(c->bev);

    if (c->cfg.port < 0) {
        snprintf(c->relay, sizeof(c->relay), "%s", c->host);
        return;
    }
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
    }
    snprintf(c->relay, sizeof(c->relay), "%s[%s]:%d", c->host, addr, c->cfg.port);
}

static void describe_ai(const struct smtpc_conn *c, const struct addrinfo *ai, char *out, size_t n)
{
    char addr[INET6_ADDRSTRLEN] = "?";

    if (ai->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr, sizeof(addr));
    else if (ai->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, addr, sizeof(addr));
    snprintf(out, n, "%s[%s]:%d", c->host, addr, c->cfg.port);
}

static void connect_failed(struct smtpc_conn *c, const char *why)
{
    char where[300];

    if (c->cfg.port < 0)
        snprintf(where, sizeof(where), "%s", c->host);
    else
        describe_ai(c, c->ai_cur, where, sizeof(where));
    snprintf(c->last_connect_err, sizeof(c->last_connect_err), "connect to %.300s: %.150s", where, why);
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    if (c->cfg.port >= 0 && c->ai_cur && c->ai_cur->ai_next) {
        c->ai_cur = c->ai_cur->ai_next;
        try_connect(c);
        return;
    }
    fail(c, "%s", c->last_connect_err);
}

/* A TCP socket bound to c->source (IP_FREEBIND: the fixed address may not be up yet).
 * -1 with why filled. */
static int bound_socket(struct smtpc_conn *c, int family, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1, fd;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        sl = sizeof(*in);
        if (inet_pton(AF_INET, c->source, &in->sin_addr) != 1) {
            snprintf(why, whylen, "source address %s is not an IPv4 address", c->source);
            return -1;
        }
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        sl = sizeof(*in6);
        if (inet_pton(AF_INET6, c->source, &in6->sin6_addr) != 1) {
            snprintf(why, whylen, "source address %s is not an IPv6 address", c->source);
            return -1;
        }
    } else {
        snprintf(why, whylen, "unsupported address family");
        return -1;
    }
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        return -1;
    }
    if (family == AF_INET)
        (void)setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
    else
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        snprintf(why, whylen, "cannot bind source address %s: %s", c->source, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void try_connect(struct smtpc_conn *c)
{
    struct sockaddr_un sun;
    const struct sockaddr *sa;
    socklen_t sl;
    int fd = -1;

    if (c->cfg.port < 0) {
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (strlen(c->host) >= sizeof(sun.sun_path)) {
            fail(c, "connect to %s: socket path too long", c->host);
            return;
        }
        memcpy(sun.sun_path, c->host, strlen(c->host));
        sa = (const struct sockaddr *)&sun;
        sl = sizeof(sun);
    } else {
        sa = c->ai_cur->ai_addr;
        sl = c->ai_cur->ai_addrlen;
        if (c->source) {
            char why[200];
            fd = bound_socket(c, c->ai_cur->ai_family, why, sizeof(why));
            if (fd < 0) {
                connect_failed(c, why);
                return;
            }
        }
    }
    c->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!c->bev) {
        if (fd >= 0)
            close(fd);
        fail(c, "out of memory");
        return;
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    arm(c, c->cfg.connect_timeout_ms);
    if (bufferevent_socket_connect(c->bev, sa, (int)sl) < 0)
        connect_failed(c, strerror(errno ? errno : ECONNREFUSED));
}

static void start_hello(struct smtpc_conn *c)
{
    char line[SMTPC_MAX_CMD + 1], err[128];
    int n = smtpc_fmt_hello(line, sizeof(line), c->cfg.lmtp, c->esmtp, c->helo_name, err,
                            sizeof(err));

    if (n < 0) {
        fail(c, "cannot say hello: %s", err);
        return;
    }
    set_state(c, SC_HELLO);
    send_str(c, line, (size_t)n);
    arm(c, c->cfg.command_timeout_ms);
}

static void become_ready(struct smtpc_conn *c)
{
    evtimer_del(c->timer);
    set_state(c, SC_READY);
    if (!c->was_ready)
        log_debug("smtpc ready relay=%s tls=%s pipelining=%s", c->relay,
                  c->tls_active ? "yes" : "no",
                  c->ext.flags & SMTPC_EXT_PIPELINING ? "yes" : "no");
    c->was_ready = true;
    c->cb(c->arg, c, SMTPC_EV_READY);
}

/* Sends one AUTH line from a buffer that is wiped right after (it carries the password). */
static void send_secret(struct smtpc_conn *c, char *line, int n)
{
    if (n > 0)
        send_str(c, line, (size_t)n);
    explicit_bzero(line, SMTPC_MAX_CMD + 1);
}

static void start_auth(struct smtpc_conn *c, unsigned mech)
{
    char line[SMTPC_MAX_CMD + 1], err[128];
    int n;

    c->auth_mech = mech;
    c->auth_step = 0;
    set_state(c, SC_AUTH);
    if (mech == SMTPC_AUTH_PLAIN) {
        n = smtpc_fmt_auth_plain(line, sizeof(line), c->auth_user, c->auth_pass, err, sizeof(err));
        if (n < 0) {
            explicit_bzero(line, sizeof(line));
            fail(c, "SMTP AUTH with %s not possible: %s", c->relay, err);
            return;
        }
        send_secret(c, line, n);
    } else {
        send_str(c, "AUTH LOGIN\r\n", 12);
    }
    arm(c, c->cfg.command_timeout_ms);
}

static void auth_reply(struct smtpc_conn *c, const struct smtpc_reply *r, const char *summary)
{
    const char *mname = c->auth_mech == SMTPC_AUTH_PLAIN ? "PLAIN" : "LOGIN";
    char line[SMTPC_MAX_CMD + 1], err[128];

    if (r->code == 235) {
        c->authenticated = true;
        log_info("smtpc auth relay=%s mechanism=%s user=%s", c->relay, mname, c->auth_user);
        become_ready(c);
        return;
    }
    if (r->code == 334 && c->auth_mech == SMTPC_AUTH_LOGIN && c->auth_step < 2) {
        int n = smtpc_fmt_auth_line(line, sizeof(line),
                                    c->auth_step == 0 ? c->auth_user : c->auth_pass, err, sizeof(err));
        if (n < 0) {
            explicit_bzero(line, sizeof(line));
            send_str(c, "*\r\n", 3);   /* cancel (RFC 4954 4) */
            fail(c, "SMTP AUTH with %s not possible: %s", c->relay, err);
            return;
        }
        send_secret(c, line, n);
        c->auth_step++;
        arm(c, c->cfg.command_timeout_ms);
        return;
    }
    fail(c, "SMTP AUTH %s as %s refused by %s: %s", mname, c->auth_user, c->relay, summary);
}

/* The (last) hello is done: STARTTLS, AUTH or ready. */
static void after_hello(struct smtpc_conn *c)
{
    enum smtpc_auth_step step;
    unsigned mech;
    char why[160];

    if (!c->tls_active && c->cfg.tls != SMTPC_TLS_OFF) {
        if (c->ext.flags & SMTPC_EXT_STARTTLS) {
            set_state(c, SC_STARTTLS);
            send_str(c, "STARTTLS\r\n", 10);
            arm(c, c->cfg.command_timeout_ms);
            return;
        }
        if (c->cfg.tls == SMTPC_TLS_VERIFY) {
            fail(c, "TLS is required, but host %s does not offer STARTTLS", c->relay);
            return;
        }
    }
    step = smtpc_auth_decide(c->auth_user && c->auth_pass, c->tls_active, &c->ext, &mech, why,
                             sizeof(why));
    if (step == SMTPC_AUTH_REFUSE) {
        fail(c, "not authenticating with %s: %s", c->relay, why);
        return;
    }
    if (step == SMTPC_AUTH_DO) {
        start_auth(c, mech);
        return;
    }
    if (c->auth_user && c->auth_pass)
        log_info("smtpc auth relay=%s skipped: the server offers no AUTH", c->relay);
    become_ready(c);
}

static void start_tls(struct smtpc_conn *c)
{
    const char *name = c->tls_name ? c->tls_name : c->host;
    SSL *ssl = SSL_new(c->cfg.ssl_ctx);
    struct in6_addr tmp;

    if (!ssl) {
        fail(c, "TLS: cannot create a session");
        return;
    }
    if (c->cfg.port >= 0 && inet_pton(AF_INET, name, &tmp) != 1 && inet_pton(AF_INET6, name, &tmp) != 1)
        SSL_set_tlsext_host_name(ssl, name);
    if (c->cfg.tls == SMTPC_TLS_VERIFY) {
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        if (!SSL_set1_host(ssl, name)) {
            SSL_free(ssl);
            fail(c, "TLS: cannot set the expected name %s", name);
            return;
        }
    } else {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    }
    struct bufferevent *f = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
                                                           BUFFEREVENT_SSL_CONNECTING,
                                                           BEV_OPT_CLOSE_ON_FREE |
                                                           BEV_OPT_DEFER_CALLBACKS);
    if (!f) {
        SSL_free(ssl);
        fail(c, "TLS: cannot set up the filter");
        return;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
    c->bev = f;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    set_state(c, SC_HANDSHAKE);
    arm(c, c->cfg.greeting_timeout_ms);
}

/* ---- transactions -------------------------------------------------------------------------- */

static enum cmd_kind cmd_kind_at(const struct smtpc_conn *c, size_t k, size_t *rcpt_pos)
{
    if (c->with_rset) {
        if (k == 0)
            return CMD_RSET;
        k--;
    }
    if (k == 0)
        return CMD_MAIL;
    if (k - 1 < c->nsend) {
        *rcpt_pos = k - 1;
        return CMD_RCPT;
    }
    return CMD_DATA;
}

/* A local result carries a code like a server's: "451 4.4.2 lost connection ...". */
static void set_result(struct smtpc_rcpt_result *r, int code, bool local, const char *text)
{
    r->code = code;
    r->local = local;
    if (local)
        snprintf(r->reply, sizeof(r->reply), "%d %.*s", code, (int)sizeof(r->reply) - 5, text);
    else
        snprintf(r->reply, sizeof(r->reply), "%.*s", (int)sizeof(r->reply) - 1, text);
}

/* Sends command k (its arguments were checked by smtpc_conn_start()). */
static void send_cmd(struct smtpc_conn *c, size_t k)
{
    char line[SMTPC_MAX_CMD + 1];
    size_t pos = 0;
    int n = -1;

    switch (cmd_kind_at(c, k, &pos)) {
    case CMD_RSET: n = snprintf(line, sizeof(line), "RSET\r\n"); break;
    case CMD_MAIL:
        n = smtpc_fmt_mail(line, sizeof(line), c->txn->sender, c->txn->body_flags,
                           c->txn->size, &c->ext, NULL, 0);
        break;
    case CMD_RCPT:
        n = smtpc_fmt_rcpt(line, sizeof(line), c->txn->rcpt[c->send_idx[pos]], NULL, 0);
        break;
    case CMD_DATA: n = snprintf(line, sizeof(line), "DATA\r\n"); break;
    }
    if (n > 0)   /* checked in smtpc_conn_start() */
        send_str(c, line, (size_t)n);
}

static void txn_finish(struct smtpc_conn *c)
{
    struct smtpc_txn *t = c->txn;

    for (size_t i = 0; i < t->nrcpt; i++)
        if (t->result[i].code == 0)
            set_result(&t->result[i], 451, true, "4.3.0 transaction ended without an answer");
    c->txn = NULL;
    c->ntxn++;
    evtimer_del(c->timer);
    set_state(c, SC_READY);
    c->cb(c->arg, c, SMTPC_EV_TXN_DONE);
}

/* The server's reply to MAIL/RCPT/DATA/RSET number c->answered. */
static void txn_reply(struct smtpc_conn *c, const struct smtpc_reply *r, const char *summary)
{
    struct smtpc_txn *t = c->txn;
    size_t pos = 0;
    int cls = smtpc_reply_class(r);
    enum cmd_kind kind = cmd_kind_at(c, c->answered++, &pos);

    c->any_reply = true;
    switch (kind) {
    case CMD_RSET:
        if (cls != 2) {
            char why[SMTPC_SUMMARY + 32];
            snprintf(why, sizeof(why), "4.4.2 RSET refused: %.*s", SMTPC_SUMMARY - 32, summary);
            for (size_t i = 0; i < t->nrcpt; i++)
                if (!t->result[i].code)
                    set_result(&t->result[i], 451, true, why);
            /* the server's state is unknown: finish here, the owner sees it is not idle */
            fail(c, "RSET refused by %s: %s", c->relay, summary);
            return;
        }
        break;
    case CMD_MAIL:
        c->mail_ok = cls == 2;
        if (!c->mail_ok)
            for (size_t i = 0; i < c->nsend; i++)
                set_result(&t->result[c->send_idx[i]], r->code, false, summary);
        break;
    case CMD_RCPT:
        if (c->mail_ok) {
            size_t ri = c->send_idx[pos];
            /* an accepted recipient stays open until the reply to the dot: a connection
             * lost before that must not count as delivered */
            if (cls == 2)
                c->acc_idx[c->nacc++] = ri;
            else
                set_result(&t->result[ri], r->code, false, summary);
        }
        break;
    case CMD_DATA:
        if (r->code == 354) {
            if (!c->mail_ok || c->nacc == 0) {
                /* a pipelining server said 354 with nobody to deliver to: end it empty */
                c->discard_dot = true;
                c->dot_expect = 1;
                c->dot_got = 0;
                send_str(c, ".\r\n", 3);
                set_state(c, SC_DOT);
                arm(c, c->cfg.dot_timeout_ms);
                return;
            }
            smtpc_dot_init(&c->dot);
            c->body_left = c->txn->size;
            set_state(c, SC_BODY);
            evtimer_del(c->timer);
            struct timeval tv = { c->cfg.data_timeout_ms / 1000, (c->cfg.data_timeout_ms % 1000) * 1000 };
            bufferevent_set_timeouts(c->bev, NULL, &tv);
            on_write(c->bev, c);    /* queue the first chunks */
            return;
        }
        if (c->mail_ok)
            for (size_t i = 0; i < c->nacc; i++)
                set_result(&t->result[c->acc_idx[i]], r->code, false, summary);
        txn_finish(c);
        return;
    }

    if (c->answered < c->sent) {
        arm(c, c->cfg.command_timeout_ms);
        return;
    }
    /* one by one: decide what to send next */
    size_t next = c->sent;
    if (next < c->ncmd) {
        enum cmd_kind nk = cmd_kind_at(c, next, &pos);
        if (!c->mail_ok && nk != CMD_MAIL) {
            txn_finish(c);
            return;
        }
        if (nk == CMD_DATA && c->nacc == 0) {
            txn_finish(c);
            return;
        }
        send_cmd(c, next);
        c->sent++;
        arm(c, c->cfg.command_timeout_ms);
        return;
    }
    txn_finish(c);
}

static void dot_reply(struct smtpc_conn *c, const struct smtpc_reply *r, const char *summary)
{
    struct smtpc_txn *t = c->txn;

    if (!c->discard_dot) {
        if (c->cfg.lmtp) {
            set_result(&t->result[c->acc_idx[c->dot_got]], r->code, false, summary);
        } else {
            for (size_t i = 0; i < c->nacc; i++)
                set_result(&t->result[c->acc_idx[i]], r->code, false, summary);
        }
    }
    if (++c->dot_got < c->dot_expect) {
        arm(c, c->cfg.dot_timeout_ms);
        return;
    }
    txn_finish(c);
}

int smtpc_conn_start(struct smtpc_conn *c, struct smtpc_txn *t)
{
    char line[SMTPC_MAX_CMD + 1], err[128];

    if (c->state != SC_READY || c->txn)
        return -2;
    for (size_t i = 0; i < t->nrcpt; i++)
        memset(&t->result[i], 0, sizeof(t->result[i]));
    t->stale = false;
    int code = smtpc_body_check(t->body_flags, &c->ext, err, sizeof(err));
    if (code) {
        for (size_t i = 0; i < t->nrcpt; i++)
            set_result(&t->result[i], code, true, err);
        return -1;
    }
    if (smtpc_fmt_mail(line, sizeof(line), t->sender, t->body_flags, t->size, &c->ext, err,
                       sizeof(err)) < 0) {
        for (size_t i = 0; i < t->nrcpt; i++)
            set_result(&t->result[i], 553, true, "5.1.7 sender address not usable");
        return -1;
    }
    size_t *si = realloc(c->send_idx, (t->nrcpt ? t->nrcpt : 1) * sizeof(*si));
    if (si)
        c->send_idx = si;
    size_t *ai = si ? realloc(c->acc_idx, (t->nrcpt ? t->nrcpt : 1) * sizeof(*ai)) : NULL;
    if (ai)
        c->acc_idx = ai;
    if (!si || !ai) {
        for (size_t i = 0; i < t->nrcpt; i++)
            set_result(&t->result[i], 451, true, "4.3.0 out of memory");
        return -1;
    }
    c->nsend = c->nacc = 0;
    for (size_t i = 0; i < t->nrcpt; i++) {
        if (smtpc_fmt_rcpt(line, sizeof(line), t->rcpt[i], err, sizeof(err)) < 0)
            set_result(&t->result[i], 553, true, "5.1.3 recipient address not usable");
        else
            c->send_idx[c->nsend++] = i;
    }
    if (c->nsend == 0)
        return -1;
    c->txn = t;
    c->with_rset = c->ntxn > 0;
    c->ncmd = (c->with_rset ? 1 : 0) + 1 + c->nsend + 1;
    c->sent = c->answered = 0;
    c->mail_ok = false;
    c->discard_dot = false;
    c->any_reply = false;
    c->dot_expect = c->dot_got = 0;
    set_state(c, SC_TXN);
    if (c->ext.flags & SMTPC_EXT_PIPELINING) {
        while (c->sent < c->ncmd)
            send_cmd(c, c->sent++);
    } else {
        send_cmd(c, c->sent++);
    }
    arm(c, c->cfg.command_timeout_ms);
    return 0;
}

/* ---- I/O callbacks ------------------------------------------------------------------------- */

static void on_reply(struct smtpc_conn *c)
{
    const struct smtpc_reply *r = &c->reply;
    char summary[SMTPC_SUMMARY];
    int cls = smtpc_reply_class(r);

    smtpc_reply_summary(r, summary);
    switch (c->state) {
    case SC_GREETING:
        if (r->code != 220) {
            fail(c, "host %s refused to talk to me: %s", c->relay, summary);
            return;
        }
        start_hello(c);
        return;
    case SC_HELLO:
        if (cls != 2) {
            if (c->esmtp && !c->cfg.lmtp && cls == 5) {
                c->esmtp = false;   /* an old server: try HELO */
                start_hello(c);
                return;
            }
            fail(c, "host %s refused our %s: %s", c->relay,
                 c->cfg.lmtp ? "LHLO" : c->esmtp ? "EHLO" : "HELO", summary);
            return;
        }
        if (c->esmtp || c->cfg.lmtp)
            smtpc_ehlo_parse(r, &c->ext);
        else
            memset(&c->ext, 0, sizeof(c->ext));
        after_hello(c);
        return;
    case SC_STARTTLS:
        if (r->code != 220) {
            if (c->cfg.tls == SMTPC_TLS_VERIFY) {
                fail(c, "TLS is required, but host %s refused STARTTLS: %s", c->relay, summary);
                return;
            }
            log_info("smtpc starttls refused relay=%s reply=\"%s\", continuing without TLS",
                     c->relay, summary);
            c->cfg.tls = SMTPC_TLS_OFF;     /* after_hello() must not ask again */
            after_hello(c);
            return;
        }
        /* Anything the server sent after its 220 is clear text that would land inside the
         * TLS session (STARTTLS command injection): refuse it. */
        if (evbuffer_get_length(bufferevent_get_input(c->bev))) {
            fail(c, "host %s sent data after its STARTTLS reply", c->relay);
            return;
        }
        start_tls(c);
        return;
    case SC_AUTH:
        auth_reply(c, r, summary);
        return;
    case SC_TXN:
        txn_reply(c, r, summary);
        return;
    case SC_DOT:
        dot_reply(c, r, summary);
        return;
    case SC_BODY:
        /* A reply in the middle of the body: the server gave up on this message. */
        for (size_t i = 0; i < c->nacc; i++)
            set_result(&c->txn->result[c->acc_idx[i]], cls == 5 ? r->code : 451, false,
                       summary);
        fail(c, "host %s answered during the message body: %s", c->relay, summary);
        return;
    case SC_QUIT:
        fail(c, "%s", "");
        c->error[0] = '\0';
        return;
    case SC_READY:
        fail(c, "host %s closed the idle connection: %s", c->relay, summary);
        return;
    default:
        fail(c, "host %s sent an unexpected reply: %s", c->relay, summary);
        return;
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct smtpc_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char err[128];

    while (c->state != SC_CLOSED && c->state != SC_HANDSHAKE && c->bev == bev) {
        size_t len = evbuffer_get_length(in), used = 0;
        if (!len)
            return;
        size_t n = len < SMTPC_MAX_BYTES ? len : SMTPC_MAX_BYTES;
        const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
        int rc = p ? smtpc_reply_parse(p, n, &c->reply, &used, err, sizeof(err)) : -1;
        if (rc == 0 && len > n)
            rc = -1, snprintf(err, sizeof(err), "reply longer than %d octets", SMTPC_MAX_BYTES);
        if (rc == 0)
            return;
        if (rc < 0) {
            fail(c, "malformed reply from %s: %s", c->relay, err);
            return;
        }
        evbuffer_drain(in, used);
        on_reply(c);
    }
}

/* Keeps the body flowing: called when the socket drained below the low watermark. */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct smtpc_conn *c = arg;
    struct evbuffer *out = bufferevent_get_output(bev);
    char in[BODY_CHUNK];
    static char enc[SMTPC_DOT_BOUND(BODY_CHUNK)];

    if (c->state != SC_BODY)
        return;
    while (evbuffer_get_length(out) < BODY_HIGH) {
        size_t want = c->body_left < sizeof(in) ? (size_t)c->body_left : sizeof(in);
        ssize_t n = want ? read(c->txn->data_fd, in, want) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n == 0 && c->body_left > 0)) {
            /* never send the dot: a cut message must not be delivered */
            const char *why = n < 0 ? strerror(errno) : "the spool file is shorter than its size";
            for (size_t i = 0; i < c->nacc; i++)
                set_result(&c->txn->result[c->acc_idx[i]], 451, true,
                           "4.3.0 error reading the message from the spool");
            fail(c, "reading the message for %s: %s", c->relay, why);
            return;
        }
        c->body_left -= (uint64_t)n;
        if (n == 0) {
            size_t m = smtpc_dot_finish(&c->dot, enc);
            evbuffer_add(out, enc, m);
            bufferevent_set_timeouts(c->bev, NULL, NULL);
            set_state(c, SC_DOT);
            c->dot_expect = c->cfg.lmtp ? c->nacc : 1;
            c->dot_got = 0;
            arm(c, c->cfg.dot_timeout_ms);
            return;
        }
        size_t m = smtpc_dot_encode(&c->dot, in, (size_t)n, enc);
        evbuffer_add(out, enc, m);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct smtpc_conn *c = arg;

    if (bev != c->bev || c->state == SC_CLOSED)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        if (c->state == SC_CONNECTING) {
            set_relay_from_peer(c);
            bufferevent_setwatermark(c->bev, EV_WRITE, BODY_CHUNK, 0);
            bufferevent_enable(c->bev, EV_READ | EV_WRITE);
            set_state(c, SC_GREETING);
            arm(c, c->cfg.greeting_timeout_ms);
        } else if (c->state == SC_HANDSHAKE) {
            c->tls_active = true;
            SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
            log_info("smtpc tls relay=%s protocol=%s cipher=%s verified=%s", c->relay,
                     SSL_get_version(ssl), SSL_get_cipher_name(ssl),
                     c->cfg.tls == SMTPC_TLS_VERIFY ? "yes" : "no");
            bufferevent_setwatermark(c->bev, EV_WRITE, BODY_CHUNK, 0);
            start_hello(c);   /* RFC 3207: forget what we knew, say EHLO again */
        }
        return;
    }
    if (c->state == SC_CONNECTING) {
        int e = EVUTIL_SOCKET_ERROR();
        connect_failed(c, e ? strerror(e) : "connection failed");
        return;
    }
    if (c->state == SC_HANDSHAKE) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        char buf[256] = "handshake failed";
        if (e)
            ERR_error_string_n(e, buf, sizeof(buf));
        c->tls_failed = true;
        fail(c, "TLS with %s failed: %s", c->relay, buf);
        return;
    }
    if (c->state == SC_QUIT) {
        fail(c, "%s", "");
        c->error[0] = '\0';
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        lost(c, "timeout");
        return;
    }
    if (what & BEV_EVENT_EOF) {
        lost(c, "lost connection");
        return;
    }
    {
        int e = EVUTIL_SOCKET_ERROR();
        char why[128];
        snprintf(why, sizeof(why), "connection error (%s)", e ? strerror(e) : "unknown");
        lost(c, why);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct smtpc_conn *c = arg;

    if (c->state == SC_CONNECTING) {
        connect_failed(c, "timed out");
        return;
    }
    if (c->state == SC_QUIT) {
        fail(c, "%s", "");
        c->error[0] = '\0';
        return;
    }
    lost(c, "timeout");
}

/* After fail(): owed TXN_DONE, then CLOSED — from the loop, so the owner may free us. */
static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    struct smtpc_conn *c = arg;

    if (c->txn) {
        struct smtpc_txn *t = c->txn;
        t->stale = c->ntxn > 0 && !c->any_reply && c->answered == 0;
        for (size_t i = 0; i < t->nrcpt; i++)
            if (t->result[i].code == 0) {
                char why[SMTPC_SUMMARY];
                snprintf(why, sizeof(why), "4.4.2 %.*s", SMTPC_SUMMARY - 7, c->error);
                set_result(&t->result[i], 451, true, why);
            }
        c->txn = NULL;
        c->cb(c->arg, c, SMTPC_EV_TXN_DONE);
    }
    c->cb(c->arg, c, SMTPC_EV_CLOSED);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

struct smtpc_conn *smtpc_conn_new(struct event_base *base, const struct smtpc_conn_config *cfg,
                                  smtpc_conn_cb *cb, void *arg)
{
    struct smtpc_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->base = base;
    c->cb = cb;
    c->arg = arg;
    c->cfg = *cfg;
    c->host = strdup(cfg->host ? cfg->host : "");
    c->helo_name = strdup(cfg->helo_name && *cfg->helo_name ? cfg->helo_name : "localhost");
    c->tls_name = cfg->tls_name ? strdup(cfg->tls_name) : NULL;
    c->source = cfg->source && *cfg->source ? strdup(cfg->source) : NULL;
    c->auth_user = cfg->auth_user && cfg->auth_pass ? strdup(cfg->auth_user) : NULL;
    c->auth_pass = cfg->auth_user && cfg->auth_pass ? strdup(cfg->auth_pass) : NULL;
    c->cfg.source = c->cfg.auth_user = c->cfg.auth_pass = NULL;   /* ours are above */
    c->timer = evtimer_new(base, on_timer, c);
    c->notify = event_new(base, -1, 0, on_notify, c);
    if (!c->host || !c->helo_name || (cfg->tls_name && !c->tls_name) || !c->timer || !c->notify ||
        (cfg->source && *cfg->source && !c->source) ||
        (cfg->auth_user && cfg->auth_pass && (!c->auth_user || !c->auth_pass))) {
        smtpc_conn_free(c);
        return NULL;
    }
    c->esmtp = true;
    c->state = SC_CONNECTING;
    snprintf(c->relay, sizeof(c->relay), "none");
    if (cfg->tls != SMTPC_TLS_OFF && !cfg->ssl_ctx) {
        fail(c, "TLS wanted but no TLS context given");
        return c;
    }
    if (cfg->port >= 0) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        char port[16];
        snprintf(port, sizeof(port), "%d", cfg->port);
        int rc = getaddrinfo(c->host, port, &hints, &c->ai);
        if (rc) {
            fail(c, "cannot resolve %s: %s", c->host, gai_strerror(rc));
            return c;
        }
        c->ai_cur = c->ai;
    }
    try_connect(c);
    return c;
}

void smtpc_conn_quit(struct smtpc_conn *c)
{
    if (c->state == SC_CLOSED || c->state == SC_QUIT)
        return;
    if (c->state != SC_READY) {
        fail(c, "closed by us while %s", state_doing[c->state]);
        return;
    }
    set_state(c, SC_QUIT);
    send_str(c, "QUIT\r\n", 6);
    arm(c, c->cfg.command_timeout_ms < 5000 ? c->cfg.command_timeout_ms : 5000);
}

void smtpc_conn_free(struct smtpc_conn *c)
{
    if (!c)
        return;
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->timer)
        event_free(c->timer);
    if (c->notify)
        event_free(c->notify);
    if (c->ai)
        freeaddrinfo(c->ai);
    free(c->send_idx);
    free(c->acc_idx);
    free(c->host);
    free(c->helo_name);
    free(c->tls_name);
    free(c->source);
    free(c->auth_user);
    if (c->auth_pass) {
        explicit_bzero(c->auth_pass, strlen(c->auth_pass));
        free(c->auth_pass);
    }
    free(c);
}

bool smtpc_conn_idle(const struct smtpc_conn *c) { return c->state == SC_READY && !c->txn; }
bool smtpc_conn_was_ready(const struct smtpc_conn *c) { return c->was_ready; }
const char *smtpc_conn_relay(const struct smtpc_conn *c) { return c->relay; }
const char *smtpc_conn_error(const struct smtpc_conn *c) { return c->error; }
bool smtpc_conn_tls_failed(const struct smtpc_conn *c) { return c->tls_failed; }
bool smtpc_conn_tls_active(const struct smtpc_conn *c) { return c->tls_active; }
bool smtpc_conn_authenticated(const struct smtpc_conn *c) { return c->authenticated; }
const struct smtpc_ext *smtpc_conn_ext(const struct smtpc_conn *c) { return &c->ext; }
unsigned smtpc_conn_txns(const struct smtpc_conn *c) { return c->ntxn; }

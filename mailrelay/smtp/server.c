/*
 * server.c — SMTP listeners and one connection per smtp_session (see server.h).
 *
 * A connection is in one of four phases:
 *   ACTIVE      bytes flow between the socket and the session (pump())
 *   TLS_SWITCH  the "220 Ready to start TLS" is being written; then the socket moves to a
 *               bufferevent_openssl (the clear-text bufferevent is freed, the fd kept)
 *   HANDSHAKE   TLS handshake running; on success the session hears tls_started()
 *   CLOSING     the last replies are being written; then the connection is freed
 * conn_phase() is the one place the phase changes, and it logs each change at debug level.
 *
 * Back-pressure: input is read only while the session can take it (not while a commit is
 * pending) and while less than OUT_LIMIT bytes of replies wait for a slow client.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "policy.h"
#include "store.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78        /* linux/in6.h; not in every libc header */
#endif

#define OUT_LIMIT (64 * 1024)   /* unsent reply bytes before we stop reading */
#define LISTEN_BACKLOG 128
#define ADDR_LEN 64

enum conn_phase { PH_ACTIVE, PH_TLS_SWITCH, PH_HANDSHAKE, PH_CLOSING };

struct listener {
    struct server *srv;
    char name[80];
    bool lan;
    int fd;
    struct evconnlistener *evl;
    struct event *retry;        /* re-enable after accept() ran out of descriptors */
};

struct conn {
    TAILQ_ENTRY(conn) link;
    struct server *srv;
    uint64_t id;
    int fd;
    bool bev_owns_fd;           /* the TLS bufferevent closes the fd */
    bool peer_eof;
    enum conn_phase phase;
    struct bufferevent *bev;
    struct smtp_session *sess;
    struct smtp_callbacks cb;
    struct policy_client pc;
    struct store_session *ss;
    struct event *timer;        /* the session's timeout / the handshake's */
    struct event *pump_ev;      /* pump from the loop after a commit finished */
    size_t in_peak;             /* most unparsed input held at once (logged at disconnect):
                                 * one read's worth, never a whole long line */
    char addr[ADDR_LEN];
};

TAILQ_HEAD(conn_list, conn);

struct server {
    struct event_base *base;
    const struct relay_conf *conf;
    const struct smtp_config *smtp;
    SSL_CTX *tls;
    struct policy *policy;
    struct store *store;
    struct listener *ls;
    size_t nls;
    struct conn_list conns;
    struct server_stats stats;
    uint64_t next_id;
    bool stopping;
    void (*stop_done)(void *);
    void *stop_arg;
    struct event *stop_ev;      /* runs stop_done from the loop */
};

static void pump(struct conn *c);
static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void conn_free(struct conn *c, const char *why);

/* ---- addresses -------------------------------------------------------------------------- */

int server_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len,
                        const char **why)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *port, *colon;
    size_t hl;
    char *end;
    long p;

    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') {
            *why = "IPv6 listener must look like [addr]:port";
            return -1;
        }
        hl = (size_t)(rb - s - 1);
        if (hl >= sizeof(host)) {
            *why = "address too long";
            return -1;
        }
        memcpy(host, s + 1, hl);
        port = rb + 2;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            *why = "listener must be addr:port";
            return -1;
        }
        hl = (size_t)(colon - s);
        if (hl >= sizeof(host)) {
            *why = "address too long";
            return -1;
        }
        memcpy(host, s, hl);
        port = colon + 1;
    }
    host[hl] = '\0';
    errno = 0;
    p = strtol(port, &end, 10);
    if (!*port || *end || errno || p < 1 || p > 65535) {
        *why = "port must be 1..65535";
        return -1;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (s[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)p);
        *len = sizeof(*sin);
        return 0;
    }
    if (s[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*sin6);
        return 0;
    }
    *why = "not a numeric IPv4 address or [IPv6] address";
    return -1;
}

/* Printable client address; IPv4-mapped IPv6 shown as IPv4 so policies match. */
static void addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)outlen);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)outlen);
    } else {
        snprintf(out, outlen, "unknown");
    }
}

static int bind_one(struct listener *l, const char *spec, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why;
    int one = 1, fd;

    snprintf(l->name, sizeof(l->name), "%s", spec);
    if (server_parse_listen(spec, &ss, &len, &why) < 0) {
        snprintf(err, errlen, "[relay] %s %s: %s", l->lan ? "lan_listen" : "listen", spec, why);
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "listener %s: socket: %s", spec, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* FREEBIND: the fixed address exists only while the tunnel is up. */
    if (ss.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0)
            log_warn("listener %s: IPV6_FREEBIND", spec);
    } else if (setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) < 0) {
        log_warn("listener %s: IP_FREEBIND", spec);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        snprintf(err, errlen, "listener %s: %s", spec, strerror(errno));
        close(fd);
        return -1;
    }
    l->fd = fd;
    return 0;
}

/* ---- connection phases ------------------------------------------------------------------ */

static const char *phase_name(enum conn_phase p)
{
    switch (p) {
    case PH_ACTIVE: return "active";
    case PH_TLS_SWITCH: return "tls-switch";
    case PH_HANDSHAKE: return "handshake";
    case PH_CLOSING: return "closing";
    }
    return "?";
}

static void conn_phase(struct conn *c, enum conn_phase to)
{
    if (c->phase == to)
        return;
    log_debug("conn phase from=%s to=%s client=%s conn=%llu id=%s", phase_name(c->phase),
              phase_name(to), c->addr, (unsigned long long)c->id, c->sess ? smtp_session_qid(c->sess) : "-");
    c->phase = to;
}

static size_t out_len(const struct conn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Moves the session's queued replies to the socket's output buffer. */
static void flush_output(struct conn *c)
{
    size_t n;
    const char *p = smtp_session_output(c->sess, &n);
    if (n) {
        if (bufferevent_write(c->bev, p, n) < 0)
            log_warnx("conn write failed client=%s", c->addr);
        smtp_session_output_consume(c->sess, n);
    }
}

static void arm_timer(struct conn *c, unsigned ms)
{
    if (!ms) {
        evtimer_del(c->timer);
        return;
    }
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    evtimer_add(c->timer, &tv);
}

static void start_tls(struct conn *c)
{
    struct server *srv = c->srv;
    SSL *ssl = tls_server_ssl_new(srv->tls);

    bufferevent_free(c->bev);   /* the clear-text side; the fd stays open */
    c->bev = NULL;
    if (!ssl) {
        conn_free(c, "TLS setup failed");
        return;
    }
    c->bev = bufferevent_openssl_socket_new(srv->base, c->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        SSL_free(ssl);
        conn_free(c, "TLS setup failed");
        return;
    }
    c->bev_owns_fd = true;
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    struct timeval wt = { .tv_sec = srv->smtp->cmd_timeout_ms / 1000,
                          .tv_usec = (srv->smtp->cmd_timeout_ms % 1000) * 1000 };
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    conn_phase(c, PH_HANDSHAKE);
    /* One deadline for the whole handshake: a ClientHello dripped in byte by byte must not
     * keep the session alive. */
    arm_timer(c, srv->smtp->cmd_timeout_ms);
    pump(c);                    /* installs callbacks for the new phase */
}

/* Output is empty: finish a phase that was waiting for it. */
static void output_drained(struct conn *c)
{
    switch (c->phase) {
    case PH_CLOSING: conn_free(c, "closed"); break;
    case PH_TLS_SWITCH: start_tls(c); break;
    default: pump(c); break;
    }
}

/* ---- the pump --------------------------------------------------------------------------- */

static void shutdown_reply(struct conn *c)
{
    char line[300];
    int n = snprintf(line, sizeof(line), "421 4.3.2 %s Service shutting down, try again later\r\n",
                     c->srv->smtp->hostname);
    bufferevent_write(c->bev, line, (size_t)n);
    log_info("smtp close code=421 reason=\"shutting down\" client=%s id=%s", c->addr,
             smtp_session_qid(c->sess)[0] ? smtp_session_qid(c->sess) : "-");
}

static void handshake_done(struct conn *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    log_info("smtp tls handshake done client=%s tls=\"%s\"", c->addr, tls_describe(ssl));
    c->srv->stats.tls++;
    smtp_session_tls_started(c->sess);
    conn_phase(c, PH_ACTIVE);
    pump(c);
}

static void pump(struct conn *c)
{
    struct evbuffer *in;
    unsigned act = 0;
    bool record_done = false;                   /* a whole line was consumed */
    enum smtp_state state_before = smtp_session_state(c->sess);

    if (c->phase == PH_HANDSHAKE) {
        /* libevent reports the end of the handshake with BEV_EVENT_CONNECTED, but that
         * event can be missed when the handshake finishes inside the first read (seen
         * with TLS 1.3); data arriving then means it is done. */
        if (SSL_is_init_finished(bufferevent_openssl_get_ssl(c->bev))) {
            log_debug("smtp tls handshake finished without CONNECTED event client=%s", c->addr);
            handshake_done(c);
            return;
        }
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    if (c->phase != PH_ACTIVE)
        return;
    in = bufferevent_get_input(c->bev);
    if (evbuffer_get_length(in) > c->in_peak)
        c->in_peak = evbuffer_get_length(in);
    for (;;) {
        flush_output(c);
        act = smtp_session_actions(c->sess);
        if (act & (SMTP_ACT_CLOSE | SMTP_ACT_START_TLS | SMTP_ACT_WAIT))
            break;
        if (out_len(c) >= OUT_LIMIT)
            break;
        size_t chunk = evbuffer_get_contiguous_space(in);
        if (!chunk)
            break;
        const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)chunk);
        size_t used = smtp_session_input(c->sess, p, chunk);
        if (!record_done && used && memchr(p, '\n', used))
            record_done = true;
        evbuffer_drain(in, used);
        if (!used) {
            flush_output(c);
            act = smtp_session_actions(c->sess);
            break;
        }
    }
    if (act & SMTP_ACT_CLOSE) {
        conn_phase(c, PH_CLOSING);
    } else if (act & SMTP_ACT_START_TLS) {
        size_t left = evbuffer_get_length(in);
        if (left) {
            log_notice("smtp discarded bytes=%zu reason=\"clear text after STARTTLS\" client=%s",
                       left, c->addr);
            evbuffer_drain(in, left);
        }
        conn_phase(c, PH_TLS_SWITCH);
    } else if (!(act & SMTP_ACT_WAIT) &&
               (c->srv->stopping || (c->peer_eof && evbuffer_get_length(in) == 0))) {
        if (c->srv->stopping)
            shutdown_reply(c);
        conn_phase(c, PH_CLOSING);
    }
    if (c->phase != PH_ACTIVE) {
        evtimer_del(c->timer);
        bufferevent_disable(c->bev, EV_READ);
        if (out_len(c) == 0)
            output_drained(c);      /* may free c */
        return;
    }
    if ((act & SMTP_ACT_WAIT) || out_len(c) >= OUT_LIMIT || c->peer_eof)
        bufferevent_disable(c->bev, EV_READ);
    else
        bufferevent_enable(c->bev, EV_READ);
    /*
     * The deadline runs per record, not per read (like Postfix's per-record deadline): it
     * starts again only when a whole command or DATA line arrived or the session moved on,
     * so a client dripping one byte at a time is cut at timeout_command.
     */
    if (record_done || smtp_session_state(c->sess) != state_before || !evtimer_pending(c->timer, NULL))
        arm_timer(c, smtp_session_timeout_ms(c->sess));
}

/* ---- libevent callbacks ----------------------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
    pump(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (out_len(c) == 0)
        output_drained(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;

    if (what & BEV_EVENT_CONNECTED) {
        if (c->phase == PH_HANDSHAKE)
            handshake_done(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        conn_free(c, "write timeout: client does not read");
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        char why[160];
        unsigned long e = c->bev_owns_fd ? bufferevent_get_openssl_error(c->bev) : 0;
        if (e)
            ERR_error_string_n(e, why, sizeof(why));
        else
            snprintf(why, sizeof(why), "%s", strerror(EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() : ECONNRESET));
        if (c->phase == PH_HANDSHAKE)
            log_info("smtp tls handshake failed client=%s error=\"%s\"", c->addr, why);
        conn_free(c, c->phase == PH_HANDSHAKE ? "TLS handshake failed" : "connection error");
        return;
    }
    if (what & BEV_EVENT_EOF) {
        if (c->phase == PH_HANDSHAKE || c->phase == PH_TLS_SWITCH) {
            conn_free(c, "peer closed");
            return;
        }
        c->peer_eof = true;
        if (c->phase == PH_CLOSING) {
            conn_free(c, "peer closed");
            return;
        }
        /* A half-closed client still gets its replies; a session waiting for a commit
         * finishes it (or the store does, if we are gone). */
        if (smtp_session_state(c->sess) == SMTP_ST_COMMIT) {
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
        if (smtp_session_state(c->sess) == SMTP_ST_DATA) {
            conn_free(c, "peer closed in DATA");
            return;
        }
        pump(c);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (c->phase == PH_HANDSHAKE) {
        log_info("smtp tls handshake timeout client=%s", c->addr);
        conn_free(c, "TLS handshake timeout");
        return;
    }
    if (c->phase != PH_ACTIVE)
        return;
    smtp_session_timeout(c->sess);
    pump(c);
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
    pump(arg);
}

/* The store finished this connection's commit (called from the store's flush). */
static void on_commit_done(void *arg, enum smtp_store_result r)
{
    struct conn *c = arg;
    smtp_session_commit_done(c->sess, r);
    event_active(c->pump_ev, EV_TIMEOUT, 0);
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_free(struct conn *c, const char *why)
{
    struct server *srv = c->srv;
    const char *qid = c->sess ? smtp_session_qid(c->sess) : "";

    log_info("smtp disconnect client=%s conn=%llu id=%s reason=\"%s\" in_peak=%zu", c->addr,
             (unsigned long long)c->id, qid[0] ? qid : "-", why, c->in_peak);
    TAILQ_REMOVE(&srv->conns, c, link);
    srv->stats.sessions--;
    if (c->sess)
        smtp_session_free(c->sess);     /* aborts an open message, leaves a pending commit */
    store_session_free(c->ss);           /* detaches a pending commit: it still completes */
    if (c->bev)
        bufferevent_free(c->bev);
    if (!c->bev_owns_fd || !c->bev)
        close(c->fd);
    if (c->timer)
        event_free(c->timer);
    if (c->pump_ev)
        event_free(c->pump_ev);
    free(c);
    if (srv->stopping && TAILQ_EMPTY(&srv->conns) && srv->stop_ev)
        event_active(srv->stop_ev, EV_TIMEOUT, 0);
}

static size_t sessions_from(const struct server *srv, const char *addr)
{
    size_t n = 0;
    const struct conn *c;
    TAILQ_FOREACH(c, &srv->conns, link)
        if (strcmp(c->addr, addr) == 0)
            n++;
    return n;
}

static void refuse(int fd, const struct server *srv, const char *addr, const char *why)
{
    char line[300];
    int n = snprintf(line, sizeof(line), "421 4.7.0 %s Too many connections (%s), try again later\r\n",
                     srv->smtp->hostname, why);
    if (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        log_debug("smtp refuse send failed client=%s", addr);
    close(fd);
    log_info("smtp refused client=%s code=421 reason=\"%s\"", addr, why);
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct listener *l = arg;
    struct server *srv = l->srv;
    struct conn *c;
    char addr[ADDR_LEN];

    addr_text(sa, addr, sizeof(addr));
    if (srv->stopping) {
        close(fd);
        return;
    }
    if (srv->stats.sessions >= (size_t)srv->conf->max_sessions) {
        srv->stats.refused++;
        refuse(fd, srv, addr, "max_sessions reached");
        return;
    }
    if (sessions_from(srv, addr) >= (size_t)srv->conf->max_sessions_per_client) {
        srv->stats.refused++;
        refuse(fd, srv, addr, "max_sessions_per_client reached");
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        log_warnx("smtp out of memory client=%s", addr);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->id = ++srv->next_id;
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    TAILQ_INSERT_TAIL(&srv->conns, c, link);
    srv->stats.sessions++;
    srv->stats.accepted++;

    c->pc.policy = srv->policy;
    c->pc.lan_listener = l->lan;
    c->cb.policy_ctx = &c->pc;
    c->cb.client_allowed = policy_client_allowed;
    c->cb.rcpt_allowed = policy_rcpt_allowed;
    c->ss = store_session_new(srv->store, l->lan ? ENV_OUTBOUND : ENV_INBOUND, on_commit_done, c);
    c->timer = evtimer_new(srv->base, on_timer, c);
    c->pump_ev = event_new(srv->base, -1, 0, on_pump, c);
    c->bev = bufferevent_socket_new(srv->base, fd, 0);
    if (!c->ss || !c->timer || !c->pump_ev || !c->bev) {
        conn_free(c, "out of memory");
        return;
    }
    store_session_callbacks(c->ss, &c->cb);
    c->sess = smtp_session_new(srv->smtp, &c->cb, addr, false);
    if (!c->sess) {
        conn_free(c, "out of memory");
        return;
    }
    log_info("smtp connect client=%s conn=%llu listener=%s", addr, (unsigned long long)c->id, l->name);
    struct timeval wt = { .tv_sec = srv->smtp->cmd_timeout_ms / 1000,
                          .tv_usec = (srv->smtp->cmd_timeout_ms % 1000) * 1000 };
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    bufferevent_enable(c->bev, EV_WRITE);
    smtp_session_start(c->sess);
    pump(c);
}

static void on_retry_accept(evutil_socket_t fd, short what, void *arg)
{
    struct listener *l = arg;
    if (l->evl && !l->srv->stopping)
        evconnlistener_enable(l->evl);
}

static void on_accept_error(struct evconnlistener *evl, void *arg)
{
    struct listener *l = arg;
    struct timeval tv = { 1, 0 };
    log_warn("smtp accept failed listener=%s (pausing 1 s)", l->name);
    evconnlistener_disable(evl);
    evtimer_add(l->retry, &tv);
}

/* ---- server ----------------------------------------------------------------------------- */

struct server *server_new(struct event_base *base, const struct relay_conf *conf,
                          const struct smtp_config *smtp, SSL_CTX *tls, struct policy *policy,
                          struct store *store, char *err, size_t errlen)
{
    struct server *srv = calloc(1, sizeof(*srv));
    size_t n = conf->listen.n + conf->lan_listen.n;

    if (!srv || !(srv->ls = calloc(n ? n : 1, sizeof(*srv->ls)))) {
        free(srv);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->base = base;
    srv->conf = conf;
    srv->smtp = smtp;
    srv->tls = tls;
    srv->policy = policy;
    srv->store = store;
    TAILQ_INIT(&srv->conns);
    for (size_t i = 0; i < n; i++) {
        struct listener *l = &srv->ls[i];
        bool lan = i >= conf->listen.n;
        const char *spec = lan ? conf->lan_listen.v[i - conf->listen.n] : conf->listen.v[i];
        l->srv = srv;
        l->lan = lan;
        l->fd = -1;
        srv->nls++;
        if (bind_one(l, spec, err, errlen) < 0) {
            server_free(srv);
            return NULL;
        }
    }
    return srv;
}

int server_start(struct server *srv, char *err, size_t errlen)
{
    for (size_t i = 0; i < srv->nls; i++) {
        struct listener *l = &srv->ls[i];
        l->evl = evconnlistener_new(srv->base, on_accept, l,
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, l->fd);
        l->retry = evtimer_new(srv->base, on_retry_accept, l);
        if (!l->evl || !l->retry) {
            snprintf(err, errlen, "listener %s: cannot watch the socket", l->name);
            return -1;
        }
        evconnlistener_set_error_cb(l->evl, on_accept_error);
        log_notice("smtp listening listener=%s kind=%s", l->name, l->lan ? "lan" : "inbound");
    }
    return 0;
}

static void close_listeners(struct server *srv)
{
    for (size_t i = 0; i < srv->nls; i++) {
        struct listener *l = &srv->ls[i];
        if (l->evl)
            evconnlistener_free(l->evl);    /* closes the fd */
        else if (l->fd >= 0)
            close(l->fd);
        if (l->retry)
            event_free(l->retry);
        l->evl = NULL;
        l->retry = NULL;
        l->fd = -1;
    }
}

static void on_stopped(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    if (srv->stop_done) {
        void (*done)(void *) = srv->stop_done;
        srv->stop_done = NULL;
        done(srv->stop_arg);
    }
}

void server_stop(struct server *srv, void (*done)(void *arg), void *arg)
{
    struct conn *c, *next;

    if (srv->stopping)
        return;
    srv->stopping = true;
    srv->stop_done = done;
    srv->stop_arg = arg;
    srv->stop_ev = event_new(srv->base, -1, 0, on_stopped, srv);
    close_listeners(srv);
    log_notice("smtp stopping sessions=%zu", srv->stats.sessions);
    /* pump() says 421 to idle sessions; one waiting for its commit answers that first. */
    for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
        next = TAILQ_NEXT(c, link);
        if (c->phase == PH_ACTIVE)
            event_active(c->pump_ev, EV_TIMEOUT, 0);
        else if (c->phase == PH_HANDSHAKE || c->phase == PH_TLS_SWITCH)
            conn_free(c, "shutting down");
    }
    if (TAILQ_EMPTY(&srv->conns) && srv->stop_ev)
        event_active(srv->stop_ev, EV_TIMEOUT, 0);
}

void server_free(struct server *srv)
{
    struct conn *c;

    if (!srv)
        return;
    srv->stop_done = NULL;
    while ((c = TAILQ_FIRST(&srv->conns)))
        conn_free(c, "server closed");
    close_listeners(srv);
    if (srv->stop_ev)
        event_free(srv->stop_ev);
    free(srv->ls);
    free(srv);
}

void server_get_stats(const struct server *srv, struct server_stats *out)
{
    *out = srv->stats;
}

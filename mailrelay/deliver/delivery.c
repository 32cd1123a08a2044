/*
 * delivery.c — the delivery scheduler of mailrelayd (see delivery.h for the behaviour).
 *
 * scan() is the one place that decides what to do: it walks the spool in arrival order,
 * finishes messages that have nothing pending (an interrupted finish, a bounce that could
 * not be queued before), bounces expired ones, and hands due ones to idle or new
 * connections. It runs from the timer, from a kick, and whenever a connection frees up.
 * Results of one attempt are applied to a private copy of the envelope, which then replaces
 * the spooled one (spool_update) or, when every recipient is final, is bounced/removed.
 *
 * Needs: libevent, OpenSSL (TLS context), spool/envelope/retry/dsn, smtp_client_conn.c.
 */
#include "delivery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "dsn.h"
#include "log.h"
#include "spool.h"

#define SCAN_MAX_SLEEP 300               /* seconds: rescan at least this often */
#define TLS_OFF_AFTER_FAILURE 3600       /* seconds without opportunistic TLS after it broke */

struct dmsg {
    char qid[QUEUE_ID_SIZE];
    struct envelope env;                 /* our copy, updated and written back */
    size_t n;                            /* recipients in this attempt */
    size_t *idx;                         /* attempt index -> env.rcpt index */
    const char **rcpt;
    struct smtpc_rcpt_result *res;
    struct smtpc_txn txn;
    int fd;
};

struct dconn {
    struct delivery *d;
    struct smtpc_conn *c;
    struct dmsg *msg;                    /* assigned: waiting for READY or in a transaction */
    struct event *idle;
    struct dconn *next;
};

struct delivery {
    struct event_base *base;
    struct spool *sp;
    struct delivery_config cfg;          /* strings point to our copies below */
    char *host, *tls_ca_file, *tls_name, *helo_name;
    char *source_addr, *auth_user, *auth_pass;   /* auth_pass wiped in delivery_free() */
    char *no_route;                      /* "554 5.x.x why" when there is no next hop */
    const char *held;                    /* hold()'s reason at the last scan, NULL: none */
    SSL_CTX *ssl;
    struct event *timer;                 /* next due message */
    struct event *kick;                  /* scan from the loop */
    struct dconn *conns;
    unsigned nconns;
    int64_t down_until;                  /* next hop counts as down until then */
    int64_t tls_off_until;               /* opportunistic TLS skipped until then */
    bool in_scan;
    struct delivery_stats st;
};

static void scan(struct delivery *d);

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint32_t rnd32(void)
{
    uint32_t r = 0;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint32_t)now_us();
    return r;
}

/* Seconds since arrival, to the microsecond the queue ID holds. */
static double delay_of(const char *qid, int64_t t_us)
{
    int64_t arr = 0;

    for (int i = 0; i < 13 && qid[i]; i++) {
        char ch = qid[i];
        arr = arr * 16 + (ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    return t_us > arr ? (double)(t_us - arr) / 1e6 : 0.0;
}

void delivery_config_default(struct delivery_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = 25;
    cfg->tls = SMTPC_TLS_OFF;
    cfg->helo_name = "localhost";
    cfg->direction = ENV_INBOUND;
    retry_policy_default(&cfg->retry);
    cfg->connections = 2;
    cfg->connect_timeout_ms = 30000;
    cfg->greeting_timeout_ms = 300000;
    cfg->command_timeout_ms = 300000;
    cfg->data_timeout_ms = 180000;
    cfg->dot_timeout_ms = 300000;
    cfg->idle_timeout_ms = 10000;
}

/* ---- messages ------------------------------------------------------------------------------ */

static void msg_free(struct dmsg *m)
{
    if (!m)
        return;
    if (m->fd >= 0)
        close(m->fd);
    envelope_free(&m->env);
    free(m->idx);
    free(m->rcpt);
    free(m->res);
    free(m);
}

static struct dmsg *msg_load(struct delivery *d, const char *qid)
{
    const struct spool_entry *e = spool_lookup(d->sp, qid);
    struct dmsg *m;
    bool first = true;

    if (!e || !(m = calloc(1, sizeof(*m))))
        return NULL;
    m->fd = -1;
    if (envelope_copy(&m->env, &e->env)) {
        free(m);
        return NULL;
    }
    memcpy(m->qid, qid, QUEUE_ID_SIZE);
    size_t np = envelope_count(&m->env, RCPT_PENDING);
    m->idx = calloc(np ? np : 1, sizeof(*m->idx));
    m->rcpt = calloc(np ? np : 1, sizeof(*m->rcpt));
    m->res = calloc(np ? np : 1, sizeof(*m->res));
    if (!m->idx || !m->rcpt || !m->res) {
        msg_free(m);
        return NULL;
    }
    for (size_t i = 0; i < m->env.nrcpt; i++) {
        if (m->env.rcpt[i].attempts)
            first = false;
        if (m->env.rcpt[i].state != RCPT_PENDING)
            continue;
        m->idx[m->n] = i;
        m->rcpt[m->n++] = m->env.rcpt[i].addr;
    }
    m->fd = spool_open_data(d->sp, qid);
    if (m->fd < 0) {
        log_warnx("delivery id=%s cannot open the message data: %s", qid, spool_strerror(m->fd));
        msg_free(m);
        return NULL;
    }
    m->txn = (struct smtpc_txn){
        .sender = m->env.sender, .rcpt = m->rcpt, .nrcpt = m->n,
        .body_flags = m->env.body_flags, .size = m->env.size, .data_fd = m->fd, .result = m->res,
    };
    if (first)
        log_info("id=%s from=<%s> size=%llu nrcpt=%zu", qid, m->env.sender,
                 (unsigned long long)m->env.size, m->env.nrcpt);
    return m;
}

/* Reads the start of the message: the header block a bounce quotes. */
static char *read_headers(struct delivery *d, const struct envelope *env, size_t *len)
{
    int fd = spool_open_data(d->sp, env->qid);
    /* the data file goes on with the envelope trailer after env->size octets */
    size_t max = env->size < DSN_MAX_HEADERS ? (size_t)env->size : DSN_MAX_HEADERS;
    char *buf;
    size_t n = 0;

    *len = 0;
    if (fd < 0 || !(buf = malloc(DSN_MAX_HEADERS))) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    while (n < max) {
        ssize_t r = read(fd, buf + n, max - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return buf;
}

/* Spools the RFC 3464 report for env's bounced recipients. 0 or -1 (logged). */
static int queue_bounce(struct delivery *d, const struct envelope *env, int64_t now)
{
    size_t hlen;
    char *hdr = read_headers(d, env, &hlen);
    struct dsn_input in = {
        .env = env, .action = DSN_FAILED, .reporting_mta = d->cfg.helo_name, .now = now,
        .rnd = rnd32(), .orig = hdr, .orig_len = hlen,
    };
    struct dsn_output out = { 0 };
    struct envelope benv;
    struct spool_msg *m = NULL;
    char err[128];
    int rc;

    rc = dsn_build(&in, &out, err, sizeof(err));
    free(hdr);
    if (rc < 0) {
        log_warnx("delivery id=%s cannot build the bounce: %s", env->qid, err);
        return -1;
    }
    rc = spool_msg_begin(d->sp, &m);
    if (rc == SPOOL_OK)
        rc = spool_msg_write(m, out.text, out.len);
    if (rc == SPOOL_OK && dsn_bounce_envelope(env, &out, spool_msg_qid(m), now, &benv) == 0) {
        char bqid[QUEUE_ID_SIZE];
        memcpy(bqid, spool_msg_qid(m), QUEUE_ID_SIZE);
        rc = spool_commit(m, &benv);   /* consumes m */
        m = NULL;
        envelope_free(&benv);
        if (rc == SPOOL_OK) {
            log_info("id=%s sender non-delivery notification: %s", env->qid, bqid);
            d->st.bounces_queued++;
            if (d->cfg.bounce_queued)
                d->cfg.bounce_queued(d->cfg.bounce_queued_arg);
        }
    } else if (rc == SPOOL_OK) {
        rc = SPOOL_ERR_NOMEM;
    }
    if (m)
        spool_msg_abort(m);
    free(out.text);
    if (rc != SPOOL_OK) {
        log_warnx("delivery id=%s cannot queue the bounce: %s", env->qid, spool_strerror(rc));
        return -1;
    }
    return 0;
}

/* Writes env back, or — all recipients final — bounces and removes the message. */
static void msg_settle(struct delivery *d, const struct envelope *env, int64_t now)
{
    int rc;

    if (envelope_count(env, RCPT_PENDING) > 0) {
        rc = spool_update(d->sp, env);
        if (rc != SPOOL_OK)
            log_warnx("delivery id=%s cannot update the envelope: %s (recipients may get it twice)",
                      env->qid, spool_strerror(rc));
        return;
    }
    size_t nb = envelope_count(env, RCPT_BOUNCED);
    if (nb && dsn_should_bounce(env) && d->cfg.drop_bounces) {
        log_notice("id=%s bounce not sent to <%s>: %zu recipient%s failed; bounces of %s mail "
                   "are dropped (backscatter to an unverified sender)", env->qid, env->sender,
                   nb, nb == 1 ? "" : "s", env->direction == ENV_INBOUND ? "inbound" : "outbound");
        d->st.bounces_dropped++;
    } else if (nb && dsn_should_bounce(env) && queue_bounce(d, env, now) < 0) {
        /* keep it: the next scan tries the bounce again */
        rc = spool_update(d->sp, env);
        if (rc != SPOOL_OK)
            log_warnx("delivery id=%s cannot update the envelope: %s", env->qid,
                      spool_strerror(rc));
        return;
    }
    if (nb && !dsn_should_bounce(env))
        log_info("id=%s bounce of a bounce discarded", env->qid);
    rc = spool_remove(d->sp, env->qid, nb ? "bounced" : "delivered");
    if (rc != SPOOL_OK) {
        log_warnx("delivery id=%s cannot remove: %s", env->qid, spool_strerror(rc));
        return;
    }
    d->st.messages_done++;
    log_info("id=%s removed", env->qid);
}

static void log_result(const char *qid, const char *to, const char *relay, double delay,
                       const char *status, const char *reply)
{
    log_info("id=%s to=<%s> relay=%s delay=%.2f status=%s (%s)", qid, to, relay, delay, status,
             reply);
}

/* Applies one attempt's results to m->env and settles the message. */
static void msg_results(struct delivery *d, struct dmsg *m, const char *relay)
{
    int64_t t_us = now_us(), now = t_us / 1000000;
    double delay = delay_of(m->qid, t_us);
    bool expired = retry_expired(&d->cfg.retry, m->env.arrival, now);

    for (size_t j = 0; j < m->n; j++) {
        struct env_rcpt *r = &m->env.rcpt[m->idx[j]];
        const struct smtpc_rcpt_result *res = &m->res[j];
        int cls = res->code / 100;

        r->attempts++;
        envelope_set(&r->last_reply, res->reply);
        if (cls == 2) {
            r->state = RCPT_SENT;
            d->st.rcpt_sent++;
            d->st.sent_delay_sum += delay;
            d->st.last_delivery = now;
            log_result(m->qid, r->addr, relay, delay, "sent", res->reply);
        } else if (cls == 5 || expired) {
            r->state = RCPT_BOUNCED;
            d->st.rcpt_bounced++;
            if (cls == 5) {
                log_result(m->qid, r->addr, relay, delay, "bounced", res->reply);
            } else {
                char why[SMTPC_SUMMARY + 40];
                snprintf(why, sizeof(why), "message expired, last reply: %s", res->reply);
                log_result(m->qid, r->addr, relay, delay, "bounced", why);
            }
        } else {
            r->next_attempt = retry_next(&d->cfg.retry, r->attempts, now, m->env.arrival, rnd32());
            d->st.rcpt_deferred++;
            log_result(m->qid, r->addr, relay, delay, "deferred", res->reply);
        }
    }
    msg_settle(d, &m->env, now);
}

/* Bounces the pending recipients of a message without another attempt: expired (reply NULL:
 * the last reply stands), or no next hop exists (reply says so). */
static void msg_fail_pending(struct delivery *d, const char *qid, int64_t now, const char *reply)
{
    const struct spool_entry *e = spool_lookup(d->sp, qid);
    struct envelope env;

    if (!e || envelope_copy(&env, &e->env))
        return;
    double delay = delay_of(qid, now_us());
    for (size_t i = 0; i < env.nrcpt; i++) {
        struct env_rcpt *r = &env.rcpt[i];
        if (r->state != RCPT_PENDING)
            continue;
        r->state = RCPT_BOUNCED;
        char why[ENV_MAX_TEXT + 40];
        if (reply) {
            envelope_set(&r->last_reply, reply);
            snprintf(why, sizeof(why), "%s", reply);
        } else {
            if (!r->last_reply[0])
                envelope_set(&r->last_reply, "451 4.4.7 message expired before it could be delivered");
            snprintf(why, sizeof(why), "message expired, last reply: %s", r->last_reply);
        }
        d->st.rcpt_bounced++;
        log_result(qid, r->addr, "none", delay, "bounced", why);
    }
    msg_settle(d, &env, now);
    envelope_free(&env);
}

/* ---- connections --------------------------------------------------------------------------- */

static void conn_event(void *arg, struct smtpc_conn *c, enum smtpc_event ev);

static void conn_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct dconn *dc = arg;

    if (!dc->msg && smtpc_conn_idle(dc->c))
        smtpc_conn_quit(dc->c);
}

static void conn_remove(struct delivery *d, struct dconn *dc)
{
    for (struct dconn **pp = &d->conns; *pp; pp = &(*pp)->next) {
        if (*pp == dc) {
            *pp = dc->next;
            break;
        }
    }
    d->nconns--;
    smtpc_conn_free(dc->c);
    event_free(dc->idle);
    msg_free(dc->msg);
    free(dc);
}

static struct dconn *conn_open(struct delivery *d)
{
    struct dconn *dc = calloc(1, sizeof(*dc));
    struct smtpc_conn_config cc = {
        .host = d->cfg.host, .port = d->cfg.port, .lmtp = d->cfg.lmtp, .tls = d->cfg.tls,
        .ssl_ctx = d->ssl, .tls_name = d->cfg.tls_name, .helo_name = d->cfg.helo_name,
        .connect_timeout_ms = d->cfg.connect_timeout_ms,
        .greeting_timeout_ms = d->cfg.greeting_timeout_ms,
        .command_timeout_ms = d->cfg.command_timeout_ms,
        .data_timeout_ms = d->cfg.data_timeout_ms, .dot_timeout_ms = d->cfg.dot_timeout_ms,
        .source = d->cfg.source_addr, .auth_user = d->cfg.auth_user, .auth_pass = d->cfg.auth_pass,
    };

    if (!dc)
        return NULL;
    if (cc.tls == SMTPC_TLS_OPPORTUNISTIC && d->tls_off_until > now_us() / 1000000)
        cc.tls = SMTPC_TLS_OFF;
    dc->d = d;
    dc->idle = evtimer_new(d->base, conn_idle_timeout, dc);
    dc->c = dc->idle ? smtpc_conn_new(d->base, &cc, conn_event, dc) : NULL;
    if (!dc->c) {
        if (dc->idle)
            event_free(dc->idle);
        free(dc);
        return NULL;
    }
    dc->next = d->conns;
    d->conns = dc;
    d->nconns++;
    return dc;
}

/* Starts dc->msg on the (idle) connection. */
static void conn_start(struct delivery *d, struct dconn *dc)
{
    struct dmsg *m = dc->msg;

    evtimer_del(dc->idle);
    int rc = smtpc_conn_start(dc->c, &m->txn);
    if (rc == 0)
        return;
    dc->msg = NULL;
    if (rc == -1)     /* refused locally: the results say why */
        msg_results(d, m, "none");
    msg_free(m);      /* -2 cannot happen (idle checked); the message simply stays due */
}

static void conn_event(void *arg, struct smtpc_conn *c, enum smtpc_event ev)
{
    struct dconn *dc = arg;
    struct delivery *d = dc->d;
    struct dmsg *m = dc->msg;
    int64_t now = now_us() / 1000000;

    switch (ev) {
    case SMTPC_EV_READY:
        if (m)
            conn_start(d, dc);
        break;
    case SMTPC_EV_TXN_DONE:
        dc->msg = NULL;
        if (m && m->txn.stale) {
            log_info("delivery id=%s cached connection to %s was gone, trying again", m->qid,
                     smtpc_conn_relay(c));
        } else if (m) {
            msg_results(d, m, smtpc_conn_relay(c));
        }
        msg_free(m);
        break;
    case SMTPC_EV_CLOSED:
        if (!smtpc_conn_was_ready(c)) {
            if (smtpc_conn_tls_failed(c) && d->cfg.tls == SMTPC_TLS_OPPORTUNISTIC) {
                log_warnx("delivery %s; no TLS with it for %d s", smtpc_conn_error(c),
                          TLS_OFF_AFTER_FAILURE);
                d->tls_off_until = now + TLS_OFF_AFTER_FAILURE;
                /* not an attempt: the message goes again at once, in clear text */
            } else {
                log_warnx("delivery next hop down: %s", smtpc_conn_error(c));
                d->down_until = now + (d->cfg.retry.base > 0 ? d->cfg.retry.base : 1);
                if (m) {
                    for (size_t j = 0; j < m->n; j++) {
                        char why[SMTPC_SUMMARY];
                        snprintf(why, sizeof(why), "451 4.4.1 %.*s", SMTPC_SUMMARY - 11,
                                 smtpc_conn_error(c));
                        m->res[j] = (struct smtpc_rcpt_result){ .code = 451, .local = true };
                        snprintf(m->res[j].reply, sizeof(m->res[j].reply), "%s", why);
                    }
                    msg_results(d, m, smtpc_conn_relay(c));   /* "none" if never connected */
                }
            }
        } else if (smtpc_conn_error(c)[0]) {
            log_debug("delivery connection closed: %s", smtpc_conn_error(c));
        }
        conn_remove(d, dc);   /* frees m too */
        break;
    }
    scan(d);
}

/* ---- the scheduler ------------------------------------------------------------------------- */

static bool in_flight(const struct delivery *d, const char *qid)
{
    for (const struct dconn *dc = d->conns; dc; dc = dc->next)
        if (dc->msg && strcmp(dc->msg->qid, qid) == 0)
            return true;
    return false;
}

static void arm_timer(struct delivery *d, int64_t next, int64_t now)
{
    int64_t s = next == INT64_MAX ? SCAN_MAX_SLEEP : next - now;

    if (s < 0)
        s = 0;
    if (s > SCAN_MAX_SLEEP)
        s = SCAN_MAX_SLEEP;
    struct timeval tv = { (time_t)s, 0 };
    evtimer_add(d->timer, &tv);
}

static void scan(struct delivery *d)
{
    int64_t now = now_us() / 1000000, next = INT64_MAX;
    size_t n = spool_count(d->sp), nwork = 0, cap = 0;
    char (*work)[QUEUE_ID_SIZE] = NULL;
    enum { W_FINISH, W_EXPIRE, W_NOROUTE, W_DELIVER } *kind = NULL;
    unsigned slots = 0;

    if (d->in_scan)
        return;
    d->in_scan = true;
    for (struct dconn *dc = d->conns; dc; dc = dc->next)
        if (!dc->msg && smtpc_conn_idle(dc->c))
            slots++;
    if (d->nconns < d->cfg.connections)
        slots += d->cfg.connections - d->nconns;
    const char *hold = d->cfg.hold ? d->cfg.hold(d->cfg.hold_arg) : NULL;
    if (hold != d->held && !(hold && d->held && strcmp(hold, d->held) == 0)) {
        d->held = hold;                  /* hold() returns static strings */
        if (hold)
            log_notice("delivery held host=%s reason=\"%s\": mail waits, no attempts counted",
                       d->cfg.host, hold);
        else
            log_notice("delivery resumed host=%s", d->cfg.host);
    }
    bool down = d->down_until > now || hold;
    unsigned want = down ? 0 : slots;

    /* collect first: settling changes the spool's index */
    for (size_t i = 0; i < n; i++) {
        const struct spool_entry *e = spool_entry_at(d->sp, i);
        int k;
        if (!e || e->place != SPOOL_QUEUED || e->env.direction != d->cfg.direction ||
            in_flight(d, e->env.qid))
            continue;
        if (e->due == INT64_MAX)
            k = W_FINISH;
        else if (d->no_route)
            k = W_NOROUTE;           /* nowhere to go: bounce now, do not wait for expiry */
        else if (e->due <= now && want > 0)
            k = W_DELIVER, want--;   /* also an expired one: it gets its last attempt */
        else if (e->due <= now && down && retry_expired(&d->cfg.retry, e->env.arrival, now))
            k = W_EXPIRE;
        else {
            if (e->due > now && e->due < next)
                next = e->due;
            else if (e->due <= now && !down)
                next = now;   /* waits for a free connection: a finishing one rescans */
            continue;
        }
        if (nwork == cap) {
            size_t nc = cap ? cap * 2 : 16;
            void *w = realloc(work, nc * sizeof(*work)), *kk = w ? realloc(kind, nc * sizeof(*kind)) : NULL;
            if (w)
                work = w;
            if (!w || !kk)
                break;
            kind = kk;
            cap = nc;
        }
        memcpy(work[nwork], e->env.qid, QUEUE_ID_SIZE);
        kind[nwork++] = k;
    }
    if (d->down_until > now && next > d->down_until)
        next = d->down_until;

    for (size_t i = 0; i < nwork; i++) {
        if (kind[i] == W_FINISH) {
            const struct spool_entry *e = spool_lookup(d->sp, work[i]);
            struct envelope env;
            if (e && envelope_copy(&env, &e->env) == 0) {
                msg_settle(d, &env, now);
                envelope_free(&env);
            }
            continue;
        }
        if (kind[i] == W_EXPIRE || kind[i] == W_NOROUTE) {
            msg_fail_pending(d, work[i], now, kind[i] == W_NOROUTE ? d->no_route : NULL);
            continue;
        }
        struct dconn *dc = NULL;
        for (struct dconn *x = d->conns; x; x = x->next)
            if (!x->msg && smtpc_conn_idle(x->c)) {
                dc = x;
                break;
            }
        if (!dc && d->nconns < d->cfg.connections)
            dc = conn_open(d);
        if (!dc)
            break;
        struct dmsg *m = msg_load(d, work[i]);
        if (!m)
            continue;
        dc->msg = m;
        if (smtpc_conn_idle(dc->c))
            conn_start(d, dc);
    }
    free(work);
    free(kind);

    /* connections left idle close after a while */
    for (struct dconn *dc = d->conns; dc; dc = dc->next)
        if (!dc->msg && smtpc_conn_idle(dc->c) && !evtimer_pending(dc->idle, NULL)) {
            struct timeval tv = { d->cfg.idle_timeout_ms / 1000, (d->cfg.idle_timeout_ms % 1000) * 1000 };
            evtimer_add(dc->idle, &tv);
        }
    arm_timer(d, next == now ? INT64_MAX : next, now);
    d->in_scan = false;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    scan(arg);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *oom)
{
    char *r = s ? strdup(s) : NULL;

    if (s && !r)
        *oom = true;
    return r;
}

struct delivery *delivery_new(struct event_base *base, struct spool *sp,
                              const struct delivery_config *cfg, char *err, size_t errlen)
{
    struct delivery *d = calloc(1, sizeof(*d));
    bool oom = false;

    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->base = base;
    d->sp = sp;
    d->cfg = *cfg;
    d->host = dup_or_null(cfg->host, &oom);
    d->tls_ca_file = dup_or_null(cfg->tls_ca_file, &oom);
    d->tls_name = dup_or_null(cfg->tls_name, &oom);
    d->helo_name = dup_or_null(cfg->helo_name ? cfg->helo_name : "localhost", &oom);
    d->source_addr = dup_or_null(cfg->source_addr, &oom);
    d->auth_user = dup_or_null(cfg->auth_user, &oom);
    d->auth_pass = dup_or_null(cfg->auth_pass, &oom);
    if (cfg->no_route)
        d->no_route = dup_or_null(cfg->no_route, &oom);
    d->cfg.no_route = d->no_route;
    d->cfg.source_addr = d->source_addr;
    d->cfg.auth_user = d->auth_user;
    d->cfg.auth_pass = d->auth_pass;
    d->cfg.host = d->host;
    d->cfg.tls_ca_file = d->tls_ca_file;
    d->cfg.tls_name = d->tls_name;
    d->cfg.helo_name = d->helo_name;
    if (d->cfg.connections < 1)
        d->cfg.connections = 1;
    if (d->cfg.port == 0)   /* conf_hostport: no port given */
        d->cfg.port = d->cfg.lmtp ? 24 : 25;
    d->timer = evtimer_new(base, on_timer, d);
    d->kick = event_new(base, -1, 0, on_timer, d);
    if (oom || !d->timer || !d->kick) {
        snprintf(err, errlen, "out of memory");
        delivery_free(d);
        return NULL;
    }
    if (d->no_route) {
        event_active(d->kick, 0, 0);
        return d;
    }
    if (!d->host || !*d->host) {
        snprintf(err, errlen, "no next hop configured");
        delivery_free(d);
        return NULL;
    }
    if (cfg->tls != SMTPC_TLS_OFF) {
        d->ssl = SSL_CTX_new(TLS_client_method());
        if (!d->ssl) {
            snprintf(err, errlen, "cannot create a TLS context");
            delivery_free(d);
            return NULL;
        }
        SSL_CTX_set_min_proto_version(d->ssl, TLS1_2_VERSION);
        if (cfg->tls == SMTPC_TLS_VERIFY) {
            int ok = cfg->tls_ca_file ? SSL_CTX_load_verify_locations(d->ssl, cfg->tls_ca_file, NULL)
                                      : SSL_CTX_set_default_verify_paths(d->ssl);
            if (ok != 1) {
                snprintf(err, errlen, "cannot load CA certificates from %s",
                         cfg->tls_ca_file ? cfg->tls_ca_file : "the system default paths");
                delivery_free(d);
                return NULL;
            }
            SSL_CTX_set_verify(d->ssl, SSL_VERIFY_PEER, NULL);
        }
    }
    event_active(d->kick, 0, 0);
    return d;
}

void delivery_kick(struct delivery *d)
{
    d->down_until = 0;
    event_active(d->kick, 0, 0);
}

void delivery_free(struct delivery *d)
{
    if (!d)
        return;
    while (d->conns)
        conn_remove(d, d->conns);
    if (d->timer)
        event_free(d->timer);
    if (d->kick)
        event_free(d->kick);
    if (d->ssl)
        SSL_CTX_free(d->ssl);
    free(d->host);
    free(d->tls_ca_file);
    free(d->tls_name);
    free(d->helo_name);
    free(d->source_addr);
    free(d->auth_user);
    free(d->no_route);
    if (d->auth_pass) {
        explicit_bzero(d->auth_pass, strlen(d->auth_pass));
        free(d->auth_pass);
    }
    free(d);
}

void delivery_get_stats(const struct delivery *d, struct delivery_stats *st)
{
    *st = d->st;
    st->connections = d->nconns;
    st->in_flight = 0;
    for (const struct dconn *dc = d->conns; dc; dc = dc->next)
        if (dc->msg)
            st->in_flight++;
    st->hop_down = d->down_until > now_us() / 1000000 || (d->cfg.hold && d->cfg.hold(d->cfg.hold_arg));
}

bool delivery_idle(const struct delivery *d)
{
    for (const struct dconn *dc = d->conns; dc; dc = dc->next)
        if (dc->msg)
            return false;
    for (size_t i = 0, n = spool_count(d->sp); i < n; i++) {
        const struct spool_entry *e = spool_entry_at(d->sp, i);
        if (e && e->place == SPOOL_QUEUED && e->env.direction == d->cfg.direction)
            return false;
    }
    return true;
}

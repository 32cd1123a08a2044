/*
 * etrn.c — ETRN on the network: one TCP conversation per attempt, bounded in time, retried
 * a few times on temporary failure (see etrn.h). The dialogue itself is etrn_dialog.c.
 */
#include "etrn.h"
#include "ipc.h"
#include "log.h"
#include "smtp_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define ETRN_DEFAULT_PORT 25        /* etrn_host without ":port" (RFC 1985: plain SMTP) */

struct etrn {
    struct event_base *base;
    struct etrn_config cfg;
    struct bufferevent *bev;
    struct event *retry_timer;
    struct event *deadline;
    struct etrn_dialog dlg;
    int attempt;
    int port;                       /* etrn_host's port, ETRN_DEFAULT_PORT if none given */
    char hostport[300];
    time_t last_time;
    char last_result[400];
};

static void set_result(struct etrn *e, const char *what, const char *detail)
{
    e->last_time = time(NULL);
    snprintf(e->last_result, sizeof(e->last_result), "%s: %s", what, detail);
}

static void close_conn(struct etrn *e)
{
    if (e->bev) {
        bufferevent_free(e->bev);
        e->bev = NULL;
    }
    evtimer_del(e->deadline);
}

static void finish(struct etrn *e, enum etrn_outcome how, const char *why)
{
    close_conn(e);
    if (how == ETRN_OK) {
        log_info("etrn done host=%s domains=%zu", e->hostport, e->dlg.accepted);
        set_result(e, "ok", "all domains accepted");
        return;
    }
    if (how == ETRN_TEMPFAIL && e->attempt < e->cfg.attempts) {
        struct timeval tv = { e->cfg.retry_ms / 1000, (e->cfg.retry_ms % 1000) * 1000 };
        log_warnx("etrn failed host=%s attempt=%d/%d reason=\"%s\" retry_in_ms=%ld", e->hostport,
                  e->attempt, e->cfg.attempts, why, e->cfg.retry_ms);
        evtimer_add(e->retry_timer, &tv);
        set_result(e, "retrying", why);
        return;
    }
    log_warnx("etrn gave up host=%s attempt=%d/%d reason=\"%s\"%s", e->hostport, e->attempt,
              e->cfg.attempts, why, how == ETRN_PERMFAIL ? " (permanent: not retried)" : "");
    set_result(e, "failed", why);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct etrn *e = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    for (;;) {
        size_t len = evbuffer_get_length(in), used;
        struct smtpc_reply r;
        char err[128];
        const char *buf;
        int rc;

        if (!len)
            return;
        if (len > SMTPC_MAX_BYTES)
            len = SMTPC_MAX_BYTES;
        buf = (const char *)evbuffer_pullup(in, (ssize_t)len);
        rc = smtpc_reply_parse(buf, len, &r, &used, err, sizeof(err));
        if (rc == 0)
            return;
        if (rc < 0) {
            finish(e, ETRN_TEMPFAIL, err);
            return;
        }
        evbuffer_drain(in, used);
        if (e->dlg.step == ETRN_DOMAIN) {
            char summary[SMTPC_SUMMARY];
            smtpc_reply_summary(&r, summary);
            log_info("etrn host=%s domain=%s reply=\"%s\"", e->hostport, e->dlg.domains[e->dlg.next], summary);
        }
        switch (etrn_dialog_reply(&e->dlg, &r)) {
        case ETRN_CONTINUE:
            bufferevent_write(bev, e->dlg.cmd, strlen(e->dlg.cmd));
            break;
        case ETRN_OK:
            if (e->dlg.step == ETRN_QUIT) {
                /* Say goodbye, but success does not depend on the server's answer to QUIT. */
                evbuffer_write(bufferevent_get_output(bev), bufferevent_getfd(bev));
                bufferevent_write(bev, e->dlg.cmd, strlen(e->dlg.cmd));
                evbuffer_write(bufferevent_get_output(bev), bufferevent_getfd(bev));
            }
            finish(e, ETRN_OK, NULL);
            return;
        case ETRN_TEMPFAIL:
            finish(e, ETRN_TEMPFAIL, e->dlg.why);
            return;
        case ETRN_PERMFAIL:
            finish(e, ETRN_PERMFAIL, e->dlg.why);
            return;
        }
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct etrn *e = arg;
    char why[200];
    if (what & BEV_EVENT_CONNECTED)
        return;
    snprintf(why, sizeof(why), "%s", (what & BEV_EVENT_EOF) ? "connection closed by the server"
             : strerror(EVUTIL_SOCKET_ERROR()));
    finish(e, ETRN_TEMPFAIL, why);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    finish(arg, ETRN_TEMPFAIL, "timeout");
}

int etrn_target(const struct conf_hostport *host, struct sockaddr_in *sin, const char **why)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)(host->port > 0 ? host->port : ETRN_DEFAULT_PORT));
    if (!host->host || inet_pton(AF_INET, host->host, &sin->sin_addr) != 1) {
        *why = "etrn_host must be an IPv4 address";
        return -1;
    }
    return 0;
}

static void attempt(struct etrn *e)
{
    struct sockaddr_in sin;
    struct timeval tv = { e->cfg.timeout_ms / 1000, (e->cfg.timeout_ms % 1000) * 1000 };
    const char *why;

    close_conn(e);
    e->attempt++;
    etrn_dialog_init(&e->dlg, e->cfg.hostname, (const char *const *)e->cfg.domains->v, e->cfg.domains->n);
    if (etrn_target(e->cfg.host, &sin, &why) < 0) {
        finish(e, ETRN_PERMFAIL, why);
        return;
    }
    e->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!e->bev) {
        finish(e, ETRN_TEMPFAIL, "out of memory");
        return;
    }
    bufferevent_setcb(e->bev, on_read, NULL, on_event, e);
    bufferevent_enable(e->bev, EV_READ | EV_WRITE);
    evtimer_add(e->deadline, &tv);
    log_info("etrn connect host=%s attempt=%d/%d", e->hostport, e->attempt, e->cfg.attempts);
    if (bufferevent_socket_connect(e->bev, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        finish(e, ETRN_TEMPFAIL, strerror(errno));
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    attempt(arg);
}

struct etrn *etrn_new(struct event_base *base, const struct etrn_config *cfg)
{
    struct etrn *e;

    if (!cfg->host || !cfg->host->host || !cfg->domains || cfg->domains->n == 0)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->base = base;
    e->cfg = *cfg;
    e->port = cfg->host->port > 0 ? cfg->host->port : ETRN_DEFAULT_PORT;
    snprintf(e->hostport, sizeof(e->hostport), "%s:%d", cfg->host->host, e->port);
    e->retry_timer = evtimer_new(base, on_retry, e);
    e->deadline = evtimer_new(base, on_deadline, e);
    if (!e->retry_timer || !e->deadline) {
        etrn_free(e);
        return NULL;
    }
    snprintf(e->last_result, sizeof(e->last_result), "not triggered yet");
    return e;
}

void etrn_trigger(struct etrn *e)
{
    evtimer_del(e->retry_timer);
    e->attempt = 0;
    attempt(e);
}

void etrn_status(const struct etrn *e, struct ipc_builder *b)
{
    ipc_put_kv(b, "etrn_host", "%s", e->hostport);
    ipc_put_kv(b, "etrn_last", "%ld", (long)e->last_time);
    ipc_put_kv(b, "etrn_result", "%s", e->last_result);
}

void etrn_free(struct etrn *e)
{
    if (!e)
        return;
    close_conn(e);
    if (e->retry_timer)
        event_free(e->retry_timer);
    if (e->deadline)
        event_free(e->deadline);
    free(e);
}

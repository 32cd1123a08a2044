/*
 * l2tp_ipsec_transport.c — the "l2tp-ipsec" transport: L2TP (l2tp/) inside a transport-mode
 * IPsec SA that strongSwan's charon brings up on mailtund's request (ipsec_sa.c).
 *
 * A dial first picks the L2TP source port (an ephemeral port, so two customers behind one NAT
 * get different transport-mode policies at the provider), has charon set up the SA for that
 * port and the server's 1701, and only then starts L2TP on that port: no L2TP packet ever
 * leaves before the SA that protects it is in the kernel. The SA's loss (deleted, expired,
 * DPD) ends the dial like a lost control connection; a shutdown stops L2TP first (StopCCN
 * still goes through the SA), then terminates and unloads the SA.
 */
#include "transport.h"
#include "ipsec_sa.h"
#include "ipsec_creds.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

enum li_state { LI_SA, LI_L2TP, LI_STOPPING, LI_CLOSED };

struct l2tp_ipsec {
    struct transport tp;            /* first: the supervisor holds a struct transport * */
    struct event_base *base;
    struct tunnel_conf conf;        /* a copy with l2tp_local_port set */
    unsigned long attempt;
    struct transport_events ev;
    struct ipsec_sa *sa;
    struct transport *l2tp;
    struct event *report;           /* deferred "closed" */
    enum li_state state;
    uint16_t port;
    char reason[IPSEC_REASON_LEN];
};

/* "closed" once, from the event loop. */
static void report_closed(struct l2tp_ipsec *t, const char *reason)
{
    struct timeval now = { 0, 0 };

    if (t->state == LI_CLOSED)
        return;
    t->state = LI_CLOSED;
    snprintf(t->reason, sizeof(t->reason), "%s", reason);
    if (t->l2tp) {
        t->l2tp->ops->free(t->l2tp);
        t->l2tp = NULL;
    }
    if (t->sa) {
        ipsec_sa_stop(t->sa);
        t->sa = NULL;
    }
    evtimer_add(t->report, &now);
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
    struct l2tp_ipsec *t = arg;

    t->ev.closed(t->ev.arg, t->reason);
}

/* ---- L2TP's events, passed on -------------------------------------------------------------- */

static void l2tp_established(void *arg, const struct transport_call *call)
{
    struct l2tp_ipsec *t = arg;

    t->ev.established(t->ev.arg, call);
}

static void l2tp_cleared(void *arg, const char *reason)
{
    struct l2tp_ipsec *t = arg;

    t->ev.cleared(t->ev.arg, reason);
}

static void l2tp_closed(void *arg, const char *reason)
{
    struct l2tp_ipsec *t = arg;

    /* L2TP's transport is freed by report_closed; this runs from its own deferred report */
    report_closed(t, reason);
}

/* ---- the SA ---------------------------------------------------------------------------------- */

static void sa_up(void *arg, const char *desc)
{
    struct l2tp_ipsec *t = arg;
    struct transport_events lev = { l2tp_established, l2tp_cleared, l2tp_closed, t };
    char err[200], why[260];

    if (t->state != LI_SA)
        return;
    log_info("ipsec up conn=%s local_port=%u: starting L2TP inside it", desc, (unsigned)t->port);
    t->state = LI_L2TP;
    t->l2tp = l2tp_transport.dial(t->base, &t->conf, t->attempt, &lev, err, sizeof(err));
    if (!t->l2tp) {
        snprintf(why, sizeof(why), "L2TP inside the IPsec SA: %s", err);
        report_closed(t, why);
    }
}

static void sa_down(void *arg, const char *reason)
{
    struct l2tp_ipsec *t = arg;

    if (t->state == LI_CLOSED)
        return;
    log_warnx("ipsec down: %s", reason);
    report_closed(t, reason);           /* stops L2TP, then terminates and unloads the SA */
}

/* ---- picking the port ------------------------------------------------------------------- */

/* An ephemeral UDP port that is free now: the kernel picks it, we let it go for L2TP to bind. */
static int pick_port(uint16_t *port, char *err, size_t errlen)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        snprintf(err, errlen, "cannot pick a UDP port for L2TP: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    *port = ntohs(sin.sin_port);
    return 0;
}

/* ---- the transport operations ------------------------------------------------------------------ */

static void li_free(struct transport *tp);

static struct transport *li_dial(struct event_base *base, const struct tunnel_conf *conf,
                                 unsigned long attempt, const struct transport_events *ev,
                                 char *err, size_t errlen)
{
    struct l2tp_ipsec *t;
    struct ipsec_sa_events sev;
    struct ipsec_params p = { 0 };
    struct ipsec_creds cr;

    if (ipsec_creds_load(conf, &cr, err, errlen) < 0) {   /* at each dial: files replaced take effect */
        ipsec_creds_clear(&cr);
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (!t || !(t->report = evtimer_new(base, on_report, t))) {
        snprintf(err, errlen, "out of memory");
        free(t);
        ipsec_creds_clear(&cr);
        return NULL;
    }
    t->tp.ops = &l2tp_ipsec_transport;
    t->base = base;
    t->conf = *conf;
    t->attempt = attempt;
    t->ev = *ev;
    if (pick_port(&t->port, err, errlen) < 0) {
        li_free(&t->tp);
        ipsec_creds_clear(&cr);
        return NULL;
    }
    t->conf.l2tp_local_port = t->port;
    p.vici_socket = conf->ipsec_socket;
    p.conn_name = "mailtun";
    p.server = conf->server;
    p.local_port = t->port;
    p.ike_version = (int)conf->ipsec_ike_version;
    p.local_id = conf->ipsec_id;
    p.remote_id = conf->ipsec_remote_id;
    p.psk = cr.certs ? NULL : cr.psk;
    p.ca_pem = cr.ca_pem;
    p.cert_pem = cr.cert_pem;
    p.key_pem = cr.key_pem;
    p.proposals = conf->ipsec_proposals;
    p.esp_proposals = conf->ipsec_esp_proposals;
    p.timeout_ms = (unsigned)conf->connect_timeout_ms;
    sev = (struct ipsec_sa_events){ sa_up, sa_down, t };
    t->sa = ipsec_sa_start(base, &p, &sev, err, errlen);
    ipsec_creds_clear(&cr);
    if (!t->sa) {
        li_free(&t->tp);
        return NULL;
    }
    t->state = LI_SA;
    return &t->tp;
}

static void li_shutdown(struct transport *tp)
{
    struct l2tp_ipsec *t = (struct l2tp_ipsec *)tp;

    if (t->state == LI_L2TP && t->l2tp) {
        t->state = LI_STOPPING;
        t->l2tp->ops->shutdown(t->l2tp);     /* its "closed" ends us (and the SA) */
        return;
    }
    report_closed(t, "shut down");
}

/* pppd's plugin attached the session: L2TP inside sends its ICCN. */
static void li_attached(struct transport *tp)
{
    struct l2tp_ipsec *t = (struct l2tp_ipsec *)tp;

    if (t->state == LI_L2TP && t->l2tp && t->l2tp->ops->attached)
        t->l2tp->ops->attached(t->l2tp);
}

static void li_free(struct transport *tp)
{
    struct l2tp_ipsec *t = (struct l2tp_ipsec *)tp;

    if (t->l2tp)
        t->l2tp->ops->free(t->l2tp);
    if (t->sa)
        ipsec_sa_stop(t->sa);
    if (t->report)
        event_free(t->report);
    free(t);
}

static bool li_control_alive(const struct transport *tp)
{
    const struct l2tp_ipsec *t = (const struct l2tp_ipsec *)tp;

    return t->state == LI_L2TP && t->l2tp && t->l2tp->ops->control_alive(t->l2tp);
}

static void li_dead_path(const char *symptom, char *buf, size_t len)
{
    snprintf(buf, len, "dead path: the IPsec SA is up and L2TP's control connection answers, but PPP %s; "
             "is the provider's L2TP server (xl2tpd) handing the session to pppd?", symptom);
}

static void li_status(const struct transport *tp, struct ipc_builder *b)
{
    const struct l2tp_ipsec *t = (const struct l2tp_ipsec *)tp;
    static const char *const names[] = { "setting-up", "up", "stopping", "closed" };

    ipc_put_kv(b, "ipsec", "%s", names[t->state == LI_SA ? 0 : t->state == LI_CLOSED ? 3 :
                                         t->state == LI_STOPPING ? 2 : 1]);
    ipc_put_kv(b, "ipsec_local_port", "%u", (unsigned)t->port);
    if (t->l2tp)
        t->l2tp->ops->status(t->l2tp, b);
}

const struct transport_ops l2tp_ipsec_transport = {
    .name = "l2tp-ipsec",
    .default_port = 1701,
    .dial = li_dial,
    .shutdown = li_shutdown,
    .attached = li_attached,
    .free = li_free,
    .control_alive = li_control_alive,
    .dead_path = li_dead_path,
    .status = li_status,
    /* IKE, NAT-T and plain ESP: L2TP itself never shows on the uplink */
    .capture_extra = "udp port 500 or udp port 4500 or esp",     /* L2TP is inside ESP */
};

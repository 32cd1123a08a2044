/*
 * tunnel.c — the link supervisor (see tunnel.h).
 *
 * Failure handling is one path: tunnel_fail() records why, tears down what is running and
 * arms the back-off; maybe_dial() starts the next attempt once nothing of the old one is
 * left. The back-off doubles from backoff_min to backoff_max with +-25 % jitter, and a link
 * that came up resets it.
 */
#include "tunnel.h"
#include "ctl_server.h"
#include "auto_memory.h"
#include "log.h"
#include "metrics.h"
#include "pppd_child.h"
#include "planned.h"
#include "routes.h"
#include "transport.h"
#include "uplink.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define CTL_FLAG_SUBSCRIBED 1u
#define PPPD_GRACE_MS 5000          /* pppd saying goodbye over a working call */
#define PPPD_QUICK_GRACE_MS 300     /* the server is gone: nobody to say goodbye to */
#define FAST_RETRY_WINDOW_S 60      /* after an uplink change, retry at backoff_min */
#define WARM_CALL_TIMEOUT_S 300     /* a pppd started ahead waits this long for its call */
#define WARM_MIN_LIFE_S 60          /* one that died sooner is not started ahead again */

struct tunnel {
    struct event_base *base;
    const struct tunnel_conf *conf;
    struct ctl_server *ctl;
    struct routes *routes;
    enum tunnel_state state;

    const struct transport_ops *tp;     /* pptp, l2tp, l2tp-ipsec: the supervisor knows no more */
    int auto_mode;                      /* transport = auto: tp may change between dials */
    char auto_why[160];                 /* why auto uses tp now */
    const struct transport_ops *auto_saved; /* what <state_dir>/auto-transport holds */
    struct transport *conn;             /* this dial's control connection */
    struct transport_call call;
    int call_up;

    struct pppd_child pppd;
    struct ctl_client *plugin;          /* pppd's plugin, once it said hello */
    struct ctl_client *plugin_waiting;  /* asked for the call before it was established */
    char pppd_said[160];                /* pppd's own exit reason (PPP_EXIT), this attempt */
    int pppd_warm;                      /* pppd started ahead of the next dial: no call yet */
    int warm_off;                       /* a warm pppd died early: wait for a real dial */
    time_t warm_since;
    long kill_grace_ms;
    time_t fast_retry_until;            /* uplink just changed: the provider may still hold
                                           the old session for a few seconds */
    struct event *pppd_kill_timer;      /* SIGKILL if SIGTERM is not enough */
    struct event *setup_timer;          /* PPP must reach ip-up in time */
    struct event *backoff_timer;
    struct event *stop_timer;           /* hard limit for shutdown */
    struct event *planned_timer;        /* daily reconnect_at */
    struct uplink *uplink;

    char ifname[32];
    struct in_addr peer;
    long mtu;
    time_t up_since;
    unsigned long reconnects;
    unsigned long dials;
    int failures;                       /* consecutive, for the back-off */
    unsigned long failures_total;
    int dial_wanted;
    char last_error[320];

    void (*done)(void *);
    void *done_arg;
};

static void maybe_dial(struct tunnel *t);
static void on_stop_timeout(evutil_socket_t fd, short what, void *arg);

static const char *const state_names[] = { "wait-uplink", "dialing", "ppp", "up", "backoff",
                                           "stopping", "stopped" };
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

const char *tunnel_state_name(enum tunnel_state s)
{
    return (size_t)s < NSTATES ? state_names[s] : "?";
}

static void write_metrics(const struct tunnel *t)
{
    struct tunnel_metrics m = {
        .state = tunnel_state_name(t->state), .states = state_names, .nstates = NSTATES,
        .link_up = t->up_since != 0, .up_since = t->up_since,
        .dials = t->dials, .reconnects = t->reconnects, .failures_total = t->failures_total,
    };
    if (metrics_write(t->conf->metrics_file, &m) < 0)
        log_warn("metrics not written path=%s", t->conf->metrics_file);
}

static void set_state(struct tunnel *t, enum tunnel_state s, const char *reason)
{
    if (t->state == s)
        return;
    log_info("tunnel state %s -> %s reason=\"%s\"", tunnel_state_name(t->state), tunnel_state_name(s),
             reason);
    t->state = s;
    write_metrics(t);
}

static const char *ntoa(struct in_addr a, char *buf)
{
    return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static void arm(struct event *ev, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    /* From now, not from when this loop pass began: a back-off announced in the log must
     * not run out a few ms before the announced wait (seen in tunnel-wrong-password). */
    event_base_update_cache_time(event_get_base(ev));
    evtimer_add(ev, &tv);
}

static void publish_link_down(struct tunnel *t, const char *reason)
{
    struct ipc_builder b;
    char err[256];

    log_notice("link down ifname=%s reason=\"%s\"", t->ifname, reason);
    ipc_begin(&b, IPC_LINK_DOWN);
    ipc_put_str(&b, ATTR_REASON, reason);
    ipc_finish(&b);
    ctl_server_broadcast(t->ctl, CTL_FLAG_SUBSCRIBED, &b);
    if (routes_fixed_source_down(t->routes, t->conf->fixed_address, err, sizeof(err)) < 0)
        log_warnx("route fixed-source down failed reason=\"%s\"", err);
    t->up_since = 0;
    write_metrics(t);
}

/* A plugin still blocked waiting for the call learns at once that there will be none. */
static void refuse_waiting_plugin(struct tunnel *t, const char *reason)
{
    if (t->plugin_waiting) {
        ctl_client_error(t->plugin_waiting, reason);
        t->plugin_waiting = NULL;
    }
}

/* Stops whatever runs of the current attempt; the pieces report back when they are gone. */
static void teardown(struct tunnel *t, const char *reason)
{
    evtimer_del(t->setup_timer);
    refuse_waiting_plugin(t, reason);
    if (t->up_since)
        publish_link_down(t, reason);
    if (t->pppd.pid && t->pppd_said[0] && !t->pppd.term_sent &&
        !evtimer_pending(t->pppd_kill_timer, NULL)) {
        /* pppd is already ending the link with its own exit status (a refused login, say):
         * a SIGTERM would replace that status with "user request". Let it finish. */
        t->kill_grace_ms = PPPD_GRACE_MS;
        log_info("pppd left to finish pid=%d grace_ms=%ld said=\"%s\"", (int)t->pppd.pid,
                 t->kill_grace_ms, t->pppd_said);
        arm(t->pppd_kill_timer, t->kill_grace_ms);
    } else if (t->pppd.pid && !t->pppd.term_sent && !t->pppd_said[0]) {
        t->pppd_warm = 0;       /* one started ahead goes too: no dial may take it now */
        /* With the call gone pppd's LCP goodbye only waits out its timers. */
        int server_there = t->conn && t->conn->ops->control_alive(t->conn);
        t->kill_grace_ms = server_there ? PPPD_GRACE_MS : PPPD_QUICK_GRACE_MS;
        log_info("pppd stop pid=%d grace_ms=%ld reason=\"%s\"", (int)t->pppd.pid, t->kill_grace_ms, reason);
        pppd_child_terminate(&t->pppd);
        arm(t->pppd_kill_timer, t->kill_grace_ms);
    }
    /* pppd hangs up LCP first; the call is cleared once pppd is gone (child_exited). */
    if (t->conn && !t->pppd.pid)
        t->conn->ops->shutdown(t->conn);
}

static long backoff_ms(struct tunnel *t)
{
    long ms = t->conf->backoff_min_ms;
    uint32_t r = 0;
    /* Right after an uplink change the server refuses us until it drops our old session:
     * keep knocking at the shortest interval for a while instead of doubling away. */
    for (int i = 1; i < t->failures && ms < t->conf->backoff_max_ms && time(NULL) >= t->fast_retry_until; i++)
        ms *= 2;
    if (ms > t->conf->backoff_max_ms)
        ms = t->conf->backoff_max_ms;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = (uint32_t)rand();
    /* +-25 % so many gateways of one provider do not re-dial in lock step */
    return ms - ms / 4 + (long)(r % (uint32_t)(ms / 2 + 1));
}

/* transport = auto starts with the transport that last brought the link up (auto_memory.h),
 * PPTP when there is none. */
static void auto_start(struct tunnel *t)
{
    char name[32], err[4200];
    int r = auto_memory_load(t->conf->state_dir, name, sizeof(name), err, sizeof(err));
    const struct transport_ops *last = r > 0 ? transport_find(name) : NULL;

    t->auto_mode = 1;
    t->tp = &pptp_transport;
    snprintf(t->auto_why, sizeof(t->auto_why), "PPTP first");
    if (r < 0)
        log_warnx("transport auto: %s", err);
    if (!last)
        return;
    t->tp = t->auto_saved = last;
    if (t->tp == &l2tp_ipsec_transport) {
        snprintf(t->auto_why, sizeof(t->auto_why), "L2TP/IPsec worked last");
        log_notice("transport auto: starting with l2tp-ipsec, it brought the link up last (%s/%s)",
                   t->conf->state_dir, AUTO_MEMORY_FILE);
    }
}

/* The link is up: remember the transport for the next start (only when it changed). */
static void auto_remember(struct tunnel *t)
{
    char err[4200];

    if (!t->auto_mode || t->auto_saved == t->tp)
        return;
    if (auto_memory_save(t->conf->state_dir, t->tp->name, err, sizeof(err)) < 0) {
        log_warnx("transport auto: cannot remember %s: %s", t->tp->name, err);
        return;
    }
    t->auto_saved = t->tp;
}

/* transport = auto on L2TP/IPsec that keeps failing: maybe GRE crosses again (another line). */
static void auto_after_failure(struct tunnel *t)
{
    if (t->auto_mode && t->tp == &l2tp_ipsec_transport && t->failures >= 3) {
        t->tp = &pptp_transport;
        snprintf(t->auto_why, sizeof(t->auto_why), "L2TP/IPsec failed %d times in a row", t->failures);
        t->failures = 0;
        log_notice("transport auto: back to pptp, %s", t->auto_why);
    }
}

static void tunnel_fail(struct tunnel *t, const char *reason)
{
    long wait;
    if (t->state == TUNNEL_STOPPING || t->state == TUNNEL_STOPPED)
        return;
    snprintf(t->last_error, sizeof(t->last_error), "%s", reason);
    t->failures++;
    t->failures_total++;
    teardown(t, reason);
    wait = backoff_ms(t);
    log_warnx("tunnel failed reason=\"%s\" retry_in_ms=%ld failures=%d", reason, wait, t->failures);
    auto_after_failure(t);
    set_state(t, TUNNEL_BACKOFF, reason);
    t->dial_wanted = 0;
    evtimer_del(t->backoff_timer);
    arm(t->backoff_timer, wait);
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel *t = arg;
    t->dial_wanted = 1;
    maybe_dial(t);
}

/*
 * A dead path: the control connection answers but PPP does not come up. With transport =
 * auto and PPTP in use, that is GRE not crossing (a NAT, a firewall): the next dial goes over
 * L2TP/IPsec, which crosses them, without anyone changing the configuration.
 */
static void fail_dead_path(struct tunnel *t, const char *symptom)
{
    char why[320];

    t->tp->dead_path(symptom, why, sizeof(why));
    if (t->auto_mode && t->tp == &pptp_transport) {
        t->tp = &l2tp_ipsec_transport;
        snprintf(t->auto_why, sizeof(t->auto_why), "PPTP's GRE path was dead");
        t->failures = 0;                /* a new transport starts with a short wait */
        log_notice("transport auto: switching to l2tp-ipsec, the PPTP control connection answers "
                   "but GRE does not cross");
    }
    tunnel_fail(t, why);
}

static void on_setup_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel *t = arg;
    char symptom[64];

    /*
     * The call is up but PPP never got to ip-up: where the data path is dropped (GRE behind
     * a NAT without a PPTP helper) pppd may still be resending LCP when this fires, so the
     * dead path must be named here as well as on pppd's own LCP give-up (on_pppd_exit).
     */
    if (t->state == TUNNEL_PPP && t->conn && t->conn->ops->control_alive(t->conn)) {
        snprintf(symptom, sizeof(symptom), "did not come up in %ld s", t->conf->connect_timeout_ms * 2 / 1000);
        fail_dead_path(t, symptom);
        return;
    }
    tunnel_fail(t, "PPP negotiation did not reach ip-up in time");
}

static void on_pppd_kill(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel *t = arg;
    if (t->pppd.pid && !t->pppd.term_sent) {
        /* It was left to finish on its own and did not. */
        log_info("pppd stop pid=%d grace_ms=%d reason=\"no exit %ld ms after it said %s\"",
                 (int)t->pppd.pid, PPPD_QUICK_GRACE_MS, t->kill_grace_ms, t->pppd_said);
        t->kill_grace_ms = PPPD_QUICK_GRACE_MS;
        pppd_child_terminate(&t->pppd);
        arm(t->pppd_kill_timer, t->kill_grace_ms);
        return;
    }
    if (pppd_child_escalate(&t->pppd, (int)t->kill_grace_ms))
        log_info("pppd killed pid=%d reason=\"no exit %ld ms after SIGTERM\"", (int)t->pppd.pid,
                 t->kill_grace_ms);
}

/* The server's side of a failure, with pppd's own word first when it gave one. */
static const char *with_pppd_reason(struct tunnel *t, const char *server_side, char *buf, size_t len)
{
    if (!t->pppd_said[0])
        return server_side;
    snprintf(buf, len, "pppd %s; then %s", t->pppd_said, server_side);
    return buf;
}

static void send_call_reply(struct tunnel *t, struct ctl_client *c)
{
    struct ipc_builder b;
    ipc_begin(&b, IPC_CALL_REPLY);
    ipc_put_call(&b, &t->call.ipc);
    ipc_finish(&b);
    ctl_client_send(c, &b);
    log_info("call handed to pppd pid=%d transport=%s %s", (int)t->pppd.pid, t->tp->name,
             t->call.desc);
}

static void start_pppd(struct tunnel *t, int warm)
{
    struct pppd_config pc;
    struct pppd_argv argv;
    char err[256];

    pppd_config_init(&pc);
    pc.pppd_path = t->conf->pppd;
    pc.plugin_path = t->conf->plugin;
    pc.ipc_socket = t->conf->control_socket;
    pc.user = t->conf->user;
    pc.remotename = t->conf->remotename;
    pc.fixed = t->conf->fixed_address;
    pc.options_file = t->conf->pppd_options;
    pc.logfile = t->conf->pppd_logfile;
    pc.lcp_echo_interval = (int)(t->conf->lcp_echo_interval_ms / 1000);
    pc.lcp_echo_failure = (int)t->conf->lcp_echo_failure;
    pc.mtu = pc.mru = (int)t->conf->mtu;
    pc.debug = log_get_level() >= LOG_LVL_DEBUG;
    if (warm)
        pc.call_timeout = WARM_CALL_TIMEOUT_S;
    if (pppd_build_argv(&pc, &argv, err, sizeof(err)) < 0 ||
        pppd_child_spawn(&t->pppd, &argv, STDERR_FILENO, err, sizeof(err)) < 0) {
        if (warm) {
            log_warnx("pppd not started ahead reason=\"%s\"", err);
            t->warm_off = 1;
        } else {
            tunnel_fail(t, err);
        }
        return;
    }
    if (warm) {
        t->pppd_warm = 1;
        t->warm_since = time(NULL);
        log_info("pppd started ahead pid=%d plugin=%s (waits for the next call)", (int)t->pppd.pid,
                 t->conf->plugin);
        return;
    }
    log_info("pppd started pid=%d plugin=%s", (int)t->pppd.pid, t->conf->plugin);
    arm(t->setup_timer, t->conf->connect_timeout_ms * 2);
}

/*
 * While the uplink is away (the DSL line's daily disconnect), start the next attempt's pppd
 * already: its start-up (exec, libraries, plugin, options) is then done when the line is
 * back, instead of competing for the CPU with the dial on a small router. Its plugin waits
 * for the call (mailtun-timeout WARM_CALL_TIMEOUT_S); one that dies sooner than
 * WARM_MIN_LIFE_S is not replaced until a link came up again, so a broken pppd set-up cannot
 * loop here.
 */
static void maybe_start_warm(struct tunnel *t)
{
    if (!t->pppd.pid && !t->conn && !t->warm_off && t->state == TUNNEL_WAIT_UPLINK)
        start_pppd(t, 1);
}

static void on_call_established(void *arg, const struct transport_call *call)
{
    struct tunnel *t = arg;
    char a[INET_ADDRSTRLEN];

    if (t->state != TUNNEL_DIALING) {
        /* Stopping or failing already (SIGTERM or a timeout while the call was being
         * placed): the call came too late. The teardown clears it once pppd is gone. */
        log_info("call established too late %s state=%s; clearing it", call->desc,
                 tunnel_state_name(t->state));
        if (t->conn && !t->pppd.pid)
            t->conn->ops->shutdown(t->conn);
        return;
    }
    t->call = *call;
    t->call_up = 1;
    log_info("call established transport=%s local=%s %s", t->tp->name, ntoa(call->ipc.local, a),
             call->desc);
    set_state(t, TUNNEL_PPP, "call established");
    if (!t->pppd.pid) {
        start_pppd(t, 0);
    } else if (t->plugin_waiting) {
        /* pppd started while we dialled and is waiting for exactly this. */
        send_call_reply(t, t->plugin_waiting);
        t->plugin_waiting = NULL;
    }
}

static void on_call_cleared(void *arg, const char *reason)
{
    struct tunnel *t = arg;
    char buf[512];
    t->call_up = 0;
    log_info("call cleared reason=\"%s\"", reason);
    if (t->pppd.pid)
        tunnel_fail(t, with_pppd_reason(t, reason, buf, sizeof(buf)));
}

static void finish_stop(struct tunnel *t, const char *reason)
{
    routes_remove_all(t->routes);
    evtimer_del(t->stop_timer);
    set_state(t, TUNNEL_STOPPED, reason);
    if (t->done)
        t->done(t->done_arg);
}

static void check_stopped(struct tunnel *t)
{
    if (t->state != TUNNEL_STOPPING || t->conn || t->pppd.pid)
        return;
    finish_stop(t, "pppd gone, call cleared, routes removed");
}

static void on_conn_closed(void *arg, const char *closed_reason)
{
    struct tunnel *t = arg;
    char reason[256];

    /* The reason lives inside the connection we are about to free. */
    snprintf(reason, sizeof(reason), "%s", closed_reason);
    t->conn->ops->free(t->conn);
    t->conn = NULL;
    t->call_up = 0;
    log_info("%s closed reason=\"%s\"", t->tp->name, reason);
    if (t->state == TUNNEL_STOPPING) {
        check_stopped(t);
        return;
    }
    if (t->state != TUNNEL_BACKOFF && t->state != TUNNEL_WAIT_UPLINK) {
        char buf[512];
        tunnel_fail(t, with_pppd_reason(t, reason, buf, sizeof(buf)));
    }
    maybe_dial(t);
}

static void maybe_dial(struct tunnel *t)
{
    struct transport_events ev = { on_call_established, on_call_cleared, on_conn_closed, t };
    char err[256], a[INET_ADDRSTRLEN];
    struct uplink_state up;

    if (!t->dial_wanted || t->conn || (t->pppd.pid && !t->pppd_warm) ||
        t->state == TUNNEL_STOPPING || t->state == TUNNEL_STOPPED)
        return;
    uplink_get(t->uplink, &up);
    if (!uplink_usable(&up)) {
        /* Nothing to do until the kernel tells us the uplink is back (uplink.c). */
        snprintf(err, sizeof(err), "uplink %s %s", t->conf->uplink,
                 !up.present ? "does not exist" : !up.up ? "is down" : "has no IPv4 address");
        set_state(t, TUNNEL_WAIT_UPLINK, err);
        maybe_start_warm(t);
        return;
    }
    /* The host route first, or the control connection would try to go through the tunnel. */
    if (routes_server_host_route(t->routes, t->conf->server, err, sizeof(err)) < 0) {
        /* No path to the server yet: a route change (uplink.c) will bring us back here. */
        set_state(t, TUNNEL_WAIT_UPLINK, err);
        snprintf(t->last_error, sizeof(t->last_error), "%s", err);
        maybe_start_warm(t);
        return;
    }
    t->dial_wanted = 0;
    t->dials++;
    log_info("dial server=%s port=%u transport=%s%s%s%s attempt=%lu", ntoa(t->conf->server, a),
             transport_port(t->tp, t->conf), t->tp->name, t->auto_mode ? " auto=\"" : "",
             t->auto_mode ? t->auto_why : "", t->auto_mode ? "\"" : "", t->dials);
    set_state(t, TUNNEL_DIALING, "dial");
    t->pppd_said[0] = '\0';
    t->conn = t->tp->dial(t->base, t->conf, t->dials, &ev, err, sizeof(err));
    if (!t->conn) {
        tunnel_fail(t, err);
        return;
    }
    /* pppd and its plugin take a while to start: let that overlap the control handshake.
     * The plugin's call request waits until the call is established. */
    if (t->state != TUNNEL_DIALING)
        return;
    if (t->pppd.pid && t->pppd_warm && !t->pppd.term_sent) {
        t->pppd_warm = 0;
        log_info("pppd pid=%d started ahead %lds ago takes this call", (int)t->pppd.pid,
                 (long)(time(NULL) - t->warm_since));
        arm(t->setup_timer, t->conf->connect_timeout_ms * 2);
    } else if (!t->pppd.pid) {
        start_pppd(t, 0);
    }
}

/*
 * The old path is gone with the old address: nothing can be said to the server over it, and
 * pppd's LCP goodbye would only wait for its timeouts. Drop both at once and dial.
 */
static void teardown_fast(struct tunnel *t, const char *reason)
{
    if (!t->pppd_warm)      /* a pppd started ahead has no call to lose: it waits for the next */
        refuse_waiting_plugin(t, reason);
    if (t->up_since)
        publish_link_down(t, reason);
    evtimer_del(t->setup_timer);
    if (t->conn) {
        t->conn->ops->free(t->conn);
        t->conn = NULL;
        t->call_up = 0;
    }
    if (t->pppd.pid && !t->pppd_warm) {
        pppd_child_terminate(&t->pppd);
        pppd_child_escalate(&t->pppd, 0);
    }
}

static void on_uplink(void *arg, const struct uplink_state *old, const struct uplink_state *now)
{
    struct tunnel *t = arg;
    char why[160], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

    if (t->state == TUNNEL_STOPPING || t->state == TUNNEL_STOPPED)
        return;
    if (!uplink_usable(now)) {
        if (t->state == TUNNEL_WAIT_UPLINK)
            return;
        snprintf(why, sizeof(why), "uplink %s lost %s", t->conf->uplink,
                 !now->present ? "the interface" : !now->up ? "its link" : "its address");
        snprintf(t->last_error, sizeof(t->last_error), "%s", why);
        teardown_fast(t, why);
        evtimer_del(t->backoff_timer);
        t->dial_wanted = 1;     /* as soon as it is back */
        set_state(t, TUNNEL_WAIT_UPLINK, why);
        maybe_dial(t);          /* goes nowhere until usable, but keeps one code path */
        return;
    }
    if (!uplink_usable(old) || old->addr.s_addr != now->addr.s_addr) {
        if (uplink_usable(old))
            snprintf(why, sizeof(why), "uplink address changed %s -> %s", ntoa(old->addr, a), ntoa(now->addr, b));
        else
            snprintf(why, sizeof(why), "uplink usable again addr=%s", ntoa(now->addr, a));
        log_notice("tunnel redial reason=\"%s\"", why);
        teardown_fast(t, why);
        evtimer_del(t->backoff_timer);
        t->failures = 0;
        t->fast_retry_until = time(NULL) + FAST_RETRY_WINDOW_S;
        t->dial_wanted = 1;
        set_state(t, TUNNEL_BACKOFF, why);
        maybe_dial(t);
        return;
    }
    if (t->state == TUNNEL_WAIT_UPLINK) {
        maybe_dial(t);
        return;
    }
    if (old->route_gen != now->route_gen && (t->conn || t->pppd.pid)) {
        char err[256];
        /* The gateway may have moved: the host route to the server must follow it. */
        if (routes_server_host_route(t->routes, t->conf->server, err, sizeof(err)) < 0)
            log_warnx("route to server not updated reason=\"%s\"", err);
    }
}

static void arm_planned(struct tunnel *t)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    arm(t->planned_timer, planned_delay_ms(t->conf->reconnect_at, &tm));
}

static void on_planned(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel *t = arg;
    tunnel_redial(t, "planned daily reconnect (reconnect_at)");
    arm_planned(t);
}

struct tunnel *tunnel_new(struct event_base *base, const struct tunnel_conf *conf,
                          struct ctl_server *ctl, void (*done)(void *), void *done_arg,
                          char *err, size_t errlen)
{
    struct tunnel *t = calloc(1, sizeof(*t));
    struct routes_config rc;

    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->base = base;
    t->conf = conf;
    t->ctl = ctl;
    t->done = done;
    t->done_arg = done_arg;
    t->state = TUNNEL_WAIT_UPLINK;
    if (conf->transport && strcmp(conf->transport, "auto") == 0)
        auto_start(t);
    else if (!(t->tp = transport_find(conf->transport))) {
        snprintf(err, errlen, "[tunnel] transport '%s' is not known (pptp, l2tp, l2tp-ipsec or auto)",
                 conf->transport);
        free(t);
        return NULL;
    }
    routes_config_defaults(&rc);
    rc.table = (uint32_t)conf->route_table;
    rc.rule_priority = (uint32_t)conf->rule_priority;
    t->routes = routes_open(&rc, err, errlen);
    t->pppd_kill_timer = evtimer_new(base, on_pppd_kill, t);
    t->setup_timer = evtimer_new(base, on_setup_timeout, t);
    t->backoff_timer = evtimer_new(base, on_backoff, t);
    t->stop_timer = evtimer_new(base, on_stop_timeout, t);
    t->planned_timer = evtimer_new(base, on_planned, t);
    if (t->routes)
        t->uplink = uplink_new(base, conf->uplink, on_uplink, t, err, errlen);
    if (!t->routes || !t->uplink || !t->pppd_kill_timer || !t->setup_timer || !t->backoff_timer ||
        !t->stop_timer || !t->planned_timer) {
        if (t->routes && !err[0])
            snprintf(err, errlen, "out of memory");
        tunnel_free(t);
        return NULL;
    }
    return t;
}

void tunnel_start(struct tunnel *t)
{
    if (t->conf->reconnect_at >= 0) {
        arm_planned(t);
        log_info("planned reconnect daily_at=%02ld:%02ld", t->conf->reconnect_at / 60,
                 t->conf->reconnect_at % 60);
    }
    t->dial_wanted = 1;
    maybe_dial(t);
}

void tunnel_redial(struct tunnel *t, const char *reason)
{
    if (t->state == TUNNEL_STOPPING || t->state == TUNNEL_STOPPED)
        return;
    log_notice("tunnel redial reason=\"%s\"", reason);
    teardown(t, reason);
    evtimer_del(t->backoff_timer);
    t->failures = 0;
    t->dial_wanted = 1;
    set_state(t, TUNNEL_BACKOFF, reason);
    maybe_dial(t);
}

static void on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel *t = arg;
    struct pppd_exit ex;
    log_warnx("tunnel stop forced reason=\"shutdown did not finish in time\"");
    if (t->pppd.pid)
        pppd_child_stop(&t->pppd, 0, &ex);
    if (t->conn) {
        t->conn->ops->free(t->conn);
        t->conn = NULL;
    }
    t->call_up = 0;
    if (t->up_since)
        publish_link_down(t, "tunnel stop forced");
    /* Whatever state a late event left behind, a forced stop ends the process. */
    finish_stop(t, "stop forced: pppd killed, call dropped, routes removed");
}

void tunnel_stop(struct tunnel *t, const char *reason)
{
    if (t->state == TUNNEL_STOPPING || t->state == TUNNEL_STOPPED)
        return;
    evtimer_del(t->backoff_timer);
    evtimer_del(t->planned_timer);
    t->dial_wanted = 0;
    set_state(t, TUNNEL_STOPPING, reason);
    teardown(t, reason);
    arm(t->stop_timer, PPPD_GRACE_MS * 2);
    check_stopped(t);
}

void tunnel_free(struct tunnel *t)
{
    if (!t)
        return;
    if (t->conn)
        t->conn->ops->free(t->conn);
    if (t->routes)
        routes_close(t->routes);
    if (t->pppd_kill_timer)
        event_free(t->pppd_kill_timer);
    if (t->setup_timer)
        event_free(t->setup_timer);
    if (t->backoff_timer)
        event_free(t->backoff_timer);
    if (t->stop_timer)
        event_free(t->stop_timer);
    if (t->planned_timer)
        event_free(t->planned_timer);
    uplink_free(t->uplink);
    free(t);
}

void tunnel_child_exited(struct tunnel *t)
{
    struct pppd_exit ex;
    char why[320];
    int dead_path, we_stopped_it = t->pppd.term_sent;

    if (pppd_child_reap(&t->pppd, &ex) != 1)
        return;
    evtimer_del(t->pppd_kill_timer);
    t->plugin = NULL;
    refuse_waiting_plugin(t, "pppd exited");
    if (t->pppd_warm) {
        long lived = (long)(time(NULL) - t->warm_since);
        t->pppd_warm = 0;
        if (lived < WARM_MIN_LIFE_S && !we_stopped_it)
            t->warm_off = 1;
        log_info("pppd started ahead exited after %lds %s%s", lived, ex.text,
                 t->warm_off ? "; the next one starts with the next dial" : "");
        if (t->state == TUNNEL_STOPPING)
            check_stopped(t);
        else
            maybe_dial(t);
        return;
    }
    log_info("pppd exited %s", ex.text);
    /* What pppd said first is the cause: pppd 2.4.9 exits with 16 (hangup) whenever its
     * goodbye ends without a Terminate-Ack, whatever it was ending the link for. */
    const char *cause = t->pppd_said[0] ? t->pppd_said : ex.text;
    /*
     * pppd gave up for lack of answers (negotiation failed: 10, LCP echoes unanswered: 15)
     * while the control connection still answers: the path carries the control protocol but
     * not PPP (GRE blocked, say). That is worth naming; a plain "pppd exited" would send
     * admins hunting. The transport words the usual suspect.
     */
    dead_path = ex.exited && (ex.code == 10 || ex.code == 15) && t->conn &&
                t->conn->ops->control_alive(t->conn) && !we_stopped_it;
    if (t->conn)
        t->conn->ops->shutdown(t->conn);
    if (t->state == TUNNEL_STOPPING) {
        check_stopped(t);
        return;
    }
    if (t->state != TUNNEL_BACKOFF && t->state != TUNNEL_WAIT_UPLINK && !we_stopped_it) {
        if (dead_path) {
            char symptom[200];
            snprintf(symptom, sizeof(symptom), "does not (pppd %s)", cause);
            fail_dead_path(t, symptom);
        } else {
            snprintf(why, sizeof(why), "pppd %s", cause);
            tunnel_fail(t, why);
        }
    }
    maybe_dial(t);
}

/* pppd names its units ppp<N> (or an admin's "ifname ppp-..."): anything else, and above
 * all the uplink itself, would route the fixed address's traffic somewhere else. */
static const char *bad_ppp_ifname(const struct tunnel *t, const char *ifname)
{
    if (strcmp(ifname, t->conf->uplink) == 0)
        return "the uplink";
    if (strncmp(ifname, "ppp", 3) != 0 || strchr(ifname, '/'))
        return "not a ppp device";
    return NULL;
}

static void plugin_ip_up(struct tunnel *t, const struct ipc_msg *m)
{
    struct in_addr local;
    uint32_t mtu = 0;
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], err[256], why[320], ifname[sizeof(t->ifname)];
    const char *bad;
    struct ipc_builder ev;

    if (ipc_get_str(m, ATTR_IFNAME, ifname, sizeof(ifname)) < 0 ||
        ipc_get_in4(m, ATTR_LOCAL, &local) < 0 || ipc_get_in4(m, ATTR_PEER, &t->peer) < 0) {
        tunnel_fail(t, "plugin sent an incomplete ip-up");
        return;
    }
    if ((bad = bad_ppp_ifname(t, ifname))) {
        snprintf(why, sizeof(why), "link refused: ip-up names interface %s, %s", ifname, bad);
        log_errx("%s", why);
        tunnel_fail(t, why);
        return;
    }
    snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
    ipc_get_u32(m, ATTR_MTU, &mtu);
    t->mtu = mtu;
    if (local.s_addr != t->conf->fixed_address.s_addr) {
        snprintf(why, sizeof(why), "link refused: IPCP gave %s but fixed_address is %s",
                 ntoa(local, a), ntoa(t->conf->fixed_address, b));
        log_errx("%s", why);
        tunnel_fail(t, why);
        return;
    }
    if (routes_fixed_source_route(t->routes, local, t->ifname, err, sizeof(err)) < 0) {
        snprintf(why, sizeof(why), "routes for the fixed address failed: %s", err);
        tunnel_fail(t, why);
        return;
    }
    evtimer_del(t->setup_timer);
    if (t->reconnects || t->dials > 1)
        t->reconnects++;
    t->failures = 0;
    t->warm_off = 0;                /* a good link: pppd may start ahead again */
    t->up_since = time(NULL);
    t->last_error[0] = '\0';
    set_state(t, TUNNEL_UP, "ip-up with the fixed address");
    auto_remember(t);
    log_notice("link up ifname=%s local=%s peer=%s mtu=%u", t->ifname, ntoa(local, a),
               ntoa(t->peer, b), mtu);
    if (tunnel_link_event(t, &ev))
        ctl_server_broadcast(t->ctl, CTL_FLAG_SUBSCRIBED, &ev);
}

void tunnel_plugin_msg(struct tunnel *t, struct ctl_client *c, const struct ipc_msg *m)
{
    char reason[160];

    /* Only the pppd we started may speak for the link: root (a group member cannot be),
     * and the pid we started (another root process is not our pppd). The pid alone can be
     * reused once pppd is gone; the uid cannot be faked. */
    if (ctl_client_uid(c) != 0) {
        log_warnx("plugin message refused pid=%d uid=%d type=%s reason=\"not root\"",
                  (int)ctl_client_pid(c), (int)ctl_client_uid(c), ipc_type_name(m->type));
        ctl_client_error(c, "plugin messages are accepted from root only");
        return;
    }
    if (!t->pppd.pid || ctl_client_pid(c) != t->pppd.pid) {
        log_warnx("plugin message refused pid=%d type=%s reason=\"not our pppd\"",
                  (int)ctl_client_pid(c), ipc_type_name(m->type));
        ctl_client_error(c, "not the pppd started by mailtund");
        return;
    }
    t->plugin = c;
    /* Link events only where the state machine waits for them: one arriving late (after
     * SIGTERM, after a failure) must not bring a stopping or backing-off tunnel up. */
    if ((m->type == IPC_PPP_AUTH_UP || m->type == IPC_PPP_IP_UP) && t->state != TUNNEL_PPP) {
        log_info("plugin event ignored pid=%d type=%s state=%s reason=\"not expected in this state\"",
                 (int)t->pppd.pid, ipc_type_name(m->type), tunnel_state_name(t->state));
        return;
    }
    switch (m->type) {
    case IPC_CALL_REQUEST:
        if (t->state == TUNNEL_PPP && t->call_up) {
            send_call_reply(t, c);
        } else if (t->state == TUNNEL_DIALING || t->pppd_warm) {
            t->plugin_waiting = c;      /* answered by on_call_established */
            log_debug("plugin waits for the call pid=%d", (int)t->pppd.pid);
        } else {
            ctl_client_error(c, "no call established");
        }
        break;
    case IPC_CALL_ATTACHED:
        log_info("plugin attached the call pid=%d", (int)t->pppd.pid);
        if (t->state == TUNNEL_PPP && t->call_up && t->conn && t->conn->ops->attached)
            t->conn->ops->attached(t->conn);
        break;
    case IPC_PPP_AUTH_UP:
        log_info("ppp authenticated pid=%d", (int)t->pppd.pid);
        break;
    case IPC_PPP_IP_UP:
        plugin_ip_up(t, m);
        break;
    case IPC_PPP_IP_DOWN:
        if (t->up_since)
            publish_link_down(t, "ip-down");
        break;
    case IPC_PPP_EXIT:
        /* Sent when pppd starts ending the link and again at its exit: log each news once,
         * keep the first (the cause; a later one can be pppd's "hangup" after its goodbye). */
        if (ipc_get_str(m, ATTR_REASON, reason, sizeof(reason)) == 0 && strcmp(reason, t->pppd_said)) {
            log_info("pppd exiting pid=%d reason=\"%s\"", (int)t->pppd.pid, reason);
            if (!t->pppd_said[0])
                snprintf(t->pppd_said, sizeof(t->pppd_said), "%s", reason);
        }
        break;
    default:
        ctl_client_error(c, "unexpected message from plugin");
    }
}

void tunnel_plugin_gone(struct tunnel *t, struct ctl_client *c)
{
    if (t->plugin == c)
        t->plugin = NULL;
    if (t->plugin_waiting == c)
        t->plugin_waiting = NULL;
}

void tunnel_status(const struct tunnel *t, struct ipc_builder *b)
{
    char a[INET_ADDRSTRLEN];
    ipc_put_kv(b, "state", "%s", tunnel_state_name(t->state));
    if (t->auto_mode)
        ipc_put_kv(b, "transport", "%s (auto: %s)", t->tp->name, t->auto_why);
    else
        ipc_put_kv(b, "transport", "%s", t->tp->name);
    ipc_put_kv(b, "server", "%s", ntoa(t->conf->server, a));
    ipc_put_kv(b, "uplink", "%s", t->conf->uplink);
    {
        struct uplink_state up;
        uplink_get(t->uplink, &up);
        ipc_put_kv(b, "uplink_address", "%s", up.has_addr ? ntoa(up.addr, a) : "-");
    }
    ipc_put_kv(b, "fixed_address", "%s", ntoa(t->conf->fixed_address, a));
    if (t->up_since) {
        ipc_put_kv(b, "interface", "%s", t->ifname);
        ipc_put_kv(b, "peer", "%s", ntoa(t->peer, a));
        ipc_put_kv(b, "uptime_s", "%ld", (long)(time(NULL) - t->up_since));
    }
    if (t->conn)
        t->conn->ops->status(t->conn, b);
    if (t->pppd.pid)
        ipc_put_kv(b, "pppd_pid", "%d", (int)t->pppd.pid);
    ipc_put_kv(b, "dials", "%lu", t->dials);
    ipc_put_kv(b, "reconnects", "%lu", t->reconnects);
    ipc_put_kv(b, "last_error", "%s", t->last_error);
}

int tunnel_link_event(const struct tunnel *t, struct ipc_builder *b)
{
    if (!t->up_since)
        return 0;
    ipc_begin(b, IPC_LINK_UP);
    ipc_put_str(b, ATTR_IFNAME, t->ifname);
    ipc_put_in4(b, ATTR_LOCAL, t->conf->fixed_address);
    ipc_put_in4(b, ATTR_PEER, t->peer);
    return ipc_finish(b) > 0;
}

enum tunnel_state tunnel_get_state(const struct tunnel *t)
{
    return t->state;
}

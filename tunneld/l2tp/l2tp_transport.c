/*
 * l2tp_transport.c — L2TP (RFC 2661, LAC) behind the transport interface (see transport.h):
 * a UDP socket connected to the LNS on libevent, driving the pure state machine in l2tp_ctrl,
 * and once the call is up the kernel tunnel context (l2tp_kernel) on that same socket, so
 * pppd's plugin can attach its PPPoL2TP session.
 *
 * Every event ends in after_event(): send what the state machine queued, re-arm its timer,
 * and report "closed" once it got there, from a zero-delay timer (never from inside the state
 * machine), so the owner can free us in its callback. Reading is bounded per wake-up: a
 * flooding server cannot starve the daemon's other events.
 * Needs: libevent, l2tp_ctrl, l2tp_kernel, transport.
 */
#include "transport.h"
#include "l2tp_ctrl.h"
#include "l2tp_kernel.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define READS_PER_WAKEUP 64
#define L2TP_ATTACH_WAIT_MS 3000

struct l2tp_transport {
    struct transport base;          /* first: the supervisor holds a struct transport * */
    struct transport_events ev;
    struct event *rx, *timer, *report;
    int fd;                         /* UDP, connected to the LNS */
    int kfd;                        /* kernel tunnel context, once the call is up */
    struct in_addr server, local;
    uint16_t server_port, local_port;
    int call_up;
    int closed_reported;
    char close_reason[L2TP_CTRL_REASON_LEN];
    struct l2tp_ctrl ctrl;          /* last: large */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void flush_output(struct l2tp_transport *p)
{
    size_t len;
    const uint8_t *out;
    while ((out = l2tp_ctrl_output(&p->ctrl, &len)) != NULL) {
        /* A datagram the socket will not take is dropped: reliable delivery sends it again. */
        if (p->fd >= 0 && send(p->fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            log_debug("l2tp send failed: %s", strerror(errno));
        l2tp_ctrl_pop(&p->ctrl);
    }
}

static void after_event(struct l2tp_transport *p)
{
    uint64_t next;
    flush_output(p);
    if (l2tp_ctrl_tunnel_state(&p->ctrl) == L2TP_TUN_CLOSED) {
        evtimer_del(p->timer);
        event_del(p->rx);
        if (!p->closed_reported) {
            struct timeval now = { 0, 0 };
            p->closed_reported = 1;
            evtimer_add(p->report, &now);
        }
        return;
    }
    next = l2tp_ctrl_next_deadline(&p->ctrl);
    if (next) {
        uint64_t now = now_ms(), wait = next > now ? next - now : 0;
        struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
        evtimer_add(p->timer, &tv);
    } else {
        evtimer_del(p->timer);
    }
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
    struct l2tp_transport *p = arg;
    p->ev.closed(p->ev.arg, p->close_reason);    /* the owner may free us in there */
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct l2tp_transport *p = arg;
    l2tp_ctrl_tick(&p->ctrl, now_ms());
    after_event(p);
}

static void on_rx(evutil_socket_t fd, short what, void *arg)
{
    struct l2tp_transport *p = arg;
    uint8_t buf[L2TP_MAX_CTRL_LEN + 1];

    for (int i = 0; i < READS_PER_WAKEUP && l2tp_ctrl_tunnel_state(&p->ctrl) != L2TP_TUN_CLOSED; i++) {
        ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            char why[L2TP_CTRL_REASON_LEN], a[INET_ADDRSTRLEN];
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            inet_ntop(AF_INET, &p->server, a, sizeof(a));
            if (errno == ECONNREFUSED)
                snprintf(why, sizeof(why), "LNS %s refuses UDP port %u (ICMP port unreachable: "
                         "no L2TP server running there)", a, p->server_port);
            else
                snprintf(why, sizeof(why), "UDP receive from LNS %s: %s", a, strerror(errno));
            l2tp_ctrl_lost(&p->ctrl, why);
            break;
        }
        l2tp_ctrl_input(&p->ctrl, buf, (size_t)n, now_ms());
        flush_output(p);
    }
    after_event(p);
}

static void hook_established(void *arg, const struct l2tp_call_info *call)
{
    struct l2tp_transport *p = arg;
    struct transport_call tc = { .ipc = { .kind = IPC_CALL_L2TP } };
    char err[256];

    p->kfd = l2tp_kernel_tunnel(p->fd, p->server, p->server_port, call->local_tunnel_id,
                                call->peer_tunnel_id, err, sizeof(err));
    if (p->kfd < 0) {
        /* No data path: the call cannot carry PPP. Say why, tell the LNS, go. */
        log_errx("l2tp kernel data path failed reason=\"%s\"", err);
        l2tp_ctrl_shutdown(&p->ctrl, err, now_ms());
        return;
    }
    p->call_up = 1;
    tc.ipc.local = p->local;
    tc.ipc.server = p->server;
    tc.ipc.server_port = p->server_port;
    tc.ipc.local_port = p->local_port;
    tc.ipc.local_id = call->local_tunnel_id;
    tc.ipc.peer_id = call->peer_tunnel_id;
    tc.ipc.local_session = call->local_session_id;
    tc.ipc.peer_session = call->peer_session_id;
    snprintf(tc.desc, sizeof(tc.desc), "tunnel_id=%u peer_tunnel_id=%u session_id=%u peer_session_id=%u",
             call->local_tunnel_id, call->peer_tunnel_id, call->local_session_id, call->peer_session_id);
    p->ev.established(p->ev.arg, &tc);
}

static void hook_cleared(void *arg, const char *reason)
{
    struct l2tp_transport *p = arg;
    if (!p->call_up)
        return;         /* the kernel step failed: the supervisor never heard of this call */
    p->call_up = 0;
    p->ev.cleared(p->ev.arg, reason);
}

static void hook_closed(void *arg, const char *reason)
{
    struct l2tp_transport *p = arg;
    snprintf(p->close_reason, sizeof(p->close_reason), "%s", reason ? reason : "closed");
}

static uint16_t random_id(void)
{
    uint16_t v = 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
        v = (uint16_t)rand();
    return v ? v : 1;
}

static int open_socket(struct l2tp_transport *p, char *err, size_t errlen)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(p->server_port),
                               .sin_addr = p->server };
    socklen_t len = sizeof(sin);
    char a[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &p->server, a, sizeof(a));
    p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        snprintf(err, errlen, "UDP socket: %s", strerror(errno));
        return -1;
    }
    /* l2tp-ipsec chose the port its SA covers: L2TP must leave from exactly that one. */
    if (p->local_port) {
        struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(p->local_port) };

        if (bind(p->fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
            snprintf(err, errlen, "UDP bind to port %u: %s", p->local_port, strerror(errno));
            return -1;
        }
    }
    /* Connected: the kernel hands us only the LNS's datagrams, and the kernel tunnel uses
     * this socket's addresses for the data messages. */
    if (connect(p->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        snprintf(err, errlen, "UDP connect to %s:%u: %s", a, p->server_port, strerror(errno));
        return -1;
    }
    if (getsockname(p->fd, (struct sockaddr *)&sin, &len) < 0) {
        snprintf(err, errlen, "UDP getsockname: %s", strerror(errno));
        return -1;
    }
    p->local = sin.sin_addr;
    p->local_port = ntohs(sin.sin_port);
    return 0;
}

static void l2tp_free(struct transport *tp);

static struct transport *l2tp_dial(struct event_base *base, const struct tunnel_conf *conf,
                                   unsigned long attempt, const struct transport_events *ev,
                                   char *err, size_t errlen)
{
    struct l2tp_transport *p = calloc(1, sizeof(*p));
    struct l2tp_ctrl_hooks hooks = { hook_established, hook_cleared, hook_closed, NULL };
    struct l2tp_ctrl_config cfg;
    char a[INET_ADDRSTRLEN];

    if (!p) {
        snprintf(err, errlen, "out of memory opening the L2TP tunnel");
        return NULL;
    }
    p->base.ops = &l2tp_transport;
    p->ev = *ev;
    p->fd = p->kfd = -1;
    p->server = conf->server;
    p->server_port = transport_port(&l2tp_transport, conf);
    p->local_port = (uint16_t)conf->l2tp_local_port;
    hooks.arg = p;

    l2tp_ctrl_config_defaults(&cfg);
    snprintf(cfg.host_name, sizeof(cfg.host_name), "%s", conf->hostname ? conf->hostname : "mailtun");
    if (conf->l2tp_secret && conf->l2tp_secret[0]) {
        cfg.secret_len = strnlen(conf->l2tp_secret, L2TP_SECRET_MAX);
        memcpy(cfg.secret, conf->l2tp_secret, cfg.secret_len);
        if (getrandom(cfg.challenge, sizeof(cfg.challenge), 0) != (ssize_t)sizeof(cfg.challenge)) {
            snprintf(err, errlen, "no random bytes for the L2TP tunnel challenge");
            free(p);
            return NULL;
        }
    }
    /* Fresh ids per dial: a late datagram of the old tunnel cannot hit the new one. */
    cfg.tunnel_id = random_id();
    cfg.session_id = random_id();
    cfg.call_serial = (uint32_t)attempt;
    /* A dead LNS sends no reset and, once the kernel tunnel is on the socket, its ICMP errors
     * do not reach us: an unanswered HELLO is the only sign. Probe after l2tp_hello_interval
     * of silence and give up after as long again (retransmitted at 1, 3, 7 s), instead of
     * sitting out all the retransmissions (31 s) after a minute's silence. */
    cfg.hello_interval_ms = (uint32_t)conf->l2tp_hello_interval_ms;
    cfg.rel.give_up_ms = (uint32_t)conf->l2tp_hello_interval_ms;
    /* ICCN once pppd's plugin has attached our kernel session (l2tp_attached), so the LNS's
     * pppd, started on ICCN, finds it; an older plugin that never says so costs this wait. */
    cfg.attach_wait_ms = L2TP_ATTACH_WAIT_MS;
    cfg.setup_timeout_ms = (uint32_t)conf->connect_timeout_ms;
    l2tp_ctrl_init(&p->ctrl, &cfg, &hooks);

    p->timer = evtimer_new(base, on_timer, p);
    p->report = evtimer_new(base, on_report, p);
    if (!p->timer || !p->report || open_socket(p, err, errlen) < 0 ||
        !(p->rx = event_new(base, p->fd, EV_READ | EV_PERSIST, on_rx, p))) {
        if (!err[0])
            snprintf(err, errlen, "out of memory opening the L2TP tunnel");
        l2tp_free(&p->base);
        return NULL;
    }
    event_add(p->rx, NULL);
    inet_ntop(AF_INET, &p->server, a, sizeof(a));
    log_info("l2tp dial lns=%s:%u local_port=%u tunnel_id=%u session_id=%u auth=%s", a, p->server_port,
             p->local_port, cfg.tunnel_id, cfg.session_id, cfg.secret_len ? "secret" : "none");
    l2tp_ctrl_start(&p->ctrl, now_ms());
    after_event(p);
    return &p->base;
}

static void l2tp_shutdown(struct transport *tp)
{
    struct l2tp_transport *p = (struct l2tp_transport *)tp;
    l2tp_ctrl_shutdown(&p->ctrl, "tunnel closed by mailtund", now_ms());
    after_event(p);
}

static void l2tp_attached(struct transport *tp)
{
    struct l2tp_transport *p = (struct l2tp_transport *)tp;
    l2tp_ctrl_attached(&p->ctrl, now_ms());
    after_event(p);
}

static void l2tp_free(struct transport *tp)
{
    struct l2tp_transport *p = (struct l2tp_transport *)tp;
    if (!p)
        return;
    if (p->fd >= 0)
        flush_output(p);        /* a last StopCCN or ack, if one is queued */
    if (p->rx)
        event_free(p->rx);
    if (p->timer)
        event_free(p->timer);
    if (p->report)
        event_free(p->report);
    if (p->kfd >= 0)
        close(p->kfd);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

/* "Answers" needs recent evidence: a dead LNS sends no reset, and once the kernel tunnel is
 * on the socket its ICMP errors do not reach us; only a message heard lately counts. A live
 * LNS is heard at least every hello interval (its ack of our HELLO), so two of them. */
static bool l2tp_control_alive(const struct transport *tp)
{
    const struct l2tp_transport *p = (const struct l2tp_transport *)tp;
    return l2tp_ctrl_tunnel_state(&p->ctrl) == L2TP_TUN_ESTABLISHED &&
           now_ms() - p->ctrl.last_rx_ms < 2 * (uint64_t)p->ctrl.cfg.hello_interval_ms;
}

static void l2tp_dead_path(const char *symptom, char *buf, size_t len)
{
    snprintf(buf, len, "dead path: the L2TP control channel answers but PPP in its data messages "
             "%s; does a firewall between here and the server pass only part of UDP 1701, or "
             "does the LNS refuse the session's PPP?", symptom);
}

static void l2tp_status(const struct transport *tp, struct ipc_builder *b)
{
    const struct l2tp_transport *p = (const struct l2tp_transport *)tp;
    const struct l2tp_call_info *call = l2tp_ctrl_call(&p->ctrl);
    ipc_put_kv(b, "l2tp_tunnel_state", "%s", l2tp_tunnel_state_name(l2tp_ctrl_tunnel_state(&p->ctrl)));
    ipc_put_kv(b, "l2tp_session_state", "%s", l2tp_session_state_name(l2tp_ctrl_session_state(&p->ctrl)));
    if (l2tp_ctrl_peer_host(&p->ctrl)[0])
        ipc_put_kv(b, "l2tp_lns", "%s", l2tp_ctrl_peer_host(&p->ctrl));
    if (p->call_up) {
        ipc_put_kv(b, "tunnel_id", "%u", call->local_tunnel_id);
        ipc_put_kv(b, "peer_tunnel_id", "%u", call->peer_tunnel_id);
        ipc_put_kv(b, "session_id", "%u", call->local_session_id);
        ipc_put_kv(b, "peer_session_id", "%u", call->peer_session_id);
    }
    ipc_put_kv(b, "l2tp_dropped", "%llu", (unsigned long long)p->ctrl.dropped);
}

const struct transport_ops l2tp_transport = {
    .name = "l2tp",
    .default_port = L2TP_UDP_PORT,
    .dial = l2tp_dial,
    .shutdown = l2tp_shutdown,
    .attached = l2tp_attached,
    .free = l2tp_free,
    .control_alive = l2tp_control_alive,
    .dead_path = l2tp_dead_path,
    .status = l2tp_status,
    .control_proto = "udp",
};

/*
 * pptp_transport.c — PPTP behind the transport interface (see transport.h): a pptp_conn with
 * one outgoing call, its call ids handed to pppd's plugin for the kernel GRE channel.
 * Needs: pptp_conn, transport.
 */
#include "transport.h"
#include "pptp_conn.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

struct pptp_transport {
    struct transport base;          /* first: the supervisor holds a struct transport * */
    struct pptp_conn *conn;
    struct transport_events ev;
    struct pptp_call_info call;
    struct in_addr server;          /* the plugin's GRE peer (CALL_REPLY's server) */
    int call_up;
};

static void on_established(void *arg, const struct pptp_call_info *call)
{
    struct pptp_transport *p = arg;
    struct transport_call tc = { .ipc = { .kind = IPC_CALL_PPTP } };

    p->call = *call;
    if (pptp_conn_local_addr(p->conn, &tc.ipc.local) < 0) {
        /* The GRE source must be the TCP connection's: without it there is no call. */
        log_warnx("pptp call dropped reason=\"cannot tell the local address of the control connection\"");
        pptp_conn_shutdown(p->conn);
        return;
    }
    p->call_up = 1;
    tc.ipc.server = p->server;
    tc.ipc.local_id = call->local_call_id;
    tc.ipc.peer_id = call->peer_call_id;
    snprintf(tc.desc, sizeof(tc.desc), "call_id=%u peer_call_id=%u speed=%u", call->local_call_id,
             call->peer_call_id, call->connect_speed);
    p->ev.established(p->ev.arg, &tc);
}

static void on_cleared(void *arg, const char *reason)
{
    struct pptp_transport *p = arg;
    p->call_up = 0;
    p->ev.cleared(p->ev.arg, reason);
}

static void on_closed(void *arg, const char *reason)
{
    struct pptp_transport *p = arg;
    p->call_up = 0;
    p->ev.closed(p->ev.arg, reason);     /* the owner may free us in there */
}

static struct transport *pptp_dial(struct event_base *base, const struct tunnel_conf *conf,
                                   unsigned long attempt, const struct transport_events *ev,
                                   char *err, size_t errlen)
{
    struct pptp_conn_events pev = { on_established, on_cleared, on_closed, NULL };
    struct pptp_ctrl_config pc;
    struct pptp_transport *p = calloc(1, sizeof(*p));
    uint16_t call_id;

    if (!p) {
        snprintf(err, errlen, "out of memory opening the control connection");
        return NULL;
    }
    p->base.ops = &pptp_transport;
    p->ev = *ev;
    p->server = conf->server;
    pev.arg = p;
    pptp_ctrl_config_defaults(&pc);
    snprintf(pc.hostname, sizeof(pc.hostname), "%s", conf->hostname);
    pc.echo_interval_ms = (uint32_t)conf->echo_interval_ms;
    pc.echo_timeout_ms = (uint32_t)conf->echo_timeout_ms;
    pc.sccrp_timeout_ms = pc.ocrp_timeout_ms = (uint32_t)conf->connect_timeout_ms;
    /* A fresh call ID per dial: a late packet of the old call cannot hit the new one. */
    if (getrandom(&call_id, sizeof(call_id), GRND_NONBLOCK) != sizeof(call_id))
        call_id = (uint16_t)rand();
    pc.call_id = call_id ? call_id : 1;
    pc.call_serial = (uint16_t)attempt;
    p->conn = pptp_conn_open(base, conf->server, transport_port(&pptp_transport, conf), &pc,
                             conf->connect_timeout_ms, &pev);
    if (!p->conn) {
        free(p);
        snprintf(err, errlen, "out of memory opening the control connection");
        return NULL;
    }
    return &p->base;
}

static void pptp_shutdown(struct transport *tp)
{
    pptp_conn_shutdown(((struct pptp_transport *)tp)->conn);
}

static void pptp_free(struct transport *tp)
{
    struct pptp_transport *p = (struct pptp_transport *)tp;
    if (!p)
        return;
    pptp_conn_free(p->conn);
    free(p);
}

static bool pptp_control_alive(const struct transport *tp)
{
    return pptp_conn_state(((const struct pptp_transport *)tp)->conn) == PPTP_ST_ESTABLISHED;
}

static void pptp_dead_path(const char *symptom, char *buf, size_t len)
{
    snprintf(buf, len, "dead path: the PPTP control connection answers but PPP over GRE %s; is GRE "
             "(IP protocol 47) blocked by a NAT or firewall between here and the server?", symptom);
}

static void pptp_status(const struct transport *tp, struct ipc_builder *b)
{
    const struct pptp_transport *p = (const struct pptp_transport *)tp;
    if (!p->call_up)
        return;
    ipc_put_kv(b, "call_id", "%u", p->call.local_call_id);
    ipc_put_kv(b, "peer_call_id", "%u", p->call.peer_call_id);
}

const struct transport_ops pptp_transport = {
    .name = "pptp",
    .default_port = PPTP_TCP_PORT,
    .dial = pptp_dial,
    .shutdown = pptp_shutdown,
    .free = pptp_free,
    .control_alive = pptp_control_alive,
    .dead_path = pptp_dead_path,
    .status = pptp_status,
    .control_proto = "tcp",
    .capture_extra = "ip proto 47",
};

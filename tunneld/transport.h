/*
 * transport.h — what the link supervisor (tunnel.c) sees of a tunnel protocol: dial, call up,
 * keep-alive, tear down, diagnose a dead path, status. It never learns which protocol it is.
 *
 * A transport's dial opens the control connection and places one call; the owner then hears
 * "established" (the call is up, with what pppd's plugin needs to attach the kernel data
 * path), "cleared" and, exactly once, "closed", after which it frees the transport (free may
 * be called from inside the closed callback). Keep-alive is the transport's own business
 * (PPTP Echo, L2TP HELLO); a control path that stops answering ends in "closed".
 *
 *   pptp  RFC 2637 over TCP 1723, kernel GRE (pptp/)
 *   l2tp  RFC 2661 over UDP 1701, kernel l2tp_ppp (l2tp/)
 *   l2tp-ipsec  the same inside a transport-mode IPsec SA that charon sets up (ipsec/)
 */
#ifndef MAILTUN_TRANSPORT_H
#define MAILTUN_TRANSPORT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc.h"
#include "ipc_call.h"
#include "tunnel_conf.h"

struct event_base;
struct transport;

/* The call as pppd's plugin needs it (lib/ipc_call.h), plus a description for log lines. */
struct transport_call {
    struct ipc_call ipc;
    char desc[96];                 /* "call_id=1 peer_call_id=2" */
};

struct transport_events {
    void (*established)(void *arg, const struct transport_call *call);
    void (*cleared)(void *arg, const char *reason);
    void (*closed)(void *arg, const char *reason);
    void *arg;
};

struct transport_ops {
    const char *name;
    /* Standard control port, for "port = 0". */
    uint16_t default_port;
    /* Opens the control connection and places the call; attempt numbers the dials (1, 2, ...).
     * NULL with err filled when it cannot even start. */
    struct transport *(*dial)(struct event_base *base, const struct tunnel_conf *conf,
                              unsigned long attempt, const struct transport_events *ev,
                              char *err, size_t errlen);
    /* Polite end: clear the call, stop the control connection; "closed" follows. */
    void (*shutdown)(struct transport *tp);
    /* Immediate end, no callbacks. */
    void (*free)(struct transport *tp);
    /* pppd's plugin opened the kernel channel for the call (may be NULL: nothing to do).
     * L2TP sends its ICCN only then: the LNS starts its pppd on ICCN, and that pppd's first
     * LCP frames must find our kernel session there. */
    void (*attached)(struct transport *tp);
    /* The control connection is up and answering (the call may or may not be). */
    bool (*control_alive)(const struct transport *tp);
    /* Why PPP may die while the control connection lives: the protocol's usual suspect,
     * worded for the admin around symptom ("does not (pppd exit 10 ...)", "did not come up
     * in 30 s"). */
    void (*dead_path)(const char *symptom, char *buf, size_t len);
    /* Its part of `mailtunctl status`, as ATTR_KV pairs. */
    void (*status)(const struct transport *tp, struct ipc_builder *b);
    /* What `mailtunctl trace` captures on the uplink (see transport_capture_filter): the
     * control connection ("tcp"/"udp" on the control port as dialled; NULL when it is not
     * visible there) and any other traffic of the tunnel (a pcap expression or NULL). */
    const char *control_proto;
    const char *capture_extra;
};

struct transport {
    const struct transport_ops *ops;
};

extern const struct transport_ops pptp_transport;
extern const struct transport_ops l2tp_transport;
extern const struct transport_ops l2tp_ipsec_transport;

/* "pptp", "l2tp", "l2tp-ipsec"; NULL for anything else. */
const struct transport_ops *transport_find(const char *name);
/* The pcap filter `mailtunctl trace` applies besides "host <server>" for conf's transport,
 * on the port it dials; for auto, whatever either of its transports may use. -1 (and an
 * empty filter) for a transport name that is not known. */
int transport_capture_filter(const struct tunnel_conf *conf, char *buf, size_t len);
/* The control port to dial: conf->port, or the transport's standard one. */
uint16_t transport_port(const struct transport_ops *ops, const struct tunnel_conf *conf);

#endif

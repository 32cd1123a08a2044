/*
 * tunnel.h — the link supervisor of mailtund: dial, pppd, fixed address, routes, re-dial.
 *
 * One explicit state machine (enum tunnel_state), every change logged once as
 * "tunnel state OLD -> NEW reason=...". It owns the control connection of whichever
 * transport is configured (transport.h: pptp or l2tp, never named here), the pppd child
 * (pppd_child) and the routes (routes); it hears pppd's plugin through control.c and tells
 * subscribers LINK_UP / LINK_DOWN.
 *
 *   WAIT_UPLINK -> DIALING -> PPP -> UP -> (failure) -> BACKOFF -> DIALING ...
 *   any -> STOPPING -> STOPPED      (SIGTERM: pppd hung up, call cleared, routes removed)
 *
 * Next dial only when the previous pppd and control connection are both gone, so the server
 * never sees two calls of ours at once.
 */
#ifndef MAILTUN_TUNNEL_H
#define MAILTUN_TUNNEL_H

#include <netinet/in.h>
#include <sys/types.h>
#include "ipc.h"
#include "tunnel_conf.h"

struct event_base;
struct ctl_server;
struct ctl_client;
struct tunnel;

enum tunnel_state {
    TUNNEL_WAIT_UPLINK,   /* no usable path to the server */
    TUNNEL_DIALING,       /* the transport's control connection and call set-up */
    TUNNEL_PPP,           /* call up, pppd negotiating (LCP, MS-CHAPv2, CCP/MPPE, IPCP) */
    TUNNEL_UP,            /* fixed address on pppN, routes in place */
    TUNNEL_BACKOFF,       /* waiting before the next dial */
    TUNNEL_STOPPING,      /* shutdown in progress */
    TUNNEL_STOPPED,
};

const char *tunnel_state_name(enum tunnel_state s);

/* done: called once the tunnel has stopped after tunnel_stop(). */
struct tunnel *tunnel_new(struct event_base *base, const struct tunnel_conf *conf,
                          struct ctl_server *ctl, void (*done)(void *), void *done_arg,
                          char *err, size_t errlen);
void tunnel_start(struct tunnel *t);
void tunnel_stop(struct tunnel *t, const char *reason);
void tunnel_free(struct tunnel *t);

/* Re-dial now (planned reconnect, uplink changed, mailtunctl). */
void tunnel_redial(struct tunnel *t, const char *reason);

/* From control.c: what pppd's plugin says. Answers the plugin itself. */
void tunnel_plugin_msg(struct tunnel *t, struct ctl_client *c, const struct ipc_msg *m);
void tunnel_plugin_gone(struct tunnel *t, struct ctl_client *c);

/* Appends the status as ATTR_KV pairs. */
void tunnel_status(const struct tunnel *t, struct ipc_builder *b);
/* LINK_UP (if up) for a new subscriber. Returns 0 if nothing to send. */
int tunnel_link_event(const struct tunnel *t, struct ipc_builder *b);

/* SIGCHLD arrived. */
void tunnel_child_exited(struct tunnel *t);

enum tunnel_state tunnel_get_state(const struct tunnel *t);

#endif

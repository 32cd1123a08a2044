/*
 * pptp_conn.h — one PPTP control connection on the network: a TCP socket to the server's
 * port 1723 on libevent, driving the pure state machine in pptp_ctrl.
 *
 * Owns the socket, the connect timeout and the state machine's timers. The owner hears
 * "established" (call IDs known), "cleared" and, exactly once, "closed" — after which it
 * frees the connection (pptp_conn_free may be called from inside the closed callback).
 * Needs: libevent, pptp_ctrl.
 */
#ifndef MAILTUN_PPTP_CONN_H
#define MAILTUN_PPTP_CONN_H

#include <netinet/in.h>
#include "pptp_ctrl.h"

struct event_base;
struct pptp_conn;

struct pptp_conn_events {
    void (*established)(void *arg, const struct pptp_call_info *call);
    void (*cleared)(void *arg, const char *reason);
    void (*closed)(void *arg, const char *reason);
    void *arg;
};

struct pptp_conn *pptp_conn_open(struct event_base *base, struct in_addr server, uint16_t port,
                                 const struct pptp_ctrl_config *cfg, long connect_timeout_ms,
                                 const struct pptp_conn_events *ev);
/* Polite end: clear the call, stop the control connection; "closed" follows. */
void pptp_conn_shutdown(struct pptp_conn *c);
/* Immediate end, no callbacks; sends whatever the state machine still had queued. */
void pptp_conn_free(struct pptp_conn *c);
/* Our side's address of the TCP connection: the GRE source the kernel must use. */
int pptp_conn_local_addr(const struct pptp_conn *c, struct in_addr *addr);
enum pptp_ctrl_state pptp_conn_state(const struct pptp_conn *c);

#endif

/*
 * control.h — what mailtund answers on its control socket: hello, subscribe, status, and
 * pppd's plugin messages (handed to the tunnel).
 */
#ifndef MAILTUN_TUNNELD_CONTROL_H
#define MAILTUN_TUNNELD_CONTROL_H

#include <time.h>
#include "ctl_server.h"

struct tunnel;
struct tunnel_conf;
struct trace;
struct event_base;

/* ctl_server callbacks; arg points to a struct control. */
struct control {
    struct tunnel *tunnel;
    const struct tunnel_conf *conf;
    struct event_base *base;
    struct trace *trace;        /* running capture, if any */
    time_t started;
};

/* Stops a running trace (shutdown). */
void control_close(struct control *ctl);

void control_on_msg(struct ctl_client *c, const struct ipc_msg *m, void *arg);
void control_on_gone(struct ctl_client *c, void *arg);

#endif

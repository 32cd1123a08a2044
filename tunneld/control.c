/*
 * control.c — mailtund's control-socket verbs (see control.h).
 *
 * The socket itself is root:mailtun 0660 (ctl_server.c); plugin messages are accepted only
 * from root and the pid of the pppd mailtund started (tunnel.c); a trace only for root.
 */
#include "control.h"
#include "log.h"
#include "trace.h"
#include "transport.h"
#include "tunnel.h"
#include "tunnel_conf.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define CTL_FLAG_SUBSCRIBED 1u

static void trace_cmd_start(struct control *ctl, struct ctl_client *c, const struct ipc_msg *m)
{
    char dir[256], err[400], filter[256];
    struct ipc_builder b;

    if (ctl->trace) {
        snprintf(err, sizeof(err), "a trace is already running: %s", trace_current_file(ctl->trace));
        ctl_client_error(c, err);
        return;
    }
    /* Root writes the files: only root may start it, and only into root's own directory
     * (a directory a group member names could hold links to any file). */
    if (ctl_client_uid(c) != 0) {
        log_warnx("trace start refused pid=%d uid=%d reason=\"not root\"", (int)ctl_client_pid(c),
                  (int)ctl_client_uid(c));
        ctl_client_error(c, "trace start needs root (run mailtunctl as root)");
        return;
    }
    if (ipc_get_str(m, ATTR_PATH, dir, sizeof(dir)) == 0) {
        ctl_client_error(c, "trace start takes no directory: traces go to <state_dir>/trace");
        return;
    }
    snprintf(dir, sizeof(dir), "%s/trace", ctl->conf->state_dir);
    if (transport_capture_filter(ctl->conf, filter, sizeof(filter)) < 0) {
        snprintf(err, sizeof(err), "trace: no capture filter for transport '%s'", ctl->conf->transport);
        ctl_client_error(c, err);
        return;
    }
    ctl->trace = trace_start(ctl->base, ctl->conf->uplink, ctl->conf->server, filter, dir,
                             TRACE_MAX_FILE_BYTES, TRACE_MAX_FILES, err, sizeof(err));
    if (!ctl->trace) {
        ctl_client_error(c, err);
        return;
    }
    ipc_begin(&b, IPC_OK);
    ipc_put_str(&b, ATTR_PATH, trace_current_file(ctl->trace));
    ipc_finish(&b);
    ctl_client_send(c, &b);
}

void control_close(struct control *ctl)
{
    trace_stop(ctl->trace);
    ctl->trace = NULL;
}

void control_on_msg(struct ctl_client *c, const struct ipc_msg *m, void *arg)
{
    struct control *ctl = arg;
    struct ipc_builder b;
    char role[32];

    switch (m->type) {
    case IPC_HELLO:
        if (ipc_get_str(m, ATTR_ROLE, role, sizeof(role)) == 0)
            log_debug("control hello role=%s pid=%d uid=%d", role, (int)ctl_client_pid(c),
                      (int)ctl_client_uid(c));
        ctl_client_ok(c, "mailtund");
        break;
    case IPC_SUBSCRIBE:
        ctl_client_set_flags(c, ctl_client_flags(c) | CTL_FLAG_SUBSCRIBED);
        ctl_client_ok(c, NULL);
        log_info("control subscriber pid=%d", (int)ctl_client_pid(c));
        /* A subscriber that comes while the link is up learns it at once. */
        if (tunnel_link_event(ctl->tunnel, &b))
            ctl_client_send(c, &b);
        break;
    case IPC_STATUS:
        ipc_begin(&b, IPC_STATUS_REPLY);
        ipc_put_kv(&b, "daemon", "mailtund");
        ipc_put_kv(&b, "pid", "%d", (int)getpid());
        ipc_put_kv(&b, "running_s", "%ld", (long)(time(NULL) - ctl->started));
        tunnel_status(ctl->tunnel, &b);
        if (ctl->trace)
            ipc_put_kv(&b, "trace", "%s (%lu packets)", trace_current_file(ctl->trace),
                       trace_packets(ctl->trace));
        if (ipc_finish(&b))
            ctl_client_send(c, &b);
        else
            ctl_client_error(c, "status too large");
        break;
    case IPC_TRACE_START:
        trace_cmd_start(ctl, c, m);
        break;
    case IPC_TRACE_STOP:
        if (!ctl->trace) {
            ctl_client_error(c, "no trace running");
            break;
        }
        ipc_begin(&b, IPC_OK);
        ipc_put_str(&b, ATTR_PATH, trace_current_file(ctl->trace));
        ipc_put_kv(&b, "packets", "%lu", trace_packets(ctl->trace));
        ipc_finish(&b);
        trace_stop(ctl->trace);
        ctl->trace = NULL;
        ctl_client_send(c, &b);
        break;
    case IPC_CALL_REQUEST:
    case IPC_PPP_AUTH_UP:
    case IPC_PPP_IP_UP:
    case IPC_PPP_IP_DOWN:
    case IPC_PPP_EXIT:
    case IPC_CALL_ATTACHED:
        tunnel_plugin_msg(ctl->tunnel, c, m);
        break;
    default:
        log_warnx("control request refused type=%s(%u) pid=%d", ipc_type_name(m->type), m->type,
                  (int)ctl_client_pid(c));
        ctl_client_error(c, "mailtund does not handle this request");
    }
}

void control_on_gone(struct ctl_client *c, void *arg)
{
    struct control *ctl = arg;
    tunnel_plugin_gone(ctl->tunnel, c);
}

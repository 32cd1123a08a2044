/*
 * trace.c — `mailtunctl trace start | stop`: capture the tunnel's traffic on the uplink.
 *
 * mailtund captures TCP 1723 and GRE to/from the PPTP server into rotated pcap files in
 * <state_dir>/trace/ (root-only; starting a trace needs root), ready to send to the
 * provider. The GRE payload is MPPE encrypted, so a trace shows the PPTP conversation and
 * packet flow, not mail content.
 */
#include "ctl.h"

#include <stdio.h>
#include <string.h>

int verb_trace(const struct ctl_opts *o, int argc, char **argv)
{
    struct ipc_builder req;
    uint8_t buf[IPC_MAX_FRAME];
    struct ipc_msg ans;
    char path[256] = "?", kv[64] = "";

    if (argc == 2 && strcmp(argv[1], "start") == 0) {
        ipc_begin(&req, IPC_TRACE_START);
        if (ctl_request(o->tunneld_socket, "mailtund", &req, buf, &ans, o->timeout_ms) < 0)
            return 1;
        ipc_get_str(&ans, ATTR_PATH, path, sizeof(path));
        printf("trace started: %s\n", path);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "stop") == 0) {
        ipc_begin(&req, IPC_TRACE_STOP);
        if (ctl_request(o->tunneld_socket, "mailtund", &req, buf, &ans, o->timeout_ms) < 0)
            return 1;
        ipc_get_str(&ans, ATTR_PATH, path, sizeof(path));
        ipc_get_str(&ans, ATTR_KV, kv, sizeof(kv));
        printf("trace stopped: %s (%s)\n", path, kv[0] ? kv : "packets=?");
        return 0;
    }
    fprintf(stderr, "usage: mailtunctl trace start | trace stop (as root; files go to <state_dir>/trace)\n");
    return 2;
}

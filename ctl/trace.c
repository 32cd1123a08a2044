/*
 * trace.c — `mailtunctl trace start [DIR] | stop`: capture the tunnel's traffic on the uplink.
 *
 * mailtund captures TCP 1723 and GRE to/from the PPTP server into rotated pcap files
 * (default <state_dir>/trace/), ready to send to the provider. The GRE payload is MPPE
 * encrypted, so a trace shows the PPTP conversation and packet flow, not mail content.
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

    if (argc >= 2 && strcmp(argv[1], "start") == 0 && argc <= 3) {
        ipc_begin(&req, IPC_TRACE_START);
        if (argc == 3) {
            if (argv[2][0] != '/') {
                fprintf(stderr, "mailtunctl trace start: '%s' is not an absolute directory path\n", argv[2]);
                return 2;
            }
            ipc_put_str(&req, ATTR_PATH, argv[2]);
        }
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
    fprintf(stderr, "usage: mailtunctl trace start [DIR] | trace stop\n");
    return 2;
}

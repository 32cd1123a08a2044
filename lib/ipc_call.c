/*
 * ipc_call.c — CALL_REPLY's call attributes (see ipc_call.h).
 */
#include "ipc_call.h"

#include <stdio.h>
#include <string.h>

const char *ipc_call_kind_name(enum ipc_call_kind kind)
{
    return kind == IPC_CALL_L2TP ? "l2tp" : "pptp";
}

void ipc_put_call(struct ipc_builder *b, const struct ipc_call *call)
{
    ipc_put_str(b, ATTR_TRANSPORT, ipc_call_kind_name(call->kind));
    ipc_put_in4(b, ATTR_SERVER, call->server);
    ipc_put_in4(b, ATTR_LOCAL, call->local);
    ipc_put_u16(b, ATTR_LOCAL_CALL_ID, call->local_id);
    ipc_put_u16(b, ATTR_PEER_CALL_ID, call->peer_id);
    if (call->kind == IPC_CALL_L2TP) {
        ipc_put_u16(b, ATTR_LOCAL_SESSION_ID, call->local_session);
        ipc_put_u16(b, ATTR_PEER_SESSION_ID, call->peer_session);
        ipc_put_u16(b, ATTR_SERVER_PORT, call->server_port);
        ipc_put_u16(b, ATTR_LOCAL_PORT, call->local_port);
    }
}

int ipc_get_call(const struct ipc_msg *m, struct ipc_call *call, char *why, size_t len)
{
    char kind[16] = "pptp";

    memset(call, 0, sizeof(*call));
    if (ipc_find(m, ATTR_TRANSPORT) && ipc_get_str(m, ATTR_TRANSPORT, kind, sizeof(kind)) < 0) {
        snprintf(why, len, "CALL_REPLY transport attribute unreadable");
        return -1;
    }
    if (strcmp(kind, "pptp") == 0) {
        call->kind = IPC_CALL_PPTP;
    } else if (strcmp(kind, "l2tp") == 0) {
        call->kind = IPC_CALL_L2TP;
    } else {
        snprintf(why, len, "CALL_REPLY names transport '%s' (pptp or l2tp)", kind);
        return -1;
    }
    if (ipc_get_in4(m, ATTR_SERVER, &call->server) < 0 || call->server.s_addr == 0 ||
        ipc_get_u16(m, ATTR_LOCAL_CALL_ID, &call->local_id) < 0 ||
        ipc_get_u16(m, ATTR_PEER_CALL_ID, &call->peer_id) < 0) {
        snprintf(why, len, "CALL_REPLY without server, local and peer %s id",
                 call->kind == IPC_CALL_L2TP ? "tunnel" : "call");
        return -1;
    }
    if (ipc_get_in4(m, ATTR_LOCAL, &call->local) < 0)
        call->local.s_addr = 0;
    if (call->kind == IPC_CALL_L2TP &&
        (ipc_get_u16(m, ATTR_LOCAL_SESSION_ID, &call->local_session) < 0 ||
         ipc_get_u16(m, ATTR_PEER_SESSION_ID, &call->peer_session) < 0 ||
         ipc_get_u16(m, ATTR_SERVER_PORT, &call->server_port) < 0 ||
         call->local_id == 0 || call->peer_id == 0 || call->local_session == 0 ||
         call->peer_session == 0 || call->server_port == 0)) {
        snprintf(why, len, "L2TP CALL_REPLY without non-zero tunnel ids, session ids and server port");
        return -1;
    }
    if (call->kind == IPC_CALL_L2TP && ipc_get_u16(m, ATTR_LOCAL_PORT, &call->local_port) < 0)
        call->local_port = 0;
    return 0;
}

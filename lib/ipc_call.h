/*
 * ipc_call.h — the call mailtund hands to pppd's plugin in CALL_REPLY, for either transport.
 *
 * PPTP: server, our address, both call ids (the GRE keys). L2TP: server and both UDP ports,
 * our address, both tunnel ids (in the call id attributes) and both session ids. The plugin
 * opens the kernel socket that kind names (PX_PROTO_PPTP or PX_PROTO_OL2TP).
 * Pure, shared by mailtund and mailtun.so. Needs: ipc.
 */
#ifndef MAILTUN_IPC_CALL_H
#define MAILTUN_IPC_CALL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

enum ipc_call_kind { IPC_CALL_PPTP = 0, IPC_CALL_L2TP = 1 };

struct ipc_call {
    enum ipc_call_kind kind;
    struct in_addr local;                   /* our address on the path to the server */
    struct in_addr server;
    uint16_t local_port, server_port;       /* L2TP: the tunnel's UDP ports */
    uint16_t local_id, peer_id;             /* PPTP: call ids; L2TP: tunnel ids */
    uint16_t local_session, peer_session;   /* L2TP: session ids */
};

const char *ipc_call_kind_name(enum ipc_call_kind kind);
/* Appends the call's attributes to a CALL_REPLY being built. */
void ipc_put_call(struct ipc_builder *b, const struct ipc_call *call);
/* Reads them back; 0, or -1 with why naming what is missing or wrong. */
int ipc_get_call(const struct ipc_msg *m, struct ipc_call *call, char *why, size_t len);

#endif

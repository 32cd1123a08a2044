/*
 * l2tp_kernel.h — the kernel side of an L2TP tunnel (l2tp_core + l2tp_ppp): binds the
 * tunnel's UDP socket to a kernel tunnel context, so data messages (T=0) go straight between
 * the socket and the PPPoL2TP session pppd's plugin opens, while control messages (T=1) still
 * reach mailtund on the same socket.
 *
 * The context is made the way pppd's pppol2tp channel expects it: a PPPoL2TP "tunnel
 * management" socket connected with session ids 0/0 and the UDP socket's fd. It lives as long
 * as that socket (and the UDP socket) stay open.
 * Needs: AF_PPPOX with PX_PROTO_OL2TP (the l2tp_ppp module).
 */
#ifndef MAILTUN_L2TP_KERNEL_H
#define MAILTUN_L2TP_KERNEL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* Returns the management socket, or -1 with err naming the cause and, for a missing module,
 * the fix ("modprobe l2tp_ppp"). */
int l2tp_kernel_tunnel(int udp_fd, struct in_addr server, uint16_t server_port, uint16_t local_tunnel,
                       uint16_t peer_tunnel, char *err, size_t errlen);

/* Whether the running kernel offers PPPoL2TP at all (for mailtunctl check and the dial). */
int l2tp_kernel_available(char *err, size_t errlen);

#endif

/*
 * l2tp_kernel.c — the kernel tunnel context for an L2TP tunnel (see l2tp_kernel.h).
 */
#include "l2tp_kernel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_pppox.h>

static void name_failure(const char *what, int e, char *err, size_t errlen)
{
    if (e == EAFNOSUPPORT || e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT)
        snprintf(err, errlen, "%s: the kernel has no PPPoL2TP (%s): load it with "
                 "'modprobe l2tp_ppp' (package linux-image, module l2tp_ppp)", what, strerror(e));
    else
        snprintf(err, errlen, "%s: %s", what, strerror(e));
}

int l2tp_kernel_available(char *err, size_t errlen)
{
    int fd = socket(AF_PPPOX, SOCK_DGRAM, PX_PROTO_OL2TP);
    if (fd < 0) {
        name_failure("PPPoL2TP socket", errno, err, errlen);
        return 0;
    }
    close(fd);
    return 1;
}

int l2tp_kernel_tunnel(int udp_fd, struct in_addr server, uint16_t server_port, uint16_t local_tunnel,
                       uint16_t peer_tunnel, char *err, size_t errlen)
{
    struct sockaddr_pppol2tp sa;
    int fd = socket(AF_PPPOX, SOCK_DGRAM, PX_PROTO_OL2TP);

    if (fd < 0) {
        name_failure("PPPoL2TP tunnel socket", errno, err, errlen);
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_PPPOX;
    sa.sa_protocol = PX_PROTO_OL2TP;
    sa.pppol2tp.pid = 0;                      /* the fd is ours */
    sa.pppol2tp.fd = udp_fd;
    sa.pppol2tp.addr.sin_family = AF_INET;
    sa.pppol2tp.addr.sin_port = htons(server_port);
    sa.pppol2tp.addr.sin_addr = server;
    sa.pppol2tp.s_tunnel = local_tunnel;
    sa.pppol2tp.s_session = 0;                /* 0/0: the tunnel itself */
    sa.pppol2tp.d_tunnel = peer_tunnel;
    sa.pppol2tp.d_session = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        name_failure("kernel L2TP tunnel", errno, err, errlen);
        close(fd);
        return -1;
    }
    return fd;
}

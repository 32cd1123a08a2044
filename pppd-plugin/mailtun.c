/*
 * mailtun.c — mailtun.so, the pppd channel plugin for mailtun's PPTP and L2TP client.
 *
 * mailtund holds the control connection (PPTP on TCP 1723, or L2TP on UDP 1701); the data
 * path is the kernel's (pptp: GRE; l2tp_ppp: L2TP data messages on mailtund's UDP socket).
 * This plugin joins the two inside pppd:
 *   connect:  ask mailtund over its Unix socket for the call (HELLO, CALL_REQUEST ->
 *             CALL_REPLY, lib/ipc_call.h), then open the kernel socket the call's transport
 *             needs: AF_PPPOX/PX_PROTO_PPTP bound to our call ID and connected to the peer's,
 *             or AF_PPPOX/PX_PROTO_OL2TP connected to the session in mailtund's tunnel;
 *             say CALL_ATTACHED (L2TP's ICCN waits for it); hand it to pppd;
 *   events:   AUTH_UP, IP_UP (ifname, local, peer, MTU), IP_DOWN and EXIT go back to
 *             mailtund on the same connection, kept open for pppd's whole life;
 *   watchdog: once a second the connection is checked; if mailtund is gone (or sends an
 *             ERROR) the link is closed cleanly with a logged reason.
 * Everything it says goes through pppd's own log, prefixed "mailtun: ".
 *
 * Options (privileged: root's option files or command line only): see README.md.
 * Needs: pppd 2.4.9 or 2.5.x headers (pppd_compat.h), lib/ipc.c, lib/ipc_io.c, lib/ipc_call.c,
 * at run time the kernel modules ppp_generic, pppox and pptp or l2tp_ppp.
 */
#include "pppd_compat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/if_pppox.h>

#include "ipc.h"
#include "ipc_call.h"
#include "ipc_io.h"

#define MT_DEFAULT_SOCKET    "/run/mailtun/mailtund.sock"
#define MT_SEND_TIMEOUT_MS   2000
#define MT_WATCH_SECONDS     1
#define MT_WATCH_MAX_FRAMES  16     /* frames read in one watchdog tick; the rest wait a tick */
#define MT_WATCH_BUDGET_MS   500    /* and at most this long: pppd's own loop must go on */
/* L2TP: the LNS starts its pppd on our ICCN, so our first LCP Configure-Request would reach
 * no session there and be lost, costing pppd's 3 s restart timer. Listen first: LCP starts
 * on the LNS's first frame, or after this long (an LNS that waits for us, rare). */
#define MT_L2TP_LISTEN_MS    3000

extern char pppd_version[];
void plugin_init(void);

/* pppd checks this against its own version before calling plugin_init. */
char pppd_version[] = MT_PPPD_VERSION;

/* A buffer pppd copies into (OPT_STATIC): for plain o_string pppd frees the old value,
 * which must then never be a literal. */
static char mt_socket_path[108] = MT_DEFAULT_SOCKET;
static int mt_call_timeout = 30;        /* seconds to wait for CALL_REPLY */

static option_t mt_options[] = {
    { .name = "mailtun-socket", .type = o_string, .addr = mt_socket_path,
      .description = "mailtund's control socket", .flags = OPT_PRIV | OPT_STATIC,
      .upper_limit = sizeof(mt_socket_path) },
    { .name = "mailtun-timeout", .type = o_int, .addr = &mt_call_timeout,
      .description = "seconds to wait for mailtund to place the call",
      .flags = OPT_PRIV | OPT_LLIMIT | OPT_ULIMIT, .upper_limit = 300, .lower_limit = 1 },
    { .name = NULL }
};

static int mt_ipc_fd = -1;      /* connection to mailtund, open for pppd's life */
static int mt_pptp_fd = -1;     /* the kernel channel: PPTP or PPPoL2TP */
static int mt_watching;         /* the watchdog timer is armed */
static int mt_exiting;          /* pppd is on its way out: report, do not act */
static struct in_addr mt_server;

/* ---- talking to mailtund --------------------------------------------------------------- */

static void mt_watch(void *arg);

static void
mt_stop_watch(void)
{
    if (mt_watching) {
        mt_untimeout(mt_watch, NULL);
        mt_watching = 0;
    }
}

/* mailtund is gone (lost: drop the connection) or wants the link down: end it cleanly, once. */
static void
mt_end_link(const char *why, int exit_status, int lost)
{
    static char reason[160];    /* LCP keeps the pointer for Terminate-Request retransmits */

    if (lost && mt_ipc_fd >= 0) {
        close(mt_ipc_fd);
        mt_ipc_fd = -1;
    }
    mt_stop_watch();
    if (mt_exiting)
        return;
    error("mailtun: %s; ending the link", why);
    strlcpy(reason, why, sizeof(reason));
    mt_set_status(exit_status);
    lcp_close(0, reason);
}

static int
mt_send(struct ipc_builder *b)
{
    char why[128];

    if (mt_ipc_fd < 0)
        return -1;
    if (ipc_finish(b) == 0) {
        error("mailtun: %s message does not fit a frame", ipc_type_name((uint16_t)(b->buf[4] << 8 | b->buf[5])));
        return -1;
    }
    if (ipc_send(mt_ipc_fd, b, MT_SEND_TIMEOUT_MS) < 0) {
        slprintf(why, sizeof(why), "lost mailtund (send: %m)");
        mt_end_link(why, EXIT_FATAL_ERROR, 1);
        return -1;
    }
    return 0;
}

/* pppd's SIGTERM (or SIGINT) arrived: a wait on mailtund gives up at once. */
static int
mt_stopping(void)
{
    return mt_got_sigterm() != 0;
}

/* Once a second: a closed socket means mailtund died; an ERROR means it wants us gone. */
static void
mt_watch(void *arg)
{
    struct pollfd p = { .fd = mt_ipc_fd, .events = POLLIN };
    static uint8_t buf[IPC_MAX_FRAME];
    struct ipc_msg msg;
    const char *why = NULL;
    char text[256], line[320];

    long deadline = ipc_now_ms() + MT_WATCH_BUDGET_MS;
    int frames = 0;

    (void)arg;
    mt_watching = 0;
    if (mt_ipc_fd < 0 || mt_exiting)
        return;
    /* Bounded: a daemon that keeps sending must not keep pppd in here. */
    while (frames++ < MT_WATCH_MAX_FRAMES && poll(&p, 1, 0) > 0) {
        if (ipc_recv_until(mt_ipc_fd, buf, &msg, deadline, mt_stopping, &why) < 0) {
            slprintf(line, sizeof(line), "lost mailtund (%s)", why ? why : "read failed");
            mt_end_link(line, EXIT_FATAL_ERROR, 1);
            return;
        }
        if (msg.type == IPC_ERROR) {
            if (ipc_get_str(&msg, ATTR_TEXT, text, sizeof(text)) < 0)
                strlcpy(text, "no reason given", sizeof(text));
            slprintf(line, sizeof(line), "mailtund ends the call: %s", text);
            mt_end_link(line, EXIT_USER_REQUEST, 0);
            return;
        }
        dbglog("mailtun: ignoring %s from mailtund", ipc_type_name(msg.type));
    }
    mt_timeout(mt_watch, NULL, MT_WATCH_SECONDS);
    mt_watching = 1;
}

/* HELLO + CALL_REQUEST, then wait for CALL_REPLY (or ERROR). 0, or -1 after logging why. */
static int
mt_request_call(struct ipc_call *call)
{
    static uint8_t buf[IPC_MAX_FRAME];
    struct ipc_builder b;
    struct ipc_msg msg;
    const char *why = NULL;
    char text[256];
    long deadline;

    if ((mt_ipc_fd = ipc_connect(mt_socket_path)) < 0) {
        error("mailtun: cannot reach mailtund at %s: %m", mt_socket_path);
        return -1;
    }
    ipc_begin(&b, IPC_HELLO);
    ipc_put_str(&b, ATTR_ROLE, "plugin");
    ipc_put_u32(&b, ATTR_PID, (uint32_t)getpid());
    if (mt_send(&b) < 0)
        return -1;
    ipc_begin(&b, IPC_CALL_REQUEST);
    ipc_put_u32(&b, ATTR_PID, (uint32_t)getpid());
    if (mt_send(&b) < 0)
        return -1;
    info("mailtun: asked mailtund at %s for a call", mt_socket_path);

    /* One deadline for the whole wait: frames in between (OKs, anything) do not extend it. */
    deadline = ipc_now_ms() + mt_call_timeout * 1000L;
    for (;;) {
        if (ipc_recv_until(mt_ipc_fd, buf, &msg, deadline, mt_stopping, &why) < 0) {
            if (why && strcmp(why, "interrupted") == 0)
                error("mailtun: no call from mailtund: pppd is stopping (signal)");
            else if (why && strcmp(why, "timeout") == 0)
                error("mailtun: no call from mailtund within mailtun-timeout %d s", mt_call_timeout);
            else
                error("mailtun: no call from mailtund: %s", why ? why : "read failed");
            return -1;
        }
        if (msg.type == IPC_OK)
            continue;   /* the answer to HELLO */
        if (msg.type == IPC_ERROR) {
            if (ipc_get_str(&msg, ATTR_TEXT, text, sizeof(text)) < 0)
                strlcpy(text, "no reason given", sizeof(text));
            error("mailtun: mailtund refused the call: %s", text);
            return -1;
        }
        if (msg.type != IPC_CALL_REPLY) {
            dbglog("mailtun: ignoring %s while waiting for the call", ipc_type_name(msg.type));
            continue;
        }
        if (ipc_get_call(&msg, call, text, sizeof(text)) < 0) {
            error("mailtun: malformed CALL_REPLY from mailtund: %s", text);
            return -1;
        }
        return 0;
    }
}

/* The source address the kernel would use towards server (a UDP connect sends nothing). */
static int
mt_source_for(struct in_addr server, struct in_addr *local)
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(1723), .sin_addr = server };
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = -1;

    if (fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
        getsockname(fd, (struct sockaddr *)&me, &len) == 0) {
        *local = me.sin_addr;
        rc = 0;
    }
    if (rc < 0)
        error("mailtun: no route to PPTP server %I: %m", server.s_addr);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The kernel PPTP channel: bound to our call ID/address, connected to the peer's. */
static int
mt_open_pptp(struct in_addr local, struct in_addr server, uint16_t local_call_id, uint16_t peer_call_id)
{
    struct sockaddr_pppox src, dst;
    int fd;

    fd = socket(AF_PPPOX, SOCK_STREAM, PX_PROTO_PPTP);
    if (fd < 0) {
        if (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)
            error("mailtun: kernel module pptp not loaded (modprobe pptp): %m");
        else
            error("mailtun: cannot create PPTP socket: %m");
        return -1;
    }
    memset(&src, 0, sizeof(src));
    src.sa_family = AF_PPPOX;
    src.sa_protocol = PX_PROTO_PPTP;
    src.sa_addr.pptp.call_id = local_call_id;     /* host order: the kernel indexes by it */
    src.sa_addr.pptp.sin_addr = local;
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
        error("mailtun: cannot bind PPTP call ID %u on %I: %m", local_call_id, local.s_addr);
        close(fd);
        return -1;
    }
    dst = src;
    dst.sa_addr.pptp.call_id = peer_call_id;
    dst.sa_addr.pptp.sin_addr = server;
    if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
        error("mailtun: cannot connect PPTP channel to %I call ID %u: %m", server.s_addr, peer_call_id);
        close(fd);
        return -1;
    }
    return fd;
}

/* The kernel L2TP session: in the tunnel mailtund bound to its UDP socket (l2tp_kernel.c);
 * connecting it with non-zero session ids creates the session there. */
static int
mt_open_l2tp(const struct ipc_call *call)
{
    struct sockaddr_pppol2tp sa;
    int fd = socket(AF_PPPOX, SOCK_DGRAM, PX_PROTO_OL2TP);

    if (fd < 0) {
        if (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)
            error("mailtun: kernel module l2tp_ppp not loaded (modprobe l2tp_ppp): %m");
        else
            error("mailtun: cannot create PPPoL2TP socket: %m");
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_PPPOX;
    sa.sa_protocol = PX_PROTO_OL2TP;
    sa.pppol2tp.fd = -1;                /* the tunnel exists already: no socket of ours */
    sa.pppol2tp.addr.sin_family = AF_INET;
    sa.pppol2tp.addr.sin_addr = call->server;
    sa.pppol2tp.addr.sin_port = htons(call->server_port);
    sa.pppol2tp.s_tunnel = call->local_id;
    sa.pppol2tp.s_session = call->local_session;
    sa.pppol2tp.d_tunnel = call->peer_id;
    sa.pppol2tp.d_session = call->peer_session;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        error("mailtun: cannot attach L2TP session %u/%u in tunnel %u/%u: %m", call->local_session,
              call->peer_session, call->local_id, call->peer_id);
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- the channel ------------------------------------------------------------------------- */

static void
mt_check_options(void)
{
    if (mt_socket_path[0] != '/' ||
        strlen(mt_socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
    {
        mt_option_error("mailtun: mailtun-socket must be an absolute path shorter than %d bytes",
                        (int)sizeof(((struct sockaddr_un *)0)->sun_path));
        exit(EXIT_OPTION_ERROR);    /* nothing is set up yet: pppd does the same for bad options */
    }
    if (mt_persist())
        warn("mailtun: 'persist' set; mailtund decides when to re-dial, so run pppd without it");
}

static int
mt_connect(void)
{
    struct ipc_call call;
    struct ipc_builder b;
    char dev[64];

    if (mt_request_call(&call) < 0)
        return -1;
    mt_server = call.server;
    if (call.kind == IPC_CALL_L2TP) {
        if ((mt_pptp_fd = mt_open_l2tp(&call)) < 0)
            return -1;
        mt_set_listen_ms(MT_L2TP_LISTEN_MS);
        slprintf(dev, sizeof(dev), "l2tp:%I", mt_server.s_addr);
        mt_set_devnam(dev);
        notice("mailtun: call up transport=l2tp server=%I tunnel_id=%u peer_tunnel_id=%u "
               "session_id=%u peer_session_id=%u", mt_server.s_addr, call.local_id, call.peer_id,
               call.local_session, call.peer_session);
    } else {
        if (call.local.s_addr == 0 && mt_source_for(mt_server, &call.local) < 0)
            return -1;
        if ((mt_pptp_fd = mt_open_pptp(call.local, mt_server, call.local_id, call.peer_id)) < 0)
            return -1;
        slprintf(dev, sizeof(dev), "pptp:%I", mt_server.s_addr);
        mt_set_devnam(dev);
        notice("mailtun: call up server=%I local=%I local_call_id=%u peer_call_id=%u",
               mt_server.s_addr, call.local.s_addr, call.local_id, call.peer_id);
    }
    ipc_begin(&b, IPC_CALL_ATTACHED);
    if (mt_send(&b) < 0)
        return -1;
    mt_timeout(mt_watch, NULL, MT_WATCH_SECONDS);
    mt_watching = 1;
    return mt_pptp_fd;
}

static void
mt_disconnect(void)
{
    if (mt_pptp_fd >= 0) {
        close(mt_pptp_fd);
        mt_pptp_fd = -1;
        info("mailtun: kernel channel to %I closed", mt_server.s_addr);
    }
}

/* The kernel PPTP channel is not a tty: the interface MTU is ours to set. */
static void
mt_send_config(int mtu, u_int32_t asyncmap, int pcomp, int accomp)
{
    (void)asyncmap; (void)pcomp; (void)accomp;
    if (lcp_allowoptions[0].mru > 0 && mtu > lcp_allowoptions[0].mru)
        mtu = lcp_allowoptions[0].mru;
    if (mt_ifunit() >= 0)
        mt_set_mtu(mt_ifunit(), mtu);
}

static void
mt_recv_config(int mru, u_int32_t asyncmap, int pcomp, int accomp)
{
    (void)mru; (void)asyncmap; (void)pcomp; (void)accomp;
}

static void
mt_cleanup(void)
{
    mt_stop_watch();
    mt_disconnect();
}

static struct channel mt_channel = {
    .options = mt_options,
    .process_extra_options = NULL,
    .check_options = &mt_check_options,
    .connect = &mt_connect,
    .disconnect = &mt_disconnect,
    .establish_ppp = &mt_establish,
    .disestablish_ppp = &mt_disestablish,
    .send_config = &mt_send_config,
    .recv_config = &mt_recv_config,
    .cleanup = &mt_cleanup,
    .close = NULL,
};

/* ---- pppd's events, reported to mailtund -------------------------------------------------- */

static void
mt_auth_up(void *ctx, int arg)
{
    struct ipc_builder b;

    (void)ctx; (void)arg;
    info("mailtun: authenticated to the server");
    ipc_begin(&b, IPC_PPP_AUTH_UP);
    mt_send(&b);
}

static void
mt_ip_up(void *ctx, int arg)
{
    struct in_addr ours = { ipcp_gotoptions[0].ouraddr }, his = { ipcp_hisoptions[0].hisaddr };
    int mtu = mt_get_mtu(mt_ifunit());
    struct ipc_builder b;

    (void)ctx; (void)arg;
    notice("mailtun: ip up ifname=%s local=%I peer=%I mtu=%d", mt_ifname(), ours.s_addr, his.s_addr, mtu);
    ipc_begin(&b, IPC_PPP_IP_UP);
    ipc_put_str(&b, ATTR_IFNAME, mt_ifname());
    ipc_put_in4(&b, ATTR_LOCAL, ours);
    ipc_put_in4(&b, ATTR_PEER, his);
    if (mtu > 0)
        ipc_put_u32(&b, ATTR_MTU, (uint32_t)mtu);
    mt_send(&b);
}

static void
mt_ip_down(void *ctx, int arg)
{
    struct ipc_builder b;

    (void)ctx; (void)arg;
    notice("mailtun: ip down ifname=%s", mt_ifname());
    ipc_begin(&b, IPC_PPP_IP_DOWN);
    mt_send(&b);
}

/* pppd(8) EXIT STATUS, short. */
static const char *
mt_exit_text(int code)
{
    static const char *const text[] = {
        "ok", "fatal error", "option error", "not root", "no kernel support",
        "user request", "lock failed", "open failed", "connect failed", "pty command failed",
        "negotiation failed", "peer authentication failed", "idle timeout", "connect time",
        "callback", "peer dead", "hangup", "loopback", "init failed",
        "authentication to peer failed", "traffic limit", "CNID authentication failed",
    };
    return code >= 0 && (size_t)code < sizeof(text) / sizeof(text[0]) ? text[code] : "unknown";
}

static void
mt_send_exit_reason(int code)
{
    struct ipc_builder b;
    char reason[96];

    slprintf(reason, sizeof(reason), "exit %d (%s)", code, mt_exit_text(code));
    ipc_begin(&b, IPC_PPP_EXIT);
    ipc_put_str(&b, ATTR_REASON, reason);
    mt_send(&b);
}

/*
 * pppd decided to end the link with a reason (a refused login sets its exit status before
 * LCP says goodbye). Tell mailtund now: the server often closes the call before pppd has
 * finished terminating, and mailtund should name the cause rather than only the close, and
 * let pppd finish instead of replacing its exit status with a SIGTERM's "user request".
 */
static void
mt_phase(void *ctx, int phase)
{
    int code = mt_get_status();

    (void)ctx;
    if (phase != PHASE_TERMINATE || code == EXIT_OK || mt_ipc_fd < 0 || mt_exiting)
        return;
    info("mailtun: link ends with exit %d (%s); telling mailtund", code, mt_exit_text(code));
    mt_exiting = !mt_persist();     /* a failed send must not overwrite pppd's exit status */
    mt_send_exit_reason(code);
}

static void
mt_exit(void *ctx, int arg)
{
    (void)ctx;
    mt_stop_watch();
    if (mt_ipc_fd >= 0) {
        mt_exiting = 1;     /* a failed send must not try to close the link again */
        mt_send_exit_reason(arg);
        if (mt_ipc_fd >= 0)
            close(mt_ipc_fd);
        mt_ipc_fd = -1;
    }
    mt_exiting = 1;
}

/* ---- entry ---------------------------------------------------------------------------------- */

void
plugin_init(void)
{
    mt_add_options(mt_options);
    the_channel = &mt_channel;
    mt_set_modem(0);

    /* Frames travel whole in GRE: no need to ask for header compression, but accept it. */
    lcp_wantoptions[0].neg_accompression = 0;
    lcp_allowoptions[0].neg_accompression = 1;
    lcp_wantoptions[0].neg_pcompression = 0;
    lcp_allowoptions[0].neg_pcompression = 1;

    /* add_notifier chains: other plugins' notifiers keep running. */
    mt_notify_auth_up(mt_auth_up);
    mt_notify_ip_up(mt_ip_up);
    mt_notify_ip_down(mt_ip_down);
    mt_notify_phase(mt_phase);
    mt_notify_exit(mt_exit);
    info("mailtun: plugin loaded (pppd %s)", MT_PPPD_VERSION);
}

/*
 * l2tp_ctrl.h — one L2TP tunnel with one incoming call, LAC side of RFC 2661, as two explicit
 * pure state machines (tunnel, session) on top of reliable delivery (l2tp_rel).
 *
 * No sockets and no timers of its own: the caller feeds events (start, a datagram received,
 * timer tick with the monotonic time in ms, shutdown, the socket lost) and carries out the
 * actions: send each datagram l2tp_ctrl_output() holds, and react to the hooks (call
 * established, call cleared, tunnel closed). Every state change is logged once as
 * "l2tp tunnel|session state OLD -> NEW reason=...".
 *
 * Tunnel (section 7.2):
 *   IDLE --start/SCCRQ--> WAIT_CTL_REPLY --SCCRP (authenticated)/SCCCN--> ESTABLISHED
 *   any --StopCCN from the LNS/ack--> CLOSED
 *   any --shutdown, CDN, refusal, protocol error/StopCCN--> STOPPING --acked, or stop_timeout_ms--> CLOSED
 *   any --no ack after max_retries, no reply in setup_timeout_ms, socket lost--> CLOSED
 * Session (section 7.4.1, incoming call at the LAC):
 *   IDLE --start--> WAIT_TUNNEL --tunnel up/ICRQ--> WAIT_REPLY --ICRP/ICCN--> ESTABLISHED
 *   with attach_wait_ms: WAIT_REPLY --ICRP--> WAIT_ATTACH --attached, or attach_wait_ms/ICCN--> ESTABLISHED
 *   any --CDN, tunnel gone, shutdown/CDN--> CLOSED
 * One tunnel carries exactly this one session, so a session that ends takes the tunnel along.
 * The call is cleared (hook) exactly once if it was established, always before "closed".
 * "Call established" fires on ICRP, before ICCN when attach_wait_ms is set: the LNS starts its
 * pppd on ICCN, whose first LCP frames are lost unless our kernel session exists by then, and
 * each lost one costs a PPP restart timer (3 s by default).
 * HELLO goes out after hello_interval_ms without a message from the LNS; a HELLO (like any
 * message) not acknowledged within rel.give_up_ms, or after the retransmissions, ends the tunnel.
 * Needs: l2tp_codec, l2tp_rel, lib/log.h.
 */
#ifndef MAILTUN_L2TP_CTRL_H
#define MAILTUN_L2TP_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l2tp_codec.h"
#include "l2tp_rel.h"

#define L2TP_CTRL_REASON_LEN 192
#define L2TP_NAME_MAX        64
#define L2TP_SECRET_MAX      64
#define L2TP_CHALLENGE_LEN   16

/* Every tunable, with its unit; l2tp_ctrl_config_defaults() fills the defaults shown. */
struct l2tp_ctrl_config {
	char host_name[L2TP_NAME_MAX + 1];   /* SCCRQ Host Name: "mailtun" */
	char vendor[L2TP_NAME_MAX + 1];      /* SCCRQ Vendor Name: "mailtun" */
	uint8_t secret[L2TP_SECRET_MAX];     /* tunnel secret: none (length 0) */
	size_t secret_len;
	uint8_t challenge[L2TP_CHALLENGE_LEN]; /* random, from the caller, sent when a secret is set */
	uint16_t tunnel_id;                  /* our tunnel id, non-zero: pick a fresh one per dial */
	uint16_t session_id;                 /* our session id, non-zero */
	uint32_t call_serial;                /* ICRQ: 1 */
	uint16_t recv_window;                /* SCCRQ Receive Window Size: 4 messages */
	uint32_t framing_caps;               /* SCCRQ: sync|async (3) */
	uint32_t tx_speed;                   /* ICCN Tx Connect Speed: 100000000 bit/s */
	uint32_t framing_type;               /* ICCN: sync (1) */
	uint32_t hello_interval_ms;          /* silence before we send HELLO: 60000 ms */
	uint32_t setup_timeout_ms;           /* SCCRP and ICRP each within: 30000 ms */
	uint32_t attach_wait_ms;             /* ICCN waits for l2tp_ctrl_attached() this long;
						0: ICCN at once on ICRP (default) */
	uint32_t stop_timeout_ms;            /* StopCCN's ack within: 3000 ms (a dead LNS must not
						hold up the next dial for all the retransmissions) */
	struct l2tp_rel_config rel;          /* retransmission: 1000 ms doubling to 8000, 5 retries,
						no time limit */
};

void l2tp_ctrl_config_defaults(struct l2tp_ctrl_config *cfg);

enum l2tp_tunnel_state {
	L2TP_TUN_IDLE,
	L2TP_TUN_WAIT_CTL_REPLY,   /* SCCRQ sent */
	L2TP_TUN_ESTABLISHED,      /* SCCCN sent */
	L2TP_TUN_STOPPING,         /* StopCCN sent, waiting for its ack */
	L2TP_TUN_CLOSED            /* terminal */
};

enum l2tp_session_state {
	L2TP_SES_IDLE,
	L2TP_SES_WAIT_TUNNEL,      /* the call waits for the tunnel */
	L2TP_SES_WAIT_REPLY,       /* ICRQ sent */
	L2TP_SES_WAIT_ATTACH,      /* ICRP received, call reported: ICCN waits for our data path */
	L2TP_SES_ESTABLISHED,      /* ICCN sent: PPP may flow */
	L2TP_SES_CLOSED            /* terminal */
};

const char *l2tp_tunnel_state_name(enum l2tp_tunnel_state st);
const char *l2tp_session_state_name(enum l2tp_session_state st);

/* What the kernel data path needs once the call is up. */
struct l2tp_call_info {
	uint16_t local_tunnel_id, peer_tunnel_id;
	uint16_t local_session_id, peer_session_id;
	bool seq_required;         /* the LNS asked for sequenced data (Sequencing Required) */
};

/* Actions besides output; any may be NULL. reason strings live until the next event. */
struct l2tp_ctrl_hooks {
	void (*call_established)(void *arg, const struct l2tp_call_info *call);
	void (*call_cleared)(void *arg, const char *reason);
	void (*closed)(void *arg, const char *reason);
	void *arg;
};

/* Embed it; the fields are private to l2tp_ctrl.c (read them through the getters). */
struct l2tp_ctrl {
	struct l2tp_ctrl_config cfg;
	struct l2tp_ctrl_hooks hooks;
	enum l2tp_tunnel_state tunnel;
	enum l2tp_session_state session;
	struct l2tp_rel rel;
	struct l2tp_call_info call;
	bool call_up;              /* established and not yet reported cleared */
	uint64_t now_ms;
	uint64_t deadline_ms;      /* setup timeout of the current wait, 0: none */
	uint64_t last_rx_ms;       /* last in-sequence message, or ack of news, from the LNS */
	bool hello_outstanding;
	uint16_t hello_ns;
	char peer_host[L2TP_NAME_MAX + 1];
	uint32_t accm_send, accm_recv;
	uint64_t dropped;          /* malformed, misaddressed, duplicate or early datagrams */
	char last_drop[L2TP_REASON_LEN];   /* why the last one was dropped, for timeout reasons */
	char pending_reason[L2TP_CTRL_REASON_LEN];
	char reason[L2TP_CTRL_REASON_LEN];
	struct l2tp_msg msg;       /* decode and encode scratch: keeps 4 KB off the stack */
};

void l2tp_ctrl_init(struct l2tp_ctrl *c, const struct l2tp_ctrl_config *cfg,
		    const struct l2tp_ctrl_hooks *hooks);

/* Events. now_ms is a monotonic clock in milliseconds (CLOCK_MONOTONIC). */
void l2tp_ctrl_start(struct l2tp_ctrl *c, uint64_t now_ms);
/* One UDP datagram from the LNS. */
void l2tp_ctrl_input(struct l2tp_ctrl *c, const void *buf, size_t len, uint64_t now_ms);
void l2tp_ctrl_tick(struct l2tp_ctrl *c, uint64_t now_ms);
/* Polite teardown: CDN for a call, then StopCCN, bounded by the retransmissions. */
void l2tp_ctrl_shutdown(struct l2tp_ctrl *c, const char *reason, uint64_t now_ms);
/* Our kernel session for the call exists (pppd's plugin attached it): ICCN may go. */
void l2tp_ctrl_attached(struct l2tp_ctrl *c, uint64_t now_ms);
/* The socket broke under us: closes with reason, no more output. */
void l2tp_ctrl_lost(struct l2tp_ctrl *c, const char *reason);

/* Output: the next datagram for the LNS (NULL: none); pop it once sent. */
const uint8_t *l2tp_ctrl_output(const struct l2tp_ctrl *c, size_t *len);
void l2tp_ctrl_pop(struct l2tp_ctrl *c);

/* When the caller should tick next (monotonic ms), 0 when no timer is needed. */
uint64_t l2tp_ctrl_next_deadline(const struct l2tp_ctrl *c);

enum l2tp_tunnel_state l2tp_ctrl_tunnel_state(const struct l2tp_ctrl *c);
enum l2tp_session_state l2tp_ctrl_session_state(const struct l2tp_ctrl *c);
const struct l2tp_call_info *l2tp_ctrl_call(const struct l2tp_ctrl *c);
const char *l2tp_ctrl_peer_host(const struct l2tp_ctrl *c);

#endif

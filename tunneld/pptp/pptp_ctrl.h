/*
 * pptp_ctrl.h — one PPTP control connection with one outgoing call, client (PNS) side of
 * RFC 2637, as a pure state machine.
 *
 * No sockets and no timers of its own: the caller feeds events (connected, bytes received,
 * timer tick with the monotonic time in ms, shutdown requested, call clear requested) and
 * carries out the actions: send what pptp_ctrl_output() holds, and react to the hooks
 * (call established, call cleared, connection closed). State changes are logged once each as
 * "pptp state OLD -> NEW reason=...".
 *
 *   IDLE --connected/SCCRQ--> WAIT_SCCRP --SCCRP ok/OCRQ--> WAIT_OCRP --OCRP connected--> ESTABLISHED
 *   ESTABLISHED --clear requested/CCRQ--> WAIT_CDN --CDN--> WAIT_STOP_REPLY
 *   any connected state --shutdown, call gone, refusal/StopCCRQ--> WAIT_STOP_REPLY --StopCCRP--> CLOSED
 *   anything --malformed bytes, timeout, server StopCCRQ--> CLOSED
 *
 * The call is cleared (hook) exactly once if it was established, always before "closed".
 * After "closed" the caller drains pptp_ctrl_output() (it may hold a last StopCCRP) and then
 * closes the socket; later events are ignored.
 * Needs: pptp_codec, lib/log.h.
 */
#ifndef MAILTUN_PPTP_CTRL_H
#define MAILTUN_PPTP_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pptp_codec.h"

#define PPTP_CTRL_OUT_MAX   8192   /* unsent octets we hold before giving up on the peer */
#define PPTP_CTRL_MAX_IGNORED 32   /* messages we ignore (each logged) within ... */
#define PPTP_CTRL_IGNORED_WINDOW_MS 60000   /* ... this long, before closing the connection */
#define PPTP_CTRL_REASON_LEN 160

/* Every tunable, with its unit; pptp_ctrl_config_defaults() fills the defaults shown. */
struct pptp_ctrl_config {
	uint32_t framing_caps;          /* SCCRQ: PPTP_FRAMING_SYNC|ASYNC (3) */
	uint32_t bearer_caps;           /* SCCRQ: PPTP_BEARER_ANALOG|DIGITAL (3) */
	uint16_t max_channels;          /* SCCRQ: 0 (a PNS SHOULD send 0) */
	uint16_t firmware_rev;          /* SCCRQ: 0x0100 */
	char hostname[PPTP_HOSTNAME_LEN + 1];   /* SCCRQ: "mailtun" */
	char vendor[PPTP_VENDOR_LEN + 1];       /* SCCRQ: "mailtun" */

	uint16_t call_id;               /* OCRQ: our call ID, 1; pick a fresh one per dial */
	uint16_t call_serial;           /* OCRQ: 1 */
	uint32_t min_bps, max_bps;      /* OCRQ: 300 .. 100000000 bit/s */
	uint32_t bearer_type;           /* OCRQ: PPTP_BEARER_EITHER (3) */
	uint32_t framing_type;          /* OCRQ: PPTP_FRAMING_EITHER (3) */
	uint16_t recv_window;           /* OCRQ: 64 packets */
	uint16_t processing_delay;      /* OCRQ: 0 (1/10 s) */
	char phone[PPTP_PHONE_LEN + 1];         /* OCRQ: "" */
	char subaddress[PPTP_SUBADDR_LEN + 1];  /* OCRQ: "" */

	uint32_t sccrp_timeout_ms;      /* wait for SCCRP: 10000 ms */
	uint32_t ocrp_timeout_ms;       /* wait for OCRP: 30000 ms */
	uint32_t echo_interval_ms;      /* idle time before we send Echo-Request: 60000 ms */
	uint32_t echo_timeout_ms;       /* no Echo-Reply within this: peer dead, 60000 ms */
	uint32_t stop_timeout_ms;       /* wait for CDN after CCRQ, StopCCRP after StopCCRQ: 5000 ms */
};

void pptp_ctrl_config_defaults(struct pptp_ctrl_config *cfg);

enum pptp_ctrl_state {
	PPTP_ST_IDLE,            /* TCP not connected yet */
	PPTP_ST_WAIT_SCCRP,      /* SCCRQ sent */
	PPTP_ST_WAIT_OCRP,       /* control connection up, OCRQ sent */
	PPTP_ST_ESTABLISHED,     /* call up: GRE may flow */
	PPTP_ST_WAIT_CDN,        /* we sent CCRQ */
	PPTP_ST_WAIT_STOP_REPLY, /* we sent StopCCRQ */
	PPTP_ST_CLOSED           /* terminal */
};

const char *pptp_ctrl_state_name(enum pptp_ctrl_state st);

struct pptp_call_info {
	uint16_t local_call_id;  /* ours: the peer puts it in the GRE key of packets to us */
	uint16_t peer_call_id;   /* the server's: we put it in the GRE key */
	uint32_t connect_speed;  /* bit/s, as the server reports it */
	uint16_t peer_recv_window;
	uint16_t peer_processing_delay;
	uint32_t physical_channel;
};

/* Actions besides output; any may be NULL. reason strings live until the next event. */
struct pptp_ctrl_hooks {
	void (*call_established)(void *arg, const struct pptp_call_info *call);
	void (*call_cleared)(void *arg, const char *reason);
	void (*closed)(void *arg, const char *reason);
	void *arg;
};

/* Embed it; the fields are private to pptp_ctrl.c (read them through the getters). */
struct pptp_ctrl {
	struct pptp_ctrl_config cfg;
	struct pptp_ctrl_hooks hooks;
	enum pptp_ctrl_state state;
	uint64_t now_ms;                /* time of the event being handled */
	uint64_t deadline_ms;           /* timeout of the current wait state, 0: none */
	uint64_t last_rx_ms;            /* last message from the peer */
	uint64_t echo_sent_ms;          /* our outstanding Echo-Request, valid if echo_pending */
	uint32_t echo_id;
	bool echo_pending;
	bool call_up;                   /* established and not yet reported cleared */
	struct pptp_call_info call;
	struct pptp_sccrq peer;         /* the server's SCCRP: version, caps, hostname, vendor */
	uint32_t send_accm, recv_accm;  /* from the last Set-Link-Info */
	char pending_reason[PPTP_CTRL_REASON_LEN]; /* why we are stopping, for "closed" */
	char reason[PPTP_CTRL_REASON_LEN];
	size_t in_len;
	uint8_t in[PPTP_MAX_MSG_LEN];   /* a partial message carried over between reads */
	size_t out_len;
	uint8_t out[PPTP_CTRL_OUT_MAX];
	uint32_t ignored;               /* messages ignored since ignored_since_ms */
	uint64_t ignored_since_ms;
};

void pptp_ctrl_init(struct pptp_ctrl *c, const struct pptp_ctrl_config *cfg,
		    const struct pptp_ctrl_hooks *hooks);

/* Events. now_ms is a monotonic clock in milliseconds (CLOCK_MONOTONIC). */
void pptp_ctrl_connected(struct pptp_ctrl *c, uint64_t now_ms);
/* Any split of the stream is fine: partial messages are kept, several are handled in order. */
void pptp_ctrl_input(struct pptp_ctrl *c, const void *buf, size_t len, uint64_t now_ms);
void pptp_ctrl_tick(struct pptp_ctrl *c, uint64_t now_ms);
/* Polite teardown: CCRQ if there is a call, then StopCCRQ, bounded by stop_timeout_ms. */
void pptp_ctrl_shutdown(struct pptp_ctrl *c, uint64_t now_ms);
/* Clears the call (CCRQ, wait for CDN), then stops the control connection. */
void pptp_ctrl_clear_call(struct pptp_ctrl *c, uint64_t now_ms);
/* The TCP connection broke under us (EOF, error): closes with reason, no more output. */
void pptp_ctrl_lost(struct pptp_ctrl *c, const char *reason);

/* Output: octets to write to the TCP connection; consume what was written. */
const uint8_t *pptp_ctrl_output(const struct pptp_ctrl *c, size_t *len);
void pptp_ctrl_consume(struct pptp_ctrl *c, size_t n);

/* When the caller should tick next (monotonic ms), 0 when no timer is needed. */
uint64_t pptp_ctrl_next_deadline(const struct pptp_ctrl *c);

enum pptp_ctrl_state pptp_ctrl_state(const struct pptp_ctrl *c);
/* The call (valid once established), the server's SCCRP and the last Set-Link-Info ACCMs. */
const struct pptp_call_info *pptp_ctrl_call(const struct pptp_ctrl *c);
const struct pptp_sccrq *pptp_ctrl_peer(const struct pptp_ctrl *c);
void pptp_ctrl_accm(const struct pptp_ctrl *c, uint32_t *send_accm, uint32_t *recv_accm);

#endif

/*
 * l2tp_ctrl.c — the LAC's tunnel and session state machines (RFC 2661 sections 5 and 7).
 *
 * Every datagram goes codec -> tunnel id check -> reliable delivery -> one handler per message
 * type; each handler checks the session state it may act in and ignores (acknowledged, logged)
 * what does not belong. Anything the LNS does that we cannot go on from ends in stop(), which
 * says why, once, and tears down politely when the LNS can still be addressed.
 * Needs: l2tp_codec, l2tp_rel, lib/log.h, OpenSSL (CRYPTO_memcmp).
 */
#include "l2tp_ctrl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"

static void after_event(struct l2tp_ctrl *c);

void l2tp_ctrl_config_defaults(struct l2tp_ctrl_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->host_name, sizeof(cfg->host_name), "mailtun");
	snprintf(cfg->vendor, sizeof(cfg->vendor), "mailtun");
	cfg->tunnel_id = 1;
	cfg->session_id = 1;
	cfg->call_serial = 1;
	cfg->recv_window = 4;
	cfg->framing_caps = L2TP_FRAMING_SYNC | L2TP_FRAMING_ASYNC;
	cfg->tx_speed = 100000000;
	cfg->framing_type = L2TP_FRAMING_SYNC;
	cfg->hello_interval_ms = 60000;
	cfg->setup_timeout_ms = 30000;
	cfg->stop_timeout_ms = 3000;
	l2tp_rel_config_defaults(&cfg->rel);
}

const char *l2tp_tunnel_state_name(enum l2tp_tunnel_state st)
{
	static const char *const n[] = { "IDLE", "WAIT_CTL_REPLY", "ESTABLISHED", "STOPPING", "CLOSED" };
	return (unsigned)st < sizeof(n) / sizeof(n[0]) ? n[st] : "?";
}

const char *l2tp_session_state_name(enum l2tp_session_state st)
{
	static const char *const n[] = { "IDLE", "WAIT_TUNNEL", "WAIT_REPLY", "WAIT_ATTACH", "ESTABLISHED",
					  "CLOSED" };
	return (unsigned)st < sizeof(n) / sizeof(n[0]) ? n[st] : "?";
}

void l2tp_ctrl_init(struct l2tp_ctrl *c, const struct l2tp_ctrl_config *cfg,
		    const struct l2tp_ctrl_hooks *hooks)
{
	memset(c, 0, offsetof(struct l2tp_ctrl, msg));
	c->cfg = *cfg;
	if (c->cfg.secret_len > L2TP_SECRET_MAX)
		c->cfg.secret_len = L2TP_SECRET_MAX;
	if (hooks)
		c->hooks = *hooks;
	l2tp_rel_init(&c->rel, &c->cfg.rel);
	c->call.local_tunnel_id = cfg->tunnel_id;
	c->call.local_session_id = cfg->session_id;
}

/* ---- transitions --------------------------------------------------------------------------- */

static void set_tunnel(struct l2tp_ctrl *c, enum l2tp_tunnel_state st, const char *reason)
{
	if (c->tunnel == st)
		return;
	log_info("l2tp tunnel state %s -> %s tunnel=%u reason=%s", l2tp_tunnel_state_name(c->tunnel),
		 l2tp_tunnel_state_name(st), c->cfg.tunnel_id, reason);
	c->tunnel = st;
}

static void set_session(struct l2tp_ctrl *c, enum l2tp_session_state st, const char *reason)
{
	if (c->session == st)
		return;
	log_info("l2tp session state %s -> %s session=%u reason=%s", l2tp_session_state_name(c->session),
		 l2tp_session_state_name(st), c->cfg.session_id, reason);
	c->session = st;
}

static void clear_call(struct l2tp_ctrl *c, const char *reason)
{
	set_session(c, L2TP_SES_CLOSED, reason);
	if (c->call_up) {
		c->call_up = false;
		if (c->hooks.call_cleared)
			c->hooks.call_cleared(c->hooks.arg, reason);
	}
}

static void close_now(struct l2tp_ctrl *c, const char *reason)
{
	if (c->tunnel == L2TP_TUN_CLOSED)
		return;
	if (reason != c->reason)
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	clear_call(c, c->reason);
	set_tunnel(c, L2TP_TUN_CLOSED, c->reason);
	c->deadline_ms = 0;
	if (c->hooks.closed)
		c->hooks.closed(c->hooks.arg, c->reason);
}

/* A fresh outgoing message in c->msg, addressed to the LNS's tunnel and the given session. */
static struct l2tp_msg *new_msg(struct l2tp_ctrl *c, uint16_t type, uint16_t session)
{
	struct l2tp_msg *m = &c->msg;
	memset(m, 0, offsetof(struct l2tp_msg, arena));
	m->type = type;
	m->present = L2TP_AVP_BIT(L2TP_AVP_MSG_TYPE);
	m->hdr.tunnel_id = c->call.peer_tunnel_id;
	m->hdr.session_id = session;
	return m;
}

static int send_msg(struct l2tp_ctrl *c, struct l2tp_msg *m)
{
	if (l2tp_rel_send(&c->rel, m, c->now_ms) == 0)
		return 0;
	log_warnx("l2tp cannot queue %s tunnel=%u: queue full or too long", l2tp_msg_name(m->type),
		  c->cfg.tunnel_id);
	return -1;
}

static void set_result(struct l2tp_msg *m, uint16_t result, uint16_t error, const char *text)
{
	m->present |= L2TP_AVP_BIT(L2TP_AVP_RESULT_CODE);
	m->result = result;
	m->has_error = error != 0;
	m->error = error;
	if (text != NULL && text[0] != '\0') {
		m->has_error = true;
		m->result_msg = l2tp_str(text);
		if (m->result_msg.len > 200)
			m->result_msg.len = 200;
	}
}

/* Ends the call and the tunnel: CDN if the LNS knows the call, StopCCN if it knows the tunnel,
 * then STOPPING until that is acknowledged; CLOSED at once when there is no one to tell. */
static void stop(struct l2tp_ctrl *c, uint16_t stop_result, uint16_t error, const char *reason)
{
	struct l2tp_msg *m;

	if (c->tunnel == L2TP_TUN_CLOSED || c->tunnel == L2TP_TUN_STOPPING)
		return;
	snprintf(c->pending_reason, sizeof(c->pending_reason), "%s", reason);
	if (c->call.peer_tunnel_id == 0) {
		close_now(c, c->pending_reason);
		return;
	}
	if (c->session == L2TP_SES_ESTABLISHED || c->session == L2TP_SES_WAIT_ATTACH ||
	    (c->session == L2TP_SES_WAIT_REPLY && c->call.peer_session_id != 0)) {
		m = new_msg(c, L2TP_CDN, c->call.peer_session_id);
		m->present |= L2TP_AVP_BIT(L2TP_AVP_SESSION_ID);
		m->session_id = c->cfg.session_id;
		set_result(m, stop_result == L2TP_STOP_GENERAL ? L2TP_CDN_ADMIN : L2TP_CDN_GENERAL_ERROR,
			   error, NULL);
		(void)send_msg(c, m);
	}
	clear_call(c, c->pending_reason);
	m = new_msg(c, L2TP_STOPCCN, 0);
	m->present |= L2TP_AVP_BIT(L2TP_AVP_TUNNEL_ID);
	m->tunnel_id = c->cfg.tunnel_id;
	set_result(m, stop_result, error, error ? c->pending_reason : NULL);
	if (send_msg(c, m) != 0) {
		close_now(c, c->pending_reason);
		return;
	}
	c->deadline_ms = c->now_ms + c->cfg.stop_timeout_ms;
	set_tunnel(c, L2TP_TUN_STOPPING, c->pending_reason);
}

static void stopf(struct l2tp_ctrl *c, uint16_t stop_result, uint16_t error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void stopf(struct l2tp_ctrl *c, uint16_t stop_result, uint16_t error, const char *fmt, ...)
{
	char why[L2TP_CTRL_REASON_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	stop(c, stop_result, error, why);
}

/* ---- events -------------------------------------------------------------------------------- */

void l2tp_ctrl_start(struct l2tp_ctrl *c, uint64_t now_ms)
{
	struct l2tp_msg *m;
	if (c->tunnel != L2TP_TUN_IDLE)
		return;
	c->now_ms = c->last_rx_ms = now_ms;
	m = new_msg(c, L2TP_SCCRQ, 0);
	m->present |= L2TP_AVP_BIT(L2TP_AVP_PROTO_VERSION) | L2TP_AVP_BIT(L2TP_AVP_HOST_NAME) |
		      L2TP_AVP_BIT(L2TP_AVP_FRAMING_CAPS) | L2TP_AVP_BIT(L2TP_AVP_TUNNEL_ID) |
		      L2TP_AVP_BIT(L2TP_AVP_RECV_WINDOW) | L2TP_AVP_BIT(L2TP_AVP_VENDOR_NAME);
	m->proto_version = 0x0100;
	m->host_name = l2tp_str(c->cfg.host_name[0] ? c->cfg.host_name : "mailtun");
	m->vendor_name = l2tp_str(c->cfg.vendor);
	m->framing_caps = c->cfg.framing_caps;
	m->tunnel_id = c->cfg.tunnel_id;
	m->recv_window = c->cfg.recv_window ? c->cfg.recv_window : 4;
	if (c->cfg.secret_len > 0) {
		m->present |= L2TP_AVP_BIT(L2TP_AVP_CHALLENGE);
		m->challenge.p = c->cfg.challenge;
		m->challenge.len = L2TP_CHALLENGE_LEN;
	}
	if (c->cfg.tunnel_id == 0 || c->cfg.session_id == 0) {
		set_tunnel(c, L2TP_TUN_WAIT_CTL_REPLY, "start");
		close_now(c, "tunnel and session ids must not be 0");
		return;
	}
	set_tunnel(c, L2TP_TUN_WAIT_CTL_REPLY, "start: SCCRQ sent");
	set_session(c, L2TP_SES_WAIT_TUNNEL, "call waits for the tunnel");
	if (send_msg(c, m) != 0) {
		close_now(c, "cannot send SCCRQ");
		return;
	}
	c->deadline_ms = now_ms + c->cfg.setup_timeout_ms;
}

static void copy_printable(char *dst, size_t cap, const struct l2tp_bytes *b)
{
	size_t i;
	for (i = 0; i < b->len && i + 1 < cap; i++)
		dst[i] = b->p[i] >= 0x20 && b->p[i] < 0x7f ? (char)b->p[i] : '?';
	dst[i] = '\0';
}

static void on_sccrp(struct l2tp_ctrl *c, const struct l2tp_msg *in)
{
	struct l2tp_secret secret = { c->cfg.secret, c->cfg.secret_len };
	uint8_t expect[L2TP_CHAL_RESP_LEN], answer[L2TP_CHAL_RESP_LEN];
	bool answer_needed = false;
	struct l2tp_msg *m;

	if (c->tunnel != L2TP_TUN_WAIT_CTL_REPLY) {
		log_info("l2tp ignored SCCRP in tunnel state %s tunnel=%u", l2tp_tunnel_state_name(c->tunnel),
			 c->cfg.tunnel_id);
		return;
	}
	copy_printable(c->peer_host, sizeof(c->peer_host), &in->host_name);
	if (in->tunnel_id == 0) {
		close_now(c, "LNS assigned tunnel id 0 in its SCCRP");
		return;
	}
	/* From here on the LNS can be told why we leave. */
	c->call.peer_tunnel_id = in->tunnel_id;
	l2tp_rel_set_tunnel(&c->rel, in->tunnel_id);
	l2tp_rel_set_window(&c->rel, (in->present & L2TP_AVP_BIT(L2TP_AVP_RECV_WINDOW)) ? in->recv_window : 0);

	if (in->proto_version != 0x0100) {
		stopf(c, L2TP_STOP_BAD_VERSION, 0, "LNS %s speaks L2TP protocol version %u.%u, not 1.0",
		      c->peer_host, in->proto_version >> 8, in->proto_version & 0xff);
		return;
	}
	if (secret.len > 0) {
		if (!(in->present & L2TP_AVP_BIT(L2TP_AVP_CHAL_RESPONSE))) {
			stopf(c, L2TP_STOP_NOT_AUTHORIZED, 0, "tunnel authentication failed: LNS %s did not "
			      "answer our challenge (no tunnel secret on its side?)", c->peer_host);
			return;
		}
		if (l2tp_chal_response(L2TP_SCCRP, &secret, c->cfg.challenge, L2TP_CHALLENGE_LEN, expect) ||
		    CRYPTO_memcmp(expect, in->chal_response, sizeof(expect)) != 0) {
			stopf(c, L2TP_STOP_NOT_AUTHORIZED, 0, "tunnel authentication failed: LNS %s answered our "
			      "challenge wrongly (tunnel secrets differ)", c->peer_host);
			return;
		}
	}
	if (in->present & L2TP_AVP_BIT(L2TP_AVP_CHALLENGE)) {
		if (secret.len == 0) {
			stopf(c, L2TP_STOP_NOT_AUTHORIZED, 0, "LNS %s demands tunnel authentication but no "
			      "tunnel secret is configured", c->peer_host);
			return;
		}
		if (l2tp_chal_response(L2TP_SCCCN, &secret, in->challenge.p, in->challenge.len, answer)) {
			stopf(c, L2TP_STOP_GENERAL_ERROR, L2TP_ERR_NO_RESOURCES, "MD5 unavailable for the "
			      "challenge response");
			return;
		}
		answer_needed = true;
	}

	m = new_msg(c, L2TP_SCCCN, 0);
	if (answer_needed) {
		m->present |= L2TP_AVP_BIT(L2TP_AVP_CHAL_RESPONSE);
		memcpy(m->chal_response, answer, sizeof(answer));
	}
	if (send_msg(c, m) != 0) {
		close_now(c, "cannot send SCCCN");
		return;
	}
	set_tunnel(c, L2TP_TUN_ESTABLISHED, "SCCRP received, SCCCN sent");
	log_info("l2tp tunnel up tunnel=%u peer_tunnel=%u lns=%s window=%u", c->cfg.tunnel_id,
		 c->call.peer_tunnel_id, c->peer_host, c->rel.window);

	m = new_msg(c, L2TP_ICRQ, 0);
	m->present |= L2TP_AVP_BIT(L2TP_AVP_SESSION_ID) | L2TP_AVP_BIT(L2TP_AVP_CALL_SERIAL);
	m->session_id = c->cfg.session_id;
	m->call_serial = c->cfg.call_serial;
	if (send_msg(c, m) != 0) {
		stop(c, L2TP_STOP_GENERAL_ERROR, L2TP_ERR_NO_RESOURCES, "cannot send ICRQ");
		return;
	}
	set_session(c, L2TP_SES_WAIT_REPLY, "ICRQ sent");
	c->deadline_ms = c->now_ms + c->cfg.setup_timeout_ms;
}

/* ICCN: the call is connected, PPP may flow. */
static void send_iccn(struct l2tp_ctrl *c, const char *reason)
{
	struct l2tp_msg *m = new_msg(c, L2TP_ICCN, c->call.peer_session_id);

	m->present |= L2TP_AVP_BIT(L2TP_AVP_TX_SPEED) | L2TP_AVP_BIT(L2TP_AVP_FRAMING_TYPE);
	m->tx_speed = c->cfg.tx_speed;
	m->framing_type = c->cfg.framing_type;
	if (send_msg(c, m) != 0) {
		stop(c, L2TP_STOP_GENERAL_ERROR, L2TP_ERR_NO_RESOURCES, "cannot send ICCN");
		return;
	}
	c->deadline_ms = 0;
	set_session(c, L2TP_SES_ESTABLISHED, reason);
}

static void report_call(struct l2tp_ctrl *c)
{
	c->call_up = true;
	log_info("l2tp call up tunnel=%u/%u session=%u/%u", c->call.local_tunnel_id,
		 c->call.peer_tunnel_id, c->call.local_session_id, c->call.peer_session_id);
	if (c->hooks.call_established)
		c->hooks.call_established(c->hooks.arg, &c->call);
}

static void on_icrp(struct l2tp_ctrl *c, const struct l2tp_msg *in)
{
	if (c->session != L2TP_SES_WAIT_REPLY) {
		log_info("l2tp ignored ICRP in session state %s session=%u", l2tp_session_state_name(c->session),
			 c->cfg.session_id);
		return;
	}
	if (in->session_id == 0) {
		stop(c, L2TP_STOP_GENERAL_ERROR, L2TP_ERR_BAD_VALUE, "LNS assigned session id 0 in its ICRP");
		return;
	}
	c->call.peer_session_id = in->session_id;
	c->call.seq_required = (in->present & L2TP_AVP_BIT(L2TP_AVP_SEQ_REQUIRED)) != 0;
	if (c->cfg.attach_wait_ms == 0) {
		send_iccn(c, "ICRP received, ICCN sent");
		if (c->session == L2TP_SES_ESTABLISHED)
			report_call(c);
		return;
	}
	/* The hook hands the call to pppd's plugin; ICCN follows l2tp_ctrl_attached(). */
	set_session(c, L2TP_SES_WAIT_ATTACH, "ICRP received, ICCN waits for our data path");
	c->deadline_ms = c->now_ms + c->cfg.attach_wait_ms;
	report_call(c);
}

void l2tp_ctrl_attached(struct l2tp_ctrl *c, uint64_t now_ms)
{
	if (c->tunnel != L2TP_TUN_ESTABLISHED || c->session != L2TP_SES_WAIT_ATTACH)
		return;
	c->now_ms = now_ms;
	send_iccn(c, "data path attached, ICCN sent");
	after_event(c);
}

static void describe_result(char *dst, size_t cap, const char *what, const struct l2tp_msg *in,
			    const char *(*name)(uint16_t))
{
	char text[64] = "";
	if (in->result_msg.len)
		copy_printable(text, sizeof(text), &in->result_msg);
	snprintf(dst, cap, "%s: result %u (%s)%s%s%s%s%s", what, in->result, name(in->result),
		 in->has_error ? ", error " : "", in->has_error ? l2tp_error_name(in->error) : "",
		 text[0] ? " \"" : "", text, text[0] ? "\"" : "");
}

static void on_message(struct l2tp_ctrl *c, enum l2tp_decode_status st, const char *why)
{
	const struct l2tp_msg *in = &c->msg;
	char text[L2TP_CTRL_REASON_LEN];

	if (st == L2TP_DEC_IGNORE) {
		log_info("l2tp ignored from the LNS: %s", why);
		return;
	}
	if (st == L2TP_DEC_UNKNOWN_MANDATORY) {
		/* An SCCRP we refuse still told us where to send the StopCCN that says why. */
		if (in->type == L2TP_SCCRP && c->call.peer_tunnel_id == 0 &&
		    (in->present & L2TP_AVP_BIT(L2TP_AVP_TUNNEL_ID)) && in->tunnel_id != 0) {
			c->call.peer_tunnel_id = in->tunnel_id;
			l2tp_rel_set_tunnel(&c->rel, in->tunnel_id);
		}
		stopf(c, L2TP_STOP_GENERAL_ERROR, L2TP_ERR_UNKNOWN_M, "LNS sent %s", why);
		return;
	}
	if (l2tp_check_required(in, text) != 0) {
		stopf(c, L2TP_STOP_GENERAL_ERROR, L2TP_ERR_BAD_VALUE, "LNS sent %s", text);
		return;
	}
	if (l2tp_msg_is_session(in->type) && in->hdr.session_id != c->cfg.session_id) {
		log_info("l2tp ignored %s for session %u, ours is %u", l2tp_msg_name(in->type),
			 in->hdr.session_id, c->cfg.session_id);
		return;
	}
	switch (in->type) {
	case L2TP_SCCRP:
		on_sccrp(c, in);
		break;
	case L2TP_ICRP:
		on_icrp(c, in);
		break;
	case L2TP_STOPCCN:
		describe_result(text, sizeof(text), "LNS stopped the tunnel (StopCCN)", in, l2tp_stop_result_name);
		l2tp_rel_flush(&c->rel);        /* its ack, before we forget the tunnel */
		close_now(c, text);
		break;
	case L2TP_CDN:
		if (c->session != L2TP_SES_WAIT_REPLY && c->session != L2TP_SES_WAIT_ATTACH &&
		    c->session != L2TP_SES_ESTABLISHED)
			break;
		describe_result(text, sizeof(text), "LNS cleared the call (CDN)", in, l2tp_cdn_result_name);
		clear_call(c, text);
		stop(c, L2TP_STOP_GENERAL, 0, text);
		break;
	case L2TP_HELLO:
		break;
	case L2TP_SLI:
		c->accm_send = in->accm_send;
		c->accm_recv = in->accm_recv;
		break;
	case L2TP_WEN:
		log_info("l2tp WAN error notify session=%u crc=%u framing=%u overruns=%u", c->cfg.session_id,
			 in->call_errors[0], in->call_errors[1], in->call_errors[2] + in->call_errors[3]);
		break;
	default:
		log_info("l2tp ignored unexpected %s from the LNS in tunnel state %s",
			 l2tp_msg_name(in->type), l2tp_tunnel_state_name(c->tunnel));
		break;
	}
}

static void after_event(struct l2tp_ctrl *c)
{
	if (c->hello_outstanding && (int16_t)(c->rel.una - c->hello_ns) > 0)
		c->hello_outstanding = false;
	if (c->tunnel == L2TP_TUN_CLOSED)
		return;
	l2tp_rel_flush(&c->rel);
	if (c->tunnel == L2TP_TUN_STOPPING && l2tp_rel_idle(&c->rel))
		close_now(c, c->pending_reason);
}

void l2tp_ctrl_input(struct l2tp_ctrl *c, const void *buf, size_t len, uint64_t now_ms)
{
	struct l2tp_secret secret = { c->cfg.secret, c->cfg.secret_len };
	char why[L2TP_REASON_LEN];
	enum l2tp_decode_status st;
	enum l2tp_rel_rx rx;
	uint16_t una;

	if (c->tunnel == L2TP_TUN_IDLE || c->tunnel == L2TP_TUN_CLOSED)
		return;
	c->now_ms = now_ms;
	st = l2tp_decode(buf, len, &secret, &c->msg, why);
	if (st == L2TP_DEC_MALFORMED) {
		c->dropped++;
		snprintf(c->last_drop, sizeof(c->last_drop), "%s", why);
		log_debug("l2tp dropped datagram from the LNS: %s", why);
		return;
	}
	if (c->msg.hdr.tunnel_id != c->cfg.tunnel_id) {
		c->dropped++;
		snprintf(c->last_drop, sizeof(c->last_drop), "%s for tunnel %u, ours is %u",
			 l2tp_msg_name(c->msg.type), c->msg.hdr.tunnel_id, c->cfg.tunnel_id);
		log_debug("l2tp dropped %s", c->last_drop);
		return;
	}
	una = c->rel.una;
	rx = l2tp_rel_receive(&c->rel, &c->msg.hdr, now_ms);
	/* A sign of life (HELLO's silence timer, control_alive) is only what shows the LNS in
	 * step: its next message, or an ack of something we sent that was not acked yet.
	 * Duplicates, Ns from the future and acks of nothing new are what a restarted or
	 * confused LNS can send forever. */
	if (rx == L2TP_RX_NEW || c->rel.una != una)
		c->last_rx_ms = now_ms;
	switch (rx) {
	case L2TP_RX_NEW:
		if (c->tunnel != L2TP_TUN_STOPPING || c->msg.type == L2TP_STOPCCN)
			on_message(c, st, why);
		break;
	case L2TP_RX_ZLB:
		break;
	case L2TP_RX_DUPLICATE:
	case L2TP_RX_FUTURE:
		c->dropped++;
		snprintf(c->last_drop, sizeof(c->last_drop), "%s with Ns %u, expected %u (%s)",
			 l2tp_msg_name(c->msg.type), c->msg.hdr.ns, c->rel.nr_next,
			 (int16_t)(c->msg.hdr.ns - c->rel.nr_next) < 0 ? "duplicate" : "from the future");
		break;
	}
	after_event(c);
}

void l2tp_ctrl_tick(struct l2tp_ctrl *c, uint64_t now_ms)
{
	if (c->tunnel == L2TP_TUN_IDLE || c->tunnel == L2TP_TUN_CLOSED)
		return;
	c->now_ms = now_ms;
	if (l2tp_rel_tick(&c->rel, now_ms) != 0) {
		char why[L2TP_CTRL_REASON_LEN + 128];   /* close_now() keeps what fits */
		if (c->tunnel == L2TP_TUN_STOPPING)
			snprintf(why, sizeof(why), "%.*s (StopCCN not acknowledged)",
				 (int)sizeof(why) - 40, c->pending_reason);
		else if (c->rel.retries >= c->cfg.rel.max_retries)
			snprintf(why, sizeof(why), "LNS silent: %s not acknowledged after %u retransmissions",
				 l2tp_msg_name(l2tp_rel_oldest_type(&c->rel)), c->cfg.rel.max_retries);
		else if (c->dropped)    /* maybe it talks, but nothing we can take */
			snprintf(why, sizeof(why), "LNS silent: %s not acknowledged within %u ms (%u retransmissions; "
				 "%llu datagrams dropped, last: %.80s)", l2tp_msg_name(l2tp_rel_oldest_type(&c->rel)),
				 c->cfg.rel.give_up_ms, c->rel.retries, (unsigned long long)c->dropped, c->last_drop);
		else
			snprintf(why, sizeof(why), "LNS silent: %s not acknowledged within %u ms (%u retransmissions)",
				 l2tp_msg_name(l2tp_rel_oldest_type(&c->rel)), c->cfg.rel.give_up_ms,
				 c->rel.retries);
		close_now(c, why);
		return;
	}
	if (c->deadline_ms != 0 && now_ms >= c->deadline_ms && c->tunnel == L2TP_TUN_STOPPING) {
		char why[L2TP_CTRL_REASON_LEN];
		snprintf(why, sizeof(why), "%.*s (StopCCN not acknowledged)", (int)sizeof(why) - 40,
			 c->pending_reason);
		close_now(c, why);
		return;
	}
	if (c->deadline_ms != 0 && now_ms >= c->deadline_ms && c->session == L2TP_SES_WAIT_ATTACH) {
		/* An old plugin, or a slow one: the LNS's first LCP frames may be lost, PPP's
		 * retransmissions still bring the link up. */
		log_info("l2tp data path not reported attached within %u ms session=%u: ICCN anyway",
			 c->cfg.attach_wait_ms, c->cfg.session_id);
		send_iccn(c, "attach wait over, ICCN sent");
	}
	if (c->deadline_ms != 0 && now_ms >= c->deadline_ms) {
		c->deadline_ms = 0;
		const char *what = c->tunnel == L2TP_TUN_WAIT_CTL_REPLY ? "SCCRP" :
				   c->session == L2TP_SES_WAIT_REPLY ? "ICRP" : NULL;
		if (what && c->dropped)
			stopf(c, L2TP_STOP_GENERAL, 0, "no %s within %u s (%llu datagrams dropped, last: %s)",
			      what, c->cfg.setup_timeout_ms / 1000, (unsigned long long)c->dropped, c->last_drop);
		else if (what)
			stopf(c, L2TP_STOP_GENERAL, 0, "no %s within %u s", what, c->cfg.setup_timeout_ms / 1000);
	}
	if (c->tunnel == L2TP_TUN_ESTABLISHED && !c->hello_outstanding && c->cfg.hello_interval_ms &&
	    now_ms - c->last_rx_ms >= c->cfg.hello_interval_ms) {
		struct l2tp_msg *m = new_msg(c, L2TP_HELLO, 0);
		c->hello_ns = c->rel.ns_next;
		if (send_msg(c, m) == 0)
			c->hello_outstanding = true;
	}
	after_event(c);
}

void l2tp_ctrl_shutdown(struct l2tp_ctrl *c, const char *reason, uint64_t now_ms)
{
	if (c->tunnel == L2TP_TUN_CLOSED)
		return;
	c->now_ms = now_ms;
	if (c->tunnel == L2TP_TUN_IDLE) {
		set_tunnel(c, L2TP_TUN_WAIT_CTL_REPLY, "shutdown before start");
		close_now(c, reason);
		return;
	}
	stop(c, L2TP_STOP_GENERAL, 0, reason);
	after_event(c);
}

void l2tp_ctrl_lost(struct l2tp_ctrl *c, const char *reason)
{
	c->rel.out_count = 0;
	if (c->tunnel == L2TP_TUN_IDLE)
		set_tunnel(c, L2TP_TUN_WAIT_CTL_REPLY, "lost before start");
	close_now(c, reason);
	c->rel.out_count = 0;
}

const uint8_t *l2tp_ctrl_output(const struct l2tp_ctrl *c, size_t *len)
{
	return l2tp_rel_output(&c->rel, len);
}

void l2tp_ctrl_pop(struct l2tp_ctrl *c)
{
	l2tp_rel_pop(&c->rel);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

uint64_t l2tp_ctrl_next_deadline(const struct l2tp_ctrl *c)
{
	uint64_t t;
	if (c->tunnel == L2TP_TUN_IDLE || c->tunnel == L2TP_TUN_CLOSED)
		return 0;
	t = earliest(l2tp_rel_next_deadline(&c->rel), c->deadline_ms);
	if (c->tunnel == L2TP_TUN_ESTABLISHED && !c->hello_outstanding && c->cfg.hello_interval_ms)
		t = earliest(t, c->last_rx_ms + c->cfg.hello_interval_ms);
	return t;
}

enum l2tp_tunnel_state l2tp_ctrl_tunnel_state(const struct l2tp_ctrl *c) { return c->tunnel; }
enum l2tp_session_state l2tp_ctrl_session_state(const struct l2tp_ctrl *c) { return c->session; }
const struct l2tp_call_info *l2tp_ctrl_call(const struct l2tp_ctrl *c) { return &c->call; }
const char *l2tp_ctrl_peer_host(const struct l2tp_ctrl *c) { return c->peer_host; }

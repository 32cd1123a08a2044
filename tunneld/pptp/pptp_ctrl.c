/*
 * pptp_ctrl.c — PPTP control connection state machine, client (PNS) side of RFC 2637.
 *
 * One control connection, one outgoing call. Events come in through the pptp_ctrl_*()
 * entry points; each decoded message goes through handle_msg(), every state change through
 * set_state(), and every way out through close_conn(), which reports a still-up call as
 * cleared first. Keep-alive per RFC 2637 3.1.4: Echo-Request after echo_interval_ms without
 * any message from the server, peer declared dead after echo_timeout_ms without the reply.
 * When the call ends (cleared by either side or refused), the control connection is stopped
 * too: it exists only for this call, and mailtund dials a fresh one.
 * Needs: pptp_codec, lib/log.h.
 */
#include "pptp_ctrl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

void pptp_ctrl_config_defaults(struct pptp_ctrl_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->framing_caps = PPTP_FRAMING_SYNC | PPTP_FRAMING_ASYNC;
	cfg->bearer_caps = PPTP_BEARER_ANALOG | PPTP_BEARER_DIGITAL;
	cfg->max_channels = 0;
	cfg->firmware_rev = 0x0100;
	snprintf(cfg->hostname, sizeof(cfg->hostname), "mailtun");
	snprintf(cfg->vendor, sizeof(cfg->vendor), "mailtun");
	cfg->call_id = 1;
	cfg->call_serial = 1;
	cfg->min_bps = 300;
	cfg->max_bps = 100000000;
	cfg->bearer_type = PPTP_BEARER_EITHER;
	cfg->framing_type = PPTP_FRAMING_EITHER;
	cfg->recv_window = 64;
	cfg->processing_delay = 0;
	cfg->sccrp_timeout_ms = 10000;
	cfg->ocrp_timeout_ms = 30000;
	cfg->echo_interval_ms = 60000;
	cfg->echo_timeout_ms = 60000;
	cfg->stop_timeout_ms = 5000;
}

const char *pptp_ctrl_state_name(enum pptp_ctrl_state st)
{
	switch (st) {
	case PPTP_ST_IDLE: return "IDLE";
	case PPTP_ST_WAIT_SCCRP: return "WAIT_SCCRP";
	case PPTP_ST_WAIT_OCRP: return "WAIT_OCRP";
	case PPTP_ST_ESTABLISHED: return "ESTABLISHED";
	case PPTP_ST_WAIT_CDN: return "WAIT_CDN";
	case PPTP_ST_WAIT_STOP_REPLY: return "WAIT_STOP_REPLY";
	case PPTP_ST_CLOSED: return "CLOSED";
	}
	return "unknown";
}

void pptp_ctrl_init(struct pptp_ctrl *c, const struct pptp_ctrl_config *cfg,
		    const struct pptp_ctrl_hooks *hooks)
{
	memset(c, 0, sizeof(*c));
	if (cfg != NULL)
		c->cfg = *cfg;
	else
		pptp_ctrl_config_defaults(&c->cfg);
	if (hooks != NULL)
		c->hooks = *hooks;
	c->state = PPTP_ST_IDLE;
}

/* ---- actions ---------------------------------------------------------------------------- */

static void set_state(struct pptp_ctrl *c, enum pptp_ctrl_state st, const char *reason)
{
	if (c->state == st)
		return;
	log_info("pptp state %s -> %s reason=%s", pptp_ctrl_state_name(c->state),
		 pptp_ctrl_state_name(st), reason);
	c->state = st;
}

static void report_cleared(struct pptp_ctrl *c, const char *reason)
{
	if (!c->call_up)
		return;
	c->call_up = false;
	log_notice("pptp call cleared local_call_id=%u peer_call_id=%u reason=%s",
		   c->call.local_call_id, c->call.peer_call_id, reason);
	if (c->hooks.call_cleared != NULL)
		c->hooks.call_cleared(c->hooks.arg, reason);
}

static void close_conn(struct pptp_ctrl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void close_conn(struct pptp_ctrl *c, const char *fmt, ...)
{
	char why[PPTP_CTRL_REASON_LEN];
	va_list ap;

	if (c->state == PPTP_ST_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	memcpy(c->reason, why, sizeof(c->reason));
	report_cleared(c, c->reason);
	c->deadline_ms = 0;
	c->echo_pending = false;
	c->in_len = 0;
	set_state(c, PPTP_ST_CLOSED, c->reason);
	if (c->hooks.closed != NULL)
		c->hooks.closed(c->hooks.arg, c->reason);
}

/* Queues msg for the caller to send; a peer that does not read is given up on. */
static bool send_msg(struct pptp_ctrl *c, const struct pptp_msg *m)
{
	size_t n = pptp_encode(m, c->out + c->out_len, sizeof(c->out) - c->out_len);

	if (n == 0) {
		close_conn(c, "send buffer full: %zu octets unsent, peer not reading", c->out_len);
		return false;
	}
	c->out_len += n;
	log_debug("pptp send type=%s length=%zu", pptp_type_name(m->type), n);
	return true;
}

static uint32_t secs(uint32_t ms) { return (ms + 999) / 1000; }

/* Stops the control connection politely; pending_reason is what "closed" will report. */
static void stop_conn(struct pptp_ctrl *c, uint8_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void stop_conn(struct pptp_ctrl *c, uint8_t code, const char *fmt, ...)
{
	struct pptp_msg m = { .type = PPTP_STOPCCRQ, .u.stopccrq.reason = code };
	va_list ap;

	if (c->state == PPTP_ST_CLOSED || c->state == PPTP_ST_WAIT_STOP_REPLY)
		return;
	va_start(ap, fmt);
	vsnprintf(c->pending_reason, sizeof(c->pending_reason), fmt, ap);
	va_end(ap);
	if (!send_msg(c, &m))
		return;
	c->deadline_ms = c->now_ms + c->cfg.stop_timeout_ms;
	set_state(c, PPTP_ST_WAIT_STOP_REPLY, c->pending_reason);
}

static bool send_ccrq(struct pptp_ctrl *c)
{
	struct pptp_msg m = { .type = PPTP_CCRQ, .u.ccrq.call_id = c->cfg.call_id };
	return send_msg(c, &m);
}

/* ---- message handlers ------------------------------------------------------------------- */

/*
 * Every ignored message costs a log line: a server that keeps sending them (millions a
 * second are possible) is cut off after PPTP_CTRL_MAX_IGNORED within the window instead of
 * flooding the log. Returns false once the connection is closed: log nothing more.
 */
static bool note_ignored(struct pptp_ctrl *c, const char *what)
{
	if (c->ignored == 0 || c->now_ms - c->ignored_since_ms >= PPTP_CTRL_IGNORED_WINDOW_MS) {
		c->ignored = 0;
		c->ignored_since_ms = c->now_ms;
	}
	if (++c->ignored <= PPTP_CTRL_MAX_IGNORED)
		return true;
	close_conn(c, "server sent more than %d messages we ignore within %d s (last: %s)",
		   PPTP_CTRL_MAX_IGNORED, PPTP_CTRL_IGNORED_WINDOW_MS / 1000, what);
	return false;
}

static void unexpected(struct pptp_ctrl *c, const struct pptp_msg *m)
{
	if (note_ignored(c, pptp_type_name(m->type)))
		log_notice("pptp ignored message type=%s state=%s", pptp_type_name(m->type),
			   pptp_ctrl_state_name(c->state));
}

static void on_sccrp(struct pptp_ctrl *c, const struct pptp_sccrq *r)
{
	char host[PPTP_HOSTNAME_LEN + 1], vendor[PPTP_VENDOR_LEN + 1];

	c->peer = *r;
	log_info("pptp SCCRP result=%s error=%s version=0x%04x framing=%u bearer=%u "
		 "firmware=0x%04x host=\"%s\" vendor=\"%s\"",
		 pptp_result_name(PPTP_SCCRP, r->result), pptp_error_name(r->error), r->version,
		 r->framing_caps, r->bearer_caps, r->firmware_rev,
		 pptp_printable(host, sizeof(host), r->hostname),
		 pptp_printable(vendor, sizeof(vendor), r->vendor));
	if (r->result != PPTP_SCCRP_OK) {
		close_conn(c, "server refused control connection result=%s(%u) error=%s(%u)",
			   pptp_result_name(PPTP_SCCRP, r->result), r->result,
			   pptp_error_name(r->error), r->error);
		return;
	}
	if (r->version != PPTP_PROTOCOL_VERSION) {
		stop_conn(c, PPTP_STOP_REASON_PROTOCOL, "server protocol version 0x%04x not supported",
			  r->version);
		return;
	}

	struct pptp_msg m = { .type = PPTP_OCRQ };
	m.u.ocrq.call_id = c->cfg.call_id;
	m.u.ocrq.call_serial = c->cfg.call_serial;
	m.u.ocrq.min_bps = c->cfg.min_bps;
	m.u.ocrq.max_bps = c->cfg.max_bps;
	m.u.ocrq.bearer_type = c->cfg.bearer_type;
	m.u.ocrq.framing_type = c->cfg.framing_type;
	m.u.ocrq.recv_window = c->cfg.recv_window;
	m.u.ocrq.processing_delay = c->cfg.processing_delay;
	memcpy(m.u.ocrq.phone, c->cfg.phone, sizeof(m.u.ocrq.phone));
	memcpy(m.u.ocrq.subaddress, c->cfg.subaddress, sizeof(m.u.ocrq.subaddress));
	if (!send_msg(c, &m))
		return;
	c->deadline_ms = c->now_ms + c->cfg.ocrp_timeout_ms;
	set_state(c, PPTP_ST_WAIT_OCRP, "control connection up, call requested");
}

static void on_ocrp(struct pptp_ctrl *c, const struct pptp_ocrp *r)
{
	if (r->peer_call_id != c->cfg.call_id) {
		if (note_ignored(c, "OCRP for another call"))
			log_warnx("pptp ignored OCRP for another call peer_call_id=%u ours=%u",
				  r->peer_call_id, c->cfg.call_id);
		return;
	}
	if (r->result != PPTP_OCRP_CONNECTED) {
		stop_conn(c, PPTP_STOP_REASON_NONE,
			  "server refused call result=%s(%u) error=%s(%u) cause=%u",
			  pptp_result_name(PPTP_OCRP, r->result), r->result,
			  pptp_error_name(r->error), r->error, r->cause);
		return;
	}
	c->call.local_call_id = c->cfg.call_id;
	c->call.peer_call_id = r->call_id;
	c->call.connect_speed = r->connect_speed;
	c->call.peer_recv_window = r->recv_window;
	c->call.peer_processing_delay = r->processing_delay;
	c->call.physical_channel = r->physical_channel;
	c->call_up = true;
	c->deadline_ms = 0;
	set_state(c, PPTP_ST_ESTABLISHED, "call connected");
	log_notice("pptp call established local_call_id=%u peer_call_id=%u speed=%u window=%u delay=%u",
		   c->call.local_call_id, c->call.peer_call_id, c->call.connect_speed,
		   c->call.peer_recv_window, c->call.peer_processing_delay);
	if (c->hooks.call_established != NULL)
		c->hooks.call_established(c->hooks.arg, &c->call);
}

/* Call IDs in CCRQ/CDN: RFC 2637 names whose ID goes where, but servers differ (accel-ppp puts
 * the PNS's ID in its CDN), so either ID of our call is accepted. */
static bool is_our_call(const struct pptp_ctrl *c, uint16_t id)
{
	return id == c->cfg.call_id || (c->state != PPTP_ST_WAIT_OCRP && id == c->call.peer_call_id);
}

static void on_server_ccrq(struct pptp_ctrl *c, const struct pptp_ccrq *r)
{
	if (!is_our_call(c, r->call_id)) {
		if (note_ignored(c, "CCRQ for another call"))
			log_warnx("pptp ignored CCRQ for another call call_id=%u", r->call_id);
		return;
	}
	struct pptp_msg m = { .type = PPTP_CDN };
	m.u.cdn.call_id = c->state == PPTP_ST_WAIT_OCRP ? c->cfg.call_id : c->call.peer_call_id;
	m.u.cdn.result = PPTP_CDN_REQUEST;
	if (!send_msg(c, &m))
		return;
	report_cleared(c, "server cleared the call (CCRQ)");
	stop_conn(c, PPTP_STOP_REASON_NONE, "call cleared by server");
}

static void on_cdn(struct pptp_ctrl *c, const struct pptp_cdn *r)
{
	char stats[PPTP_STATS_LEN + 1], why[PPTP_CTRL_REASON_LEN];

	if (!is_our_call(c, r->call_id)) {
		if (note_ignored(c, "CDN for another call"))
			log_warnx("pptp ignored CDN for another call call_id=%u", r->call_id);
		return;
	}
	log_info("pptp CDN call_id=%u result=%s error=%s cause=%u stats=\"%s\"", r->call_id,
		 pptp_result_name(PPTP_CDN, r->result), pptp_error_name(r->error), r->cause,
		 pptp_printable(stats, sizeof(stats), r->stats));
	if (c->state == PPTP_ST_WAIT_CDN) {
		report_cleared(c, "call cleared on request");
		stop_conn(c, PPTP_STOP_REASON_NONE, "call cleared on request");
		return;
	}
	snprintf(why, sizeof(why), "server disconnected the call result=%s(%u) error=%s(%u) cause=%u",
		 pptp_result_name(PPTP_CDN, r->result), r->result, pptp_error_name(r->error),
		 r->error, r->cause);
	report_cleared(c, why);
	stop_conn(c, PPTP_STOP_REASON_NONE, "%s", why);
}

static void on_echo_reply(struct pptp_ctrl *c, const struct pptp_echorp *r)
{
	if (!c->echo_pending || r->id != c->echo_id) {
		if (note_ignored(c, "Echo-Reply not asked for"))
			log_info("pptp ignored Echo-Reply id=%u (none outstanding with that id)", r->id);
		return;
	}
	c->echo_pending = false;
	if (r->result != PPTP_ECHO_OK)
		log_warnx("pptp Echo-Reply id=%u result=%s error=%s", r->id,
			  pptp_result_name(PPTP_ECHORP, r->result), pptp_error_name(r->error));
	else
		log_debug("pptp Echo-Reply id=%u rtt_ms=%llu", r->id,
			  (unsigned long long)(c->now_ms - c->echo_sent_ms));
}

static void refuse_incoming(struct pptp_ctrl *c, const struct pptp_icrq *r)
{
	struct pptp_msg m = { .type = PPTP_ICRP };

	if (!note_ignored(c, "Incoming-Call-Request"))
		return;
	log_notice("pptp refused incoming call peer_call_id=%u serial=%u", r->call_id, r->call_serial);
	m.u.icrp.call_id = 0;
	m.u.icrp.peer_call_id = r->call_id;
	m.u.icrp.result = PPTP_ICRP_DO_NOT_ACCEPT;
	m.u.icrp.error = PPTP_ERR_NONE;
	send_msg(c, &m);
}

static void handle_msg(struct pptp_ctrl *c, const struct pptp_msg *m)
{
	bool up = c->state != PPTP_ST_WAIT_SCCRP;   /* control connection established */

	c->last_rx_ms = c->now_ms;
	log_debug("pptp recv type=%s length=%u state=%s", pptp_type_name(m->type), m->length,
		  pptp_ctrl_state_name(c->state));
	switch (m->type) {
	case PPTP_ECHORQ: {
		struct pptp_msg rp = { .type = PPTP_ECHORP };
		rp.u.echorp.id = m->u.echorq.id;
		rp.u.echorp.result = PPTP_ECHO_OK;
		send_msg(c, &rp);
		break;
	}
	case PPTP_ECHORP:
		on_echo_reply(c, &m->u.echorp);
		break;
	case PPTP_STOPCCRQ: {
		struct pptp_msg rp = { .type = PPTP_STOPCCRP };
		rp.u.stopccrp.result = PPTP_STOPCCRP_OK;
		if (send_msg(c, &rp))
			close_conn(c, "server stopped the control connection stop_reason=%s(%u)",
				   pptp_result_name(PPTP_STOPCCRQ, m->u.stopccrq.reason),
				   m->u.stopccrq.reason);
		break;
	}
	case PPTP_STOPCCRP:
		if (c->state != PPTP_ST_WAIT_STOP_REPLY) {
			unexpected(c, m);
			break;
		}
		if (m->u.stopccrp.result != PPTP_STOPCCRP_OK)
			log_warnx("pptp StopCCRP result=%s error=%s",
				  pptp_result_name(PPTP_STOPCCRP, m->u.stopccrp.result),
				  pptp_error_name(m->u.stopccrp.error));
		close_conn(c, "%s", c->pending_reason);
		break;
	case PPTP_SCCRP:
		if (c->state == PPTP_ST_WAIT_SCCRP)
			on_sccrp(c, &m->u.sccrp);
		else
			unexpected(c, m);
		break;
	case PPTP_OCRP:
		if (c->state == PPTP_ST_WAIT_OCRP)
			on_ocrp(c, &m->u.ocrp);
		else
			unexpected(c, m);
		break;
	case PPTP_ICRQ:
		refuse_incoming(c, &m->u.icrq);
		break;
	case PPTP_CCRQ:
		if (c->state == PPTP_ST_WAIT_OCRP || c->state == PPTP_ST_ESTABLISHED ||
		    c->state == PPTP_ST_WAIT_CDN)
			on_server_ccrq(c, &m->u.ccrq);
		else
			unexpected(c, m);
		break;
	case PPTP_CDN:
		if (up)
			on_cdn(c, &m->u.cdn);
		else
			unexpected(c, m);
		break;
	case PPTP_SLI:
		if (!up) {
			unexpected(c, m);
			break;
		}
		c->send_accm = m->u.sli.send_accm;
		c->recv_accm = m->u.sli.recv_accm;
		log_info("pptp Set-Link-Info peer_call_id=%u send_accm=0x%08x recv_accm=0x%08x",
			 m->u.sli.peer_call_id, m->u.sli.send_accm, m->u.sli.recv_accm);
		break;
	case PPTP_WEN:
		log_warnx("pptp WAN-Error-Notify peer_call_id=%u crc=%u framing=%u hw_overruns=%u "
			  "buf_overruns=%u timeouts=%u alignment=%u", m->u.wen.peer_call_id,
			  m->u.wen.crc_errors, m->u.wen.framing_errors, m->u.wen.hardware_overruns,
			  m->u.wen.buffer_overruns, m->u.wen.timeout_errors, m->u.wen.alignment_errors);
		break;
	case PPTP_SCCRQ:
	case PPTP_OCRQ:
	case PPTP_ICRP:
	case PPTP_ICCN:
		unexpected(c, m);
		break;
	default:
		if (note_ignored(c, "unknown message type"))
			log_notice("pptp ignored unknown control message type=%u length=%u", m->type, m->length);
		break;
	}
}

/* ---- events ----------------------------------------------------------------------------- */

void pptp_ctrl_connected(struct pptp_ctrl *c, uint64_t now_ms)
{
	struct pptp_msg m = { .type = PPTP_SCCRQ };

	if (c->state != PPTP_ST_IDLE)
		return;
	c->now_ms = c->last_rx_ms = now_ms;
	m.u.sccrq.version = PPTP_PROTOCOL_VERSION;
	m.u.sccrq.framing_caps = c->cfg.framing_caps;
	m.u.sccrq.bearer_caps = c->cfg.bearer_caps;
	m.u.sccrq.max_channels = c->cfg.max_channels;
	m.u.sccrq.firmware_rev = c->cfg.firmware_rev;
	memcpy(m.u.sccrq.hostname, c->cfg.hostname, sizeof(m.u.sccrq.hostname));
	memcpy(m.u.sccrq.vendor, c->cfg.vendor, sizeof(m.u.sccrq.vendor));
	if (!send_msg(c, &m))
		return;
	c->deadline_ms = now_ms + c->cfg.sccrp_timeout_ms;
	set_state(c, PPTP_ST_WAIT_SCCRP, "tcp connected");
}

void pptp_ctrl_input(struct pptp_ctrl *c, const void *buf, size_t len, uint64_t now_ms)
{
	const uint8_t *p = buf;
	struct pptp_msg m;
	char why[PPTP_REASON_LEN];
	size_t used;

	if (c->state == PPTP_ST_IDLE || c->state == PPTP_ST_CLOSED)
		return;
	c->now_ms = now_ms;
	while (len > 0 && c->state != PPTP_ST_CLOSED) {
		enum pptp_decode_status st;
		size_t take = 0;

		if (c->in_len > 0) {
			/* Top up the carried-over part; the buffer holds the largest message, so
			 * a full buffer always decodes as COMPLETE or MALFORMED. */
			size_t old = c->in_len;
			take = len < sizeof(c->in) - old ? len : sizeof(c->in) - old;
			memcpy(c->in + old, p, take);
			c->in_len += take;
			st = pptp_decode(c->in, c->in_len, &m, &used, why);
			if (st == PPTP_DECODE_COMPLETE) {
				take = used - old;
				c->in_len = 0;
			}
		} else {
			st = pptp_decode(p, len, &m, &used, why);
			if (st == PPTP_DECODE_COMPLETE) {
				take = used;
			} else if (st == PPTP_DECODE_INCOMPLETE) {
				memcpy(c->in, p, len);   /* len < PPTP_MAX_MSG_LEN here */
				c->in_len = len;
				take = len;
			}
		}
		if (st == PPTP_DECODE_MALFORMED) {
			close_conn(c, "malformed control message: %s", why);
			return;
		}
		p += take;
		len -= take;
		if (st == PPTP_DECODE_COMPLETE)
			handle_msg(c, &m);
	}
}

void pptp_ctrl_tick(struct pptp_ctrl *c, uint64_t now_ms)
{
	if (c->state == PPTP_ST_IDLE || c->state == PPTP_ST_CLOSED)
		return;
	c->now_ms = now_ms;
	if (c->deadline_ms != 0 && now_ms >= c->deadline_ms) {
		c->deadline_ms = 0;
		switch (c->state) {
		case PPTP_ST_WAIT_SCCRP:
			close_conn(c, "no SCCRP in %u s", secs(c->cfg.sccrp_timeout_ms));
			return;
		case PPTP_ST_WAIT_OCRP:
			stop_conn(c, PPTP_STOP_REASON_NONE, "no OCRP in %u s", secs(c->cfg.ocrp_timeout_ms));
			return;
		case PPTP_ST_WAIT_CDN:
			report_cleared(c, "call clear requested, no CDN");
			stop_conn(c, PPTP_STOP_REASON_NONE, "no CDN in %u s after CCRQ",
				  secs(c->cfg.stop_timeout_ms));
			return;
		case PPTP_ST_WAIT_STOP_REPLY:
			close_conn(c, "%s (no StopCCRP in %u s)", c->pending_reason,
				   secs(c->cfg.stop_timeout_ms));
			return;
		default:
			break;
		}
	}
	if (c->cfg.echo_interval_ms == 0 || (c->state != PPTP_ST_WAIT_OCRP &&
	    c->state != PPTP_ST_ESTABLISHED && c->state != PPTP_ST_WAIT_CDN))
		return;
	if (c->echo_pending) {
		if (now_ms - c->echo_sent_ms >= c->cfg.echo_timeout_ms)
			close_conn(c, "peer dead: no echo reply in %u s", secs(c->cfg.echo_timeout_ms));
	} else if (now_ms - c->last_rx_ms >= c->cfg.echo_interval_ms) {
		struct pptp_msg m = { .type = PPTP_ECHORQ };
		m.u.echorq.id = ++c->echo_id;
		if (send_msg(c, &m)) {
			c->echo_pending = true;
			c->echo_sent_ms = now_ms;
		}
	}
}

void pptp_ctrl_shutdown(struct pptp_ctrl *c, uint64_t now_ms)
{
	c->now_ms = now_ms;
	switch (c->state) {
	case PPTP_ST_IDLE:
	case PPTP_ST_WAIT_SCCRP:
		/* No control connection to stop yet. */
		close_conn(c, "shutdown requested");
		break;
	case PPTP_ST_WAIT_OCRP:
	case PPTP_ST_ESTABLISHED:
		if (!send_ccrq(c))
			break;
		/* fall through */
	case PPTP_ST_WAIT_CDN:
		stop_conn(c, PPTP_STOP_REASON_LOCAL_SHUTDOWN, "shutdown requested");
		break;
	case PPTP_ST_WAIT_STOP_REPLY:
	case PPTP_ST_CLOSED:
		break;
	}
}

void pptp_ctrl_clear_call(struct pptp_ctrl *c, uint64_t now_ms)
{
	if (c->state != PPTP_ST_WAIT_OCRP && c->state != PPTP_ST_ESTABLISHED) {
		log_info("pptp ignored call clear request state=%s", pptp_ctrl_state_name(c->state));
		return;
	}
	c->now_ms = now_ms;
	if (!send_ccrq(c))
		return;
	c->deadline_ms = now_ms + c->cfg.stop_timeout_ms;
	set_state(c, PPTP_ST_WAIT_CDN, "call clear requested");
}

void pptp_ctrl_lost(struct pptp_ctrl *c, const char *reason)
{
	c->out_len = 0;
	close_conn(c, "connection lost: %s", reason);
}

/* ---- output and getters ----------------------------------------------------------------- */

const uint8_t *pptp_ctrl_output(const struct pptp_ctrl *c, size_t *len)
{
	*len = c->out_len;
	return c->out;
}

void pptp_ctrl_consume(struct pptp_ctrl *c, size_t n)
{
	if (n >= c->out_len) {
		c->out_len = 0;
		return;
	}
	memmove(c->out, c->out + n, c->out_len - n);
	c->out_len -= n;
}

uint64_t pptp_ctrl_next_deadline(const struct pptp_ctrl *c)
{
	uint64_t next = c->deadline_ms;

	if (c->state == PPTP_ST_IDLE || c->state == PPTP_ST_CLOSED)
		return 0;
	if (c->cfg.echo_interval_ms != 0 && (c->state == PPTP_ST_WAIT_OCRP ||
	    c->state == PPTP_ST_ESTABLISHED || c->state == PPTP_ST_WAIT_CDN)) {
		uint64_t echo = c->echo_pending ? c->echo_sent_ms + c->cfg.echo_timeout_ms
						: c->last_rx_ms + c->cfg.echo_interval_ms;
		if (next == 0 || echo < next)
			next = echo;
	}
	return next;
}

enum pptp_ctrl_state pptp_ctrl_state(const struct pptp_ctrl *c) { return c->state; }
const struct pptp_call_info *pptp_ctrl_call(const struct pptp_ctrl *c) { return &c->call; }
const struct pptp_sccrq *pptp_ctrl_peer(const struct pptp_ctrl *c) { return &c->peer; }

void pptp_ctrl_accm(const struct pptp_ctrl *c, uint32_t *send_accm, uint32_t *recv_accm)
{
	*send_accm = c->send_accm;
	*recv_accm = c->recv_accm;
}

/*
 * fuzz_l2tp_ctrl.c — libFuzzer target for tunneld/l2tp/l2tp_ctrl and l2tp_rel: the LAC's
 * tunnel and session state machines and reliable delivery, driven by a fuzzed LNS.
 *
 * Input: byte 0 picks the start (bit 0: with a tunnel secret; bit 1: after a scripted good
 * handshake, call up; bit 2: configured as mailtund does, ICCN waiting for the data path
 * (attach_wait_ms) and a time limit on unacknowledged messages (give_up_ms)); the rest is a
 * script of operations:
 *   0x00..0xbf  one raw datagram of that many octets (fewer if the input ends)
 *   0xc0..0xcf  one datagram in a right envelope: our tunnel id, the next octet is the AVP
 *               length to take; bit 0 our session id, bit 1 a stale Ns (else the expected
 *               one), bit 2 acks nothing (else everything we sent)
 *   0xd0..0xef  a well-formed message of type (op & 0x1f) + 1 with the AVPs that type
 *               requires, values from the next 8 octets; the last one's low bits pick the
 *               envelope as above
 *   0xf0..0xf7  timer tick, advancing the clock by 0.1 s .. 120 s
 *   0xf8 shutdown   0xf9 drain all output   0xfa drain one datagram (bit 2: our data path
 *   attached)   0xfb socket lost
 *   0xfc..0xff  the rest of the input as one raw datagram
 * Invariants (trap on violation): every datagram we send decodes as a control message with
 * our peer's tunnel id (or 0 before we knew it); output and queues stay bounded; "established" at most once, "cleared"
 * at most once and only after it, "closed" at most once and last, with a reason; after closed
 * no timer; shutdown plus time always ends in CLOSED.
 * Seeds: tests/fuzz/corpus/l2tp_ctrl/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "l2tp_ctrl.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

struct seen { int established, cleared, closed; };

static void on_established(void *arg, const struct l2tp_call_info *call)
{
	struct seen *s = arg;
	CHECK(s->closed == 0 && s->established == 0);
	CHECK(call->local_tunnel_id == 0x0a0a && call->peer_tunnel_id != 0 && call->peer_session_id != 0);
	s->established++;
}

static void on_cleared(void *arg, const char *reason)
{
	struct seen *s = arg;
	CHECK(s->closed == 0 && s->cleared == 0 && s->established == 1);
	CHECK(reason != NULL && strlen(reason) < L2TP_CTRL_REASON_LEN);
	s->cleared++;
}

static void on_closed(void *arg, const char *reason)
{
	struct seen *s = arg;
	CHECK(s->closed == 0 && s->cleared == s->established);
	CHECK(reason != NULL && reason[0] != '\0' && strlen(reason) < L2TP_CTRL_REASON_LEN);
	s->closed++;
}

static struct l2tp_ctrl c;
static struct l2tp_msg out, in;
static uint8_t buf[L2TP_MAX_CTRL_LEN];

static int drain_one(void)
{
	size_t len;
	char why[L2TP_REASON_LEN];
	struct l2tp_secret none = { NULL, 0 };
	const uint8_t *p = l2tp_ctrl_output(&c, &len);
	if (p == NULL)
		return 0;
	CHECK(len >= L2TP_CTRL_HDR_LEN && len <= L2TP_REL_MSG_MAX);
	CHECK(l2tp_decode(p, len, &none, &out, why) == L2TP_DEC_OK);
	/* 0: queued before the SCCRP told us the LNS's id (SCCRQ, early ZLBs) */
	CHECK(out.hdr.tunnel_id == c.call.peer_tunnel_id || out.hdr.tunnel_id == 0);
	CHECK(l2tp_check_required(&out, why) == 0);
	l2tp_ctrl_pop(&c);
	return 1;
}

static void drain_all(void)
{
	while (drain_one())
		;
}

/* Sends in (already filled) as the LNS would, in sequence or stale, acking all or nothing. */
static void feed_msg(uint8_t op, uint64_t now)
{
	size_t n;
	in.hdr.tunnel_id = c.cfg.tunnel_id;
	in.hdr.session_id = (op & 1) ? c.cfg.session_id : 0;
	in.hdr.ns = (op & 2) ? (uint16_t)(c.rel.nr_next - 1) : c.rel.nr_next;
	in.hdr.nr = (op & 4) ? c.rel.una : c.rel.ns_next;
	n = l2tp_encode(&in, NULL, buf, sizeof(buf));
	if (n)
		l2tp_ctrl_input(&c, buf, n, now);
}

static void handshake(uint64_t now, int with_secret, int attach_wait)
{
	struct l2tp_secret s = { c.cfg.secret, c.cfg.secret_len };
	memset(&in, 0, offsetof(struct l2tp_msg, arena));
	in.type = L2TP_SCCRP;
	in.present = l2tp_required_avps(L2TP_SCCRP);
	in.proto_version = 0x0100;
	in.host_name = l2tp_str("lns");
	in.tunnel_id = 0x2222;
	if (with_secret) {
		in.present |= L2TP_AVP_BIT(L2TP_AVP_CHAL_RESPONSE) | L2TP_AVP_BIT(L2TP_AVP_CHALLENGE);
		l2tp_chal_response(L2TP_SCCRP, &s, c.cfg.challenge, L2TP_CHALLENGE_LEN, in.chal_response);
		in.challenge = l2tp_str("chal");
	}
	feed_msg(0, now);
	memset(&in, 0, offsetof(struct l2tp_msg, arena));
	in.type = L2TP_ICRP;
	in.present = l2tp_required_avps(L2TP_ICRP);
	in.session_id = 0x3333;
	feed_msg(1, now);
	if (attach_wait) {
		CHECK(l2tp_ctrl_session_state(&c) == L2TP_SES_WAIT_ATTACH);
		l2tp_ctrl_attached(&c, now);
	}
	CHECK(l2tp_ctrl_session_state(&c) == L2TP_SES_ESTABLISHED);
	drain_all();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t advance_ms[8] = { 100, 1000, 5000, 10000, 30000, 60000, 61000, 120000 };
	static int once;
	struct l2tp_ctrl_config cfg;
	struct seen s = { 0, 0, 0 };
	struct l2tp_ctrl_hooks h = { on_established, on_cleared, on_closed, &s };
	uint64_t now = 1000;
	uint8_t mode;

	if (!once) {
		log_init("fuzz_l2tp_ctrl", LOG_TO_STDERR, LOG_LVL_ERR);
		once = 1;
	}
	if (size == 0)
		return 0;
	mode = *data++;
	size--;
	l2tp_ctrl_config_defaults(&cfg);
	cfg.tunnel_id = 0x0a0a;
	cfg.session_id = 0x0b0b;
	if (mode & 1) {
		memcpy(cfg.secret, "s3cr3t", 6);
		cfg.secret_len = 6;
		memset(cfg.challenge, 0x42, sizeof(cfg.challenge));
	}
	if (mode & 4) {                 /* l2tp_transport.c's settings */
		cfg.attach_wait_ms = 3000;
		cfg.hello_interval_ms = 10000;
		cfg.rel.give_up_ms = 10000;
	}
	l2tp_ctrl_init(&c, &cfg, &h);
	l2tp_ctrl_start(&c, now);
	drain_all();
	if (mode & 2)
		handshake(now, mode & 1, mode & 4);

	while (size > 0) {
		uint8_t op = *data++;
		size--;
		if (op < 0xc0 || op >= 0xfc) {
			size_t n = op < 0xc0 ? (op < size ? op : size) : size;
			l2tp_ctrl_input(&c, data, n, now);
			data += n;
			size -= n;
		} else if (op < 0xd0) {
			size_t n = size > 0 ? data[0] : 0;
			if (size > 0) {
				data++;
				size--;
			}
			if (n > size)
				n = size;
			if (n + L2TP_CTRL_HDR_LEN <= sizeof(buf)) {
				buf[0] = 0xc8; buf[1] = 0x02;
				buf[2] = (uint8_t)((n + 12) >> 8); buf[3] = (uint8_t)(n + 12);
				buf[4] = 0x0a; buf[5] = 0x0a;
				buf[6] = (op & 1) ? 0x0b : 0; buf[7] = (op & 1) ? 0x0b : 0;
				buf[8] = (uint8_t)(((op & 2) ? c.rel.nr_next - 1 : c.rel.nr_next) >> 8);
				buf[9] = (uint8_t)((op & 2) ? c.rel.nr_next - 1 : c.rel.nr_next);
				buf[10] = (uint8_t)(((op & 4) ? c.rel.una : c.rel.ns_next) >> 8);
				buf[11] = (uint8_t)((op & 4) ? c.rel.una : c.rel.ns_next);
				memcpy(buf + 12, data, n);
				l2tp_ctrl_input(&c, buf, n + 12, now);
			}
			data += n;
			size -= n;
		} else if (op < 0xf0) {
			uint8_t v[8] = { 0 };
			size_t n = size < sizeof(v) ? size : sizeof(v);
			memcpy(v, data, n);
			data += n;
			size -= n;
			memset(&in, 0, offsetof(struct l2tp_msg, arena));
			in.type = (uint16_t)((op & 0x1f) + 1);
			in.present = l2tp_required_avps(in.type);
			in.proto_version = (uint16_t)(v[0] & 1 ? 0x0100 : v[0] << 8 | v[1]);
			in.host_name = l2tp_str("lns");
			in.tunnel_id = (uint16_t)(v[1] << 8 | v[2]);
			in.session_id = (uint16_t)(v[3] << 8 | v[4]);
			in.result = v[5];
			in.error = v[6];
			in.has_error = v[6] & 1;
			in.call_serial = v[7];
			in.called_number = l2tp_str("1");
			feed_msg(v[7] & 7, now);
		} else if (op < 0xf8) {
			now += advance_ms[op & 7];
			l2tp_ctrl_tick(&c, now);
		} else if (op == 0xf8) {
			l2tp_ctrl_shutdown(&c, "fuzz shutdown", now);
		} else if (op == 0xf9) {
			drain_all();
		} else if (op == 0xfa && (mode & 4)) {
			l2tp_ctrl_attached(&c, now);
		} else if (op == 0xfa) {
			drain_one();
		} else {
			l2tp_ctrl_lost(&c, "fuzz lost");
		}
		CHECK(c.rel.out_count <= L2TP_REL_OUT && c.rel.queued <= L2TP_REL_QUEUE);
		if (l2tp_ctrl_tunnel_state(&c) == L2TP_TUN_CLOSED)
			CHECK(s.closed == 1 && l2tp_ctrl_next_deadline(&c) == 0);
	}
	drain_all();
	/* Whatever happened, shutting down and time passing always ends in CLOSED. */
	l2tp_ctrl_shutdown(&c, "fuzz end", now);
	for (int i = 0; i < 12 && l2tp_ctrl_tunnel_state(&c) != L2TP_TUN_CLOSED; i++) {
		now += 3600000;
		l2tp_ctrl_tick(&c, now);
		drain_all();
	}
	CHECK(l2tp_ctrl_tunnel_state(&c) == L2TP_TUN_CLOSED && s.closed == 1);
	CHECK(s.cleared == s.established);
	drain_all();
	return 0;
}

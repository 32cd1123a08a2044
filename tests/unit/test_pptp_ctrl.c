/*
 * test_pptp_ctrl.c — unit tests for tunneld/pptp/pptp_ctrl: the client control connection state
 * machine driven by a scripted fake server. Covers the handshake, every refusal, every timeout
 * (SCCRP, OCRP, CDN, StopCCRP, echo), keep-alive both ways, Set-Link-Info, WAN-Error-Notify,
 * refused incoming calls, clears and stops from either side, partial reads, several messages
 * in one read, malformed input, output back-pressure and the state-change log lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "pptp_ctrl.h"

/* ---- what the hooks saw ---- */

struct seen {
	int established, cleared, closed;
	int order;                   /* 1 + index of the event, to check cleared before closed */
	int cleared_at, closed_at;
	struct pptp_call_info call;
	char cleared_reason[PPTP_CTRL_REASON_LEN];
	char closed_reason[PPTP_CTRL_REASON_LEN];
};

static void on_established(void *arg, const struct pptp_call_info *call)
{
	struct seen *s = arg;
	s->established++;
	s->call = *call;
	s->order++;
}

static void on_cleared(void *arg, const char *reason)
{
	struct seen *s = arg;
	s->cleared++;
	s->cleared_at = ++s->order;
	snprintf(s->cleared_reason, sizeof(s->cleared_reason), "%s", reason);
}

static void on_closed(void *arg, const char *reason)
{
	struct seen *s = arg;
	s->closed++;
	s->closed_at = ++s->order;
	snprintf(s->closed_reason, sizeof(s->closed_reason), "%s", reason);
}

struct fx {
	struct pptp_ctrl c;
	struct pptp_ctrl_config cfg;
	struct seen s;
	uint64_t now;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pptp_ctrl_hooks h = { on_established, on_cleared, on_closed, NULL };

	pptp_ctrl_config_defaults(&f->cfg);
	f->cfg.call_id = 0x0101;
	f->cfg.call_serial = 7;
	snprintf(f->cfg.hostname, sizeof(f->cfg.hostname), "gw.example");
	snprintf(f->cfg.phone, sizeof(f->cfg.phone), "555");
	h.arg = &f->s;
	pptp_ctrl_init(&f->c, &f->cfg, &h);
	f->now = 1000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* ---- fake server helpers ---- */

/* Takes everything the client queued and decodes it into msgs; returns how many. */
static int drain(struct fx *f, struct pptp_msg *msgs, int max)
{
	size_t len, off = 0;
	const uint8_t *out = pptp_ctrl_output(&f->c, &len);
	int n = 0;

	while (off < len) {
		size_t used;
		char why[PPTP_REASON_LEN];
		struct pptp_msg tmp;
		if (pptp_decode(out + off, len - off, n < max ? &msgs[n] : &tmp, &used, why) !=
		    PPTP_DECODE_COMPLETE)
			fail_msg("client sent undecodable bytes: %s", why);
		off += used;
		n++;
	}
	pptp_ctrl_consume(&f->c, len);
	return n;
}

static void expect_one(struct fx *f, uint16_t type, struct pptp_msg *out)
{
	struct pptp_msg m[4];
	int n = drain(f, m, 4);
	if (n != 1 || m[0].type != type)
		fail_msg("expected one %s, got %d message(s), first %s", pptp_type_name(type), n,
			 n > 0 ? pptp_type_name(m[0].type) : "-");
	if (out != NULL)
		*out = m[0];
}

static void expect_none(struct fx *f)
{
	size_t len;
	pptp_ctrl_output(&f->c, &len);
	assert_int_equal(len, 0);
}

static size_t enc(const struct pptp_msg *m, uint8_t *b)
{
	size_t n = pptp_encode(m, b, PPTP_MAX_MSG_LEN);
	assert_true(n > 0);
	return n;
}

static void feed(struct fx *f, const struct pptp_msg *m)
{
	uint8_t b[PPTP_MAX_MSG_LEN];
	pptp_ctrl_input(&f->c, b, enc(m, b), f->now);
}

static struct pptp_msg sccrp(uint8_t result, uint16_t version)
{
	struct pptp_msg m = { .type = PPTP_SCCRP };
	m.u.sccrp.version = version;
	m.u.sccrp.result = result;
	m.u.sccrp.framing_caps = 3;
	m.u.sccrp.bearer_caps = 3;
	m.u.sccrp.firmware_rev = 0x0001;
	snprintf(m.u.sccrp.hostname, sizeof(m.u.sccrp.hostname), "pptp.provider");
	snprintf(m.u.sccrp.vendor, sizeof(m.u.sccrp.vendor), "accel-ppp\n");  /* forged newline */
	return m;
}

static struct pptp_msg ocrp(uint16_t peer_call_id, uint8_t result)
{
	struct pptp_msg m = { .type = PPTP_OCRP };
	m.u.ocrp.call_id = 0x0a0a;
	m.u.ocrp.peer_call_id = peer_call_id;
	m.u.ocrp.result = result;
	m.u.ocrp.connect_speed = 100000000;
	m.u.ocrp.recv_window = 32;
	m.u.ocrp.processing_delay = 1;
	m.u.ocrp.physical_channel = 9;
	return m;
}

static struct pptp_msg simple(uint16_t type)
{
	struct pptp_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	return m;
}

static void to_wait_ocrp(struct fx *f)
{
	struct pptp_msg m = sccrp(PPTP_SCCRP_OK, 0x0100);
	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	feed(f, &m);
	expect_one(f, PPTP_OCRQ, NULL);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_OCRP);
}

static void to_established(struct fx *f)
{
	struct pptp_msg m = ocrp(f->cfg.call_id, PPTP_OCRP_CONNECTED);
	to_wait_ocrp(f);
	feed(f, &m);
	expect_none(f);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	assert_int_equal(f->s.established, 1);
}

/* After a StopCCRQ the server answers; the connection ends with pending reason. */
static void finish_stop(struct fx *f)
{
	struct pptp_msg m = simple(PPTP_STOPCCRP);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_STOP_REPLY);
	m.u.stopccrp.result = PPTP_STOPCCRP_OK;
	feed(f, &m);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_int_equal(f->s.closed, 1);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", hay, needle);
}

/* ---- handshake ---- */

static void test_sccrq_contents(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m;

	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_IDLE);
	assert_int_equal(pptp_ctrl_next_deadline(&f->c), 0);
	pptp_ctrl_connected(&f->c, f->now);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_SCCRP);
	expect_one(f, PPTP_SCCRQ, &m);
	assert_int_equal(m.u.sccrq.version, 0x0100);
	assert_int_equal(m.u.sccrq.framing_caps, PPTP_FRAMING_SYNC | PPTP_FRAMING_ASYNC);
	assert_int_equal(m.u.sccrq.bearer_caps, PPTP_BEARER_ANALOG | PPTP_BEARER_DIGITAL);
	assert_int_equal(m.u.sccrq.max_channels, 0);
	assert_int_equal(m.u.sccrq.firmware_rev, f->cfg.firmware_rev);
	assert_string_equal(m.u.sccrq.hostname, "gw.example");
	assert_string_equal(m.u.sccrq.vendor, "mailtun");
	assert_int_equal(pptp_ctrl_next_deadline(&f->c), f->now + 10000);
	/* A second "connected" changes nothing. */
	pptp_ctrl_connected(&f->c, f->now);
	expect_none(f);
}

static void test_handshake_established(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = sccrp(PPTP_SCCRP_OK, 0x0100), o;

	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	f->now += 50;
	feed(f, &m);
	expect_one(f, PPTP_OCRQ, &o);
	assert_int_equal(o.u.ocrq.call_id, 0x0101);
	assert_int_equal(o.u.ocrq.call_serial, 7);
	assert_int_equal(o.u.ocrq.min_bps, 300);
	assert_int_equal(o.u.ocrq.max_bps, 100000000);
	assert_int_equal(o.u.ocrq.bearer_type, PPTP_BEARER_EITHER);
	assert_int_equal(o.u.ocrq.framing_type, PPTP_FRAMING_EITHER);
	assert_int_equal(o.u.ocrq.recv_window, 64);
	assert_int_equal(o.u.ocrq.processing_delay, 0);
	assert_string_equal(o.u.ocrq.phone, "555");
	assert_int_equal(o.u.ocrq.phone_len, 3);
	assert_string_equal(pptp_ctrl_peer(&f->c)->hostname, "pptp.provider");
	assert_int_equal(pptp_ctrl_next_deadline(&f->c), f->now + 30000);

	m = ocrp(0x0101, PPTP_OCRP_CONNECTED);
	feed(f, &m);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	assert_int_equal(f->s.established, 1);
	assert_int_equal(f->s.call.local_call_id, 0x0101);
	assert_int_equal(f->s.call.peer_call_id, 0x0a0a);
	assert_int_equal(f->s.call.connect_speed, 100000000);
	assert_int_equal(f->s.call.peer_recv_window, 32);
	assert_int_equal(f->s.call.peer_processing_delay, 1);
	assert_int_equal(f->s.call.physical_channel, 9);
	assert_int_equal(pptp_ctrl_call(&f->c)->peer_call_id, 0x0a0a);
	/* Only the echo timer remains. */
	assert_int_equal(pptp_ctrl_next_deadline(&f->c), f->now + 60000);
	assert_int_equal(f->s.closed + f->s.cleared, 0);
}

static void test_sccrp_refused(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = sccrp(PPTP_SCCRP_NOT_AUTHORIZED, 0x0100);

	m.u.sccrp.error = PPTP_ERR_BAD_VALUE;
	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	feed(f, &m);
	expect_none(f);    /* no control connection exists: nothing to stop */
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_int_equal(f->s.closed, 1);
	assert_int_equal(f->s.cleared, 0);
	assert_contains(f->s.closed_reason, "result=Not-Authorized(4)");
	assert_contains(f->s.closed_reason, "error=Bad-Value(3)");
}

static void test_sccrp_general_error(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = sccrp(PPTP_SCCRP_GENERAL_ERROR, 0x0100);
	m.u.sccrp.error = PPTP_ERR_NO_RESOURCE;
	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	feed(f, &m);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_contains(f->s.closed_reason, "General-Error(2) error=No-Resource(4)");
}

static void test_sccrp_bad_version(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = sccrp(PPTP_SCCRP_OK, 0x0200), s;

	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	feed(f, &m);
	expect_one(f, PPTP_STOPCCRQ, &s);
	assert_int_equal(s.u.stopccrq.reason, PPTP_STOP_REASON_PROTOCOL);
	finish_stop(f);
	assert_contains(f->s.closed_reason, "version 0x0200 not supported");
}

static void test_sccrp_timeout(void **state)
{
	struct fx *f = *state;

	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	pptp_ctrl_tick(&f->c, f->now + 9999);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_SCCRP);
	pptp_ctrl_tick(&f->c, f->now + 10000);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_string_equal(f->s.closed_reason, "no SCCRP in 10 s");
	expect_none(f);
	assert_int_equal(pptp_ctrl_next_deadline(&f->c), 0);
}

static void test_ocrp_refused(void **state)
{
	static const struct { uint8_t result; const char *name; } cases[] = {
		{ PPTP_OCRP_GENERAL_ERROR, "General-Error" }, { PPTP_OCRP_NO_CARRIER, "No-Carrier" },
		{ PPTP_OCRP_BUSY, "Busy" }, { PPTP_OCRP_NO_DIAL_TONE, "No-Dial-Tone" },
		{ PPTP_OCRP_TIMEOUT, "Time-out" }, { PPTP_OCRP_DO_NOT_ACCEPT, "Do-Not-Accept" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *f;
		struct pptp_msg m, s;
		setup((void **)&f);
		to_wait_ocrp(f);
		m = ocrp(f->cfg.call_id, cases[i].result);
		m.u.ocrp.error = PPTP_ERR_PAC_ERROR;
		m.u.ocrp.cause = 17;
		feed(f, &m);
		expect_one(f, PPTP_STOPCCRQ, &s);
		assert_int_equal(s.u.stopccrq.reason, PPTP_STOP_REASON_NONE);
		assert_int_equal(f->s.established, 0);
		finish_stop(f);
		assert_int_equal(f->s.cleared, 0);
		assert_contains(f->s.closed_reason, "server refused call result=");
		assert_contains(f->s.closed_reason, cases[i].name);
		assert_contains(f->s.closed_reason, "error=PAC-Error(6) cause=17");
		teardown((void **)&f);
	}
	(void)state;
}

static void test_ocrp_other_call_ignored(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = ocrp(0x0202, PPTP_OCRP_CONNECTED);

	to_wait_ocrp(f);
	feed(f, &m);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_OCRP);
	assert_int_equal(f->s.established, 0);
	m = ocrp(0x0101, PPTP_OCRP_CONNECTED);
	feed(f, &m);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
}

static void test_ocrp_timeout(void **state)
{
	struct fx *f = *state;

	to_wait_ocrp(f);
	pptp_ctrl_tick(&f->c, f->now + 29999);
	expect_none(f);
	f->now += 30000;
	pptp_ctrl_tick(&f->c, f->now);
	expect_one(f, PPTP_STOPCCRQ, NULL);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_STOP_REPLY);
	assert_int_equal(pptp_ctrl_next_deadline(&f->c), f->now + 5000);
	/* The server never answers the StopCCRQ either. */
	pptp_ctrl_tick(&f->c, f->now + 5000);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_string_equal(f->s.closed_reason, "no OCRP in 30 s (no StopCCRP in 5 s)");
}

/* ---- keep-alive ---- */

static void test_echo_reply_to_server(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_ECHORQ), r;

	to_established(f);
	m.u.echorq.id = 0xcafe0001;
	feed(f, &m);
	expect_one(f, PPTP_ECHORP, &r);
	assert_int_equal(r.u.echorp.id, 0xcafe0001);
	assert_int_equal(r.u.echorp.result, PPTP_ECHO_OK);
	assert_int_equal(r.u.echorp.error, 0);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
}

static void test_echo_keepalive(void **state)
{
	struct fx *f = *state;
	struct pptp_msg rq, rp = simple(PPTP_ECHORP);
	uint32_t first;

	to_established(f);
	pptp_ctrl_tick(&f->c, f->now + 59999);
	expect_none(f);
	f->now += 60000;
	pptp_ctrl_tick(&f->c, f->now);
	expect_one(f, PPTP_ECHORQ, &rq);
	first = rq.u.echorq.id;
	assert_int_equal(pptp_ctrl_next_deadline(&f->c), f->now + 60000);
	/* Ticks while waiting do not send another request. */
	pptp_ctrl_tick(&f->c, f->now + 1000);
	expect_none(f);
	f->now += 2000;
	rp.u.echorp.id = first;
	rp.u.echorp.result = PPTP_ECHO_OK;
	feed(f, &rp);
	expect_none(f);
	/* Answered: the next one comes a full interval after the reply. */
	pptp_ctrl_tick(&f->c, f->now + 59999);
	expect_none(f);
	pptp_ctrl_tick(&f->c, f->now + 60000);
	expect_one(f, PPTP_ECHORQ, &rq);
	assert_int_not_equal(rq.u.echorq.id, first);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	assert_int_equal(f->s.closed, 0);
}

static void test_echo_traffic_defers(void **state)
{
	struct fx *f = *state;
	struct pptp_msg sli = simple(PPTP_SLI);

	to_established(f);
	f->now += 50000;
	feed(f, &sli);   /* any message proves the server is there */
	pptp_ctrl_tick(&f->c, f->now + 59999);
	expect_none(f);
	pptp_ctrl_tick(&f->c, f->now + 60000);
	expect_one(f, PPTP_ECHORQ, NULL);
}

static void test_echo_timeout_peer_dead(void **state)
{
	struct fx *f = *state;
	struct pptp_msg rq, rp = simple(PPTP_ECHORP);

	f->cfg.echo_timeout_ms = 20000;
	f->c.cfg.echo_timeout_ms = 20000;
	to_established(f);
	f->now += 60000;
	pptp_ctrl_tick(&f->c, f->now);
	expect_one(f, PPTP_ECHORQ, &rq);
	rp.u.echorp.id = rq.u.echorq.id + 1;   /* a reply to something else does not count */
	feed(f, &rp);
	pptp_ctrl_tick(&f->c, f->now + 19999);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	pptp_ctrl_tick(&f->c, f->now + 20000);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_string_equal(f->s.closed_reason, "peer dead: no echo reply in 20 s");
	assert_int_equal(f->s.cleared, 1);
	assert_true(f->s.cleared_at < f->s.closed_at);
	assert_string_equal(f->s.cleared_reason, "peer dead: no echo reply in 20 s");
	expect_none(f);
}

static void test_echo_disabled(void **state)
{
	struct fx *f = *state;
	f->c.cfg.echo_interval_ms = 0;
	to_established(f);
	pptp_ctrl_tick(&f->c, f->now + 3600000);
	expect_none(f);
	assert_int_equal(pptp_ctrl_next_deadline(&f->c), 0);
}

static void test_echo_reply_error_still_alive(void **state)
{
	struct fx *f = *state;
	struct pptp_msg rq, rp = simple(PPTP_ECHORP);

	to_established(f);
	f->now += 60000;
	pptp_ctrl_tick(&f->c, f->now);
	expect_one(f, PPTP_ECHORQ, &rq);
	rp.u.echorp.id = rq.u.echorq.id;
	rp.u.echorp.result = PPTP_ECHO_GENERAL_ERROR;
	feed(f, &rp);
	pptp_ctrl_tick(&f->c, f->now + 59000);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
}

/* ---- messages from the server while the call is up ---- */

static void test_set_link_info_and_wen(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_SLI);
	uint32_t s, r;

	to_established(f);
	m.u.sli.peer_call_id = 0x0101;
	m.u.sli.send_accm = 0xffffffff;
	m.u.sli.recv_accm = 0x000a0000;
	feed(f, &m);
	pptp_ctrl_accm(&f->c, &s, &r);
	assert_int_equal(s, 0xffffffff);
	assert_int_equal(r, 0x000a0000);
	m = simple(PPTP_WEN);
	m.u.wen.crc_errors = 3;
	feed(f, &m);
	expect_none(f);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	assert_int_equal(f->s.closed + f->s.cleared, 0);
}

static void test_icrq_refused(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_ICRQ), r;

	to_established(f);
	m.u.icrq.call_id = 0x7777;
	m.u.icrq.call_serial = 3;
	snprintf(m.u.icrq.dialing, sizeof(m.u.icrq.dialing), "123");
	feed(f, &m);
	expect_one(f, PPTP_ICRP, &r);
	assert_int_equal(r.u.icrp.peer_call_id, 0x7777);
	assert_int_equal(r.u.icrp.result, PPTP_ICRP_DO_NOT_ACCEPT);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	assert_int_equal(f->s.cleared, 0);
}

static void test_icrq_refused_before_call(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_ICRQ), r;
	to_wait_ocrp(f);
	m.u.icrq.call_id = 5;
	feed(f, &m);
	expect_one(f, PPTP_ICRP, &r);
	assert_int_equal(r.u.icrp.result, PPTP_ICRP_DO_NOT_ACCEPT);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_OCRP);
}

static void test_server_ccrq(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_CCRQ), out[4];

	to_established(f);
	m.u.ccrq.call_id = 0x0999;   /* not ours: ignored */
	feed(f, &m);
	expect_none(f);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);

	m.u.ccrq.call_id = 0x0101;
	feed(f, &m);
	assert_int_equal(drain(f, out, 4), 2);
	assert_int_equal(out[0].type, PPTP_CDN);
	assert_int_equal(out[0].u.cdn.call_id, 0x0a0a);
	assert_int_equal(out[0].u.cdn.result, PPTP_CDN_REQUEST);
	assert_int_equal(out[1].type, PPTP_STOPCCRQ);
	assert_int_equal(f->s.cleared, 1);
	assert_string_equal(f->s.cleared_reason, "server cleared the call (CCRQ)");
	assert_int_equal(f->s.closed, 0);
	finish_stop(f);
	assert_int_equal(f->s.cleared, 1);
	assert_string_equal(f->s.closed_reason, "call cleared by server");
}

static void test_server_cdn(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_CDN), s;

	to_established(f);
	m.u.cdn.call_id = 0x0a0a;
	m.u.cdn.result = PPTP_CDN_LOST_CARRIER;
	m.u.cdn.cause = 2;
	snprintf(m.u.cdn.stats, sizeof(m.u.cdn.stats), "bytes=1\r\nfake log line");
	feed(f, &m);
	expect_one(f, PPTP_STOPCCRQ, &s);
	assert_int_equal(f->s.cleared, 1);
	assert_contains(f->s.cleared_reason, "result=Lost-Carrier(1)");
	assert_contains(f->s.cleared_reason, "cause=2");
	finish_stop(f);
	assert_int_equal(f->s.cleared, 1);
	assert_contains(f->s.closed_reason, "server disconnected the call");
}

/* accel-ppp puts the client's own call ID in its CDN; that is our call too. */
static void test_server_cdn_with_our_id(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_CDN);

	to_established(f);
	m.u.cdn.call_id = 0x0303;
	feed(f, &m);
	assert_int_equal(f->s.cleared, 0);
	m.u.cdn.call_id = 0x0101;
	m.u.cdn.result = PPTP_CDN_ADMIN_SHUTDOWN;
	feed(f, &m);
	assert_int_equal(f->s.cleared, 1);
	assert_contains(f->s.cleared_reason, "Admin-Shutdown");
	expect_one(f, PPTP_STOPCCRQ, NULL);
}

static void test_server_cdn_while_waiting_ocrp(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_CDN);

	to_wait_ocrp(f);
	m.u.cdn.call_id = 0x0101;
	m.u.cdn.result = PPTP_CDN_GENERAL_ERROR;
	feed(f, &m);
	expect_one(f, PPTP_STOPCCRQ, NULL);
	assert_int_equal(f->s.cleared, 0);   /* never established, nothing to clear */
	finish_stop(f);
	assert_contains(f->s.closed_reason, "General-Error");
}

static void test_server_stop(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_STOPCCRQ), r;

	to_established(f);
	m.u.stopccrq.reason = PPTP_STOP_REASON_LOCAL_SHUTDOWN;
	feed(f, &m);
	expect_one(f, PPTP_STOPCCRP, &r);
	assert_int_equal(r.u.stopccrp.result, PPTP_STOPCCRP_OK);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_int_equal(f->s.cleared, 1);
	assert_int_equal(f->s.closed, 1);
	assert_true(f->s.cleared_at < f->s.closed_at);
	assert_contains(f->s.closed_reason, "server stopped the control connection stop_reason=Stop-Local-Shutdown(3)");
}

static void test_server_stop_while_stopping(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_STOPCCRQ);

	to_established(f);
	pptp_ctrl_shutdown(&f->c, f->now);
	assert_int_equal(drain(f, (struct pptp_msg[4]){ 0 }, 4), 2);
	m.u.stopccrq.reason = PPTP_STOP_REASON_NONE;
	feed(f, &m);   /* both sides stopped at once: answer and go */
	expect_one(f, PPTP_STOPCCRP, NULL);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_int_equal(f->s.closed, 1);
	assert_int_equal(f->s.cleared, 1);
}

/* ---- our side ending things ---- */

static void test_shutdown_with_call(void **state)
{
	struct fx *f = *state;
	struct pptp_msg out[4], cdn = simple(PPTP_CDN);

	to_established(f);
	pptp_ctrl_shutdown(&f->c, f->now);
	assert_int_equal(drain(f, out, 4), 2);
	assert_int_equal(out[0].type, PPTP_CCRQ);
	assert_int_equal(out[0].u.ccrq.call_id, 0x0101);
	assert_int_equal(out[1].type, PPTP_STOPCCRQ);
	assert_int_equal(out[1].u.stopccrq.reason, PPTP_STOP_REASON_LOCAL_SHUTDOWN);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_STOP_REPLY);
	/* The server's CDN for our CCRQ arrives first. */
	cdn.u.cdn.call_id = 0x0a0a;
	cdn.u.cdn.result = PPTP_CDN_REQUEST;
	feed(f, &cdn);
	expect_none(f);
	assert_int_equal(f->s.cleared, 1);
	/* A second shutdown while waiting sends nothing more. */
	pptp_ctrl_shutdown(&f->c, f->now);
	expect_none(f);
	finish_stop(f);
	assert_int_equal(f->s.cleared, 1);
	assert_string_equal(f->s.closed_reason, "shutdown requested");
}

static void test_shutdown_stop_timeout(void **state)
{
	struct fx *f = *state;

	to_established(f);
	pptp_ctrl_shutdown(&f->c, f->now);
	assert_int_equal(drain(f, (struct pptp_msg[4]){ 0 }, 4), 2);
	assert_int_equal(pptp_ctrl_next_deadline(&f->c), f->now + 5000);
	pptp_ctrl_tick(&f->c, f->now + 4999);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_STOP_REPLY);
	pptp_ctrl_tick(&f->c, f->now + 5000);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_string_equal(f->s.closed_reason, "shutdown requested (no StopCCRP in 5 s)");
	assert_int_equal(f->s.cleared, 1);
	assert_true(f->s.cleared_at < f->s.closed_at);
}

static void test_shutdown_early(void **state)
{
	struct fx *f = *state;

	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	pptp_ctrl_shutdown(&f->c, f->now);
	expect_none(f);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_string_equal(f->s.closed_reason, "shutdown requested");
	assert_int_equal(f->s.cleared, 0);
}

static void test_shutdown_idle(void **state)
{
	struct fx *f = *state;
	pptp_ctrl_shutdown(&f->c, f->now);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_int_equal(f->s.closed, 1);
	/* Events after close are ignored. */
	pptp_ctrl_connected(&f->c, f->now);
	pptp_ctrl_shutdown(&f->c, f->now);
	pptp_ctrl_tick(&f->c, f->now + 100000);
	expect_none(f);
	assert_int_equal(f->s.closed, 1);
}

static void test_shutdown_waiting_ocrp(void **state)
{
	struct fx *f = *state;
	struct pptp_msg out[4];
	to_wait_ocrp(f);
	pptp_ctrl_shutdown(&f->c, f->now);
	assert_int_equal(drain(f, out, 4), 2);
	assert_int_equal(out[0].type, PPTP_CCRQ);
	assert_int_equal(out[1].type, PPTP_STOPCCRQ);
	/* A late OCRP is not a call any more. */
	struct pptp_msg m = ocrp(0x0101, PPTP_OCRP_CONNECTED);
	feed(f, &m);
	assert_int_equal(f->s.established, 0);
	finish_stop(f);
	assert_int_equal(f->s.cleared, 0);
}

static void test_clear_call(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = simple(PPTP_CDN), s;

	to_established(f);
	pptp_ctrl_clear_call(&f->c, f->now);
	expect_one(f, PPTP_CCRQ, &s);
	assert_int_equal(s.u.ccrq.call_id, 0x0101);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_CDN);
	assert_int_equal(f->s.cleared, 0);
	pptp_ctrl_clear_call(&f->c, f->now);   /* repeated: ignored */
	expect_none(f);
	m.u.cdn.call_id = 0x0a0a;
	m.u.cdn.result = PPTP_CDN_REQUEST;
	feed(f, &m);
	assert_int_equal(f->s.cleared, 1);
	assert_string_equal(f->s.cleared_reason, "call cleared on request");
	expect_one(f, PPTP_STOPCCRQ, &s);
	assert_int_equal(s.u.stopccrq.reason, PPTP_STOP_REASON_NONE);
	finish_stop(f);
	assert_int_equal(f->s.cleared, 1);
	assert_string_equal(f->s.closed_reason, "call cleared on request");
}

static void test_clear_call_no_cdn(void **state)
{
	struct fx *f = *state;

	to_established(f);
	pptp_ctrl_clear_call(&f->c, f->now);
	expect_one(f, PPTP_CCRQ, NULL);
	pptp_ctrl_tick(&f->c, f->now + 5000);
	assert_int_equal(f->s.cleared, 1);
	expect_one(f, PPTP_STOPCCRQ, NULL);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_STOP_REPLY);
	finish_stop(f);
	assert_string_equal(f->s.closed_reason, "no CDN in 5 s after CCRQ");
}

static void test_clear_call_when_no_call(void **state)
{
	struct fx *f = *state;
	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	pptp_ctrl_clear_call(&f->c, f->now);
	expect_none(f);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_SCCRP);
}

static void test_connection_lost(void **state)
{
	struct fx *f = *state;
	to_established(f);
	pptp_ctrl_tick(&f->c, f->now + 60000);   /* queue an Echo-Request nobody will send */
	pptp_ctrl_lost(&f->c, "EOF from server");
	expect_none(f);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_string_equal(f->s.closed_reason, "connection lost: EOF from server");
	assert_int_equal(f->s.cleared, 1);
	pptp_ctrl_lost(&f->c, "again");
	assert_int_equal(f->s.closed, 1);
}

/* ---- the byte stream ---- */

static void test_partial_reads(void **state)
{
	struct fx *f = *state;
	struct pptp_msg a = sccrp(PPTP_SCCRP_OK, 0x0100), b = ocrp(0x0101, PPTP_OCRP_CONNECTED);
	struct pptp_msg e = simple(PPTP_ECHORQ), r;
	uint8_t stream[3 * PPTP_MAX_MSG_LEN];
	size_t n;

	e.u.echorq.id = 42;
	n = enc(&a, stream);
	n += enc(&b, stream + n);
	n += enc(&e, stream + n);
	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	for (size_t i = 0; i < n; i++) {
		pptp_ctrl_input(&f->c, stream + i, 1, f->now);
		if (i == 155) {   /* SCCRP complete exactly at its last octet */
			expect_one(f, PPTP_OCRQ, NULL);
			assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_OCRP);
		} else if (i < 155) {
			expect_none(f);
			assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_SCCRP);
		}
	}
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	expect_one(f, PPTP_ECHORP, &r);
	assert_int_equal(r.u.echorp.id, 42);
}

static void test_odd_splits(void **state)
{
	/* Every split point of a two-message stream gives the same outcome. */
	struct pptp_msg a = sccrp(PPTP_SCCRP_OK, 0x0100), b = ocrp(0x0101, PPTP_OCRP_CONNECTED);
	uint8_t stream[2 * PPTP_MAX_MSG_LEN];
	size_t n = enc(&a, stream);
	n += enc(&b, stream + n);
	(void)state;
	for (size_t cut1 = 0; cut1 <= n; cut1 += 7) {
		for (size_t cut2 = cut1; cut2 <= n; cut2 += 13) {
			struct fx *f;
			setup((void **)&f);
			pptp_ctrl_connected(&f->c, f->now);
			pptp_ctrl_input(&f->c, stream, cut1, f->now);
			pptp_ctrl_input(&f->c, stream + cut1, cut2 - cut1, f->now);
			pptp_ctrl_input(&f->c, stream + cut2, n - cut2, f->now);
			if (pptp_ctrl_state(&f->c) != PPTP_ST_ESTABLISHED)
				fail_msg("cuts %zu/%zu: state %s", cut1, cut2,
					 pptp_ctrl_state_name(pptp_ctrl_state(&f->c)));
			assert_int_equal(f->s.established, 1);
			teardown((void **)&f);
		}
	}
}

static void test_many_in_one_read(void **state)
{
	struct fx *f = *state;
	struct pptp_msg a = sccrp(PPTP_SCCRP_OK, 0x0100), b = ocrp(0x0101, PPTP_OCRP_CONNECTED);
	struct pptp_msg e1 = simple(PPTP_ECHORQ), sli = simple(PPTP_SLI), e2 = simple(PPTP_ECHORQ);
	struct pptp_msg out[8];
	uint8_t stream[6 * PPTP_MAX_MSG_LEN];
	size_t n;
	uint32_t s, r;

	e1.u.echorq.id = 1;
	e2.u.echorq.id = 2;
	sli.u.sli.send_accm = 0x12345678;
	n = enc(&a, stream);
	n += enc(&e1, stream + n);
	n += enc(&b, stream + n);
	n += enc(&sli, stream + n);
	n += enc(&e2, stream + n);
	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	pptp_ctrl_input(&f->c, stream, n, f->now);
	assert_int_equal(drain(f, out, 8), 3);
	assert_int_equal(out[0].type, PPTP_OCRQ);
	assert_int_equal(out[1].type, PPTP_ECHORP);
	assert_int_equal(out[1].u.echorp.id, 1);
	assert_int_equal(out[2].type, PPTP_ECHORP);
	assert_int_equal(out[2].u.echorp.id, 2);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	pptp_ctrl_accm(&f->c, &s, &r);
	assert_int_equal(s, 0x12345678);
}

static void test_unknown_and_unexpected_ignored(void **state)
{
	struct fx *f = *state;
	uint8_t b[64] = { 0, 20, 0, 1, 0x1a, 0x2b, 0x3c, 0x4d, 0, 16, 0, 0 };  /* type 16, 20 octets */
	struct pptp_msg e = simple(PPTP_ECHORQ), again = sccrp(PPTP_SCCRP_OK, 0x0100);

	to_established(f);
	e.u.echorq.id = 9;
	enc(&e, b + 20);
	pptp_ctrl_input(&f->c, b, 36, f->now);
	expect_one(f, PPTP_ECHORP, NULL);   /* the message after the unknown one still counts */
	feed(f, &again);                    /* SCCRP in ESTABLISHED */
	struct pptp_msg junk[] = { simple(PPTP_SCCRQ), simple(PPTP_OCRQ), simple(PPTP_ICRP),
				   simple(PPTP_ICCN), simple(PPTP_STOPCCRP), ocrp(0x0101, 1) };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		feed(f, &junk[i]);
	expect_none(f);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	assert_int_equal(f->s.established, 1);
	assert_int_equal(f->s.closed, 0);
}

static void test_unexpected_before_sccrp(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m[] = { simple(PPTP_CDN), simple(PPTP_SLI), simple(PPTP_CCRQ),
				ocrp(0x0101, 1), simple(PPTP_STOPCCRP) };
	pptp_ctrl_connected(&f->c, f->now);
	expect_one(f, PPTP_SCCRQ, NULL);
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		feed(f, &m[i]);
	expect_none(f);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_WAIT_SCCRP);
	assert_int_equal(f->s.established, 0);
}

static void test_malformed_closes(void **state)
{
	struct fx *f = *state;
	uint8_t bad[16] = { 0, 16, 0, 1, 0xde, 0xad, 0xbe, 0xef, 0, 5, 0, 0 };
	struct pptp_msg e = simple(PPTP_ECHORQ);

	to_established(f);
	pptp_ctrl_input(&f->c, bad, 6, f->now);   /* only half the cookie yet */
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	pptp_ctrl_input(&f->c, bad + 6, 10, f->now);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_string_equal(f->s.closed_reason,
			    "malformed control message: bad magic cookie 0xdeadbeef (expected 0x1a2b3c4d)");
	assert_int_equal(f->s.cleared, 1);
	feed(f, &e);   /* ignored after close */
	expect_none(f);
	assert_int_equal(f->s.closed, 1);
}

static void test_malformed_after_good_in_same_read(void **state)
{
	struct fx *f = *state;
	struct pptp_msg e = simple(PPTP_ECHORQ);
	uint8_t b[64];
	size_t n;

	to_established(f);
	n = enc(&e, b);
	memcpy(b + n, "\x00\x15\x00\x01\x1a\x2b\x3c\x4d\x00\x05\x00\x00", 12);  /* Echo-Request of 21 */
	pptp_ctrl_input(&f->c, b, n + 12, f->now);
	expect_one(f, PPTP_ECHORP, NULL);   /* the good one was answered first */
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_contains(f->s.closed_reason, "length 21 wrong for Echo-Request (expected 16)");
}

static void test_input_before_connected_ignored(void **state)
{
	struct fx *f = *state;
	struct pptp_msg m = sccrp(PPTP_SCCRP_OK, 0x0100);
	feed(f, &m);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_IDLE);
	expect_none(f);
}

static void test_output_backpressure(void **state)
{
	struct fx *f = *state;
	struct pptp_msg e = simple(PPTP_ECHORQ);
	uint8_t b[16];
	int i;

	to_established(f);
	enc(&e, b);
	/* The caller never drains: 8192 / 20 replies fit, the next one gives up. */
	for (i = 0; i < 1000 && pptp_ctrl_state(&f->c) == PPTP_ST_ESTABLISHED; i++)
		pptp_ctrl_input(&f->c, b, sizeof(b), f->now);
	assert_int_equal(i, PPTP_CTRL_OUT_MAX / 20 + 1);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_contains(f->s.closed_reason, "send buffer full");
}

/* Each ignored message is a log line: a server sending them without end is cut off with a
 * named reason after PPTP_CTRL_MAX_IGNORED within the window, not logged millions of times. */
static void test_ignored_flood_closes(void **state)
{
	struct fx *f = *state;
	const uint8_t unknown[12] = { 0, 12, 0, 1, 0x1a, 0x2b, 0x3c, 0x4d, 0, 99, 0, 0 };
	int i;

	to_established(f);
	for (i = 0; i < 100000 && pptp_ctrl_state(&f->c) == PPTP_ST_ESTABLISHED; i++)
		pptp_ctrl_input(&f->c, unknown, sizeof(unknown), f->now);
	assert_int_equal(i, PPTP_CTRL_MAX_IGNORED + 1);
	assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_CLOSED);
	assert_contains(f->s.closed_reason, "messages we ignore within 60 s (last: unknown message type)");
}

/* A few now and then (stray messages over days) never add up. */
static void test_ignored_window_resets(void **state)
{
	struct fx *f = *state;
	const uint8_t unknown[12] = { 0, 12, 0, 1, 0x1a, 0x2b, 0x3c, 0x4d, 0, 99, 0, 0 };

	to_established(f);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < PPTP_CTRL_MAX_IGNORED; i++)
			pptp_ctrl_input(&f->c, unknown, sizeof(unknown), f->now);
		f->now += PPTP_CTRL_IGNORED_WINDOW_MS;
		assert_int_equal(pptp_ctrl_state(&f->c), PPTP_ST_ESTABLISHED);
	}
}

static void test_consume_partial(void **state)
{
	struct fx *f = *state;
	uint8_t all[156];
	size_t len;
	const uint8_t *p;

	pptp_ctrl_connected(&f->c, f->now);
	p = pptp_ctrl_output(&f->c, &len);
	assert_int_equal(len, 156);
	memcpy(all, p, sizeof(all));
	pptp_ctrl_consume(&f->c, 100);
	p = pptp_ctrl_output(&f->c, &len);
	assert_int_equal(len, 56);
	assert_memory_equal(p, all + 100, 56);
	pptp_ctrl_consume(&f->c, 56);
	pptp_ctrl_output(&f->c, &len);
	assert_int_equal(len, 0);
}

/* Every state change is logged once, as "pptp state OLD -> NEW reason=...". */
static void test_state_log_lines(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/test_pptp_ctrl.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char buf[8192];
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	to_established(f);
	pptp_ctrl_shutdown(&f->c, f->now);
	drain(f, (struct pptp_msg[4]){ 0 }, 4);
	finish_stop(f);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_contains(buf, "pptp state IDLE -> WAIT_SCCRP reason=tcp connected");
	assert_contains(buf, "pptp state WAIT_SCCRP -> WAIT_OCRP reason=control connection up");
	assert_contains(buf, "pptp state WAIT_OCRP -> ESTABLISHED reason=call connected");
	assert_contains(buf, "pptp state ESTABLISHED -> WAIT_STOP_REPLY reason=shutdown requested");
	assert_contains(buf, "pptp state WAIT_STOP_REPLY -> CLOSED reason=shutdown requested");
	int count = 0;
	for (const char *p = buf; (p = strstr(p, "pptp state ")) != NULL; p++)
		count++;
	assert_int_equal(count, 5);
	/* The forged newline in the server's vendor string did not start a line of its own. */
	assert_null(strstr(buf, "accel-ppp\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_sccrq_contents),
		T(test_handshake_established),
		T(test_sccrp_refused),
		T(test_sccrp_general_error),
		T(test_sccrp_bad_version),
		T(test_sccrp_timeout),
		T(test_ocrp_refused),
		T(test_ocrp_other_call_ignored),
		T(test_ocrp_timeout),
		T(test_echo_reply_to_server),
		T(test_echo_keepalive),
		T(test_echo_traffic_defers),
		T(test_echo_timeout_peer_dead),
		T(test_echo_disabled),
		T(test_echo_reply_error_still_alive),
		T(test_set_link_info_and_wen),
		T(test_icrq_refused),
		T(test_icrq_refused_before_call),
		T(test_server_ccrq),
		T(test_server_cdn),
		T(test_server_cdn_with_our_id),
		T(test_server_cdn_while_waiting_ocrp),
		T(test_server_stop),
		T(test_server_stop_while_stopping),
		T(test_shutdown_with_call),
		T(test_shutdown_stop_timeout),
		T(test_shutdown_early),
		T(test_shutdown_idle),
		T(test_shutdown_waiting_ocrp),
		T(test_clear_call),
		T(test_clear_call_no_cdn),
		T(test_clear_call_when_no_call),
		T(test_connection_lost),
		T(test_partial_reads),
		T(test_odd_splits),
		T(test_many_in_one_read),
		T(test_unknown_and_unexpected_ignored),
		T(test_unexpected_before_sccrp),
		T(test_malformed_closes),
		T(test_malformed_after_good_in_same_read),
		T(test_input_before_connected_ignored),
		T(test_output_backpressure),
		T(test_ignored_flood_closes),
	T(test_ignored_window_resets),
	T(test_consume_partial),
		T(test_state_log_lines),
#undef T
	};
	log_init("test_pptp_ctrl", LOG_TO_STDERR, LOG_LVL_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

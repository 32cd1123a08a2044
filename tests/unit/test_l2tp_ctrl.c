/*
 * test_l2tp_ctrl.c — unit tests for tunneld/l2tp/l2tp_rel and l2tp_ctrl: the LAC's tunnel and
 * session state machines driven by a scripted LNS, per state: the handshake with and without
 * tunnel authentication, every way the LNS can refuse or end the tunnel or the call, Ns/Nr and
 * ZLB acks, retransmission with back-off and its time limit, the window, duplicates and early
 * messages, HELLO, ICCN held until our data path is attached, setup timeouts, our shutdown, and
 * sequence number wrap-around.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "l2tp_ctrl.h"

#define LAC_TID 0x0a0a
#define LAC_SID 0x0b0b
#define LNS_TID 0x2222
#define LNS_SID 0x3333

struct seen {
	int established, cleared, closed;
	struct l2tp_call_info call;
	char cleared_reason[L2TP_CTRL_REASON_LEN], closed_reason[L2TP_CTRL_REASON_LEN];
};

static void on_established(void *arg, const struct l2tp_call_info *call)
{
	struct seen *s = arg;
	s->established++;
	s->call = *call;
}

static void on_cleared(void *arg, const char *reason)
{
	struct seen *s = arg;
	s->cleared++;
	snprintf(s->cleared_reason, sizeof(s->cleared_reason), "%s", reason);
}

static void on_closed(void *arg, const char *reason)
{
	struct seen *s = arg;
	assert_int_equal(s->cleared, s->established);   /* the call is cleared first */
	s->closed++;
	snprintf(s->closed_reason, sizeof(s->closed_reason), "%s", reason);
}

static struct l2tp_ctrl C;
static struct l2tp_msg OUT, IN;
static struct seen S;
static uint64_t NOW;
static uint16_t LNS_NS, LNS_NR;     /* the scripted LNS's own sequence state */
static const uint8_t SECRET[] = "tunnel-secret";

static void setup_ctrl(int with_secret)
{
	struct l2tp_ctrl_config cfg;
	struct l2tp_ctrl_hooks h = { on_established, on_cleared, on_closed, &S };
	memset(&S, 0, sizeof(S));
	l2tp_ctrl_config_defaults(&cfg);
	cfg.tunnel_id = LAC_TID;
	cfg.session_id = LAC_SID;
	if (with_secret) {
		memcpy(cfg.secret, SECRET, sizeof(SECRET) - 1);
		cfg.secret_len = sizeof(SECRET) - 1;
		memset(cfg.challenge, 0x42, sizeof(cfg.challenge));
	}
	l2tp_ctrl_init(&C, &cfg, &h);
	NOW = 1000;
	LNS_NS = LNS_NR = 0;
}

/* Pops the next datagram the LAC sent and decodes it into OUT; returns its type, -1 if none. */
static int next_out(void)
{
	size_t len;
	const uint8_t *p = l2tp_ctrl_output(&C, &len);
	char why[L2TP_REASON_LEN];
	struct l2tp_secret none = { NULL, 0 };
	if (p == NULL)
		return -1;
	assert_int_equal(l2tp_decode(p, len, &none, &OUT, why), L2TP_DEC_OK);
	l2tp_ctrl_pop(&C);
	if (OUT.type != L2TP_ZLB)
		LNS_NR = (uint16_t)(OUT.hdr.ns + 1);
	return OUT.type;
}

static void expect_out(int type)
{
	int t = next_out();
	if (t != type)
		fail_msg("expected %s from the LAC, got %s", type < 0 ? "nothing" : l2tp_msg_name((uint16_t)type),
			 t < 0 ? "nothing" : l2tp_msg_name((uint16_t)t));
}

static void drain(void)
{
	while (next_out() >= 0)
		;
}

/* A message from the LNS: IN is prepared by lns_msg(), sent by lns_send(). */
static struct l2tp_msg *lns_msg(uint16_t type, uint16_t session)
{
	memset(&IN, 0, offsetof(struct l2tp_msg, arena));
	IN.type = type;
	IN.present = L2TP_AVP_BIT(L2TP_AVP_MSG_TYPE);
	IN.hdr.tunnel_id = LAC_TID;
	IN.hdr.session_id = session;
	return &IN;
}

static void lns_send_raw(uint16_t ns, uint16_t nr)
{
	uint8_t b[1024];
	size_t n;
	IN.hdr.ns = ns;
	IN.hdr.nr = nr;
	n = l2tp_encode(&IN, NULL, b, sizeof(b));
	assert_true(n > 0);
	l2tp_ctrl_input(&C, b, n, NOW);
}

static void lns_send(void)
{
	lns_send_raw(LNS_NS, LNS_NR);
	if (IN.type != L2TP_ZLB)
		LNS_NS++;
}

static void send_sccrp(int with_response, const uint8_t *secret, size_t slen, int with_challenge)
{
	struct l2tp_msg *m = lns_msg(L2TP_SCCRP, 0);
	m->present |= l2tp_required_avps(L2TP_SCCRP) | L2TP_AVP_BIT(L2TP_AVP_RECV_WINDOW);
	m->proto_version = 0x0100;
	m->host_name = l2tp_str("lns");
	m->framing_caps = 3;
	m->tunnel_id = LNS_TID;
	m->recv_window = 8;
	if (with_response) {
		struct l2tp_secret s = { secret, slen };
		m->present |= L2TP_AVP_BIT(L2TP_AVP_CHAL_RESPONSE);
		l2tp_chal_response(L2TP_SCCRP, &s, C.cfg.challenge, L2TP_CHALLENGE_LEN, m->chal_response);
	}
	if (with_challenge) {
		m->present |= L2TP_AVP_BIT(L2TP_AVP_CHALLENGE);
		m->challenge = l2tp_str("lns-challenge");
	}
	lns_send();
}

static void send_icrp(void)
{
	struct l2tp_msg *m = lns_msg(L2TP_ICRP, LAC_SID);
	m->present |= L2TP_AVP_BIT(L2TP_AVP_SESSION_ID);
	m->session_id = LNS_SID;
	lns_send();
}

static void send_zlb(void)
{
	lns_msg(L2TP_ZLB, 0);
	lns_send();
}

/* Start to a call that is up, checking every message on the way. */
static void bring_up(void)
{
	l2tp_ctrl_start(&C, NOW);
	expect_out(L2TP_SCCRQ);
	assert_int_equal(OUT.hdr.tunnel_id, 0);
	assert_int_equal(OUT.tunnel_id, LAC_TID);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_WAIT_CTL_REPLY);
	assert_int_equal(l2tp_ctrl_session_state(&C), L2TP_SES_WAIT_TUNNEL);
	send_sccrp(0, NULL, 0, 0);
	expect_out(L2TP_SCCCN);
	assert_int_equal(OUT.hdr.tunnel_id, LNS_TID);
	assert_int_equal(OUT.hdr.nr, 1);
	expect_out(L2TP_ICRQ);
	assert_int_equal(OUT.session_id, LAC_SID);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_ESTABLISHED);
	assert_int_equal(l2tp_ctrl_session_state(&C), L2TP_SES_WAIT_REPLY);
	send_icrp();
	expect_out(L2TP_ICCN);
	assert_int_equal(OUT.hdr.session_id, LNS_SID);
	assert_int_equal(l2tp_ctrl_session_state(&C), L2TP_SES_ESTABLISHED);
	assert_int_equal(S.established, 1);
	expect_out(-1);
	send_zlb();
	expect_out(-1);
}

/* ---- the handshake ---- */

static void test_handshake(void **state)
{
	setup_ctrl(0);
	bring_up();
	assert_int_equal(S.call.local_tunnel_id, LAC_TID);
	assert_int_equal(S.call.peer_tunnel_id, LNS_TID);
	assert_int_equal(S.call.local_session_id, LAC_SID);
	assert_int_equal(S.call.peer_session_id, LNS_SID);
	assert_string_equal(l2tp_ctrl_peer_host(&C), "lns");
	assert_true(l2tp_rel_idle(&C.rel));
	assert_int_equal(C.rel.window, 8);
}

static void test_sccrq_contents(void **state)
{
	setup_ctrl(1);
	l2tp_ctrl_start(&C, NOW);
	expect_out(L2TP_SCCRQ);
	assert_int_equal(OUT.present & l2tp_required_avps(L2TP_SCCRQ), l2tp_required_avps(L2TP_SCCRQ));
	assert_int_equal(OUT.proto_version, 0x0100);
	assert_true(OUT.present & L2TP_AVP_BIT(L2TP_AVP_CHALLENGE));
	assert_int_equal(OUT.challenge.len, 16);
	assert_int_equal(OUT.hdr.ns, 0);
	assert_int_equal(OUT.hdr.nr, 0);
	assert_int_equal(l2tp_ctrl_next_deadline(&C), NOW + 1000);   /* first retransmission */
}

/* ---- tunnel authentication ---- */

static void test_auth_ok_both_ways(void **state)
{
	uint8_t expect[16];
	struct l2tp_secret s = { SECRET, sizeof(SECRET) - 1 };
	setup_ctrl(1);
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(1, SECRET, sizeof(SECRET) - 1, 1);
	expect_out(L2TP_SCCCN);
	assert_true(OUT.present & L2TP_AVP_BIT(L2TP_AVP_CHAL_RESPONSE));
	l2tp_chal_response(L2TP_SCCCN, &s, (const uint8_t *)"lns-challenge", 13, expect);
	assert_memory_equal(OUT.chal_response, expect, 16);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_ESTABLISHED);
}

static void test_auth_wrong_secret(void **state)
{
	setup_ctrl(1);
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(1, (const uint8_t *)"other", 5, 0);
	expect_out(L2TP_STOPCCN);
	assert_int_equal(OUT.result, L2TP_STOP_NOT_AUTHORIZED);
	assert_int_equal(OUT.tunnel_id, LAC_TID);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_STOPPING);
	send_zlb();
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_int_equal(S.closed, 1);
	assert_int_equal(S.established, 0);
	assert_non_null(strstr(S.closed_reason, "tunnel secrets differ"));
}

static void test_auth_no_response(void **state)
{
	setup_ctrl(1);
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(0, NULL, 0, 0);
	expect_out(L2TP_STOPCCN);
	assert_non_null(strstr(C.pending_reason, "did not answer our challenge"));
}

static void test_auth_demanded_without_secret(void **state)
{
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(0, NULL, 0, 1);
	expect_out(L2TP_STOPCCN);
	assert_int_equal(OUT.result, L2TP_STOP_NOT_AUTHORIZED);
	assert_non_null(strstr(C.pending_reason, "no tunnel secret is configured"));
}

static void test_bad_version_and_tunnel_id_zero(void **state)
{
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	lns_msg(L2TP_SCCRP, 0);
	IN.present |= l2tp_required_avps(L2TP_SCCRP);
	IN.proto_version = 0x0200;
	IN.host_name = l2tp_str("lns");
	IN.tunnel_id = LNS_TID;
	lns_send();
	expect_out(L2TP_STOPCCN);
	assert_int_equal(OUT.result, L2TP_STOP_BAD_VERSION);

	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	lns_msg(L2TP_SCCRP, 0);
	IN.present |= l2tp_required_avps(L2TP_SCCRP);
	IN.proto_version = 0x0100;
	IN.host_name = l2tp_str("lns");
	IN.tunnel_id = 0;
	lns_send();
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_non_null(strstr(S.closed_reason, "tunnel id 0"));
}

/* ---- the LNS ends things ---- */

static void test_stopccn_from_lns(void **state)
{
	setup_ctrl(0);
	bring_up();
	lns_msg(L2TP_STOPCCN, 0);
	IN.present |= l2tp_required_avps(L2TP_STOPCCN);
	IN.tunnel_id = LNS_TID;
	IN.result = L2TP_STOP_SHUTDOWN;
	IN.has_error = true;
	IN.result_msg = l2tp_str("going down");
	lns_send();
	expect_out(L2TP_ZLB);                       /* the ack, before we forget */
	assert_int_equal(OUT.hdr.nr, LNS_NS);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_int_equal(S.cleared, 1);
	assert_int_equal(S.closed, 1);
	assert_non_null(strstr(S.closed_reason, "StopCCN"));
	assert_non_null(strstr(S.closed_reason, "requester is being shut down"));
	assert_non_null(strstr(S.closed_reason, "going down"));
	assert_int_equal(l2tp_ctrl_next_deadline(&C), 0);
	/* later events change nothing */
	l2tp_ctrl_tick(&C, NOW + 100000);
	l2tp_ctrl_shutdown(&C, "late", NOW);
	assert_int_equal(S.closed, 1);
}

static void test_cdn_from_lns(void **state)
{
	setup_ctrl(0);
	bring_up();
	lns_msg(L2TP_CDN, LAC_SID);
	IN.present |= l2tp_required_avps(L2TP_CDN);
	IN.session_id = LNS_SID;
	IN.result = L2TP_CDN_ADMIN;
	lns_send();
	assert_int_equal(S.cleared, 1);
	assert_non_null(strstr(S.cleared_reason, "CDN"));
	assert_non_null(strstr(S.cleared_reason, "administrative"));
	expect_out(L2TP_STOPCCN);                   /* one session per tunnel: the tunnel goes too */
	assert_int_equal(OUT.hdr.nr, LNS_NS);       /* and carries the ack of the CDN */
	expect_out(-1);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_STOPPING);
	send_zlb();
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_int_equal(S.closed, 1);
}

static void test_cdn_for_other_session_ignored(void **state)
{
	setup_ctrl(0);
	bring_up();
	lns_msg(L2TP_CDN, 0x7777);
	IN.present |= l2tp_required_avps(L2TP_CDN);
	IN.session_id = LNS_SID;
	IN.result = L2TP_CDN_ADMIN;
	lns_send();
	expect_out(L2TP_ZLB);                       /* acknowledged, nothing else */
	expect_out(-1);
	assert_int_equal(l2tp_ctrl_session_state(&C), L2TP_SES_ESTABLISHED);
}

static void test_unknown_mandatory_avp(void **state)
{
	uint8_t b[256];
	size_t n;
	setup_ctrl(0);
	bring_up();
	lns_msg(L2TP_HELLO, 0);
	IN.hdr.ns = LNS_NS++;
	IN.hdr.nr = LNS_NR;
	n = l2tp_encode(&IN, NULL, b, sizeof(b));
	/* append a vendor AVP with M set */
	b[n] = 0x80; b[n + 1] = 8; b[n + 2] = 0; b[n + 3] = 9; b[n + 4] = 0; b[n + 5] = 1; b[n + 6] = 0;
	b[n + 7] = 0;
	n += 8;
	b[2] = 0; b[3] = (uint8_t)n;
	l2tp_ctrl_input(&C, b, n, NOW);
	expect_out(L2TP_CDN);
	expect_out(L2TP_STOPCCN);
	assert_int_equal(OUT.result, L2TP_STOP_GENERAL_ERROR);
	assert_int_equal(OUT.error, L2TP_ERR_UNKNOWN_M);
	assert_non_null(strstr(C.pending_reason, "unknown AVP 9/1 with the M bit"));
}

static void test_missing_required_avp(void **state)
{
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(0, NULL, 0, 0);
	drain();
	lns_msg(L2TP_ICRP, LAC_SID);                /* no Assigned Session ID */
	lns_send();
	expect_out(L2TP_STOPCCN);
	assert_int_equal(OUT.error, L2TP_ERR_BAD_VALUE);
	assert_non_null(strstr(C.pending_reason, "ICRP without its Assigned Session ID AVP"));
}

/* ---- reliable delivery ---- */

static void test_retransmit_backoff_then_dead(void **state)
{
	uint64_t t0;
	setup_ctrl(0);
	C.cfg.setup_timeout_ms = 1000000;           /* let retransmission decide */
	l2tp_ctrl_start(&C, NOW);
	expect_out(L2TP_SCCRQ);
	t0 = NOW;
	/* 1, 2, 4, 8, 8 s */
	static const uint32_t gaps[] = { 1000, 2000, 4000, 8000, 8000 };
	for (int i = 0; i < 5; i++) {
		l2tp_ctrl_tick(&C, t0 + gaps[i] - 1);
		expect_out(-1);
		t0 += gaps[i];
		l2tp_ctrl_tick(&C, t0);
		expect_out(L2TP_SCCRQ);
		assert_int_equal(OUT.hdr.ns, 0);        /* the same message again */
	}
	l2tp_ctrl_tick(&C, t0 + 8000);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_non_null(strstr(S.closed_reason, "LNS silent: SCCRQ not acknowledged after 5 retransmissions"));
}

static void test_ack_resets_backoff(void **state)
{
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	l2tp_ctrl_tick(&C, NOW + 1000);
	l2tp_ctrl_tick(&C, NOW + 3000);
	expect_out(L2TP_SCCRQ);
	expect_out(L2TP_SCCRQ);
	assert_int_equal(C.rel.rto_ms, 4000);
	NOW += 3000;
	send_sccrp(0, NULL, 0, 0);                  /* acks SCCRQ */
	assert_int_equal(C.rel.rto_ms, 1000);
	assert_int_equal(C.rel.retries, 0);
	assert_int_equal(l2tp_ctrl_next_deadline(&C), NOW + 1000);
}

static void test_retransmission_carries_latest_nr(void **state)
{
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(0, NULL, 0, 0);
	drain();                                    /* SCCCN, ICRQ unacked */
	lns_msg(L2TP_HELLO, 0);
	lns_send_raw(LNS_NS++, 0);                  /* acks nothing of ours */
	expect_out(L2TP_ZLB);
	assert_int_equal(OUT.hdr.nr, 2);
	l2tp_ctrl_tick(&C, NOW + 1000);
	expect_out(L2TP_SCCCN);
	assert_int_equal(OUT.hdr.nr, 2);            /* not the 1 it first carried */
	expect_out(L2TP_ICRQ);
	assert_int_equal(OUT.hdr.nr, 2);
}

static void test_duplicate_reacked_not_redelivered(void **state)
{
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(0, NULL, 0, 0);
	drain();
	/* the LNS did not hear our ack and repeats its SCCRP (Ns 0) */
	LNS_NS = 0;
	send_sccrp(0, NULL, 0, 0);
	expect_out(L2TP_ZLB);                       /* acked again */
	assert_int_equal(OUT.hdr.nr, 1);
	expect_out(-1);                             /* no second SCCCN/ICRQ */
	assert_int_equal(C.dropped, 1);
	assert_int_equal(l2tp_ctrl_session_state(&C), L2TP_SES_WAIT_REPLY);
}

static void test_future_message_dropped(void **state)
{
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(0, NULL, 0, 0);
	drain();
	lns_msg(L2TP_HELLO, 0);
	lns_send_raw(5, LNS_NR);                    /* expected 1 */
	expect_out(-1);                             /* no ack for what we did not take */
	assert_int_equal(C.rel.nr_next, 1);
	send_icrp();                                /* Ns 1 still works */
	expect_out(L2TP_ICCN);
	assert_int_equal(S.established, 1);
}

static void test_window_bounds_in_flight(void **state)
{
	struct l2tp_rel r;
	struct l2tp_rel_config cfg;
	struct l2tp_msg *m = &OUT;
	struct l2tp_header h;
	size_t len;
	char why[L2TP_REASON_LEN];
	int sent = 0;

	l2tp_rel_config_defaults(&cfg);
	l2tp_rel_init(&r, &cfg);
	l2tp_rel_set_window(&r, 2);
	for (int i = 0; i < 5; i++) {
		memset(m, 0, offsetof(struct l2tp_msg, arena));
		m->type = L2TP_HELLO;
		m->present = L2TP_AVP_BIT(0);
		assert_int_equal(l2tp_rel_send(&r, m, 0), 0);
	}
	while (l2tp_rel_output(&r, &len) != NULL) {
		l2tp_rel_pop(&r);
		sent++;
	}
	assert_int_equal(sent, 2);                  /* window of 2 */
	/* an ack for Ns 0 lets one more go */
	l2tp_header_decode((const uint8_t[]){ 0xc8, 2, 0, 12, 0, 1, 0, 0, 0, 0, 0, 1 }, 12, &h, why);
	assert_int_equal(l2tp_rel_receive(&r, &h, 10), L2TP_RX_ZLB);
	assert_non_null(l2tp_rel_output(&r, &len));
	assert_int_equal(((const uint8_t *)l2tp_rel_output(&r, &len))[9], 2);    /* Ns 2 */
	/* an ack for a message never sent is ignored */
	l2tp_header_decode((const uint8_t[]){ 0xc8, 2, 0, 12, 0, 1, 0, 0, 0, 0, 0, 9 }, 12, &h, why);
	l2tp_rel_receive(&r, &h, 10);
	assert_int_equal(r.bad_nr, 1);
	assert_int_equal(r.una, 1);
	/* the queue is bounded: 4 waiting, room for L2TP_REL_QUEUE */
	for (int i = 4; i < L2TP_REL_QUEUE; i++)
		assert_int_equal(l2tp_rel_send(&r, m, 0), 0);
	assert_int_equal(l2tp_rel_send(&r, m, 0), -1);
}

static void test_sequence_wraps(void **state)
{
	struct l2tp_rel r;
	struct l2tp_rel_config cfg;
	struct l2tp_header h;
	char why[L2TP_REASON_LEN];
	l2tp_rel_config_defaults(&cfg);
	l2tp_rel_init(&r, &cfg);
	r.nr_next = 0xffff;
	l2tp_header_decode((const uint8_t[]){ 0xc8, 2, 0, 20, 0, 1, 0, 0, 0xff, 0xff, 0, 0,
					      0x80, 8, 0, 0, 0, 0, 0, 6 }, 20, &h, why);
	assert_int_equal(l2tp_rel_receive(&r, &h, 0), L2TP_RX_NEW);
	assert_int_equal(r.nr_next, 0);
	assert_int_equal(l2tp_rel_receive(&r, &h, 0), L2TP_RX_DUPLICATE);   /* 0xffff is before 0 */
}

/* ---- ICCN after our data path is attached (attach_wait_ms) ---- */

/* Up to ICRP with attach_wait_ms set: the call is reported, ICCN held back. */
static void bring_to_wait_attach(void)
{
	C.cfg.attach_wait_ms = 3000;
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(0, NULL, 0, 0);
	drain();
	l2tp_ctrl_attached(&C, NOW);                /* too early: no call yet, nothing happens */
	expect_out(-1);
	assert_int_equal(l2tp_ctrl_session_state(&C), L2TP_SES_WAIT_REPLY);
	send_icrp();
	assert_int_equal(S.established, 1);         /* pppd's plugin may attach now */
	assert_int_equal(S.call.peer_session_id, LNS_SID);
	expect_out(L2TP_ZLB);                       /* ICRP acked, but no ICCN yet */
	expect_out(-1);
	assert_int_equal(l2tp_ctrl_session_state(&C), L2TP_SES_WAIT_ATTACH);
}

static void test_iccn_waits_for_attach(void **state)
{
	setup_ctrl(0);
	bring_to_wait_attach();
	NOW += 250;
	l2tp_ctrl_attached(&C, NOW);
	expect_out(L2TP_ICCN);
	assert_int_equal(OUT.hdr.session_id, LNS_SID);
	assert_int_equal(l2tp_ctrl_session_state(&C), L2TP_SES_ESTABLISHED);
	l2tp_ctrl_attached(&C, NOW);                /* once only */
	expect_out(-1);
	assert_int_equal(S.established, 1);
	/* no setup deadline left behind: the next timer is the retransmission of ICCN */
	assert_int_equal(l2tp_ctrl_next_deadline(&C), NOW + 1000);
}

static void test_iccn_after_attach_wait(void **state)
{
	setup_ctrl(0);
	bring_to_wait_attach();
	/* ICRP acked all of ours: the only timer left is the attach wait */
	assert_int_equal(l2tp_ctrl_next_deadline(&C), NOW + 3000);
	l2tp_ctrl_tick(&C, NOW + 2999);
	expect_out(-1);
	l2tp_ctrl_tick(&C, NOW + 3000);             /* a plugin that never says so */
	expect_out(L2TP_ICCN);
	assert_int_equal(l2tp_ctrl_session_state(&C), L2TP_SES_ESTABLISHED);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_ESTABLISHED);
	assert_int_equal(S.established, 1);
}

static void test_call_ends_while_waiting_for_attach(void **state)
{
	struct l2tp_msg *m;

	/* our shutdown: the LNS knows the call since its ICRP, so it gets a CDN */
	setup_ctrl(0);
	bring_to_wait_attach();
	l2tp_ctrl_shutdown(&C, "pppd died", NOW);
	expect_out(L2TP_CDN);
	assert_int_equal(OUT.hdr.session_id, LNS_SID);
	expect_out(L2TP_STOPCCN);
	assert_int_equal(S.cleared, 1);
	l2tp_ctrl_attached(&C, NOW);                /* too late: no ICCN */
	expect_out(-1);

	/* the LNS clears it */
	setup_ctrl(0);
	bring_to_wait_attach();
	m = lns_msg(L2TP_CDN, LAC_SID);
	m->present |= l2tp_required_avps(L2TP_CDN);
	m->result = L2TP_CDN_ADMIN;
	m->session_id = LNS_SID;
	lns_send();
	assert_int_equal(S.cleared, 1);
	assert_non_null(strstr(S.cleared_reason, "LNS cleared the call (CDN)"));
	expect_out(L2TP_STOPCCN);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_STOPPING);
}

/* ---- HELLO, timeouts, our shutdown ---- */

static void test_hello_keepalive(void **state)
{
	setup_ctrl(0);
	bring_up();
	assert_int_equal(l2tp_ctrl_next_deadline(&C), NOW + 60000);
	l2tp_ctrl_tick(&C, NOW + 59999);
	expect_out(-1);
	NOW += 60000;
	l2tp_ctrl_tick(&C, NOW);
	expect_out(L2TP_HELLO);
	l2tp_ctrl_tick(&C, NOW + 500);
	expect_out(-1);                             /* only one outstanding */
	send_zlb();                                 /* acked: silence counts from now */
	assert_false(C.hello_outstanding);
	assert_int_equal(l2tp_ctrl_next_deadline(&C), NOW + 60000);
}

/* Only what shows the LNS in step counts as a sign of life: a stream of ZLBs acknowledging
 * nothing we sent or nothing new, duplicates and messages from the future (a restarted or
 * confused LNS, or anyone who learned our tunnel id) must neither postpone HELLO nor keep the
 * tunnel "alive". */
static void test_junk_is_no_sign_of_life(void **state)
{
	uint64_t up;
	setup_ctrl(0);
	bring_up();
	up = NOW;
	for (int i = 1; i <= 11; i++) {
		NOW = up + (uint64_t)i * 5000;
		lns_msg(L2TP_ZLB, 0);
		lns_send_raw(LNS_NS, (uint16_t)(LNS_NR + 50));      /* acks 50 messages never sent */
		lns_send_raw(LNS_NS, LNS_NR);                       /* acks nothing new */
		lns_msg(L2TP_HELLO, 0);
		lns_send_raw((uint16_t)(LNS_NS + 100), LNS_NR);     /* from the future */
		lns_send_raw((uint16_t)(LNS_NS - 1), LNS_NR);       /* a duplicate (re-acked) */
		drain();
	}
	assert_int_equal(C.last_rx_ms, up);
	assert_int_equal(l2tp_ctrl_next_deadline(&C), up + 60000);
	NOW = up + 60000;
	l2tp_ctrl_tick(&C, NOW);
	expect_out(L2TP_HELLO);
	send_zlb();                                 /* a real ack is one */
	assert_int_equal(C.last_rx_ms, NOW);
	assert_false(C.hello_outstanding);
}

static void test_hello_unanswered_kills(void **state)
{
	uint64_t t;
	setup_ctrl(0);
	bring_up();
	t = NOW + 60000;
	l2tp_ctrl_tick(&C, t);
	expect_out(L2TP_HELLO);
	for (int i = 0; i < 6 && l2tp_ctrl_tunnel_state(&C) != L2TP_TUN_CLOSED; i++) {
		t = l2tp_ctrl_next_deadline(&C);
		l2tp_ctrl_tick(&C, t);
	}
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_int_equal(S.cleared, 1);
	assert_non_null(strstr(S.closed_reason, "HELLO not acknowledged"));
}

/* With give_up_ms (mailtund: echo_timeout) a dead LNS is named that long after the HELLO,
 * not after all the retransmissions (1+2+4+8+8+8 = 31 s). */
static void test_hello_unanswered_gives_up_in_time(void **state)
{
	uint64_t hello_at;
	setup_ctrl(0);
	C.cfg.rel.give_up_ms = C.rel.cfg.give_up_ms = 20000;
	bring_up();
	hello_at = NOW + 60000;
	l2tp_ctrl_tick(&C, hello_at);
	expect_out(L2TP_HELLO);
	/* retransmitted at +1, +3, +7, +15 s; the give-up time is a deadline of its own */
	for (int i = 0; i < 10 && l2tp_ctrl_tunnel_state(&C) != L2TP_TUN_CLOSED; i++) {
		uint64_t t = l2tp_ctrl_next_deadline(&C);
		assert_true(t <= hello_at + 20000);
		if (t == hello_at + 20000) {
			l2tp_ctrl_tick(&C, t - 1);
			assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_ESTABLISHED);
		}
		l2tp_ctrl_tick(&C, t);
	}
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_int_equal(S.cleared, 1);
	assert_non_null(strstr(S.closed_reason, "LNS silent: HELLO not acknowledged within 20000 ms (4 retransmissions)"));

	/* negative control: without the limit the tunnel still stands 20 s after the HELLO */
	setup_ctrl(0);
	bring_up();
	l2tp_ctrl_tick(&C, hello_at);
	expect_out(L2TP_HELLO);
	for (uint64_t t = hello_at; t <= hello_at + 20000; t += 500)
		l2tp_ctrl_tick(&C, t);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_ESTABLISHED);
}

/* An ack restarts the clock: the limit is per message, from its first transmission. */
static void test_give_up_counts_from_first_send(void **state)
{
	setup_ctrl(0);
	C.cfg.rel.give_up_ms = C.rel.cfg.give_up_ms = 20000;
	bring_up();
	NOW += 60000;
	l2tp_ctrl_tick(&C, NOW);
	expect_out(L2TP_HELLO);
	NOW += 15000;
	l2tp_ctrl_tick(&C, NOW);
	drain();
	send_zlb();                                 /* HELLO acked after 15 s */
	NOW += 60000;
	l2tp_ctrl_tick(&C, NOW);                    /* the next HELLO, 60 s of silence later */
	expect_out(L2TP_HELLO);
	l2tp_ctrl_tick(&C, NOW + 19999);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_ESTABLISHED);
	l2tp_ctrl_tick(&C, NOW + 20000);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
}

static void test_setup_timeouts(void **state)
{
	/* the LNS acks SCCRQ but never answers */
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	lns_msg(L2TP_ZLB, 0);
	lns_send_raw(0, 1);
	l2tp_ctrl_tick(&C, NOW + 30000);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_non_null(strstr(S.closed_reason, "no SCCRP within 30 s"));

	/* ... or never answers ICRQ: then it is told with StopCCN */
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	send_sccrp(0, NULL, 0, 0);
	drain();
	send_zlb();
	l2tp_ctrl_tick(&C, NOW + 30000);
	expect_out(L2TP_STOPCCN);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_STOPPING);
	assert_non_null(strstr(C.pending_reason, "no ICRP within 30 s"));
}

static void test_shutdown_when_up(void **state)
{
	setup_ctrl(0);
	bring_up();
	l2tp_ctrl_shutdown(&C, "uplink changed", NOW);
	expect_out(L2TP_CDN);
	assert_int_equal(OUT.hdr.session_id, LNS_SID);
	assert_int_equal(OUT.session_id, LAC_SID);
	assert_int_equal(OUT.result, L2TP_CDN_ADMIN);
	expect_out(L2TP_STOPCCN);
	assert_int_equal(OUT.result, L2TP_STOP_GENERAL);
	assert_int_equal(S.cleared, 1);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_STOPPING);
	/* new messages while stopping are acked, not acted on */
	send_icrp();
	expect_out(L2TP_ZLB);
	send_zlb();
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_string_equal(S.closed_reason, "uplink changed");
}

static void test_shutdown_unacked_ends_bounded(void **state)
{
	setup_ctrl(0);
	bring_up();
	uint64_t t = NOW;
	l2tp_ctrl_shutdown(&C, "bye", NOW);
	for (int i = 0; i < 10 && l2tp_ctrl_tunnel_state(&C) != L2TP_TUN_CLOSED; i++)
		l2tp_ctrl_tick(&C, t = l2tp_ctrl_next_deadline(&C));
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_string_equal(S.closed_reason, "bye (StopCCN not acknowledged)");
	/* a dead LNS holds the next dial up for stop_timeout_ms, not all the retransmissions */
	assert_true(t - NOW <= 3000);
}

static void test_shutdown_before_sccrp_and_lost(void **state)
{
	setup_ctrl(0);
	l2tp_ctrl_start(&C, NOW);
	drain();
	l2tp_ctrl_shutdown(&C, "stop", NOW);        /* nobody to address: closed at once */
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	expect_out(-1);

	setup_ctrl(0);
	bring_up();
	l2tp_ctrl_lost(&C, "socket error: Connection refused");
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_CLOSED);
	assert_int_equal(S.cleared, 1);
	expect_out(-1);
}

static void test_misaddressed_and_malformed_dropped(void **state)
{
	uint8_t junk[5] = { 1, 2, 3, 4, 5 };
	setup_ctrl(0);
	bring_up();
	lns_msg(L2TP_HELLO, 0);
	IN.hdr.tunnel_id = 0x9999;
	lns_send();
	l2tp_ctrl_input(&C, junk, sizeof(junk), NOW);
	expect_out(-1);
	assert_int_equal(C.dropped, 2);
	assert_int_equal(l2tp_ctrl_tunnel_state(&C), L2TP_TUN_ESTABLISHED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_sccrq_contents),
		cmocka_unit_test(test_auth_ok_both_ways),
		cmocka_unit_test(test_auth_wrong_secret),
		cmocka_unit_test(test_auth_no_response),
		cmocka_unit_test(test_auth_demanded_without_secret),
		cmocka_unit_test(test_bad_version_and_tunnel_id_zero),
		cmocka_unit_test(test_stopccn_from_lns),
		cmocka_unit_test(test_cdn_from_lns),
		cmocka_unit_test(test_cdn_for_other_session_ignored),
		cmocka_unit_test(test_unknown_mandatory_avp),
		cmocka_unit_test(test_missing_required_avp),
		cmocka_unit_test(test_retransmit_backoff_then_dead),
		cmocka_unit_test(test_ack_resets_backoff),
		cmocka_unit_test(test_retransmission_carries_latest_nr),
		cmocka_unit_test(test_duplicate_reacked_not_redelivered),
		cmocka_unit_test(test_future_message_dropped),
		cmocka_unit_test(test_window_bounds_in_flight),
		cmocka_unit_test(test_sequence_wraps),
		cmocka_unit_test(test_hello_keepalive),
		cmocka_unit_test(test_junk_is_no_sign_of_life),
		cmocka_unit_test(test_hello_unanswered_kills),
		cmocka_unit_test(test_hello_unanswered_gives_up_in_time),
		cmocka_unit_test(test_give_up_counts_from_first_send),
		cmocka_unit_test(test_iccn_waits_for_attach),
		cmocka_unit_test(test_iccn_after_attach_wait),
		cmocka_unit_test(test_call_ends_while_waiting_for_attach),
		cmocka_unit_test(test_setup_timeouts),
		cmocka_unit_test(test_shutdown_when_up),
		cmocka_unit_test(test_shutdown_unacked_ends_bounded),
		cmocka_unit_test(test_shutdown_before_sccrp_and_lost),
		cmocka_unit_test(test_misaddressed_and_malformed_dropped),
	};
	log_init("test_l2tp_ctrl", LOG_TO_STDERR, LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

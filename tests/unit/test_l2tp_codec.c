/*
 * test_l2tp_codec.c — unit tests for tunneld/l2tp/l2tp_codec: the header bits, hand-built
 * wire bytes (so the decoder is not only checked against our own encoder), the exact octets of
 * what the LAC sends, round trips of every message type, each AVP length rule, the M-bit rules
 * for unknown AVPs and message types, hidden AVPs checked against an independent MD5, and the
 * challenge response.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "l2tp_codec.h"

/* ---- hand-built wire helpers (independent of the codec) ---- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

struct wire { uint8_t b[2048]; size_t n; };

/* A control header with tunnel/session/ns/nr; the length is fixed by finish(). */
static void start(struct wire *w, uint16_t tid, uint16_t sid, uint16_t ns, uint16_t nr)
{
	memset(w, 0, sizeof(*w));
	put16(w->b, 0xC802);
	put16(w->b + 4, tid);
	put16(w->b + 6, sid);
	put16(w->b + 8, ns);
	put16(w->b + 10, nr);
	w->n = 12;
}

static void avp(struct wire *w, int m, int h, uint16_t vendor, uint16_t attr, const void *v, size_t n)
{
	put16(w->b + w->n, (uint16_t)((m ? 0x8000 : 0) | (h ? 0x4000 : 0) | (6 + n)));
	put16(w->b + w->n + 2, vendor);
	put16(w->b + w->n + 4, attr);
	memcpy(w->b + w->n + 6, v, n);
	w->n += 6 + n;
}

static void avp16(struct wire *w, uint16_t attr, uint16_t v)
{
	uint8_t b[2];
	put16(b, v);
	avp(w, 1, 0, 0, attr, b, 2);
}

static void avp32(struct wire *w, uint16_t attr, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	avp(w, 1, 0, 0, attr, b, 4);
}

static void finish(struct wire *w) { put16(w->b + 2, (uint16_t)w->n); }

static struct l2tp_msg M;   /* a 4 KB arena: off the stack */

static enum l2tp_decode_status dec(const struct wire *w, const struct l2tp_secret *s, char *why)
{
	return l2tp_decode(w->b, w->n, s, &M, why);
}

static void md5_of(const void *a, size_t an, const void *b, size_t bn, const void *c, size_t cn,
		   uint8_t out[16])
{
	unsigned int l;
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	EVP_DigestInit_ex(x, EVP_md5(), NULL);
	EVP_DigestUpdate(x, a, an);
	EVP_DigestUpdate(x, b, bn);
	EVP_DigestUpdate(x, c, cn);
	EVP_DigestFinal_ex(x, out, &l);
	EVP_MD_CTX_free(x);
}

/* ---- header ---- */

static void test_header_control(void **state)
{
	struct wire w;
	struct l2tp_header h;
	char why[L2TP_REASON_LEN];
	start(&w, 7, 9, 3, 4);
	finish(&w);
	assert_int_equal(l2tp_header_decode(w.b, w.n, &h, why), 0);
	assert_int_equal(h.tunnel_id, 7);
	assert_int_equal(h.session_id, 9);
	assert_int_equal(h.ns, 3);
	assert_int_equal(h.nr, 4);
	assert_int_equal(h.length, 12);
	assert_int_equal(h.payload_off, 12);
}

static void test_header_data_offset(void **state)
{
	/* T=0, L=1, S=0, O=1, P=1: length, tunnel, session, offset 2 + 2 pad, then PPP */
	uint8_t b[16] = { 0x43, 0x02, 0, 14, 0, 5, 0, 6, 0, 2, 0xee, 0xee, 0xff, 0x03 };
	struct l2tp_header h;
	char why[L2TP_REASON_LEN];
	assert_int_equal(l2tp_header_decode(b, 14, &h, why), 0);
	assert_true(h.flags & L2TP_HDR_P);
	assert_int_equal(h.tunnel_id, 5);
	assert_int_equal(h.session_id, 6);
	assert_int_equal(h.offset_size, 2);
	assert_int_equal(h.payload_off, 12);
	/* an offset past the end */
	b[9] = 9;
	assert_int_equal(l2tp_header_decode(b, 14, &h, why), -1);
	assert_non_null(strstr(why, "length field"));
}

static void test_header_errors(void **state)
{
	struct wire w;
	struct l2tp_header h;
	char why[L2TP_REASON_LEN];

	start(&w, 1, 0, 0, 0);
	finish(&w);
	put16(w.b, 0xC803);                       /* L2TPv3 */
	assert_int_equal(l2tp_header_decode(w.b, w.n, &h, why), -1);
	assert_non_null(strstr(why, "version 3"));
	put16(w.b, 0x8802);                       /* control without L */
	assert_int_equal(l2tp_header_decode(w.b, w.n, &h, why), -1);
	assert_non_null(strstr(why, "needs L and S"));
	put16(w.b, 0xCA02);                       /* control with O */
	assert_int_equal(l2tp_header_decode(w.b, w.n, &h, why), -1);
	put16(w.b, 0xC802);
	put16(w.b + 2, 40);                       /* longer than the datagram */
	assert_int_equal(l2tp_header_decode(w.b, w.n, &h, why), -1);
	assert_non_null(strstr(why, "length field 40"));
	assert_int_equal(l2tp_header_decode(w.b, 5, &h, why), -1);
	assert_int_equal(l2tp_header_decode(w.b, 10, &h, why), -1);
	assert_non_null(strstr(why, "shorter than its header"));
}

static void test_data_message_refused_as_control(void **state)
{
	uint8_t b[8] = { 0x00, 0x02, 0, 1, 0, 1, 0xff, 0x03 };
	char why[L2TP_REASON_LEN];
	assert_int_equal(l2tp_decode(b, 8, NULL, &M, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "data message"));
}

/* ---- hand-built messages ---- */

static void test_decode_sccrp_wire(void **state)
{
	struct wire w;
	char why[L2TP_REASON_LEN];
	uint8_t resp[16];
	memset(resp, 0xab, sizeof(resp));
	start(&w, 0x1111, 0, 0, 1);
	avp16(&w, 0, L2TP_SCCRP);
	avp16(&w, 2, 0x0100);
	avp(&w, 1, 0, 0, 7, "lns.example", 11);
	avp32(&w, 3, 3);
	avp32(&w, 4, 0);
	avp16(&w, 6, 0x0680);
	avp(&w, 0, 0, 0, 8, "xelerance.com", 13);
	avp16(&w, 9, 0x2222);
	avp16(&w, 10, 8);
	avp(&w, 1, 0, 0, 13, resp, 16);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_OK);
	assert_int_equal(M.type, L2TP_SCCRP);
	assert_int_equal(M.hdr.tunnel_id, 0x1111);
	assert_int_equal(M.hdr.nr, 1);
	assert_int_equal(M.proto_version, 0x0100);
	assert_int_equal(M.host_name.len, 11);
	assert_memory_equal(M.host_name.p, "lns.example", 11);
	assert_memory_equal(M.vendor_name.p, "xelerance.com", 13);
	assert_int_equal(M.framing_caps, 3);
	assert_int_equal(M.firmware_rev, 0x0680);
	assert_int_equal(M.tunnel_id, 0x2222);
	assert_int_equal(M.recv_window, 8);
	assert_memory_equal(M.chal_response, resp, 16);
	assert_int_equal(l2tp_check_required(&M, why), 0);
	/* the values are copies: the datagram can go */
	memset(w.b, 0, sizeof(w.b));
	assert_memory_equal(M.host_name.p, "lns.example", 11);
}

static void test_decode_stopccn_cdn_results(void **state)
{
	struct wire w;
	char why[L2TP_REASON_LEN];
	uint8_t rc[4 + 5] = { 0, 2, 0, 6, 'o', 'o', 'p', 's', '!' };

	start(&w, 1, 0, 2, 2);
	avp16(&w, 0, L2TP_STOPCCN);
	avp16(&w, 9, 0x2222);
	avp(&w, 1, 0, 0, 1, rc, sizeof(rc));
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_OK);
	assert_int_equal(M.result, 2);
	assert_true(M.has_error);
	assert_int_equal(M.error, 6);
	assert_int_equal(M.result_msg.len, 5);
	assert_memory_equal(M.result_msg.p, "oops!", 5);
	assert_string_equal(l2tp_stop_result_name(M.result), "general error");
	assert_string_equal(l2tp_error_name(M.error), "vendor specific error");

	/* CDN with a 2-octet result, a Q.931 cause with advisory text */
	start(&w, 1, 5, 3, 2);
	avp16(&w, 0, L2TP_CDN);
	avp(&w, 1, 0, 0, 1, rc, 2);
	avp16(&w, 14, 0x33);
	avp(&w, 1, 0, 0, 12, "\x00\x10\x05hi", 5);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_OK);
	assert_int_equal(M.type, L2TP_CDN);
	assert_false(M.has_error);
	assert_int_equal(M.result, 2);
	assert_int_equal(M.q931_cause, 0x10);
	assert_int_equal(M.q931_msg, 5);
	assert_memory_equal(M.q931_advisory.p, "hi", 2);
	assert_string_equal(l2tp_cdn_result_name(3), "administrative reasons");

	/* a 3-octet result code is malformed */
	start(&w, 1, 5, 3, 2);
	avp16(&w, 0, L2TP_CDN);
	avp(&w, 1, 0, 0, 1, rc, 3);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "Result Code AVP in CDN has a value of 3 octets"));
}

static void test_decode_sli_wen_accm_errors(void **state)
{
	struct wire w;
	char why[L2TP_REASON_LEN];
	uint8_t accm[10] = { 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x0a };
	uint8_t ce[26] = { 0 };
	ce[5] = 1; ce[25] = 6;
	start(&w, 1, 5, 4, 2);
	avp16(&w, 0, L2TP_SLI);
	avp(&w, 1, 0, 0, 35, accm, 10);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_OK);
	assert_int_equal(M.accm_send, 0xffffffffu);
	assert_int_equal(M.accm_recv, 0x0a);
	start(&w, 1, 5, 4, 2);
	avp16(&w, 0, L2TP_WEN);
	avp(&w, 1, 0, 0, 34, ce, 26);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_OK);
	assert_int_equal(M.call_errors[0], 1);
	assert_int_equal(M.call_errors[5], 6);
}

static void test_zlb(void **state)
{
	struct wire w;
	char why[L2TP_REASON_LEN];
	uint8_t out[64];
	start(&w, 0x10, 0, 5, 6);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_OK);
	assert_int_equal(M.type, L2TP_ZLB);
	assert_int_equal(M.hdr.ns, 5);
	assert_int_equal(l2tp_encode(&M, NULL, out, sizeof(out)), 12);
	assert_memory_equal(out, w.b, 12);
}

/* ---- what the LAC sends, octet by octet ---- */

static void test_encode_sccrq_octets(void **state)
{
	struct l2tp_msg m;
	uint8_t out[256];
	size_t n;
	memset(&m, 0, sizeof(m));
	m.type = L2TP_SCCRQ;
	m.present = L2TP_AVP_BIT(L2TP_AVP_PROTO_VERSION) | L2TP_AVP_BIT(L2TP_AVP_HOST_NAME) |
		    L2TP_AVP_BIT(L2TP_AVP_FRAMING_CAPS) | L2TP_AVP_BIT(L2TP_AVP_TUNNEL_ID) |
		    L2TP_AVP_BIT(L2TP_AVP_VENDOR_NAME);
	m.proto_version = 0x0100;
	m.host_name = l2tp_str("mt");
	m.vendor_name = l2tp_str("v");
	m.framing_caps = 3;
	m.tunnel_id = 0xbeef;
	n = l2tp_encode(&m, NULL, out, sizeof(out));
	/* 12 header + 8 type + 8 version + 10 framing + 8 host + 7 vendor + 8 tunnel id */
	assert_int_equal(n, 61);
	assert_int_equal(get16(out), 0xC802);
	assert_int_equal(get16(out + 2), 61);
	assert_int_equal(get16(out + 4), 0);         /* tunnel 0 until the LNS assigns one */
	{
		static const uint8_t expect[] = {
			0x80, 8, 0, 0, 0, 0, 0, 1,                  /* Message Type SCCRQ, M set */
			0x80, 8, 0, 0, 0, 2, 1, 0,                  /* Protocol Version 1.0 */
			0x80, 10, 0, 0, 0, 3, 0, 0, 0, 3,           /* Framing Capabilities */
			0x80, 8, 0, 0, 0, 7, 'm', 't',              /* Host Name */
			0x00, 7, 0, 0, 0, 8, 'v',                   /* Vendor Name, M clear */
			0x80, 8, 0, 0, 0, 9, 0xbe, 0xef,            /* Assigned Tunnel ID */
		};
		assert_memory_equal(out + 12, expect, sizeof(expect));
	}
	/* too small a buffer: nothing, never a partial message */
	assert_int_equal(l2tp_encode(&m, NULL, out, 60), 0);
	/* a value out of range */
	m.host_name.len = 0;
	assert_int_equal(l2tp_encode(&m, NULL, out, sizeof(out)), 0);
}

/* ---- round trips: every message type with the AVPs it requires and a few more ---- */

static void test_round_trip_all_types(void **state)
{
	static const uint16_t types[] = { L2TP_SCCRQ, L2TP_SCCRP, L2TP_SCCCN, L2TP_STOPCCN, L2TP_HELLO,
		L2TP_OCRQ, L2TP_OCRP, L2TP_OCCN, L2TP_ICRQ, L2TP_ICRP, L2TP_ICCN, L2TP_CDN, L2TP_WEN,
		L2TP_SLI };
	uint8_t b1[1024], b2[1024];
	char why[L2TP_REASON_LEN];
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct l2tp_msg m;
		size_t n1, n2;
		memset(&m, 0, sizeof(m));
		m.type = types[i];
		m.hdr.tunnel_id = 0x1234;
		m.hdr.session_id = 0x5678;
		m.hdr.ns = (uint16_t)i;
		m.hdr.nr = (uint16_t)(i + 1);
		m.present = l2tp_required_avps(m.type) | L2TP_AVP_BIT(L2TP_AVP_SEQ_REQUIRED) |
			    L2TP_AVP_BIT(L2TP_AVP_PRIVATE_GROUP);
		m.proto_version = 0x0100;
		m.host_name = l2tp_str("host");
		m.called_number = l2tp_str("123");
		m.private_group = l2tp_str("grp");
		m.tunnel_id = 77; m.session_id = 88; m.call_serial = 99; m.tx_speed = 100000000;
		m.framing_type = 1; m.result = 1; m.accm_send = 1; m.accm_recv = 2; m.call_errors[3] = 4;
		n1 = l2tp_encode(&m, NULL, b1, sizeof(b1));
		assert_true(n1 > 12);
		assert_int_equal(l2tp_decode(b1, n1, NULL, &M, why), L2TP_DEC_OK);
		assert_int_equal(M.type, types[i]);
		assert_int_equal(M.present, m.present);
		assert_int_equal(M.hdr.ns, i);
		assert_int_equal(M.hdr.session_id, 0x5678);
		assert_int_equal(l2tp_check_required(&M, why), 0);
		n2 = l2tp_encode(&M, NULL, b2, sizeof(b2));
		assert_int_equal(n1, n2);
		assert_memory_equal(b1, b2, n1);
	}
}

/* ---- AVP rules ---- */

static void test_avp_length_rules(void **state)
{
	struct wire w;
	char why[L2TP_REASON_LEN];

	start(&w, 1, 0, 0, 0);                     /* Assigned Tunnel ID of 3 octets */
	avp16(&w, 0, L2TP_SCCRP);
	avp(&w, 1, 0, 0, 9, "abc", 3);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "Assigned Tunnel ID AVP in SCCRP has a value of 3 octets"));

	start(&w, 1, 0, 0, 0);                     /* an empty Host Name */
	avp16(&w, 0, L2TP_SCCRP);
	avp(&w, 1, 0, 0, 7, "", 0);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_MALFORMED);

	start(&w, 1, 0, 0, 0);                     /* AVP length below its header */
	avp16(&w, 0, L2TP_HELLO);
	put16(w.b + w.n, 0x8003);
	w.n += 6;
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "has length 3"));

	start(&w, 1, 0, 0, 0);                     /* AVP length past the message */
	avp16(&w, 0, L2TP_HELLO);
	avp(&w, 1, 0, 0, 7, "name", 4);
	put16(w.b + w.n - 10, 0x8000 | 200);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_MALFORMED);

	start(&w, 1, 0, 0, 0);                     /* trailing octets too few for an AVP */
	avp16(&w, 0, L2TP_HELLO);
	w.n += 3;
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "too few for an AVP header"));

	start(&w, 1, 0, 0, 0);                     /* first AVP is not Message Type */
	avp16(&w, 9, 5);
	avp16(&w, 0, L2TP_HELLO);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "Message Type"));

	start(&w, 1, 0, 0, 0);                     /* a second Message Type */
	avp16(&w, 0, L2TP_HELLO);
	avp16(&w, 0, L2TP_HELLO);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_MALFORMED);

	start(&w, 1, 0, 0, 0);                     /* longer than we take */
	avp16(&w, 0, L2TP_HELLO);
	finish(&w);
	put16(w.b + 2, 5000);
	{
		static uint8_t big[6000];
		memcpy(big, w.b, w.n);
		assert_int_equal(l2tp_decode(big, 5000, NULL, &M, why), L2TP_DEC_MALFORMED);
		assert_non_null(strstr(why, "more than 4096"));
	}
}

static void test_required_avps(void **state)
{
	struct wire w;
	char why[L2TP_REASON_LEN];
	start(&w, 1, 0, 0, 0);
	avp16(&w, 0, L2TP_SCCRP);
	avp16(&w, 2, 0x0100);
	avp32(&w, 3, 3);
	avp16(&w, 9, 4);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_OK);
	assert_int_equal(l2tp_check_required(&M, why), -1);
	assert_string_equal(why, "SCCRP without its Host Name AVP");
	M.type = L2TP_ICRP;
	assert_int_equal(l2tp_check_required(&M, why), -1);
	assert_string_equal(why, "ICRP without its Assigned Session ID AVP");
}

static void test_unknown_avps_m_bit(void **state)
{
	struct wire w;
	char why[L2TP_REASON_LEN];

	/* unknown attribute and vendor AVPs without M: ignored */
	start(&w, 1, 0, 0, 0);
	avp16(&w, 0, L2TP_HELLO);
	avp(&w, 0, 0, 0, 20, "x", 1);
	avp(&w, 0, 0, 9, 1, "yy", 2);
	avp(&w, 0, 0, 0, 400, "", 0);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_OK);
	assert_int_equal(M.present, L2TP_AVP_BIT(0));

	/* a vendor AVP with M: the message's owner must be torn down */
	start(&w, 1, 3, 0, 0);
	avp16(&w, 0, L2TP_ICRP);
	avp16(&w, 14, 9);
	avp(&w, 1, 0, 311, 7, "ms", 2);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_UNKNOWN_MANDATORY);
	assert_int_equal(M.unknown_vendor, 311);
	assert_int_equal(M.unknown_attr, 7);
	assert_int_equal(M.type, L2TP_ICRP);
	assert_int_equal(M.hdr.session_id, 3);
	assert_true(l2tp_msg_is_session(M.type));
	assert_non_null(strstr(why, "unknown AVP 311/7 with the M bit in ICRP"));

	/* an unknown attribute type with M, in a tunnel message */
	start(&w, 1, 0, 0, 0);
	avp16(&w, 0, L2TP_SCCRP);
	avp(&w, 1, 0, 0, 99, "", 0);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_UNKNOWN_MANDATORY);
	assert_false(l2tp_msg_is_session(M.type));

	/* unknown message types: with M the tunnel goes, without it the message is ignored */
	start(&w, 1, 0, 0, 0);
	avp16(&w, 0, 13);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_UNKNOWN_MANDATORY);
	start(&w, 1, 0, 0, 0);
	avp(&w, 0, 0, 0, 0, "\x00\x63", 2);
	finish(&w);
	assert_int_equal(dec(&w, NULL, why), L2TP_DEC_IGNORE);
	assert_int_equal(M.type, 99);
}

/* ---- hidden AVPs ---- */

static const struct l2tp_secret SECRET = { (const uint8_t *)"s3cr3t", 6 };
static const uint8_t RV[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void test_hidden_matches_rfc_formula(void **state)
{
	struct l2tp_bytes rv = { RV, 16 };
	const char *name = "a host name longer than sixteen";   /* 31 octets: two MD5 blocks */
	uint8_t out[64], plain[34], b[16], at[2] = { 0, 7 };
	size_t n = l2tp_hide_value(7, &SECRET, &rv, (const uint8_t *)name, 31, 1, out, sizeof(out));
	assert_int_equal(n, 34);
	put16(plain, 31);
	memcpy(plain + 2, name, 31);
	plain[33] = 0;
	md5_of(at, 2, SECRET.p, SECRET.len, RV, 16, b);               /* b1 = MD5(AV, S, RV) */
	for (int i = 0; i < 16; i++)
		assert_int_equal(out[i], plain[i] ^ b[i]);
	md5_of(SECRET.p, SECRET.len, out, 16, "", 0, b);              /* b2 = MD5(S, c1) */
	for (int i = 16; i < 32; i++)
		assert_int_equal(out[i], plain[i] ^ b[i - 16]);
	{
		uint8_t back[64];
		assert_int_equal(l2tp_reveal_value(7, &SECRET, &rv, out, n, back, sizeof(back)), 31);
		assert_memory_equal(back, name, 31);
	}
}

static void test_hidden_avps_in_messages(void **state)
{
	struct l2tp_msg m;
	struct l2tp_hide hide = { SECRET, { RV, 16 },
				  L2TP_AVP_BIT(L2TP_AVP_HOST_NAME) | L2TP_AVP_BIT(L2TP_AVP_TUNNEL_ID) };
	struct l2tp_secret wrong = { (const uint8_t *)"other", 5 };
	uint8_t out[512];
	char why[L2TP_REASON_LEN];
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = L2TP_SCCRP;
	m.present = l2tp_required_avps(L2TP_SCCRP);
	m.proto_version = 0x0100;
	m.host_name = l2tp_str("lns");
	m.tunnel_id = 0x4242;
	n = l2tp_encode(&m, &hide, out, sizeof(out));
	assert_true(n > 0);
	/* Random Vector right after Message Type, then the hidden AVPs with H set */
	assert_int_equal(get16(out + 20 + 4), L2TP_AVP_RANDOM_VECTOR);
	assert_int_equal(l2tp_decode(out, n, &SECRET, &M, why), L2TP_DEC_OK);
	assert_int_equal(M.hidden, hide.mask);
	assert_int_equal(M.tunnel_id, 0x4242);
	assert_memory_equal(M.host_name.p, "lns", 3);
	/* no secret, wrong secret */
	assert_int_equal(l2tp_decode(out, n, NULL, &M, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "no tunnel secret is configured"));
	assert_int_equal(l2tp_decode(out, n, &wrong, &M, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "does not decrypt"));
}

static void test_hidden_avp_rules(void **state)
{
	struct wire w;
	char why[L2TP_REASON_LEN];
	start(&w, 1, 0, 0, 0);                     /* hidden without a Random Vector before it */
	avp16(&w, 0, L2TP_SCCRP);
	avp(&w, 1, 1, 0, 7, "\x12\x34\x56", 3);
	avp(&w, 1, 0, 0, 36, RV, 16);
	finish(&w);
	assert_int_equal(dec(&w, &SECRET, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "without a Random Vector"));
	start(&w, 1, 0, 0, 0);                     /* a hidden Random Vector */
	avp16(&w, 0, L2TP_SCCRP);
	avp(&w, 1, 1, 0, 36, RV, 16);
	finish(&w);
	assert_int_equal(dec(&w, &SECRET, why), L2TP_DEC_MALFORMED);
	assert_non_null(strstr(why, "hidden Random Vector"));
	start(&w, 1, 0, 0, 0);                     /* hidden value of one octet: no room for its length */
	avp16(&w, 0, L2TP_SCCRP);
	avp(&w, 1, 0, 0, 36, RV, 16);
	avp(&w, 1, 1, 0, 7, "\x12", 1);
	finish(&w);
	assert_int_equal(dec(&w, &SECRET, why), L2TP_DEC_MALFORMED);
}

/* ---- tunnel authentication ---- */

static void test_challenge_response(void **state)
{
	uint8_t chal[16], r[16], expect[16], type = 2;
	memset(chal, 0x5a, sizeof(chal));
	assert_int_equal(l2tp_chal_response(2, &SECRET, chal, sizeof(chal), r), 0);
	md5_of(&type, 1, SECRET.p, SECRET.len, chal, sizeof(chal), expect);
	assert_memory_equal(r, expect, 16);
	/* the SCCCN response differs from the SCCRP one: the type octet is in it */
	assert_int_equal(l2tp_chal_response(3, &SECRET, chal, sizeof(chal), r), 0);
	assert_memory_not_equal(r, expect, 16);
}

static void test_names(void **state)
{
	assert_string_equal(l2tp_msg_name(L2TP_ICCN), "ICCN");
	assert_string_equal(l2tp_msg_name(0), "ZLB");
	assert_string_equal(l2tp_msg_name(5), "type-5");
	assert_string_equal(l2tp_avp_name(L2TP_AVP_CHAL_RESPONSE), "Challenge Response");
	assert_string_equal(l2tp_avp_name(20), "AVP-20");
	assert_string_equal(l2tp_stop_result_name(99), "unknown result");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_control),
		cmocka_unit_test(test_header_data_offset),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_data_message_refused_as_control),
		cmocka_unit_test(test_decode_sccrp_wire),
		cmocka_unit_test(test_decode_stopccn_cdn_results),
		cmocka_unit_test(test_decode_sli_wen_accm_errors),
		cmocka_unit_test(test_zlb),
		cmocka_unit_test(test_encode_sccrq_octets),
		cmocka_unit_test(test_round_trip_all_types),
		cmocka_unit_test(test_avp_length_rules),
		cmocka_unit_test(test_required_avps),
		cmocka_unit_test(test_unknown_avps_m_bit),
		cmocka_unit_test(test_hidden_matches_rfc_formula),
		cmocka_unit_test(test_hidden_avps_in_messages),
		cmocka_unit_test(test_hidden_avp_rules),
		cmocka_unit_test(test_challenge_response),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

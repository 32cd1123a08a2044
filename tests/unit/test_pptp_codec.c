/*
 * test_pptp_codec.c — unit tests for tunneld/pptp/pptp_codec: hand-built wire bytes for every
 * message type (so the decoder is not only checked against our own encoder), the exact
 * field offsets of what the client sends, round trips of all 15 types, every malformed
 * header field, early refusal of garbage, truncation and string bounding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pptp_codec.h"

/* ---- hand-built wire helpers (deliberately independent of the codec) ---- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes a header of a message of total length len and control type t; zeroes the body. */
static void hdr(uint8_t *b, uint16_t len, uint16_t t)
{
	memset(b, 0, len);
	put16(b, len);
	put16(b + 2, 1);
	put32(b + 4, 0x1A2B3C4D);
	put16(b + 8, t);
	put16(b + 10, 0);
}

static enum pptp_decode_status dec(const uint8_t *b, size_t len, struct pptp_msg *m, size_t *used,
				   char *why)
{
	return pptp_decode(b, len, m, used, why);
}

static void expect_complete(const uint8_t *b, size_t len, struct pptp_msg *m)
{
	size_t used = 0;
	char why[PPTP_REASON_LEN];
	enum pptp_decode_status st = dec(b, len, m, &used, why);
	if (st != PPTP_DECODE_COMPLETE)
		fail_msg("decode status %d reason=%s", st, why);
	assert_int_equal(used, len);
	assert_int_equal(m->length, len);
}

/* ---- names and lengths ---- */

static void test_names_and_lengths(void **state)
{
	static const struct { unsigned t; const char *name; size_t len; } tab[] = {
		{ 1, "SCCRQ", 156 }, { 2, "SCCRP", 156 }, { 3, "StopCCRQ", 16 }, { 4, "StopCCRP", 16 },
		{ 5, "Echo-Request", 16 }, { 6, "Echo-Reply", 20 }, { 7, "OCRQ", 168 }, { 8, "OCRP", 32 },
		{ 9, "ICRQ", 220 }, { 10, "ICRP", 24 }, { 11, "ICCN", 28 }, { 12, "CCRQ", 16 },
		{ 13, "CDN", 148 }, { 14, "WEN", 40 }, { 15, "SLI", 24 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		assert_string_equal(pptp_type_name(tab[i].t), tab[i].name);
		assert_int_equal(pptp_msg_len(tab[i].t), tab[i].len);
	}
	assert_string_equal(pptp_type_name(0), "unknown");
	assert_string_equal(pptp_type_name(16), "unknown");
	assert_int_equal(pptp_msg_len(0), 0);
	assert_int_equal(pptp_msg_len(16), 0);
	assert_int_equal(PPTP_MAX_MSG_LEN, 220);

	assert_string_equal(pptp_result_name(PPTP_SCCRP, 1), "Successful");
	assert_string_equal(pptp_result_name(PPTP_SCCRP, 4), "Not-Authorized");
	assert_string_equal(pptp_result_name(PPTP_SCCRP, 5), "Bad-Protocol-Version");
	assert_string_equal(pptp_result_name(PPTP_SCCRP, 6), "unknown");
	assert_string_equal(pptp_result_name(PPTP_SCCRP, 0), "unknown");
	assert_string_equal(pptp_result_name(PPTP_STOPCCRQ, 3), "Stop-Local-Shutdown");
	assert_string_equal(pptp_result_name(PPTP_STOPCCRP, 1), "OK");
	assert_string_equal(pptp_result_name(PPTP_ECHORP, 2), "General-Error");
	assert_string_equal(pptp_result_name(PPTP_OCRP, 1), "Connected");
	assert_string_equal(pptp_result_name(PPTP_OCRP, 4), "Busy");
	assert_string_equal(pptp_result_name(PPTP_OCRP, 7), "Do-Not-Accept");
	assert_string_equal(pptp_result_name(PPTP_OCRP, 8), "unknown");
	assert_string_equal(pptp_result_name(PPTP_ICRP, 3), "Do-Not-Accept");
	assert_string_equal(pptp_result_name(PPTP_CDN, 1), "Lost-Carrier");
	assert_string_equal(pptp_result_name(PPTP_CDN, 4), "Request");
	assert_string_equal(pptp_result_name(PPTP_SLI, 1), "unknown");
	assert_string_equal(pptp_error_name(0), "None");
	assert_string_equal(pptp_error_name(5), "Bad-Call-ID");
	assert_string_equal(pptp_error_name(6), "PAC-Error");
	assert_string_equal(pptp_error_name(7), "unknown");
}

static void test_printable(void **state)
{
	char out[8];
	(void)state;
	assert_string_equal(pptp_printable(out, sizeof(out), "a\nb\x1b" "c"), "a?b?c");
	assert_string_equal(pptp_printable(out, sizeof(out), "0123456789"), "0123456");
	assert_string_equal(pptp_printable(out, sizeof(out), "\xff"), "?");
}

/* ---- hand-built decode, one per type ---- */

static void test_decode_sccrp_bytes(void **state)
{
	uint8_t b[156];
	struct pptp_msg m;
	(void)state;
	hdr(b, 156, 2);
	put16(b + 12, 0x0100);
	b[14] = 1;
	b[15] = 0;
	put32(b + 16, 2);
	put32(b + 20, 1);
	put16(b + 24, 7);
	put16(b + 26, 0x1234);
	memset(b + 28, 'h', 64);               /* a hostname filling its field, no NUL */
	memcpy(b + 92, "vendor\0junk", 11);    /* bytes after the NUL are not part of it */
	expect_complete(b, sizeof(b), &m);
	assert_int_equal(m.type, PPTP_SCCRP);
	assert_int_equal(m.u.sccrp.version, 0x0100);
	assert_int_equal(m.u.sccrp.result, 1);
	assert_int_equal(m.u.sccrp.error, 0);
	assert_int_equal(m.u.sccrp.framing_caps, 2);
	assert_int_equal(m.u.sccrp.bearer_caps, 1);
	assert_int_equal(m.u.sccrp.max_channels, 7);
	assert_int_equal(m.u.sccrp.firmware_rev, 0x1234);
	assert_int_equal(strlen(m.u.sccrp.hostname), 64);
	assert_int_equal(m.u.sccrp.hostname[0], 'h');
	assert_string_equal(m.u.sccrp.vendor, "vendor");
}

static void test_decode_sccrq_bytes(void **state)
{
	uint8_t b[156];
	struct pptp_msg m;
	(void)state;
	hdr(b, 156, 1);
	put16(b + 12, 0x0100);
	b[14] = 9;             /* reserved1 in a request: not a result */
	put32(b + 16, 3);
	put32(b + 20, 3);
	memcpy(b + 28, "client", 6);
	expect_complete(b, sizeof(b), &m);
	assert_int_equal(m.type, PPTP_SCCRQ);
	assert_int_equal(m.u.sccrq.result, 0);
	assert_int_equal(m.u.sccrq.framing_caps, 3);
	assert_string_equal(m.u.sccrq.hostname, "client");
	assert_string_equal(m.u.sccrq.vendor, "");
}

static void test_decode_small_bytes(void **state)
{
	uint8_t b[40];
	struct pptp_msg m;
	(void)state;

	hdr(b, 16, 3);
	b[12] = 2;
	expect_complete(b, 16, &m);
	assert_int_equal(m.type, PPTP_STOPCCRQ);
	assert_int_equal(m.u.stopccrq.reason, 2);

	hdr(b, 16, 4);
	b[12] = 2;
	b[13] = 6;
	expect_complete(b, 16, &m);
	assert_int_equal(m.u.stopccrp.result, 2);
	assert_int_equal(m.u.stopccrp.error, 6);

	hdr(b, 16, 5);
	put32(b + 12, 0xdeadbeef);
	expect_complete(b, 16, &m);
	assert_int_equal(m.type, PPTP_ECHORQ);
	assert_int_equal(m.u.echorq.id, 0xdeadbeef);

	hdr(b, 20, 6);
	put32(b + 12, 77);
	b[16] = 1;
	b[17] = 3;
	expect_complete(b, 20, &m);
	assert_int_equal(m.u.echorp.id, 77);
	assert_int_equal(m.u.echorp.result, 1);
	assert_int_equal(m.u.echorp.error, 3);

	hdr(b, 32, 8);
	put16(b + 12, 0x4321);
	put16(b + 14, 0x0007);
	b[16] = 4;
	b[17] = 0;
	put16(b + 18, 99);
	put32(b + 20, 10000000);
	put16(b + 24, 32);
	put16(b + 26, 5);
	put32(b + 28, 0xabcdef01);
	expect_complete(b, 32, &m);
	assert_int_equal(m.type, PPTP_OCRP);
	assert_int_equal(m.u.ocrp.call_id, 0x4321);
	assert_int_equal(m.u.ocrp.peer_call_id, 7);
	assert_int_equal(m.u.ocrp.result, 4);
	assert_int_equal(m.u.ocrp.cause, 99);
	assert_int_equal(m.u.ocrp.connect_speed, 10000000);
	assert_int_equal(m.u.ocrp.recv_window, 32);
	assert_int_equal(m.u.ocrp.processing_delay, 5);
	assert_int_equal(m.u.ocrp.physical_channel, 0xabcdef01);

	hdr(b, 24, 10);
	put16(b + 12, 3);
	put16(b + 14, 4);
	b[16] = 3;
	b[17] = 1;
	put16(b + 18, 16);
	put16(b + 20, 2);
	expect_complete(b, 24, &m);
	assert_int_equal(m.u.icrp.call_id, 3);
	assert_int_equal(m.u.icrp.peer_call_id, 4);
	assert_int_equal(m.u.icrp.result, 3);
	assert_int_equal(m.u.icrp.error, 1);
	assert_int_equal(m.u.icrp.recv_window, 16);
	assert_int_equal(m.u.icrp.transmit_delay, 2);

	hdr(b, 28, 11);
	put16(b + 12, 12);
	put32(b + 16, 64000);
	put16(b + 20, 8);
	put16(b + 22, 1);
	put32(b + 24, 2);
	expect_complete(b, 28, &m);
	assert_int_equal(m.u.iccn.peer_call_id, 12);
	assert_int_equal(m.u.iccn.connect_speed, 64000);
	assert_int_equal(m.u.iccn.recv_window, 8);
	assert_int_equal(m.u.iccn.transmit_delay, 1);
	assert_int_equal(m.u.iccn.framing_type, 2);

	hdr(b, 16, 12);
	put16(b + 12, 0xbeef);
	expect_complete(b, 16, &m);
	assert_int_equal(m.type, PPTP_CCRQ);
	assert_int_equal(m.u.ccrq.call_id, 0xbeef);

	hdr(b, 40, 14);
	put16(b + 12, 5);
	for (int i = 0; i < 6; i++)
		put32(b + 16 + 4 * i, (uint32_t)(100 + i));
	expect_complete(b, 40, &m);
	assert_int_equal(m.u.wen.peer_call_id, 5);
	assert_int_equal(m.u.wen.crc_errors, 100);
	assert_int_equal(m.u.wen.framing_errors, 101);
	assert_int_equal(m.u.wen.hardware_overruns, 102);
	assert_int_equal(m.u.wen.buffer_overruns, 103);
	assert_int_equal(m.u.wen.timeout_errors, 104);
	assert_int_equal(m.u.wen.alignment_errors, 105);

	hdr(b, 24, 15);
	put16(b + 12, 9);
	put32(b + 16, 0xffffffff);
	put32(b + 20, 0x000a0000);
	expect_complete(b, 24, &m);
	assert_int_equal(m.type, PPTP_SLI);
	assert_int_equal(m.u.sli.peer_call_id, 9);
	assert_int_equal(m.u.sli.send_accm, 0xffffffff);
	assert_int_equal(m.u.sli.recv_accm, 0x000a0000);
}

static void test_decode_big_bytes(void **state)
{
	uint8_t b[220];
	struct pptp_msg m;
	(void)state;

	hdr(b, 168, 7);
	put16(b + 12, 1);
	put16(b + 14, 2);
	put32(b + 16, 300);
	put32(b + 20, 1000);
	put32(b + 24, 3);
	put32(b + 28, 1);
	put16(b + 32, 64);
	put16(b + 34, 0);
	put16(b + 36, 200);            /* lies: the string is bounded by its field anyway */
	memset(b + 40, '5', 64);
	memcpy(b + 104, "sub", 3);
	expect_complete(b, 168, &m);
	assert_int_equal(m.type, PPTP_OCRQ);
	assert_int_equal(m.u.ocrq.min_bps, 300);
	assert_int_equal(m.u.ocrq.max_bps, 1000);
	assert_int_equal(m.u.ocrq.recv_window, 64);
	assert_int_equal(m.u.ocrq.phone_len, 200);
	assert_int_equal(strlen(m.u.ocrq.phone), 64);
	assert_string_equal(m.u.ocrq.subaddress, "sub");

	hdr(b, 220, 9);
	put16(b + 12, 77);
	put16(b + 14, 78);
	put32(b + 16, 2);
	put32(b + 20, 4);
	put16(b + 24, 3);
	put16(b + 26, 4);
	memcpy(b + 28, "123", 3);
	memcpy(b + 92, "4567", 4);
	memset(b + 156, 'x', 64);
	expect_complete(b, 220, &m);
	assert_int_equal(m.type, PPTP_ICRQ);
	assert_int_equal(m.u.icrq.call_id, 77);
	assert_int_equal(m.u.icrq.call_serial, 78);
	assert_int_equal(m.u.icrq.bearer_type, 2);
	assert_int_equal(m.u.icrq.physical_channel, 4);
	assert_int_equal(m.u.icrq.dialed_len, 3);
	assert_int_equal(m.u.icrq.dialing_len, 4);
	assert_string_equal(m.u.icrq.dialed, "123");
	assert_string_equal(m.u.icrq.dialing, "4567");
	assert_int_equal(strlen(m.u.icrq.subaddress), 64);

	hdr(b, 148, 13);
	put16(b + 12, 0x55);
	b[14] = 1;
	b[15] = 0;
	put16(b + 16, 16);
	memset(b + 20, 's', 128);      /* statistics filling the whole field */
	expect_complete(b, 148, &m);
	assert_int_equal(m.type, PPTP_CDN);
	assert_int_equal(m.u.cdn.call_id, 0x55);
	assert_int_equal(m.u.cdn.result, 1);
	assert_int_equal(m.u.cdn.cause, 16);
	assert_int_equal(strlen(m.u.cdn.stats), 128);
}

/* ---- encode: exact offsets of what the client sends ---- */

static void test_encode_client_offsets(void **state)
{
	uint8_t b[256];
	struct pptp_msg m;
	size_t n;
	(void)state;

	memset(&m, 0, sizeof(m));
	m.type = PPTP_SCCRQ;
	m.u.sccrq.version = 0x0100;
	m.u.sccrq.framing_caps = 3;
	m.u.sccrq.bearer_caps = 3;
	m.u.sccrq.max_channels = 0;
	m.u.sccrq.firmware_rev = 0x0102;
	strcpy(m.u.sccrq.hostname, "gw.example");
	strcpy(m.u.sccrq.vendor, "mailtun");
	memset(b, 0xee, sizeof(b));
	n = pptp_encode(&m, b, sizeof(b));
	assert_int_equal(n, 156);
	assert_int_equal(get16(b), 156);
	assert_int_equal(get16(b + 2), 1);
	assert_int_equal(get32(b + 4), 0x1A2B3C4D);
	assert_int_equal(get16(b + 8), 1);
	assert_int_equal(get16(b + 10), 0);
	assert_int_equal(get16(b + 12), 0x0100);
	assert_int_equal(get16(b + 14), 0);
	assert_int_equal(get32(b + 16), 3);
	assert_int_equal(get32(b + 20), 3);
	assert_int_equal(get16(b + 24), 0);
	assert_int_equal(get16(b + 26), 0x0102);
	assert_memory_equal(b + 28, "gw.example", 11);
	assert_int_equal(b[28 + 63], 0);       /* zero padded */
	assert_memory_equal(b + 92, "mailtun", 8);
	assert_int_equal(b[155], 0);
	assert_int_equal(b[156], 0xee);        /* nothing beyond */

	memset(&m, 0, sizeof(m));
	m.type = PPTP_OCRQ;
	m.u.ocrq.call_id = 0x0a0b;
	m.u.ocrq.call_serial = 3;
	m.u.ocrq.min_bps = 300;
	m.u.ocrq.max_bps = 100000000;
	m.u.ocrq.bearer_type = 3;
	m.u.ocrq.framing_type = 3;
	m.u.ocrq.recv_window = 64;
	m.u.ocrq.processing_delay = 0;
	strcpy(m.u.ocrq.phone, "0815");
	n = pptp_encode(&m, b, sizeof(b));
	assert_int_equal(n, 168);
	assert_int_equal(get16(b + 8), 7);
	assert_int_equal(get16(b + 12), 0x0a0b);
	assert_int_equal(get16(b + 14), 3);
	assert_int_equal(get32(b + 16), 300);
	assert_int_equal(get32(b + 20), 100000000);
	assert_int_equal(get32(b + 24), 3);
	assert_int_equal(get32(b + 28), 3);
	assert_int_equal(get16(b + 32), 64);
	assert_int_equal(get16(b + 34), 0);
	assert_int_equal(get16(b + 36), 4);    /* phone number length follows the string */
	assert_int_equal(get16(b + 38), 0);
	assert_memory_equal(b + 40, "0815", 5);
	assert_int_equal(b[104], 0);

	memset(&m, 0, sizeof(m));
	m.type = PPTP_ICRP;
	m.u.icrp.call_id = 0;
	m.u.icrp.peer_call_id = 0x1234;
	m.u.icrp.result = PPTP_ICRP_DO_NOT_ACCEPT;
	n = pptp_encode(&m, b, sizeof(b));
	assert_int_equal(n, 24);
	assert_int_equal(get16(b + 8), 10);
	assert_int_equal(get16(b + 14), 0x1234);
	assert_int_equal(b[16], 3);

	memset(&m, 0, sizeof(m));
	m.type = PPTP_CDN;
	m.u.cdn.call_id = 9;
	m.u.cdn.result = PPTP_CDN_REQUEST;
	m.u.cdn.cause = 0x0102;
	strcpy(m.u.cdn.stats, "rx=1");
	n = pptp_encode(&m, b, sizeof(b));
	assert_int_equal(n, 148);
	assert_int_equal(get16(b + 12), 9);
	assert_int_equal(b[14], 4);
	assert_int_equal(get16(b + 16), 0x0102);
	assert_memory_equal(b + 20, "rx=1", 5);

	memset(&m, 0, sizeof(m));
	m.type = PPTP_ECHORP;
	m.u.echorp.id = 0x01020304;
	m.u.echorp.result = 1;
	n = pptp_encode(&m, b, sizeof(b));
	assert_int_equal(n, 20);
	assert_int_equal(get32(b + 12), 0x01020304);
	assert_int_equal(b[16], 1);

	memset(&m, 0, sizeof(m));
	m.type = PPTP_STOPCCRQ;
	m.u.stopccrq.reason = 3;
	n = pptp_encode(&m, b, sizeof(b));
	assert_int_equal(n, 16);
	assert_int_equal(b[12], 3);
	assert_int_equal(b[13] | b[14] | b[15], 0);

	memset(&m, 0, sizeof(m));
	m.type = PPTP_SLI;
	m.u.sli.peer_call_id = 2;
	m.u.sli.send_accm = 0xffffffff;
	m.u.sli.recv_accm = 0;
	n = pptp_encode(&m, b, sizeof(b));
	assert_int_equal(n, 24);
	assert_int_equal(get16(b + 12), 2);
	assert_int_equal(get32(b + 16), 0xffffffff);
}

static void test_encode_limits(void **state)
{
	uint8_t b[256];
	struct pptp_msg m;
	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = PPTP_SCCRQ;
	assert_int_equal(pptp_encode(&m, b, 155), 0);
	assert_int_equal(pptp_encode(&m, b, 156), 156);
	m.type = 0;
	assert_int_equal(pptp_encode(&m, b, sizeof(b)), 0);
	m.type = 16;
	assert_int_equal(pptp_encode(&m, b, sizeof(b)), 0);

	/* A string as long as its field fills it with no NUL and comes back whole. */
	memset(&m, 0, sizeof(m));
	m.type = PPTP_SCCRQ;
	memset(m.u.sccrq.hostname, 'a', PPTP_HOSTNAME_LEN);
	memset(m.u.sccrq.vendor, 'b', PPTP_VENDOR_LEN);
	assert_int_equal(pptp_encode(&m, b, sizeof(b)), 156);
	assert_int_equal(b[28 + 63], 'a');
	assert_int_equal(b[92], 'b');
	struct pptp_msg d;
	expect_complete(b, 156, &d);
	assert_string_equal(d.u.sccrq.hostname, m.u.sccrq.hostname);
	assert_string_equal(d.u.sccrq.vendor, m.u.sccrq.vendor);
}

/* ---- round trip of all 15 types ---- */

static void fill(struct pptp_msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	switch (type) {
	case PPTP_SCCRQ:
	case PPTP_SCCRP:
		m->u.sccrq.version = 0x0100;
		m->u.sccrq.result = type == PPTP_SCCRP ? 3 : 0;
		m->u.sccrq.error = type == PPTP_SCCRP ? 4 : 0;
		m->u.sccrq.framing_caps = 0x01020304;
		m->u.sccrq.bearer_caps = 0x05060708;
		m->u.sccrq.max_channels = 0x090a;
		m->u.sccrq.firmware_rev = 0x0b0c;
		strcpy(m->u.sccrq.hostname, "host.example");
		strcpy(m->u.sccrq.vendor, "vendor");
		break;
	case PPTP_STOPCCRQ: m->u.stopccrq.reason = 3; break;
	case PPTP_STOPCCRP: m->u.stopccrp.result = 2; m->u.stopccrp.error = 6; break;
	case PPTP_ECHORQ: m->u.echorq.id = 0xfedcba98; break;
	case PPTP_ECHORP: m->u.echorp.id = 0x11223344; m->u.echorp.result = 2; m->u.echorp.error = 1; break;
	case PPTP_OCRQ:
		m->u.ocrq.call_id = 1; m->u.ocrq.call_serial = 2; m->u.ocrq.min_bps = 3;
		m->u.ocrq.max_bps = 4; m->u.ocrq.bearer_type = 5; m->u.ocrq.framing_type = 6;
		m->u.ocrq.recv_window = 7; m->u.ocrq.processing_delay = 8;
		strcpy(m->u.ocrq.phone, "+49 30 1234");
		m->u.ocrq.phone_len = (uint16_t)strlen(m->u.ocrq.phone);
		strcpy(m->u.ocrq.subaddress, "ext 9");
		break;
	case PPTP_OCRP:
		m->u.ocrp.call_id = 11; m->u.ocrp.peer_call_id = 12; m->u.ocrp.result = 1;
		m->u.ocrp.error = 2; m->u.ocrp.cause = 13; m->u.ocrp.connect_speed = 14;
		m->u.ocrp.recv_window = 15; m->u.ocrp.processing_delay = 16;
		m->u.ocrp.physical_channel = 17;
		break;
	case PPTP_ICRQ:
		m->u.icrq.call_id = 21; m->u.icrq.call_serial = 22; m->u.icrq.bearer_type = 23;
		m->u.icrq.physical_channel = 24;
		strcpy(m->u.icrq.dialed, "555");
		strcpy(m->u.icrq.dialing, "66666");
		m->u.icrq.dialed_len = 3;
		m->u.icrq.dialing_len = 5;
		strcpy(m->u.icrq.subaddress, "s");
		break;
	case PPTP_ICRP:
		m->u.icrp.call_id = 31; m->u.icrp.peer_call_id = 32; m->u.icrp.result = 3;
		m->u.icrp.error = 4; m->u.icrp.recv_window = 33; m->u.icrp.transmit_delay = 34;
		break;
	case PPTP_ICCN:
		m->u.iccn.peer_call_id = 41; m->u.iccn.connect_speed = 42; m->u.iccn.recv_window = 43;
		m->u.iccn.transmit_delay = 44; m->u.iccn.framing_type = 45;
		break;
	case PPTP_CCRQ: m->u.ccrq.call_id = 51; break;
	case PPTP_CDN:
		m->u.cdn.call_id = 61; m->u.cdn.result = 3; m->u.cdn.error = 0; m->u.cdn.cause = 62;
		strcpy(m->u.cdn.stats, "tx=5 rx=6");
		break;
	case PPTP_WEN:
		m->u.wen.peer_call_id = 71; m->u.wen.crc_errors = 72; m->u.wen.framing_errors = 73;
		m->u.wen.hardware_overruns = 74; m->u.wen.buffer_overruns = 75;
		m->u.wen.timeout_errors = 76; m->u.wen.alignment_errors = 77;
		break;
	case PPTP_SLI: m->u.sli.peer_call_id = 81; m->u.sli.send_accm = 82; m->u.sli.recv_accm = 83; break;
	}
}

static void test_round_trip_all_types(void **state)
{
	(void)state;
	for (uint16_t t = 1; t <= PPTP_TYPE_MAX; t++) {
		struct pptp_msg in, out;
		uint8_t b[PPTP_MAX_MSG_LEN + 8];
		size_t n;

		fill(&in, t);
		n = pptp_encode(&in, b, sizeof(b));
		assert_int_equal(n, pptp_msg_len(t));
		in.length = (uint16_t)n;
		expect_complete(b, n, &out);
		assert_int_equal(out.type, t);
		if (memcmp(&in, &out, sizeof(in)) != 0)
			fail_msg("round trip of %s differs", pptp_type_name(t));
	}
}

/* ---- malformed header fields ---- */

static void expect_malformed(const uint8_t *b, size_t len, const char *needle)
{
	struct pptp_msg m;
	size_t used = 99;
	char why[PPTP_REASON_LEN];
	enum pptp_decode_status st = pptp_decode(b, len, &m, &used, why);
	if (st != PPTP_DECODE_MALFORMED)
		fail_msg("expected MALFORMED (%s), got %d", needle, st);
	assert_int_equal(used, 0);
	if (strstr(why, needle) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", why, needle);
}

static void test_malformed_fields(void **state)
{
	uint8_t b[256];
	(void)state;

	hdr(b, 16, 5);
	put16(b, 11);
	expect_malformed(b, 16, "length 11 shorter than the header");
	put16(b, 0);
	expect_malformed(b, 2, "length 0 shorter");
	put16(b, 221);
	expect_malformed(b, 2, "length 221 longer than any message (max 220)");
	put16(b, 0xffff);
	expect_malformed(b, 16, "length 65535 longer");

	hdr(b, 20, 5);
	expect_malformed(b, 20, "length 20 wrong for Echo-Request (expected 16)");
	hdr(b, 156, 2);
	put16(b, 155);
	expect_malformed(b, 156, "length 155 wrong for SCCRP (expected 156)");
	hdr(b, 16, 6);
	expect_malformed(b, 16, "length 16 wrong for Echo-Reply (expected 20)");

	hdr(b, 16, 5);
	put16(b + 2, 2);
	expect_malformed(b, 16, "PPTP message type 2 is not control");
	put16(b + 2, 0);
	expect_malformed(b, 16, "PPTP message type 0");

	hdr(b, 16, 5);
	put32(b + 4, 0x1A2B3C4E);
	expect_malformed(b, 16, "bad magic cookie 0x1a2b3c4e");

	hdr(b, 16, 5);
	put16(b + 10, 1);
	expect_malformed(b, 16, "reserved0 0x0001 not zero in Echo-Request");

	/* A NULL reason pointer is allowed. */
	struct pptp_msg m;
	size_t used;
	assert_int_equal(pptp_decode(b, 16, &m, &used, NULL), PPTP_DECODE_MALFORMED);
}

/* Garbage is refused as soon as the offending octets are in, without waiting for more. */
static void test_malformed_early(void **state)
{
	uint8_t b[16];
	(void)state;
	hdr(b, 16, 5);
	put16(b, 5000);
	expect_malformed(b, 2, "length 5000");
	hdr(b, 16, 5);
	put16(b + 2, 7);
	expect_malformed(b, 4, "message type 7");
	hdr(b, 16, 5);
	memcpy(b + 4, "HTTP", 4);
	expect_malformed(b, 8, "bad magic cookie 0x48545450");
	hdr(b, 16, 6);   /* Echo-Reply with a 16 octet length */
	expect_malformed(b, 10, "wrong for Echo-Reply");
	hdr(b, 16, 5);
	put16(b + 10, 0x8000);
	expect_malformed(b, 12, "reserved0 0x8000");
}

static void test_incomplete_prefixes(void **state)
{
	(void)state;
	for (uint16_t t = 1; t <= PPTP_TYPE_MAX; t++) {
		struct pptp_msg in, out;
		uint8_t b[PPTP_MAX_MSG_LEN];
		size_t n, used;
		char why[PPTP_REASON_LEN];

		fill(&in, t);
		n = pptp_encode(&in, b, sizeof(b));
		for (size_t k = 0; k < n; k++) {
			enum pptp_decode_status st = pptp_decode(b, k, &out, &used, why);
			if (st != PPTP_DECODE_INCOMPLETE)
				fail_msg("%s prefix %zu: status %d (%s)", pptp_type_name(t), k, st, why);
			assert_int_equal(used, 0);
		}
	}
}

static void test_unknown_type_skippable(void **state)
{
	uint8_t b[64];
	struct pptp_msg m;
	size_t used;
	char why[PPTP_REASON_LEN];
	(void)state;

	hdr(b, 20, 16);
	assert_int_equal(pptp_decode(b, 20, &m, &used, why), PPTP_DECODE_COMPLETE);
	assert_int_equal(m.type, 16);
	assert_int_equal(m.length, 20);
	assert_int_equal(used, 20);

	hdr(b, 12, 0);
	assert_int_equal(pptp_decode(b, 12, &m, &used, why), PPTP_DECODE_COMPLETE);
	assert_int_equal(m.type, 0);
	assert_int_equal(used, 12);

	hdr(b, 40, 0xffff);
	assert_int_equal(pptp_decode(b, 39, &m, &used, why), PPTP_DECODE_INCOMPLETE);
	assert_int_equal(pptp_decode(b, 40, &m, &used, why), PPTP_DECODE_COMPLETE);
}

static void test_two_messages_in_one_buffer(void **state)
{
	uint8_t b[64];
	struct pptp_msg m;
	size_t used;
	char why[PPTP_REASON_LEN];
	(void)state;

	hdr(b, 16, 5);
	put32(b + 12, 1);
	hdr(b + 16, 20, 6);
	put32(b + 28, 2);
	assert_int_equal(pptp_decode(b, 36, &m, &used, why), PPTP_DECODE_COMPLETE);
	assert_int_equal(used, 16);
	assert_int_equal(m.type, PPTP_ECHORQ);
	assert_int_equal(m.u.echorq.id, 1);
	assert_int_equal(pptp_decode(b + used, 36 - used, &m, &used, why), PPTP_DECODE_COMPLETE);
	assert_int_equal(used, 20);
	assert_int_equal(m.type, PPTP_ECHORP);
	assert_int_equal(m.u.echorp.id, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_lengths),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_decode_sccrp_bytes),
		cmocka_unit_test(test_decode_sccrq_bytes),
		cmocka_unit_test(test_decode_small_bytes),
		cmocka_unit_test(test_decode_big_bytes),
		cmocka_unit_test(test_encode_client_offsets),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_round_trip_all_types),
		cmocka_unit_test(test_malformed_fields),
		cmocka_unit_test(test_malformed_early),
		cmocka_unit_test(test_incomplete_prefixes),
		cmocka_unit_test(test_unknown_type_skippable),
		cmocka_unit_test(test_two_messages_in_one_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

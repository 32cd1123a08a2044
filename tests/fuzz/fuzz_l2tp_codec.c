/*
 * fuzz_l2tp_codec.c — libFuzzer target for tunneld/l2tp/l2tp_codec.
 *
 * Input: byte 0 picks the secret (bit 0: "s3cr3t" or none) and, for the re-encode, which AVPs
 * to hide (bits 1..7 select from a fixed list); the rest is one UDP datagram.
 * Invariants (trap on violation): the header decoder and the message decoder agree; a failure
 * always has a reason that fits; every value points inside the message's own arena; a decoded
 * message re-encodes to a fixed point (encode(decode(encode(decode(x)))) == encode(decode(x)));
 * hiding AVPs and revealing them with the same secret gives back the same values.
 * Seeds: tests/fuzz/corpus/l2tp_codec/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "l2tp_codec.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static struct l2tp_msg m1, m2, m3;

static void check_inside(const struct l2tp_msg *m, const struct l2tp_bytes *b)
{
	if (b->len == 0)
		return;
	CHECK(b->p >= m->arena && b->p + b->len <= m->arena + m->arena_used);
}

static void check_values(const struct l2tp_msg *m)
{
	const struct l2tp_bytes *all[] = { &m->result_msg, &m->host_name, &m->vendor_name,
		&m->challenge, &m->q931_advisory, &m->called_number, &m->calling_number,
		&m->sub_address, &m->init_rx_lcp, &m->last_tx_lcp, &m->last_rx_lcp,
		&m->proxy_auth_name, &m->proxy_auth_chal, &m->proxy_auth_resp, &m->random_vector,
		&m->private_group };
	CHECK(m->arena_used <= sizeof(m->arena));
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		check_inside(m, all[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t hideable[7] = { L2TP_AVP_HOST_NAME, L2TP_AVP_TUNNEL_ID,
		L2TP_AVP_RESULT_CODE, L2TP_AVP_SESSION_ID, L2TP_AVP_CHALLENGE, L2TP_AVP_ACCM,
		L2TP_AVP_Q931_CAUSE };
	static const uint8_t rv[16] = "fuzz-random-vec";
	struct l2tp_secret secret = { (const uint8_t *)"s3cr3t", 6 };
	struct l2tp_header h;
	struct l2tp_hide hide;
	char why[L2TP_REASON_LEN], why2[L2TP_REASON_LEN];
	static uint8_t b1[L2TP_MAX_CTRL_LEN], b2[L2TP_MAX_CTRL_LEN];
	enum l2tp_decode_status st;
	size_t n1, n2, n3;
	int hdr_ok;

	if (size == 0)
		return 0;
	hide.secret = secret;
	hide.rv.p = rv;
	hide.rv.len = sizeof(rv);
	hide.mask = 0;
	for (int i = 0; i < 7; i++)
		if (data[0] & (2 << i))
			hide.mask |= L2TP_AVP_BIT(hideable[i]);

	hdr_ok = l2tp_header_decode(data + 1, size - 1, &h, why2) == 0;
	if (!hdr_ok)
		CHECK(why2[0] != '\0' && strlen(why2) < L2TP_REASON_LEN);
	else
		CHECK(h.payload_off <= h.length && h.length <= size - 1);

	st = l2tp_decode(data + 1, size - 1, (data[0] & 1) ? &secret : NULL, &m1, why);
	if (!hdr_ok)
		CHECK(st == L2TP_DEC_MALFORMED);
	if (st != L2TP_DEC_OK) {
		CHECK(why[0] != '\0' && strlen(why) < L2TP_REASON_LEN);
		return 0;
	}
	check_values(&m1);
	if (l2tp_check_required(&m1, why) != 0)
		CHECK(why[0] != '\0' && strlen(why) < L2TP_REASON_LEN);

	/* fixed point in the clear */
	n1 = l2tp_encode(&m1, NULL, b1, sizeof(b1));
	CHECK(n1 >= L2TP_CTRL_HDR_LEN);
	CHECK(l2tp_decode(b1, n1, NULL, &m2, why) == L2TP_DEC_OK);
	CHECK(m2.type == m1.type && m2.present == m1.present && m2.hidden == 0);
	n2 = l2tp_encode(&m2, NULL, b2, sizeof(b2));
	CHECK(n2 == n1 && memcmp(b1, b2, n1) == 0);

	/* hidden and revealed again: the same message in the clear */
	if (m1.type != L2TP_ZLB) {
		n3 = l2tp_encode(&m1, &hide, b2, sizeof(b2));
		if (n3 != 0) {
			CHECK(l2tp_decode(b2, n3, &secret, &m3, why) == L2TP_DEC_OK);
			CHECK((m3.hidden & ~hide.mask) == 0);
			m3.present &= ~L2TP_AVP_BIT(L2TP_AVP_RANDOM_VECTOR);
			m3.present |= m1.present & L2TP_AVP_BIT(L2TP_AVP_RANDOM_VECTOR);
			m3.random_vector = m1.random_vector;
			n2 = l2tp_encode(&m3, NULL, b2, sizeof(b2));
			CHECK(n2 == n1 && memcmp(b1, b2, n1) == 0);
		}
	}
	return 0;
}

/*
 * l2tp_codec.c — L2TP version 2 codec (RFC 2661 sections 3, 4 and 5.1.1).
 *
 * One table says, per attribute type, the AVP's name, how its value is shaped and which
 * lengths are legal; decoding and encoding both walk it, so a new AVP is one table row.
 * Values are read and written octet by octet (no packed structs on the buffer).
 * Needs: OpenSSL EVP (MD5), libc.
 */
#include "l2tp_codec.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* ---- names -------------------------------------------------------------------------------- */

const char *l2tp_msg_name(uint16_t type)
{
	static const char *const names[] = {
		[L2TP_ZLB] = "ZLB", [L2TP_SCCRQ] = "SCCRQ", [L2TP_SCCRP] = "SCCRP", [L2TP_SCCCN] = "SCCCN",
		[L2TP_STOPCCN] = "StopCCN", [L2TP_HELLO] = "HELLO", [L2TP_OCRQ] = "OCRQ",
		[L2TP_OCRP] = "OCRP", [L2TP_OCCN] = "OCCN", [L2TP_ICRQ] = "ICRQ", [L2TP_ICRP] = "ICRP",
		[L2TP_ICCN] = "ICCN", [L2TP_CDN] = "CDN", [L2TP_WEN] = "WEN", [L2TP_SLI] = "SLI",
	};
	static char buf[16];
	if (type < sizeof(names) / sizeof(names[0]) && names[type] != NULL)
		return names[type];
	snprintf(buf, sizeof(buf), "type-%u", type);
	return buf;
}

bool l2tp_msg_is_session(uint16_t type)
{
	return (type >= L2TP_OCRQ && type <= L2TP_ICCN) || type == L2TP_CDN || type == L2TP_WEN ||
	       type == L2TP_SLI;
}

const char *l2tp_stop_result_name(uint16_t code)
{
	static const char *const n[] = { "reserved", "general request to clear", "general error",
		"control channel exists", "not authorized", "protocol version not supported",
		"requester is being shut down", "finite state machine error" };
	return code < sizeof(n) / sizeof(n[0]) ? n[code] : "unknown result";
}

const char *l2tp_cdn_result_name(uint16_t code)
{
	static const char *const n[] = { "reserved", "lost carrier", "general error",
		"administrative reasons", "no facilities (temporary)", "no facilities (permanent)",
		"invalid destination", "no carrier", "busy", "no dial tone", "not established in time",
		"no appropriate framing" };
	return code < sizeof(n) / sizeof(n[0]) ? n[code] : "unknown result";
}

const char *l2tp_error_name(uint16_t code)
{
	static const char *const n[] = { "no error", "no control connection", "length is wrong",
		"value out of range", "insufficient resources", "invalid session id",
		"vendor specific error", "try another", "unknown mandatory AVP" };
	return code < sizeof(n) / sizeof(n[0]) ? n[code] : "unknown error";
}

/* ---- the AVP table ------------------------------------------------------------------------ */

enum kind { K_NONE, K_MSGTYPE, K_U16, K_U32, K_BYTES, K_FIXED, K_RESULT, K_Q931, K_CALLERR,
	    K_ACCM, K_EMPTY };

struct avp_def {
	const char *name;
	enum kind kind;
	uint16_t min, max;     /* legal value lengths */
	bool mbit;             /* what we send: M set (1) or clear (0, section 4.4) */
	size_t off;            /* the field in struct l2tp_msg */
};

#define F(f) offsetof(struct l2tp_msg, f)
#define VMAX (1023 - L2TP_AVP_HDR_LEN)
static const struct avp_def avps[L2TP_AVP_MAX + 1] = {
	[L2TP_AVP_MSG_TYPE]        = { "Message Type", K_MSGTYPE, 2, 2, 1, F(type) },
	[L2TP_AVP_RESULT_CODE]     = { "Result Code", K_RESULT, 2, VMAX, 1, 0 },
	[L2TP_AVP_PROTO_VERSION]   = { "Protocol Version", K_U16, 2, 2, 1, F(proto_version) },
	[L2TP_AVP_FRAMING_CAPS]    = { "Framing Capabilities", K_U32, 4, 4, 1, F(framing_caps) },
	[L2TP_AVP_BEARER_CAPS]     = { "Bearer Capabilities", K_U32, 4, 4, 1, F(bearer_caps) },
	[L2TP_AVP_TIE_BREAKER]     = { "Tie Breaker", K_FIXED, 8, 8, 0, F(tie_breaker) },
	[L2TP_AVP_FIRMWARE_REV]    = { "Firmware Revision", K_U16, 2, 2, 0, F(firmware_rev) },
	[L2TP_AVP_HOST_NAME]       = { "Host Name", K_BYTES, 1, VMAX, 1, F(host_name) },
	[L2TP_AVP_VENDOR_NAME]     = { "Vendor Name", K_BYTES, 0, VMAX, 0, F(vendor_name) },
	[L2TP_AVP_TUNNEL_ID]       = { "Assigned Tunnel ID", K_U16, 2, 2, 1, F(tunnel_id) },
	[L2TP_AVP_RECV_WINDOW]     = { "Receive Window Size", K_U16, 2, 2, 1, F(recv_window) },
	[L2TP_AVP_CHALLENGE]       = { "Challenge", K_BYTES, 1, VMAX, 1, F(challenge) },
	[L2TP_AVP_Q931_CAUSE]      = { "Q.931 Cause Code", K_Q931, 3, VMAX, 1, 0 },
	[L2TP_AVP_CHAL_RESPONSE]   = { "Challenge Response", K_FIXED, 16, 16, 1, F(chal_response) },
	[L2TP_AVP_SESSION_ID]      = { "Assigned Session ID", K_U16, 2, 2, 1, F(session_id) },
	[L2TP_AVP_CALL_SERIAL]     = { "Call Serial Number", K_U32, 4, 4, 1, F(call_serial) },
	[L2TP_AVP_MIN_BPS]         = { "Minimum BPS", K_U32, 4, 4, 1, F(min_bps) },
	[L2TP_AVP_MAX_BPS]         = { "Maximum BPS", K_U32, 4, 4, 1, F(max_bps) },
	[L2TP_AVP_BEARER_TYPE]     = { "Bearer Type", K_U32, 4, 4, 1, F(bearer_type) },
	[L2TP_AVP_FRAMING_TYPE]    = { "Framing Type", K_U32, 4, 4, 1, F(framing_type) },
	[L2TP_AVP_CALLED_NUMBER]   = { "Called Number", K_BYTES, 0, VMAX, 1, F(called_number) },
	[L2TP_AVP_CALLING_NUMBER]  = { "Calling Number", K_BYTES, 0, VMAX, 1, F(calling_number) },
	[L2TP_AVP_SUB_ADDRESS]     = { "Sub-Address", K_BYTES, 0, VMAX, 1, F(sub_address) },
	[L2TP_AVP_TX_SPEED]        = { "Tx Connect Speed", K_U32, 4, 4, 1, F(tx_speed) },
	[L2TP_AVP_PHYS_CHANNEL]    = { "Physical Channel ID", K_U32, 4, 4, 0, F(phys_channel) },
	[L2TP_AVP_INIT_RX_LCP]     = { "Initial Received LCP CONFREQ", K_BYTES, 0, VMAX, 0, F(init_rx_lcp) },
	[L2TP_AVP_LAST_TX_LCP]     = { "Last Sent LCP CONFREQ", K_BYTES, 0, VMAX, 0, F(last_tx_lcp) },
	[L2TP_AVP_LAST_RX_LCP]     = { "Last Received LCP CONFREQ", K_BYTES, 0, VMAX, 0, F(last_rx_lcp) },
	[L2TP_AVP_PROXY_AUTH_TYPE] = { "Proxy Authen Type", K_U16, 2, 2, 0, F(proxy_auth_type) },
	[L2TP_AVP_PROXY_AUTH_NAME] = { "Proxy Authen Name", K_BYTES, 0, VMAX, 0, F(proxy_auth_name) },
	[L2TP_AVP_PROXY_AUTH_CHAL] = { "Proxy Authen Challenge", K_BYTES, 0, VMAX, 0, F(proxy_auth_chal) },
	[L2TP_AVP_PROXY_AUTH_ID]   = { "Proxy Authen ID", K_U16, 2, 2, 0, F(proxy_auth_id) },
	[L2TP_AVP_PROXY_AUTH_RESP] = { "Proxy Authen Response", K_BYTES, 0, VMAX, 0, F(proxy_auth_resp) },
	[L2TP_AVP_CALL_ERRORS]     = { "Call Errors", K_CALLERR, 26, 26, 1, 0 },
	[L2TP_AVP_ACCM]            = { "ACCM", K_ACCM, 10, 10, 1, 0 },
	[L2TP_AVP_RANDOM_VECTOR]   = { "Random Vector", K_BYTES, 1, VMAX, 1, F(random_vector) },
	[L2TP_AVP_PRIVATE_GROUP]   = { "Private Group ID", K_BYTES, 0, VMAX, 0, F(private_group) },
	[L2TP_AVP_RX_SPEED]        = { "Rx Connect Speed", K_U32, 4, 4, 0, F(rx_speed) },
	[L2TP_AVP_SEQ_REQUIRED]    = { "Sequencing Required", K_EMPTY, 0, 0, 1, 0 },
};

const char *l2tp_avp_name(uint16_t attr)
{
	static char buf[16];
	if (attr <= L2TP_AVP_MAX && avps[attr].kind != K_NONE)
		return avps[attr].name;
	snprintf(buf, sizeof(buf), "AVP-%u", attr);
	return buf;
}

/* ---- octets -------------------------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

struct l2tp_bytes l2tp_str(const char *s)
{
	struct l2tp_bytes b = { (const uint8_t *)s, (uint16_t)strnlen(s, VMAX) };
	return b;
}

/* ---- MD5: challenge response and hidden AVPs ---------------------------------------------- */

struct md5_part { const void *p; size_t len; };

static int md5(const struct md5_part *parts, int n, uint8_t out[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1;
	for (int i = 0; ok && i < n; i++)
		ok = parts[i].len == 0 || EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == 16;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int l2tp_chal_response(uint8_t msg_type, const struct l2tp_secret *secret,
		       const uint8_t *chal, size_t chal_len, uint8_t out[L2TP_CHAL_RESP_LEN])
{
	struct md5_part parts[3] = { { &msg_type, 1 }, { secret->p, secret->len }, { chal, chal_len } };
	return md5(parts, 3, out);
}

/* Section 4.3: b1 = MD5(type, secret, RV), b(i) = MD5(secret, c(i-1)); c(i) = p(i) xor b(i).
 * Works in place over buf of n octets; enc says whether buf holds plain (1) or cipher (0). */
static int hide_xor(uint16_t attr, const struct l2tp_secret *s, const struct l2tp_bytes *rv,
		    uint8_t *buf, size_t n, int enc)
{
	uint8_t at[2], b[16], prev[16];
	put16(at, attr);
	for (size_t i = 0; i < n; i += 16) {
		size_t k = n - i < 16 ? n - i : 16;
		struct md5_part first[3] = { { at, 2 }, { s->p, s->len }, { rv->p, rv->len } };
		struct md5_part next[2] = { { s->p, s->len }, { prev, 16 } };
		if (i == 0 ? md5(first, 3, b) : md5(next, 2, b))
			return -1;
		if (!enc)
			memcpy(prev, buf + i, k);
		for (size_t j = 0; j < k; j++)
			buf[i + j] ^= b[j];
		if (enc)
			memcpy(prev, buf + i, k);
	}
	return 0;
}

size_t l2tp_hide_value(uint16_t attr, const struct l2tp_secret *secret, const struct l2tp_bytes *rv,
		       const uint8_t *in, size_t len, size_t pad, uint8_t *out, size_t cap)
{
	size_t n = 2 + len + pad;
	if (len > 0xffff || n > cap)
		return 0;
	put16(out, (uint16_t)len);
	if (len)
		memmove(out + 2, in, len);
	memset(out + 2 + len, 0, pad);
	return hide_xor(attr, secret, rv, out, n, 1) == 0 ? n : 0;
}

int l2tp_reveal_value(uint16_t attr, const struct l2tp_secret *secret, const struct l2tp_bytes *rv,
		      const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	uint8_t tmp[1024];
	size_t orig;
	if (len < 2 || len > sizeof(tmp))
		return -1;
	memcpy(tmp, in, len);
	if (hide_xor(attr, secret, rv, tmp, len, 0))
		return -1;
	orig = get16(tmp);
	if (orig > len - 2 || orig > cap)
		return -1;
	memcpy(out, tmp + 2, orig);
	return (int)orig;
}

/* ---- header ---------------------------------------------------------------------------------- */

int l2tp_header_decode(const uint8_t *buf, size_t len, struct l2tp_header *h, char *why)
{
	size_t o = 2;
	memset(h, 0, sizeof(*h));
	if (len < 6) {
		snprintf(why, L2TP_REASON_LEN, "datagram of %zu octets is shorter than an L2TP header", len);
		return -1;
	}
	h->flags = get16(buf);
	if ((h->flags & L2TP_HDR_VER) != L2TP_VERSION) {
		snprintf(why, L2TP_REASON_LEN, "header version %u, not 2", h->flags & L2TP_HDR_VER);
		return -1;
	}
	if (h->flags & L2TP_HDR_T) {
		if ((h->flags & (L2TP_HDR_L | L2TP_HDR_S)) != (L2TP_HDR_L | L2TP_HDR_S) ||
		    (h->flags & L2TP_HDR_O)) {
			snprintf(why, L2TP_REASON_LEN, "control message header flags 0x%04x: needs L and S, no O",
				 h->flags);
			return -1;
		}
	}
	if (h->flags & L2TP_HDR_L) {
		h->length = get16(buf + o);
		o += 2;
	} else {
		h->length = len > 0xffff ? 0xffff : (uint16_t)len;
	}
	if (o + 4 + ((h->flags & L2TP_HDR_S) ? 4 : 0) + ((h->flags & L2TP_HDR_O) ? 2 : 0) > len) {
		snprintf(why, L2TP_REASON_LEN, "datagram of %zu octets is shorter than its header", len);
		return -1;
	}
	h->tunnel_id = get16(buf + o);
	h->session_id = get16(buf + o + 2);
	o += 4;
	if (h->flags & L2TP_HDR_S) {
		h->ns = get16(buf + o);
		h->nr = get16(buf + o + 2);
		o += 4;
	}
	if (h->flags & L2TP_HDR_O) {
		h->offset_size = get16(buf + o);
		o += 2 + h->offset_size;
	}
	if (h->length > len || o > h->length) {
		snprintf(why, L2TP_REASON_LEN, "length field %u does not fit a datagram of %zu octets "
			 "with a header of %zu", h->length, len, o);
		return -1;
	}
	h->payload_off = o;
	return 0;
}

/* ---- control message decode ----------------------------------------------------------------- */

static struct l2tp_bytes *bytes_at(struct l2tp_msg *m, size_t off)
{
	return (struct l2tp_bytes *)((char *)m + off);
}

static const uint8_t *keep(struct l2tp_msg *m, const uint8_t *v, size_t n)
{
	uint8_t *p = m->arena + m->arena_used;
	if (n)
		memcpy(p, v, n);
	m->arena_used += n;
	return n ? p : NULL;
}

/* Stores one known AVP's value; -1 with why for a bad length. */
static int store(struct l2tp_msg *m, uint16_t attr, const uint8_t *v, size_t n, char *why)
{
	const struct avp_def *d = &avps[attr];
	if (n < d->min || n > d->max || (d->kind == K_RESULT && n == 3)) {
		snprintf(why, L2TP_REASON_LEN, "%s AVP in %s has a value of %zu octets", d->name,
			 l2tp_msg_name(m->type), n);
		return -1;
	}
	switch (d->kind) {
	case K_U16:
		*(uint16_t *)((char *)m + d->off) = get16(v);
		break;
	case K_U32:
		*(uint32_t *)((char *)m + d->off) = get32(v);
		break;
	case K_FIXED:
		memcpy((char *)m + d->off, v, n);
		break;
	case K_BYTES: {
		struct l2tp_bytes *b = bytes_at(m, d->off);
		b->len = (uint16_t)n;
		b->p = keep(m, v, n);
		break;
	}
	case K_RESULT:
		m->result = get16(v);
		m->has_error = n >= 4;
		m->error = n >= 4 ? get16(v + 2) : 0;
		m->result_msg.len = n > 4 ? (uint16_t)(n - 4) : 0;
		m->result_msg.p = keep(m, v + 4, m->result_msg.len);
		break;
	case K_Q931:
		m->q931_cause = get16(v);
		m->q931_msg = v[2];
		m->q931_advisory.len = (uint16_t)(n - 3);
		m->q931_advisory.p = keep(m, v + 3, n - 3);
		break;
	case K_CALLERR:
		for (int i = 0; i < 6; i++)
			m->call_errors[i] = get32(v + 2 + 4 * i);
		break;
	case K_ACCM:
		m->accm_send = get32(v + 2);
		m->accm_recv = get32(v + 6);
		break;
	case K_EMPTY:
	case K_NONE:
	case K_MSGTYPE:
		break;
	}
	m->present |= L2TP_AVP_BIT(attr);
	return 0;
}

static bool known_msg(uint16_t t)
{
	return t != L2TP_ZLB && t <= L2TP_MSG_MAX && t != 5 && t != 13;
}

enum l2tp_decode_status l2tp_decode(const uint8_t *buf, size_t len, const struct l2tp_secret *secret,
				    struct l2tp_msg *m, char *why)
{
	const uint8_t *p, *end;
	struct l2tp_bytes rv = { NULL, 0 };
	bool unknown_m = false;

	memset(m, 0, offsetof(struct l2tp_msg, arena));
	why[0] = '\0';
	if (l2tp_header_decode(buf, len, &m->hdr, why))
		return L2TP_DEC_MALFORMED;
	if (!(m->hdr.flags & L2TP_HDR_T)) {
		snprintf(why, L2TP_REASON_LEN, "a data message where a control message was expected");
		return L2TP_DEC_MALFORMED;
	}
	if (m->hdr.length > L2TP_MAX_CTRL_LEN) {
		snprintf(why, L2TP_REASON_LEN, "control message of %u octets, more than %d",
			 m->hdr.length, L2TP_MAX_CTRL_LEN);
		return L2TP_DEC_MALFORMED;
	}
	p = buf + m->hdr.payload_off;
	end = buf + m->hdr.length;
	if (p == end)
		return L2TP_DEC_OK;          /* ZLB */

	/* Section 4.4.1: the Message Type AVP comes first, in the clear, vendor 0. */
	if (end - p < 8 || get16(p + 2) != 0 || get16(p + 4) != L2TP_AVP_MSG_TYPE ||
	    (get16(p) & 0x3ff) != 8 || (p[0] & 0x40)) {
		snprintf(why, L2TP_REASON_LEN, "control message does not start with a plain 8-octet "
			 "Message Type AVP");
		return L2TP_DEC_MALFORMED;
	}
	m->type = get16(p + 6);
	m->present = L2TP_AVP_BIT(L2TP_AVP_MSG_TYPE);
	if (!known_msg(m->type)) {
		if (p[0] & 0x80) {
			m->unknown_attr = L2TP_AVP_MSG_TYPE;
			snprintf(why, L2TP_REASON_LEN, "unknown message type %u with the M bit", m->type);
			return L2TP_DEC_UNKNOWN_MANDATORY;
		}
		snprintf(why, L2TP_REASON_LEN, "unknown message type %u without the M bit, ignored", m->type);
		return L2TP_DEC_IGNORE;
	}
	p += 8;

	while (p < end) {
		uint16_t w, alen, vendor, attr;
		const uint8_t *v;
		size_t vlen;
		uint8_t plain[1024];

		if (end - p < L2TP_AVP_HDR_LEN) {
			snprintf(why, L2TP_REASON_LEN, "%s ends in %td octets, too few for an AVP header",
				 l2tp_msg_name(m->type), end - p);
			return L2TP_DEC_MALFORMED;
		}
		w = get16(p);
		alen = w & 0x3ff;
		vendor = get16(p + 2);
		attr = get16(p + 4);
		if (alen < L2TP_AVP_HDR_LEN || alen > end - p) {
			snprintf(why, L2TP_REASON_LEN, "AVP %u/%u in %s has length %u, %td octets left",
				 vendor, attr, l2tp_msg_name(m->type), alen, end - p);
			return L2TP_DEC_MALFORMED;
		}
		v = p + L2TP_AVP_HDR_LEN;
		vlen = alen - L2TP_AVP_HDR_LEN;
		p += alen;

		if (vendor != 0 || attr > L2TP_AVP_MAX || avps[attr].kind == K_NONE) {
			if ((w & 0x8000) && !unknown_m) {
				unknown_m = true;
				m->unknown_vendor = vendor;
				m->unknown_attr = attr;
			}
			continue;
		}
		if (attr == L2TP_AVP_MSG_TYPE) {
			snprintf(why, L2TP_REASON_LEN, "a second Message Type AVP in %s", l2tp_msg_name(m->type));
			return L2TP_DEC_MALFORMED;
		}
		if (w & 0x4000) {
			int n;
			if (attr == L2TP_AVP_RANDOM_VECTOR) {
				snprintf(why, L2TP_REASON_LEN, "hidden Random Vector AVP in %s", l2tp_msg_name(m->type));
				return L2TP_DEC_MALFORMED;
			}
			if (secret == NULL || secret->len == 0) {
				snprintf(why, L2TP_REASON_LEN, "hidden %s AVP in %s but no tunnel secret is configured",
					 avps[attr].name, l2tp_msg_name(m->type));
				return L2TP_DEC_MALFORMED;
			}
			if (rv.len == 0) {
				snprintf(why, L2TP_REASON_LEN, "hidden %s AVP in %s without a Random Vector before it",
					 avps[attr].name, l2tp_msg_name(m->type));
				return L2TP_DEC_MALFORMED;
			}
			n = l2tp_reveal_value(attr, secret, &rv, v, vlen, plain, sizeof(plain));
			if (n < 0) {
				snprintf(why, L2TP_REASON_LEN, "hidden %s AVP in %s does not decrypt (wrong secret?)",
					 avps[attr].name, l2tp_msg_name(m->type));
				return L2TP_DEC_MALFORMED;
			}
			v = plain;
			vlen = (size_t)n;
			m->hidden |= L2TP_AVP_BIT(attr);
		}
		if (store(m, attr, v, vlen, why))
			return L2TP_DEC_MALFORMED;
		if (attr == L2TP_AVP_RANDOM_VECTOR)
			rv = m->random_vector;
	}
	if (unknown_m) {
		snprintf(why, L2TP_REASON_LEN, "unknown AVP %u/%u with the M bit in %s", m->unknown_vendor,
			 m->unknown_attr, l2tp_msg_name(m->type));
		return L2TP_DEC_UNKNOWN_MANDATORY;
	}
	return L2TP_DEC_OK;
}

/* ---- which AVPs each message must carry (section 6) ------------------------------------------ */

uint64_t l2tp_required_avps(uint16_t type)
{
#define B(x) L2TP_AVP_BIT(L2TP_AVP_##x)
	switch (type) {
	case L2TP_SCCRQ:
	case L2TP_SCCRP:   return B(MSG_TYPE) | B(PROTO_VERSION) | B(HOST_NAME) | B(FRAMING_CAPS) | B(TUNNEL_ID);
	case L2TP_STOPCCN: return B(MSG_TYPE) | B(TUNNEL_ID) | B(RESULT_CODE);
	case L2TP_ICRQ:    return B(MSG_TYPE) | B(SESSION_ID) | B(CALL_SERIAL);
	case L2TP_ICRP:    return B(MSG_TYPE) | B(SESSION_ID);
	case L2TP_ICCN:    return B(MSG_TYPE) | B(TX_SPEED) | B(FRAMING_TYPE);
	case L2TP_OCRQ:    return B(MSG_TYPE) | B(SESSION_ID) | B(CALL_SERIAL) | B(MIN_BPS) | B(MAX_BPS) |
				  B(BEARER_TYPE) | B(FRAMING_TYPE) | B(CALLED_NUMBER);
	case L2TP_OCRP:    return B(MSG_TYPE) | B(SESSION_ID);
	case L2TP_OCCN:    return B(MSG_TYPE) | B(TX_SPEED) | B(FRAMING_TYPE);
	case L2TP_CDN:     return B(MSG_TYPE) | B(RESULT_CODE) | B(SESSION_ID);
	case L2TP_WEN:     return B(MSG_TYPE) | B(CALL_ERRORS);
	case L2TP_SLI:     return B(MSG_TYPE) | B(ACCM);
	default:           return type == L2TP_ZLB ? 0 : B(MSG_TYPE);
	}
#undef B
}

int l2tp_check_required(const struct l2tp_msg *m, char *why)
{
	uint64_t missing = l2tp_required_avps(m->type) & ~m->present;
	if (m->type == L2TP_ZLB || missing == 0)
		return 0;
	snprintf(why, L2TP_REASON_LEN, "%s without its %s AVP", l2tp_msg_name(m->type),
		 l2tp_avp_name((uint16_t)__builtin_ctzll(missing)));
	return -1;
}

/* ---- encode ----------------------------------------------------------------------------------- */

/* The value of a known AVP into v; returns its length, -1 if out of range. */
static int value_of(const struct l2tp_msg *m, uint16_t attr, uint8_t *v)
{
	const struct avp_def *d = &avps[attr];
	const struct l2tp_bytes *b;
	switch (d->kind) {
	case K_U16:
		put16(v, *(const uint16_t *)((const char *)m + d->off));
		return 2;
	case K_U32:
		put32(v, *(const uint32_t *)((const char *)m + d->off));
		return 4;
	case K_FIXED:
		memcpy(v, (const char *)m + d->off, d->min);
		return d->min;
	case K_BYTES:
		b = (const struct l2tp_bytes *)((const char *)m + d->off);
		if (b->len < d->min || b->len > d->max || (b->len && b->p == NULL))
			return -1;
		if (b->len)
			memcpy(v, b->p, b->len);
		return b->len;
	case K_RESULT:
		put16(v, m->result);
		if (!m->has_error && m->result_msg.len == 0)
			return 2;
		put16(v + 2, m->error);
		if (m->result_msg.len > VMAX - 4 || (m->result_msg.len && m->result_msg.p == NULL))
			return -1;
		if (m->result_msg.len)
			memcpy(v + 4, m->result_msg.p, m->result_msg.len);
		return 4 + m->result_msg.len;
	case K_Q931:
		put16(v, m->q931_cause);
		v[2] = m->q931_msg;
		if (m->q931_advisory.len > VMAX - 3 || (m->q931_advisory.len && m->q931_advisory.p == NULL))
			return -1;
		if (m->q931_advisory.len)
			memcpy(v + 3, m->q931_advisory.p, m->q931_advisory.len);
		return 3 + m->q931_advisory.len;
	case K_CALLERR:
		put16(v, 0);
		for (int i = 0; i < 6; i++)
			put32(v + 2 + 4 * i, m->call_errors[i]);
		return 26;
	case K_ACCM:
		put16(v, 0);
		put32(v + 2, m->accm_send);
		put32(v + 6, m->accm_recv);
		return 10;
	case K_EMPTY:
		return 0;
	case K_NONE:
	case K_MSGTYPE:
		break;
	}
	return -1;
}

static int put_avp(uint8_t *out, size_t cap, size_t *o, bool mbit, bool hidden, uint16_t attr,
		   const uint8_t *v, size_t vlen)
{
	size_t alen = L2TP_AVP_HDR_LEN + vlen;
	if (alen > 1023 || *o + alen > cap)
		return -1;
	put16(out + *o, (uint16_t)((mbit ? 0x8000 : 0) | (hidden ? 0x4000 : 0) | alen));
	put16(out + *o + 2, 0);
	put16(out + *o + 4, attr);
	if (vlen)
		memcpy(out + *o + 6, v, vlen);
	*o += alen;
	return 0;
}

size_t l2tp_encode(const struct l2tp_msg *m, const struct l2tp_hide *hide, uint8_t *out, size_t cap)
{
	size_t o = L2TP_CTRL_HDR_LEN;
	uint64_t mask = hide != NULL && hide->secret.len > 0 && hide->rv.len > 0 ? hide->mask : 0;
	uint8_t v[1024], h[1024];

	mask &= ~(L2TP_AVP_BIT(L2TP_AVP_MSG_TYPE) | L2TP_AVP_BIT(L2TP_AVP_RANDOM_VECTOR));
	if (cap > L2TP_MAX_CTRL_LEN)
		cap = L2TP_MAX_CTRL_LEN;
	if (cap < L2TP_CTRL_HDR_LEN)
		return 0;
	put16(out, L2TP_HDR_T | L2TP_HDR_L | L2TP_HDR_S | L2TP_VERSION);
	put16(out + 4, m->hdr.tunnel_id);
	put16(out + 6, m->hdr.session_id);
	put16(out + 8, m->hdr.ns);
	put16(out + 10, m->hdr.nr);
	if (m->type != L2TP_ZLB) {
		uint8_t t[2];
		put16(t, m->type);
		if (put_avp(out, cap, &o, true, false, L2TP_AVP_MSG_TYPE, t, 2))
			return 0;
		if (mask && put_avp(out, cap, &o, true, false, L2TP_AVP_RANDOM_VECTOR, hide->rv.p, hide->rv.len))
			return 0;
		for (uint16_t a = 1; a <= L2TP_AVP_MAX; a++) {
			int n;
			size_t hn;
			if (!(m->present & L2TP_AVP_BIT(a)) || avps[a].kind == K_NONE)
				continue;
			if (a == L2TP_AVP_RANDOM_VECTOR && mask)
				continue;
			if ((n = value_of(m, a, v)) < 0)
				return 0;
			if (mask & L2TP_AVP_BIT(a)) {
				hn = l2tp_hide_value(a, &hide->secret, &hide->rv, v, (size_t)n, 0, h, sizeof(h));
				if (hn == 0 || put_avp(out, cap, &o, avps[a].mbit, true, a, h, hn))
					return 0;
			} else if (put_avp(out, cap, &o, avps[a].mbit, false, a, v, (size_t)n)) {
				return 0;
			}
		}
	}
	put16(out + 2, (uint16_t)o);
	return o;
}

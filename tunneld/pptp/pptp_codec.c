/*
 * pptp_codec.c — PPTP control message codec (RFC 2637 section 2).
 *
 * Reads and writes the 15 control messages field by field through two small cursors, never by
 * overlaying packed structs on the buffer (alignment and byte order stay explicit).
 * Body reserved fields are ignored on input and written as zero: the header's reserved0 is the
 * one a stream reader relies on, the others carry nothing a peer could get wrong harmfully.
 * Needs: nothing but libc.
 */
#include "pptp_codec.h"

#include <stdio.h>
#include <string.h>

/* ---- wire cursors ----------------------------------------------------------------------- */

struct rd { const uint8_t *p; };

static uint8_t rd8(struct rd *r) { return *r->p++; }
static uint16_t rd16(struct rd *r)
{
	uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return v;
}
static uint32_t rd32(struct rd *r)
{
	uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return v;
}
static void rdskip(struct rd *r, size_t n) { r->p += n; }
/* A fixed field of n octets into dst[n + 1]: stops at the first NUL, always terminated. */
static void rdstr(struct rd *r, char *dst, size_t n)
{
	size_t i;
	for (i = 0; i < n && r->p[i] != '\0'; i++)
		dst[i] = (char)r->p[i];
	dst[i] = '\0';
	r->p += n;
}

struct wr { uint8_t *p; };

static void wr8(struct wr *w, uint8_t v) { *w->p++ = v; }
static void wr16(struct wr *w, uint16_t v) { w->p[0] = (uint8_t)(v >> 8); w->p[1] = (uint8_t)v; w->p += 2; }
static void wr32(struct wr *w, uint32_t v)
{
	w->p[0] = (uint8_t)(v >> 24); w->p[1] = (uint8_t)(v >> 16);
	w->p[2] = (uint8_t)(v >> 8); w->p[3] = (uint8_t)v;
	w->p += 4;
}
static void wrzero(struct wr *w, size_t n) { memset(w->p, 0, n); w->p += n; }
/* Zero-padded fixed field; a string as long as the field fills it without a NUL (RFC 2637
 * calls these fields "NULL padded"). */
static void wrstr(struct wr *w, const char *s, size_t n)
{
	size_t l = strnlen(s, n);
	memcpy(w->p, s, l);
	memset(w->p + l, 0, n - l);
	w->p += n;
}

/* ---- names ------------------------------------------------------------------------------ */

static const struct { const char *name; uint16_t len; } types[PPTP_TYPE_MAX + 1] = {
	[PPTP_SCCRQ] = { "SCCRQ", 156 },    [PPTP_SCCRP] = { "SCCRP", 156 },
	[PPTP_STOPCCRQ] = { "StopCCRQ", 16 }, [PPTP_STOPCCRP] = { "StopCCRP", 16 },
	[PPTP_ECHORQ] = { "Echo-Request", 16 }, [PPTP_ECHORP] = { "Echo-Reply", 20 },
	[PPTP_OCRQ] = { "OCRQ", 168 },      [PPTP_OCRP] = { "OCRP", 32 },
	[PPTP_ICRQ] = { "ICRQ", 220 },      [PPTP_ICRP] = { "ICRP", 24 },
	[PPTP_ICCN] = { "ICCN", 28 },       [PPTP_CCRQ] = { "CCRQ", 16 },
	[PPTP_CDN] = { "CDN", 148 },        [PPTP_WEN] = { "WEN", 40 },
	[PPTP_SLI] = { "SLI", 24 },
};

size_t pptp_msg_len(unsigned type)
{
	return type >= 1 && type <= PPTP_TYPE_MAX ? types[type].len : 0;
}

const char *pptp_type_name(unsigned type)
{
	return type >= 1 && type <= PPTP_TYPE_MAX ? types[type].name : "unknown";
}

#define PICK(tab, i) ((i) >= 1 && (i) < sizeof(tab) / sizeof((tab)[0]) ? (tab)[i] : "unknown")

const char *pptp_result_name(unsigned type, unsigned result)
{
	static const char *const sccrp[] = { NULL, "Successful", "General-Error",
		"Command-Channel-Exists", "Not-Authorized", "Bad-Protocol-Version" };
	static const char *const stop_reason[] = { NULL, "None", "Stop-Protocol", "Stop-Local-Shutdown" };
	static const char *const ok_or_error[] = { NULL, "OK", "General-Error" };
	static const char *const ocrp[] = { NULL, "Connected", "General-Error", "No-Carrier", "Busy",
		"No-Dial-Tone", "Time-out", "Do-Not-Accept" };
	static const char *const icrp[] = { NULL, "Connect", "General-Error", "Do-Not-Accept" };
	static const char *const cdn[] = { NULL, "Lost-Carrier", "General-Error", "Admin-Shutdown",
		"Request" };

	switch (type) {
	case PPTP_SCCRP: return PICK(sccrp, result);
	case PPTP_STOPCCRQ: return PICK(stop_reason, result);
	case PPTP_STOPCCRP:
	case PPTP_ECHORP: return PICK(ok_or_error, result);
	case PPTP_OCRP: return PICK(ocrp, result);
	case PPTP_ICRP: return PICK(icrp, result);
	case PPTP_CDN: return PICK(cdn, result);
	default: return "unknown";
	}
}

const char *pptp_error_name(unsigned error)
{
	static const char *const names[] = { "None", "Not-Connected", "Bad-Format", "Bad-Value",
		"No-Resource", "Bad-Call-ID", "PAC-Error" };
	return error < sizeof(names) / sizeof(names[0]) ? names[error] : "unknown";
}

char *pptp_printable(char *dst, size_t dstlen, const char *src)
{
	size_t i;
	for (i = 0; i + 1 < dstlen && src[i] != '\0'; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
	return dst;
}

/* ---- decode ----------------------------------------------------------------------------- */

static void decode_body(struct rd *r, struct pptp_msg *m)
{
	switch (m->type) {
	case PPTP_SCCRQ:
	case PPTP_SCCRP:
		m->u.sccrq.version = rd16(r);
		m->u.sccrq.result = rd8(r);
		m->u.sccrq.error = rd8(r);
		if (m->type == PPTP_SCCRQ)
			m->u.sccrq.result = m->u.sccrq.error = 0;
		m->u.sccrq.framing_caps = rd32(r);
		m->u.sccrq.bearer_caps = rd32(r);
		m->u.sccrq.max_channels = rd16(r);
		m->u.sccrq.firmware_rev = rd16(r);
		rdstr(r, m->u.sccrq.hostname, PPTP_HOSTNAME_LEN);
		rdstr(r, m->u.sccrq.vendor, PPTP_VENDOR_LEN);
		break;
	case PPTP_STOPCCRQ:
		m->u.stopccrq.reason = rd8(r);
		break;
	case PPTP_STOPCCRP:
		m->u.stopccrp.result = rd8(r);
		m->u.stopccrp.error = rd8(r);
		break;
	case PPTP_ECHORQ:
		m->u.echorq.id = rd32(r);
		break;
	case PPTP_ECHORP:
		m->u.echorp.id = rd32(r);
		m->u.echorp.result = rd8(r);
		m->u.echorp.error = rd8(r);
		break;
	case PPTP_OCRQ:
		m->u.ocrq.call_id = rd16(r);
		m->u.ocrq.call_serial = rd16(r);
		m->u.ocrq.min_bps = rd32(r);
		m->u.ocrq.max_bps = rd32(r);
		m->u.ocrq.bearer_type = rd32(r);
		m->u.ocrq.framing_type = rd32(r);
		m->u.ocrq.recv_window = rd16(r);
		m->u.ocrq.processing_delay = rd16(r);
		m->u.ocrq.phone_len = rd16(r);
		rdskip(r, 2);
		rdstr(r, m->u.ocrq.phone, PPTP_PHONE_LEN);
		rdstr(r, m->u.ocrq.subaddress, PPTP_SUBADDR_LEN);
		break;
	case PPTP_OCRP:
		m->u.ocrp.call_id = rd16(r);
		m->u.ocrp.peer_call_id = rd16(r);
		m->u.ocrp.result = rd8(r);
		m->u.ocrp.error = rd8(r);
		m->u.ocrp.cause = rd16(r);
		m->u.ocrp.connect_speed = rd32(r);
		m->u.ocrp.recv_window = rd16(r);
		m->u.ocrp.processing_delay = rd16(r);
		m->u.ocrp.physical_channel = rd32(r);
		break;
	case PPTP_ICRQ:
		m->u.icrq.call_id = rd16(r);
		m->u.icrq.call_serial = rd16(r);
		m->u.icrq.bearer_type = rd32(r);
		m->u.icrq.physical_channel = rd32(r);
		m->u.icrq.dialed_len = rd16(r);
		m->u.icrq.dialing_len = rd16(r);
		rdstr(r, m->u.icrq.dialed, PPTP_PHONE_LEN);
		rdstr(r, m->u.icrq.dialing, PPTP_PHONE_LEN);
		rdstr(r, m->u.icrq.subaddress, PPTP_SUBADDR_LEN);
		break;
	case PPTP_ICRP:
		m->u.icrp.call_id = rd16(r);
		m->u.icrp.peer_call_id = rd16(r);
		m->u.icrp.result = rd8(r);
		m->u.icrp.error = rd8(r);
		m->u.icrp.recv_window = rd16(r);
		m->u.icrp.transmit_delay = rd16(r);
		break;
	case PPTP_ICCN:
		m->u.iccn.peer_call_id = rd16(r);
		rdskip(r, 2);
		m->u.iccn.connect_speed = rd32(r);
		m->u.iccn.recv_window = rd16(r);
		m->u.iccn.transmit_delay = rd16(r);
		m->u.iccn.framing_type = rd32(r);
		break;
	case PPTP_CCRQ:
		m->u.ccrq.call_id = rd16(r);
		break;
	case PPTP_CDN:
		m->u.cdn.call_id = rd16(r);
		m->u.cdn.result = rd8(r);
		m->u.cdn.error = rd8(r);
		m->u.cdn.cause = rd16(r);
		rdskip(r, 2);
		rdstr(r, m->u.cdn.stats, PPTP_STATS_LEN);
		break;
	case PPTP_WEN:
		m->u.wen.peer_call_id = rd16(r);
		rdskip(r, 2);
		m->u.wen.crc_errors = rd32(r);
		m->u.wen.framing_errors = rd32(r);
		m->u.wen.hardware_overruns = rd32(r);
		m->u.wen.buffer_overruns = rd32(r);
		m->u.wen.timeout_errors = rd32(r);
		m->u.wen.alignment_errors = rd32(r);
		break;
	case PPTP_SLI:
		m->u.sli.peer_call_id = rd16(r);
		rdskip(r, 2);
		m->u.sli.send_accm = rd32(r);
		m->u.sli.recv_accm = rd32(r);
		break;
	default:
		break;          /* unknown type: header only, the reader skips it */
	}
}

/* reason is optional; the literal format keeps -Wformat checking every call. */
#define MALFORMED(...) do { \
		if (reason != NULL) \
			snprintf(reason, PPTP_REASON_LEN, __VA_ARGS__); \
		return PPTP_DECODE_MALFORMED; \
	} while (0)

enum pptp_decode_status pptp_decode(const void *buf, size_t len, struct pptp_msg *msg,
				    size_t *consumed, char *reason)
{
	const uint8_t *b = buf;
	struct rd r = { b };
	uint16_t length, type;

	*consumed = 0;
	if (reason != NULL)
		reason[0] = '\0';
	if (len < 2)
		return PPTP_DECODE_INCOMPLETE;
	length = rd16(&r);
	if (length < PPTP_HEADER_LEN)
		MALFORMED("length %u shorter than the header (%u)", length, PPTP_HEADER_LEN);
	if (length > PPTP_MAX_MSG_LEN)
		MALFORMED("length %u longer than any message (max %u)", length, PPTP_MAX_MSG_LEN);
	if (len < 4)
		return PPTP_DECODE_INCOMPLETE;
	if ((type = rd16(&r)) != PPTP_MSG_CONTROL)
		MALFORMED("PPTP message type %u is not control (%u)", type, PPTP_MSG_CONTROL);
	if (len < 8)
		return PPTP_DECODE_INCOMPLETE;
	uint32_t cookie = rd32(&r);
	if (cookie != PPTP_MAGIC_COOKIE)
		MALFORMED("bad magic cookie 0x%08x (expected 0x%08x)", cookie, PPTP_MAGIC_COOKIE);
	if (len < 10)
		return PPTP_DECODE_INCOMPLETE;
	type = rd16(&r);
	size_t want = pptp_msg_len(type);
	if (want != 0 && length != want)
		MALFORMED("length %u wrong for %s (expected %zu)", length, pptp_type_name(type), want);
	if (len < 12)
		return PPTP_DECODE_INCOMPLETE;
	uint16_t reserved0 = rd16(&r);
	if (reserved0 != 0)
		MALFORMED("reserved0 0x%04x not zero in %s", reserved0, pptp_type_name(type));
	if (len < length)
		return PPTP_DECODE_INCOMPLETE;

	memset(msg, 0, sizeof(*msg));
	msg->type = type;
	msg->length = length;
	decode_body(&r, msg);
	*consumed = length;
	return PPTP_DECODE_COMPLETE;
}

/* ---- encode ----------------------------------------------------------------------------- */

size_t pptp_encode(const struct pptp_msg *m, void *buf, size_t cap)
{
	size_t len = pptp_msg_len(m->type);
	struct wr w = { buf };

	if (len == 0 || cap < len)
		return 0;
	wr16(&w, (uint16_t)len);
	wr16(&w, PPTP_MSG_CONTROL);
	wr32(&w, PPTP_MAGIC_COOKIE);
	wr16(&w, m->type);
	wr16(&w, 0);

	switch (m->type) {
	case PPTP_SCCRQ:
	case PPTP_SCCRP:
		wr16(&w, m->u.sccrq.version);
		wr8(&w, m->type == PPTP_SCCRP ? m->u.sccrp.result : 0);
		wr8(&w, m->type == PPTP_SCCRP ? m->u.sccrp.error : 0);
		wr32(&w, m->u.sccrq.framing_caps);
		wr32(&w, m->u.sccrq.bearer_caps);
		wr16(&w, m->u.sccrq.max_channels);
		wr16(&w, m->u.sccrq.firmware_rev);
		wrstr(&w, m->u.sccrq.hostname, PPTP_HOSTNAME_LEN);
		wrstr(&w, m->u.sccrq.vendor, PPTP_VENDOR_LEN);
		break;
	case PPTP_STOPCCRQ:
		wr8(&w, m->u.stopccrq.reason);
		wrzero(&w, 3);
		break;
	case PPTP_STOPCCRP:
		wr8(&w, m->u.stopccrp.result);
		wr8(&w, m->u.stopccrp.error);
		wrzero(&w, 2);
		break;
	case PPTP_ECHORQ:
		wr32(&w, m->u.echorq.id);
		break;
	case PPTP_ECHORP:
		wr32(&w, m->u.echorp.id);
		wr8(&w, m->u.echorp.result);
		wr8(&w, m->u.echorp.error);
		wrzero(&w, 2);
		break;
	case PPTP_OCRQ:
		wr16(&w, m->u.ocrq.call_id);
		wr16(&w, m->u.ocrq.call_serial);
		wr32(&w, m->u.ocrq.min_bps);
		wr32(&w, m->u.ocrq.max_bps);
		wr32(&w, m->u.ocrq.bearer_type);
		wr32(&w, m->u.ocrq.framing_type);
		wr16(&w, m->u.ocrq.recv_window);
		wr16(&w, m->u.ocrq.processing_delay);
		/* The length always matches what is actually sent. */
		wr16(&w, (uint16_t)strnlen(m->u.ocrq.phone, PPTP_PHONE_LEN));
		wrzero(&w, 2);
		wrstr(&w, m->u.ocrq.phone, PPTP_PHONE_LEN);
		wrstr(&w, m->u.ocrq.subaddress, PPTP_SUBADDR_LEN);
		break;
	case PPTP_OCRP:
		wr16(&w, m->u.ocrp.call_id);
		wr16(&w, m->u.ocrp.peer_call_id);
		wr8(&w, m->u.ocrp.result);
		wr8(&w, m->u.ocrp.error);
		wr16(&w, m->u.ocrp.cause);
		wr32(&w, m->u.ocrp.connect_speed);
		wr16(&w, m->u.ocrp.recv_window);
		wr16(&w, m->u.ocrp.processing_delay);
		wr32(&w, m->u.ocrp.physical_channel);
		break;
	case PPTP_ICRQ:
		wr16(&w, m->u.icrq.call_id);
		wr16(&w, m->u.icrq.call_serial);
		wr32(&w, m->u.icrq.bearer_type);
		wr32(&w, m->u.icrq.physical_channel);
		wr16(&w, (uint16_t)strnlen(m->u.icrq.dialed, PPTP_PHONE_LEN));
		wr16(&w, (uint16_t)strnlen(m->u.icrq.dialing, PPTP_PHONE_LEN));
		wrstr(&w, m->u.icrq.dialed, PPTP_PHONE_LEN);
		wrstr(&w, m->u.icrq.dialing, PPTP_PHONE_LEN);
		wrstr(&w, m->u.icrq.subaddress, PPTP_SUBADDR_LEN);
		break;
	case PPTP_ICRP:
		wr16(&w, m->u.icrp.call_id);
		wr16(&w, m->u.icrp.peer_call_id);
		wr8(&w, m->u.icrp.result);
		wr8(&w, m->u.icrp.error);
		wr16(&w, m->u.icrp.recv_window);
		wr16(&w, m->u.icrp.transmit_delay);
		wrzero(&w, 2);
		break;
	case PPTP_ICCN:
		wr16(&w, m->u.iccn.peer_call_id);
		wrzero(&w, 2);
		wr32(&w, m->u.iccn.connect_speed);
		wr16(&w, m->u.iccn.recv_window);
		wr16(&w, m->u.iccn.transmit_delay);
		wr32(&w, m->u.iccn.framing_type);
		break;
	case PPTP_CCRQ:
		wr16(&w, m->u.ccrq.call_id);
		wrzero(&w, 2);
		break;
	case PPTP_CDN:
		wr16(&w, m->u.cdn.call_id);
		wr8(&w, m->u.cdn.result);
		wr8(&w, m->u.cdn.error);
		wr16(&w, m->u.cdn.cause);
		wrzero(&w, 2);
		wrstr(&w, m->u.cdn.stats, PPTP_STATS_LEN);
		break;
	case PPTP_WEN:
		wr16(&w, m->u.wen.peer_call_id);
		wrzero(&w, 2);
		wr32(&w, m->u.wen.crc_errors);
		wr32(&w, m->u.wen.framing_errors);
		wr32(&w, m->u.wen.hardware_overruns);
		wr32(&w, m->u.wen.buffer_overruns);
		wr32(&w, m->u.wen.timeout_errors);
		wr32(&w, m->u.wen.alignment_errors);
		break;
	case PPTP_SLI:
		wr16(&w, m->u.sli.peer_call_id);
		wrzero(&w, 2);
		wr32(&w, m->u.sli.send_accm);
		wr32(&w, m->u.sli.recv_accm);
		break;
	}
	return (size_t)(w.p - (uint8_t *)buf);
}

/*
 * l2tp_codec.h — L2TP version 2 (RFC 2661) header and control message codec, pure: bytes in,
 * struct out.
 *
 * The header (section 3.1): T/L/S/O/P bits, version 2, tunnel and session ids, Ns/Nr, offset.
 * Control messages (T=1) must carry L=1, S=1, O=0. Every AVP of RFC 2661 section 4.4 is decoded
 * into a field of struct l2tp_msg with its length checked; unknown AVPs (other attribute types,
 * or any vendor id but 0) follow the M-bit rule of section 4.1: ignored without M, and with M
 * the decode says L2TP_DEC_UNKNOWN_MANDATORY so the caller tears down the session or tunnel.
 * Hidden AVPs (section 4.3) are revealed with the shared secret and the Random Vector AVP that
 * precedes them; the encoder can hide any AVP too (tests and fuzzers play the server with it).
 * Challenge/Challenge-Response (section 5.1.1): MD5 of the message type octet, the secret and
 * the challenge.
 * No I/O and no allocation; a decoded message owns copies of its variable-length values.
 * Needs: OpenSSL (MD5 through EVP) and libc.
 */
#ifndef MAILTUN_L2TP_CODEC_H
#define MAILTUN_L2TP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define L2TP_UDP_PORT        1701
#define L2TP_VERSION         2
#define L2TP_CTRL_HDR_LEN    12        /* T, L, S set: flags, length, tunnel, session, Ns, Nr */
#define L2TP_MAX_CTRL_LEN    4096      /* longer control messages are refused, not truncated */
#define L2TP_AVP_HDR_LEN     6
#define L2TP_REASON_LEN      128
#define L2TP_CHAL_RESP_LEN   16
#define L2TP_TIE_BREAKER_LEN 8

/* Header flag bits, in the first 16-bit word. */
#define L2TP_HDR_T   0x8000u   /* control message */
#define L2TP_HDR_L   0x4000u   /* length present */
#define L2TP_HDR_S   0x0800u   /* Ns, Nr present */
#define L2TP_HDR_O   0x0200u   /* offset size present */
#define L2TP_HDR_P   0x0100u   /* priority (data messages) */
#define L2TP_HDR_VER 0x000fu

/* Control message types (section 3.2); 0 stands for a ZLB (header only, an ack). */
enum l2tp_msg_type {
	L2TP_ZLB = 0,
	L2TP_SCCRQ = 1, L2TP_SCCRP = 2, L2TP_SCCCN = 3, L2TP_STOPCCN = 4, L2TP_HELLO = 6,
	L2TP_OCRQ = 7, L2TP_OCRP = 8, L2TP_OCCN = 9, L2TP_ICRQ = 10, L2TP_ICRP = 11, L2TP_ICCN = 12,
	L2TP_CDN = 14, L2TP_WEN = 15, L2TP_SLI = 16,
	L2TP_MSG_MAX = 16
};

/* Attribute types (section 4.4), vendor id 0. */
enum l2tp_avp_type {
	L2TP_AVP_MSG_TYPE = 0, L2TP_AVP_RESULT_CODE = 1, L2TP_AVP_PROTO_VERSION = 2,
	L2TP_AVP_FRAMING_CAPS = 3, L2TP_AVP_BEARER_CAPS = 4, L2TP_AVP_TIE_BREAKER = 5,
	L2TP_AVP_FIRMWARE_REV = 6, L2TP_AVP_HOST_NAME = 7, L2TP_AVP_VENDOR_NAME = 8,
	L2TP_AVP_TUNNEL_ID = 9, L2TP_AVP_RECV_WINDOW = 10, L2TP_AVP_CHALLENGE = 11,
	L2TP_AVP_Q931_CAUSE = 12, L2TP_AVP_CHAL_RESPONSE = 13, L2TP_AVP_SESSION_ID = 14,
	L2TP_AVP_CALL_SERIAL = 15, L2TP_AVP_MIN_BPS = 16, L2TP_AVP_MAX_BPS = 17,
	L2TP_AVP_BEARER_TYPE = 18, L2TP_AVP_FRAMING_TYPE = 19, L2TP_AVP_CALLED_NUMBER = 21,
	L2TP_AVP_CALLING_NUMBER = 22, L2TP_AVP_SUB_ADDRESS = 23, L2TP_AVP_TX_SPEED = 24,
	L2TP_AVP_PHYS_CHANNEL = 25, L2TP_AVP_INIT_RX_LCP = 26, L2TP_AVP_LAST_TX_LCP = 27,
	L2TP_AVP_LAST_RX_LCP = 28, L2TP_AVP_PROXY_AUTH_TYPE = 29, L2TP_AVP_PROXY_AUTH_NAME = 30,
	L2TP_AVP_PROXY_AUTH_CHAL = 31, L2TP_AVP_PROXY_AUTH_ID = 32, L2TP_AVP_PROXY_AUTH_RESP = 33,
	L2TP_AVP_CALL_ERRORS = 34, L2TP_AVP_ACCM = 35, L2TP_AVP_RANDOM_VECTOR = 36,
	L2TP_AVP_PRIVATE_GROUP = 37, L2TP_AVP_RX_SPEED = 38, L2TP_AVP_SEQ_REQUIRED = 39,
	L2TP_AVP_MAX = 39
};

#define L2TP_AVP_BIT(t) ((uint64_t)1 << (t))

/* Result codes of StopCCN (section 4.4.2). */
enum { L2TP_STOP_GENERAL = 1, L2TP_STOP_GENERAL_ERROR = 2, L2TP_STOP_EXISTS = 3,
       L2TP_STOP_NOT_AUTHORIZED = 4, L2TP_STOP_BAD_VERSION = 5, L2TP_STOP_SHUTDOWN = 6,
       L2TP_STOP_FSM_ERROR = 7 };
/* Result codes of CDN. */
enum { L2TP_CDN_LOST_CARRIER = 1, L2TP_CDN_GENERAL_ERROR = 2, L2TP_CDN_ADMIN = 3,
       L2TP_CDN_NO_RESOURCES = 4, L2TP_CDN_NOT_AVAILABLE = 5, L2TP_CDN_BAD_DEST = 6,
       L2TP_CDN_NO_CARRIER = 7, L2TP_CDN_BUSY = 8, L2TP_CDN_NO_DIAL_TONE = 9,
       L2TP_CDN_TIMEOUT = 10, L2TP_CDN_NO_FRAMING = 11 };
/* General error codes carried next to a result code. */
enum { L2TP_ERR_NONE = 0, L2TP_ERR_NO_CONTROL = 1, L2TP_ERR_BAD_LENGTH = 2,
       L2TP_ERR_BAD_VALUE = 3, L2TP_ERR_NO_RESOURCES = 4, L2TP_ERR_BAD_SESSION = 5,
       L2TP_ERR_VENDOR = 6, L2TP_ERR_TRY_ANOTHER = 7, L2TP_ERR_UNKNOWN_M = 8 };

#define L2TP_FRAMING_SYNC  1u
#define L2TP_FRAMING_ASYNC 2u
#define L2TP_BEARER_DIGITAL 1u
#define L2TP_BEARER_ANALOG  2u

/* A variable-length value: p points into the message's own arena (decode) or anywhere the
 * caller likes (encode); len 0 with p NULL is an empty value. */
struct l2tp_bytes {
	const uint8_t *p;
	uint16_t len;
};

struct l2tp_header {
	uint16_t flags;            /* the whole first word: T/L/S/O/P bits and version */
	uint16_t length;           /* the L field, or the datagram length when L is absent */
	uint16_t tunnel_id, session_id;
	uint16_t ns, nr;           /* valid when S is set */
	uint16_t offset_size;      /* valid when O is set */
	size_t payload_off;        /* where AVPs (control) or the PPP frame (data) start */
};

/* One control message. present has a bit per attribute type decoded or to encode. */
struct l2tp_msg {
	struct l2tp_header hdr;
	uint16_t type;             /* enum l2tp_msg_type; L2TP_ZLB when there are no AVPs */
	uint64_t present;          /* L2TP_AVP_BIT(type) of every AVP set */
	uint64_t hidden;           /* decode: which of them arrived hidden */

	uint16_t result, error;    /* Result Code; error and message when has_error */
	bool has_error;
	struct l2tp_bytes result_msg;
	uint16_t proto_version;    /* (version << 8) | revision: 0x0100 */
	uint32_t framing_caps, bearer_caps;
	uint8_t tie_breaker[L2TP_TIE_BREAKER_LEN];
	uint16_t firmware_rev;
	struct l2tp_bytes host_name, vendor_name;
	uint16_t tunnel_id;        /* Assigned Tunnel ID */
	uint16_t recv_window;
	struct l2tp_bytes challenge;
	uint16_t q931_cause;
	uint8_t q931_msg;
	struct l2tp_bytes q931_advisory;
	uint8_t chal_response[L2TP_CHAL_RESP_LEN];
	uint16_t session_id;       /* Assigned Session ID */
	uint32_t call_serial, min_bps, max_bps, bearer_type, framing_type;
	struct l2tp_bytes called_number, calling_number, sub_address;
	uint32_t tx_speed, phys_channel;
	struct l2tp_bytes init_rx_lcp, last_tx_lcp, last_rx_lcp;
	uint16_t proxy_auth_type;
	struct l2tp_bytes proxy_auth_name, proxy_auth_chal;
	uint16_t proxy_auth_id;
	struct l2tp_bytes proxy_auth_resp;
	uint32_t call_errors[6];   /* CRC, framing, hardware overruns, buffer overruns, timeouts, alignment */
	uint32_t accm_send, accm_recv;
	struct l2tp_bytes random_vector;   /* the last one in the message */
	struct l2tp_bytes private_group;
	uint32_t rx_speed;
	/* L2TP_AVP_SEQ_REQUIRED has no value: its bit in present says it all. */

	uint16_t unknown_vendor, unknown_attr;   /* the unknown mandatory AVP, when the decode says so */
	size_t arena_used;
	uint8_t arena[L2TP_MAX_CTRL_LEN];
};

/* The tunnel's shared secret, for hidden AVPs and tunnel authentication (len 0: none). */
struct l2tp_secret {
	const uint8_t *p;
	size_t len;
};

/* What the encoder hides: AVPs whose bit is in mask, with secret and this Random Vector (sent
 * as an AVP right after Message Type). NULL or mask 0: nothing hidden. */
struct l2tp_hide {
	struct l2tp_secret secret;
	struct l2tp_bytes rv;
	uint64_t mask;
};

enum l2tp_decode_status {
	L2TP_DEC_OK,                /* a whole message (or ZLB) */
	L2TP_DEC_MALFORMED,         /* bad header, length or AVP: why says which; drop it */
	L2TP_DEC_UNKNOWN_MANDATORY, /* well-formed but an unknown AVP has M set: header, type and
				       unknown_* are filled; tear down the session or tunnel */
	L2TP_DEC_IGNORE             /* unknown message type without M: ack it, otherwise ignore */
};

const char *l2tp_msg_name(uint16_t type);          /* "SCCRQ", ..., "ZLB", "type-N" */
const char *l2tp_avp_name(uint16_t attr);          /* "Host Name", ..., "AVP-N" */
const char *l2tp_stop_result_name(uint16_t code);  /* StopCCN result codes */
const char *l2tp_cdn_result_name(uint16_t code);   /* CDN result codes */
const char *l2tp_error_name(uint16_t code);        /* general error codes */

/* Whether a message type is about a session (ICRQ..CDN, WEN, SLI, OCxx) rather than the tunnel:
 * an unknown M-bit AVP in it clears only that session. */
bool l2tp_msg_is_session(uint16_t type);

/* Any L2TP datagram's header; returns 0, or -1 with why filled (header bits, version, length). */
int l2tp_header_decode(const uint8_t *buf, size_t len, struct l2tp_header *h, char *why);

/* A control message from a datagram of len octets; secret may be NULL (hidden AVPs are then
 * malformed). On MALFORMED, m->hdr is filled when the header itself was fine. */
enum l2tp_decode_status l2tp_decode(const uint8_t *buf, size_t len, const struct l2tp_secret *secret,
				    struct l2tp_msg *m, char *why);

/* Which AVPs RFC 2661 requires in this message type; l2tp_check_required() names the first
 * missing one in why and returns -1. */
uint64_t l2tp_required_avps(uint16_t type);
int l2tp_check_required(const struct l2tp_msg *m, char *why);

/* Encodes m (header from m->hdr: tunnel_id, session_id, ns, nr; type; the AVPs in present, in
 * attribute order) into out. Returns the length, 0 if it does not fit in cap or a value is out
 * of range. hide may be NULL. */
size_t l2tp_encode(const struct l2tp_msg *m, const struct l2tp_hide *hide, uint8_t *out, size_t cap);

/* MD5(msg_type octet, secret, challenge) into out[16]: the Challenge Response a peer sends in
 * its SCCRP (msg_type 2) or SCCCN (3). Returns 0, -1 if MD5 is unavailable. */
int l2tp_chal_response(uint8_t msg_type, const struct l2tp_secret *secret,
		       const uint8_t *chal, size_t chal_len, uint8_t out[L2TP_CHAL_RESP_LEN]);

/* Section 4.3 hiding: in holds the AVP's value of len octets; writes the 2-octet original
 * length, the value and pad octets of padding (all encrypted) to out, returns its length or 0.
 * Reveal is the inverse: returns the original value's length, or -1 if it does not fit (wrong
 * secret or a corrupt AVP). */
size_t l2tp_hide_value(uint16_t attr, const struct l2tp_secret *secret, const struct l2tp_bytes *rv,
		       const uint8_t *in, size_t len, size_t pad, uint8_t *out, size_t cap);
int l2tp_reveal_value(uint16_t attr, const struct l2tp_secret *secret, const struct l2tp_bytes *rv,
		      const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* A string as l2tp_bytes (for building messages). */
struct l2tp_bytes l2tp_str(const char *s);

#endif

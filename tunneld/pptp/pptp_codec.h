/*
 * pptp_codec.h — PPTP control message codec (RFC 2637 section 2), pure: bytes in, struct out.
 *
 * Decodes all 15 control message types from a byte stream with strict checks of the common
 * header (length, PPTP message type 1, magic cookie 0x1A2B3C4D, control message type,
 * reserved0 = 0) and the exact RFC length of each type. pptp_decode() tells a stream reader
 * whether it has a whole message, needs more bytes, or must give up, and why.
 * Encodes every type (the client sends SCCRQ, StopCCRQ/RP, Echo, OCRQ, ICRP, CCRQ, CDN, SLI;
 * the others exist so tests and fuzzers can play the server).
 * No I/O, no allocation, no global state. All multi-octet fields are network byte order on the
 * wire and host order in the structs.
 */
#ifndef MAILTUN_PPTP_CODEC_H
#define MAILTUN_PPTP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define PPTP_TCP_PORT          1723
#define PPTP_MAGIC_COOKIE      0x1A2B3C4Du
#define PPTP_MSG_CONTROL       1        /* PPTP message type; 2 (management) is never used */
#define PPTP_PROTOCOL_VERSION  0x0100
#define PPTP_HEADER_LEN        12
#define PPTP_MAX_MSG_LEN       220      /* ICRQ, the largest message */

/* Fixed-width string fields on the wire; the structs hold one more octet for the NUL. */
#define PPTP_HOSTNAME_LEN      64
#define PPTP_VENDOR_LEN        64
#define PPTP_PHONE_LEN         64
#define PPTP_SUBADDR_LEN       64
#define PPTP_STATS_LEN         128

/* Room for any decode failure reason. */
#define PPTP_REASON_LEN        96

enum pptp_ctrl_type {
	PPTP_SCCRQ = 1,   /* Start-Control-Connection-Request */
	PPTP_SCCRP = 2,   /* Start-Control-Connection-Reply */
	PPTP_STOPCCRQ = 3,/* Stop-Control-Connection-Request */
	PPTP_STOPCCRP = 4,/* Stop-Control-Connection-Reply */
	PPTP_ECHORQ = 5,  /* Echo-Request */
	PPTP_ECHORP = 6,  /* Echo-Reply */
	PPTP_OCRQ = 7,    /* Outgoing-Call-Request */
	PPTP_OCRP = 8,    /* Outgoing-Call-Reply */
	PPTP_ICRQ = 9,    /* Incoming-Call-Request */
	PPTP_ICRP = 10,   /* Incoming-Call-Reply */
	PPTP_ICCN = 11,   /* Incoming-Call-Connected */
	PPTP_CCRQ = 12,   /* Call-Clear-Request */
	PPTP_CDN = 13,    /* Call-Disconnect-Notify */
	PPTP_WEN = 14,    /* WAN-Error-Notify */
	PPTP_SLI = 15,    /* Set-Link-Info */
	PPTP_TYPE_MAX = 15
};

/* Capabilities and call types. */
#define PPTP_FRAMING_ASYNC     1u
#define PPTP_FRAMING_SYNC      2u
#define PPTP_FRAMING_EITHER    3u       /* OCRQ framing type only */
#define PPTP_BEARER_ANALOG     1u
#define PPTP_BEARER_DIGITAL    2u
#define PPTP_BEARER_EITHER     3u       /* OCRQ bearer type only */

/* Result codes: their meaning depends on the message, see pptp_result_name(). */
enum { PPTP_SCCRP_OK = 1, PPTP_SCCRP_GENERAL_ERROR, PPTP_SCCRP_EXISTS, PPTP_SCCRP_NOT_AUTHORIZED,
       PPTP_SCCRP_BAD_VERSION };
enum { PPTP_STOP_REASON_NONE = 1, PPTP_STOP_REASON_PROTOCOL, PPTP_STOP_REASON_LOCAL_SHUTDOWN };
enum { PPTP_STOPCCRP_OK = 1, PPTP_STOPCCRP_GENERAL_ERROR };
enum { PPTP_ECHO_OK = 1, PPTP_ECHO_GENERAL_ERROR };
enum { PPTP_OCRP_CONNECTED = 1, PPTP_OCRP_GENERAL_ERROR, PPTP_OCRP_NO_CARRIER, PPTP_OCRP_BUSY,
       PPTP_OCRP_NO_DIAL_TONE, PPTP_OCRP_TIMEOUT, PPTP_OCRP_DO_NOT_ACCEPT };
enum { PPTP_ICRP_CONNECT = 1, PPTP_ICRP_GENERAL_ERROR, PPTP_ICRP_DO_NOT_ACCEPT };
enum { PPTP_CDN_LOST_CARRIER = 1, PPTP_CDN_GENERAL_ERROR, PPTP_CDN_ADMIN_SHUTDOWN, PPTP_CDN_REQUEST };

/* General error codes (section 2.16), carried next to a "general error" result. */
enum { PPTP_ERR_NONE = 0, PPTP_ERR_NOT_CONNECTED, PPTP_ERR_BAD_FORMAT, PPTP_ERR_BAD_VALUE,
       PPTP_ERR_NO_RESOURCE, PPTP_ERR_BAD_CALL_ID, PPTP_ERR_PAC_ERROR };

struct pptp_sccrq {            /* also the body of SCCRP, which adds result and error */
	uint16_t version;
	uint8_t result;        /* SCCRP only; reserved1 (ignored) in SCCRQ */
	uint8_t error;         /* SCCRP only */
	uint32_t framing_caps;
	uint32_t bearer_caps;
	uint16_t max_channels;
	uint16_t firmware_rev;
	char hostname[PPTP_HOSTNAME_LEN + 1];
	char vendor[PPTP_VENDOR_LEN + 1];
};

struct pptp_stopccrq { uint8_t reason; };
struct pptp_stopccrp { uint8_t result, error; };
struct pptp_echorq { uint32_t id; };
struct pptp_echorp { uint32_t id; uint8_t result, error; };

struct pptp_ocrq {
	uint16_t call_id, call_serial;
	uint32_t min_bps, max_bps, bearer_type, framing_type;
	uint16_t recv_window, processing_delay;
	uint16_t phone_len;    /* as sent; not trusted, the string is bounded by its field */
	char phone[PPTP_PHONE_LEN + 1];
	char subaddress[PPTP_SUBADDR_LEN + 1];
};

struct pptp_ocrp {
	uint16_t call_id, peer_call_id;
	uint8_t result, error;
	uint16_t cause;
	uint32_t connect_speed;
	uint16_t recv_window, processing_delay;
	uint32_t physical_channel;
};

struct pptp_icrq {
	uint16_t call_id, call_serial;
	uint32_t bearer_type, physical_channel;
	uint16_t dialed_len, dialing_len;
	char dialed[PPTP_PHONE_LEN + 1];
	char dialing[PPTP_PHONE_LEN + 1];
	char subaddress[PPTP_SUBADDR_LEN + 1];
};

struct pptp_icrp {
	uint16_t call_id, peer_call_id;
	uint8_t result, error;
	uint16_t recv_window, transmit_delay;
};

struct pptp_iccn {
	uint16_t peer_call_id;
	uint32_t connect_speed;
	uint16_t recv_window, transmit_delay;
	uint32_t framing_type;
};

struct pptp_ccrq { uint16_t call_id; };

struct pptp_cdn {
	uint16_t call_id;
	uint8_t result, error;
	uint16_t cause;
	char stats[PPTP_STATS_LEN + 1];
};

struct pptp_wen {
	uint16_t peer_call_id;
	uint32_t crc_errors, framing_errors, hardware_overruns, buffer_overruns, timeout_errors,
		alignment_errors;
};

struct pptp_sli {
	uint16_t peer_call_id;
	uint32_t send_accm, recv_accm;
};

/* One decoded message. type is the control message type; a type outside 1..15 with a sane
 * header decodes as COMPLETE with only type and length set, so a reader can skip it. */
struct pptp_msg {
	uint16_t type;
	uint16_t length;
	union {
		struct pptp_sccrq sccrq, sccrp;
		struct pptp_stopccrq stopccrq;
		struct pptp_stopccrp stopccrp;
		struct pptp_echorq echorq;
		struct pptp_echorp echorp;
		struct pptp_ocrq ocrq;
		struct pptp_ocrp ocrp;
		struct pptp_icrq icrq;
		struct pptp_icrp icrp;
		struct pptp_iccn iccn;
		struct pptp_ccrq ccrq;
		struct pptp_cdn cdn;
		struct pptp_wen wen;
		struct pptp_sli sli;
	} u;
};

enum pptp_decode_status {
	PPTP_DECODE_COMPLETE,    /* *msg filled, *consumed octets used */
	PPTP_DECODE_INCOMPLETE,  /* every octet so far is plausible; call again with more */
	PPTP_DECODE_MALFORMED    /* reason says which field; the stream cannot be resynchronised */
};

/*
 * Decodes the first message in buf[0..len). Header fields are checked as soon as their octets
 * are present, so garbage is refused without waiting for a full message. reason (at least
 * PPTP_REASON_LEN octets, may be NULL) receives a NUL-terminated explanation on MALFORMED.
 */
enum pptp_decode_status pptp_decode(const void *buf, size_t len, struct pptp_msg *msg,
				    size_t *consumed, char *reason);

/*
 * Encodes msg (msg->type selects the body; msg->length is ignored and implied by the type)
 * into buf. Strings longer than their field are cut. Returns the octets written, or 0 when
 * cap is too small or the type is unknown.
 */
size_t pptp_encode(const struct pptp_msg *msg, void *buf, size_t cap);

/* The exact RFC length of a control message type, 0 for an unknown type. */
size_t pptp_msg_len(unsigned type);

/* "SCCRQ", "Echo-Request", ...; "unknown" outside 1..15. */
const char *pptp_type_name(unsigned type);
/* The name of a result code as it is meant in a message of that type (SCCRP, StopCCRQ
 * (its reason), StopCCRP, Echo-Reply, OCRP, ICRP, CDN); "unknown" otherwise. */
const char *pptp_result_name(unsigned type, unsigned result);
/* The general error code name ("None", "Not-Connected", ..., "PAC-Error"). */
const char *pptp_error_name(unsigned error);

/* Copies src into dst (dstlen > 0) with every non-printable octet replaced by '?', so a
 * peer-supplied string can go into a log line. Returns dst. */
char *pptp_printable(char *dst, size_t dstlen, const char *src);

#endif

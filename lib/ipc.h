/*
 * ipc.h — the framed message codec of mailtun's control sockets.
 *
 * Used between mailtund and mailtun.so (inside pppd), mailrelayd and mailtunctl.
 * Pure: bytes in, struct out; no I/O, no allocation. A frame is
 *
 *   u16 magic 0x4D54 ("MT") | u8 version 1 | u8 reserved 0 | u16 type | u16 payload length
 *   payload: attributes, each  u16 attr type | u16 value length | value
 *
 * all big-endian. Payload at most IPC_MAX_PAYLOAD, at most IPC_MAX_ATTRS attributes.
 * Decoded attributes point into the caller's buffer (valid while it is).
 */
#ifndef MAILTUN_IPC_H
#define MAILTUN_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define IPC_MAGIC        0x4D54
#define IPC_VERSION      1
#define IPC_HEADER_LEN   8
#define IPC_MAX_PAYLOAD  8192
#define IPC_MAX_FRAME    (IPC_HEADER_LEN + IPC_MAX_PAYLOAD)
#define IPC_MAX_ATTRS    64

/* Message types. Requests from a client, answers and events from a daemon. */
enum ipc_type {
    IPC_HELLO = 1,          /* client -> daemon: ATTR_ROLE, ATTR_PID */
    IPC_OK = 2,             /* answer: success, optional ATTR_TEXT */
    IPC_ERROR = 3,          /* answer: ATTR_TEXT says why */
    IPC_SUBSCRIBE = 4,      /* client -> mailtund: send me LINK_UP / LINK_DOWN events */
    IPC_CALL_REQUEST = 10,  /* plugin -> mailtund: place the PPTP call for this pppd */
    IPC_CALL_REPLY = 11,    /* mailtund -> plugin: the call, see ipc_call.h */
    IPC_PPP_AUTH_UP = 12,   /* plugin -> mailtund */
    IPC_PPP_IP_UP = 13,     /* plugin -> mailtund: ATTR_IFNAME, ATTR_LOCAL, ATTR_PEER, ATTR_MTU */
    IPC_PPP_IP_DOWN = 14,   /* plugin -> mailtund */
    IPC_PPP_EXIT = 15,      /* plugin -> mailtund: ATTR_REASON */
    IPC_CALL_ATTACHED = 16, /* plugin -> mailtund: the kernel channel for the call is open */
    IPC_LINK_UP = 20,       /* mailtund -> subscribers: ATTR_IFNAME, ATTR_LOCAL (fixed), ATTR_PEER */
    IPC_LINK_DOWN = 21,     /* mailtund -> subscribers: ATTR_REASON */
    IPC_STATUS = 30,        /* request: status; answer IPC_STATUS_REPLY */
    IPC_STATUS_REPLY = 31,  /* ATTR_KV pairs "key=value", in order */
    IPC_QUEUE_LIST = 40,    /* mailtunctl -> mailrelayd; answer: ATTR_KV per message */
    IPC_QUEUE_SHOW = 41,    /* ATTR_QUEUE_ID */
    IPC_QUEUE_FLUSH = 42,   /* optional ATTR_QUEUE_ID */
    IPC_QUEUE_DELETE = 43,  /* ATTR_QUEUE_ID */
    IPC_QUEUE_HOLD = 44,    /* ATTR_QUEUE_ID */
    IPC_QUEUE_RELEASE = 45, /* ATTR_QUEUE_ID */
    IPC_TRACE_START = 50,   /* mailtunctl -> mailtund: ATTR_PATH */
    IPC_TRACE_STOP = 51,
};

enum ipc_attr_type {
    ATTR_TEXT = 1,          /* string */
    ATTR_ROLE = 2,          /* string: "plugin", "relay", "ctl" */
    ATTR_PID = 3,           /* u32 */
    ATTR_SERVER = 4,        /* IPv4 address (4 bytes, network order) */
    ATTR_LOCAL_CALL_ID = 5, /* u16: PPTP call id, L2TP tunnel id */
    ATTR_PEER_CALL_ID = 6,  /* u16: PPTP call id, L2TP tunnel id */
    ATTR_IFNAME = 7,        /* string */
    ATTR_LOCAL = 8,         /* IPv4 address */
    ATTR_PEER = 9,          /* IPv4 address */
    ATTR_MTU = 10,          /* u32 */
    ATTR_REASON = 11,       /* string */
    ATTR_KV = 12,           /* string "key=value" (repeatable) */
    ATTR_QUEUE_ID = 13,     /* string */
    ATTR_PATH = 14,         /* string */
    ATTR_TRANSPORT = 15,    /* string: "pptp" (also when absent), "l2tp" */
    ATTR_LOCAL_SESSION_ID = 16, /* u16: L2TP */
    ATTR_PEER_SESSION_ID = 17,  /* u16: L2TP */
    ATTR_SERVER_PORT = 18,  /* u16: L2TP, the LNS's UDP port */
    ATTR_LOCAL_PORT = 19,   /* u16: L2TP, our UDP port */
};

struct ipc_attr {
    uint16_t type;
    uint16_t len;
    const uint8_t *val;
};

struct ipc_msg {
    uint16_t type;
    size_t nattrs;
    struct ipc_attr attrs[IPC_MAX_ATTRS];
};

enum ipc_result { IPC_MALFORMED = -1, IPC_INCOMPLETE = 0, IPC_COMPLETE = 1 };

/*
 * Decodes the frame at the start of buf[0..len). On IPC_COMPLETE, *consumed is the frame's
 * size; on IPC_INCOMPLETE read more; on IPC_MALFORMED *why names the problem and the
 * stream must be dropped (framing is lost).
 */
enum ipc_result ipc_decode(const uint8_t *buf, size_t len, struct ipc_msg *msg,
                           size_t *consumed, const char **why);

/* Builder: fixed buffer, no allocation; an overflow sticks and ipc_finish() returns 0. */
struct ipc_builder {
    uint8_t buf[IPC_MAX_FRAME];
    size_t len;
    int overflow;
};

void ipc_begin(struct ipc_builder *b, uint16_t type);
void ipc_put(struct ipc_builder *b, uint16_t attr, const void *val, size_t len);
void ipc_put_str(struct ipc_builder *b, uint16_t attr, const char *s);
void ipc_put_u16(struct ipc_builder *b, uint16_t attr, uint16_t v);
void ipc_put_u32(struct ipc_builder *b, uint16_t attr, uint32_t v);
void ipc_put_in4(struct ipc_builder *b, uint16_t attr, struct in_addr a);
void ipc_put_kv(struct ipc_builder *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Returns the frame length (ready in b->buf) or 0 if it did not fit. */
size_t ipc_finish(struct ipc_builder *b);

/* Getters: first attribute of that type. Return 0 on success, -1 if absent or wrong size. */
const struct ipc_attr *ipc_find(const struct ipc_msg *m, uint16_t attr);
int ipc_get_str(const struct ipc_msg *m, uint16_t attr, char *out, size_t outsz);
int ipc_get_u16(const struct ipc_msg *m, uint16_t attr, uint16_t *v);
int ipc_get_u32(const struct ipc_msg *m, uint16_t attr, uint32_t *v);
int ipc_get_in4(const struct ipc_msg *m, uint16_t attr, struct in_addr *a);

const char *ipc_type_name(uint16_t type);

#endif

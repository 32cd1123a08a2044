/*
 * ipc.c — encoder and decoder of mailtun's control-socket frames (see ipc.h).
 *
 * Pure: works on caller buffers only, so the fuzzer and the unit tests drive it directly.
 * The decoder validates the whole frame (header, every attribute boundary) before it
 * reports COMPLETE, so callers never see a half-checked message.
 */
#include "ipc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

enum ipc_result ipc_decode(const uint8_t *buf, size_t len, struct ipc_msg *msg,
                           size_t *consumed, const char **why)
{
    size_t plen, off;

    *why = NULL;
    /* Check what we have of the header early, so garbage fails fast instead of waiting. */
    if (len >= 2 && get16(buf) != IPC_MAGIC)
        return *why = "bad magic", IPC_MALFORMED;
    if (len >= 3 && buf[2] != IPC_VERSION)
        return *why = "unsupported version", IPC_MALFORMED;
    if (len >= 4 && buf[3] != 0)
        return *why = "reserved byte not zero", IPC_MALFORMED;
    if (len < IPC_HEADER_LEN)
        return IPC_INCOMPLETE;
    plen = get16(buf + 6);
    if (plen > IPC_MAX_PAYLOAD)
        return *why = "payload too long", IPC_MALFORMED;
    if (len < IPC_HEADER_LEN + plen)
        return IPC_INCOMPLETE;

    msg->type = get16(buf + 4);
    if (msg->type == 0)
        return *why = "message type 0", IPC_MALFORMED;
    msg->nattrs = 0;
    for (off = IPC_HEADER_LEN; off < IPC_HEADER_LEN + plen;) {
        size_t left = IPC_HEADER_LEN + plen - off;
        uint16_t alen;
        if (left < 4)
            return *why = "truncated attribute header", IPC_MALFORMED;
        alen = get16(buf + off + 2);
        if (alen > left - 4)
            return *why = "attribute longer than payload", IPC_MALFORMED;
        if (msg->nattrs == IPC_MAX_ATTRS)
            return *why = "too many attributes", IPC_MALFORMED;
        msg->attrs[msg->nattrs].type = get16(buf + off);
        msg->attrs[msg->nattrs].len = alen;
        msg->attrs[msg->nattrs].val = buf + off + 4;
        if (msg->attrs[msg->nattrs].type == 0)
            return *why = "attribute type 0", IPC_MALFORMED;
        msg->nattrs++;
        off += 4 + alen;
    }
    *consumed = IPC_HEADER_LEN + plen;
    return IPC_COMPLETE;
}

void ipc_begin(struct ipc_builder *b, uint16_t type)
{
    put16(b->buf, IPC_MAGIC);
    b->buf[2] = IPC_VERSION;
    b->buf[3] = 0;
    put16(b->buf + 4, type);
    put16(b->buf + 6, 0);
    b->len = IPC_HEADER_LEN;
    b->overflow = 0;
}

void ipc_put(struct ipc_builder *b, uint16_t attr, const void *val, size_t len)
{
    if (b->overflow || len > IPC_MAX_PAYLOAD || b->len + 4 + len > IPC_MAX_FRAME) {
        b->overflow = 1;
        return;
    }
    put16(b->buf + b->len, attr);
    put16(b->buf + b->len + 2, (uint16_t)len);
    if (len)
        memcpy(b->buf + b->len + 4, val, len);
    b->len += 4 + len;
}

void ipc_put_str(struct ipc_builder *b, uint16_t attr, const char *s)
{
    ipc_put(b, attr, s, strlen(s));
}

void ipc_put_u16(struct ipc_builder *b, uint16_t attr, uint16_t v)
{
    uint8_t x[2];
    put16(x, v);
    ipc_put(b, attr, x, sizeof(x));
}

void ipc_put_u32(struct ipc_builder *b, uint16_t attr, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    ipc_put(b, attr, x, sizeof(x));
}

void ipc_put_in4(struct ipc_builder *b, uint16_t attr, struct in_addr a)
{
    ipc_put(b, attr, &a.s_addr, 4);   /* already network order */
}

void ipc_put_kv(struct ipc_builder *b, const char *key, const char *fmt, ...)
{
    char kv[512];
    int n = snprintf(kv, sizeof(kv), "%s=", key);
    va_list ap;

    if (n < 0 || (size_t)n >= sizeof(kv)) {
        b->overflow = 1;
        return;
    }
    va_start(ap, fmt);
    int m = vsnprintf(kv + n, sizeof(kv) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)(n + m) >= sizeof(kv)) {
        b->overflow = 1;
        return;
    }
    ipc_put(b, ATTR_KV, kv, (size_t)(n + m));
}

size_t ipc_finish(struct ipc_builder *b)
{
    if (b->overflow)
        return 0;
    put16(b->buf + 6, (uint16_t)(b->len - IPC_HEADER_LEN));
    return b->len;
}

const struct ipc_attr *ipc_find(const struct ipc_msg *m, uint16_t attr)
{
    for (size_t i = 0; i < m->nattrs; i++)
        if (m->attrs[i].type == attr)
            return &m->attrs[i];
    return NULL;
}

int ipc_get_str(const struct ipc_msg *m, uint16_t attr, char *out, size_t outsz)
{
    const struct ipc_attr *a = ipc_find(m, attr);
    if (!a || a->len >= outsz || memchr(a->val, 0, a->len))
        return -1;
    memcpy(out, a->val, a->len);
    out[a->len] = '\0';
    return 0;
}

int ipc_get_u16(const struct ipc_msg *m, uint16_t attr, uint16_t *v)
{
    const struct ipc_attr *a = ipc_find(m, attr);
    if (!a || a->len != 2)
        return -1;
    *v = get16(a->val);
    return 0;
}

int ipc_get_u32(const struct ipc_msg *m, uint16_t attr, uint32_t *v)
{
    const struct ipc_attr *a = ipc_find(m, attr);
    if (!a || a->len != 4)
        return -1;
    *v = (uint32_t)a->val[0] << 24 | (uint32_t)a->val[1] << 16 | (uint32_t)a->val[2] << 8 | a->val[3];
    return 0;
}

int ipc_get_in4(const struct ipc_msg *m, uint16_t attr, struct in_addr *addr)
{
    const struct ipc_attr *a = ipc_find(m, attr);
    if (!a || a->len != 4)
        return -1;
    memcpy(&addr->s_addr, a->val, 4);
    return 0;
}

const char *ipc_type_name(uint16_t type)
{
    switch (type) {
    case IPC_HELLO: return "HELLO";
    case IPC_OK: return "OK";
    case IPC_ERROR: return "ERROR";
    case IPC_SUBSCRIBE: return "SUBSCRIBE";
    case IPC_CALL_REQUEST: return "CALL_REQUEST";
    case IPC_CALL_REPLY: return "CALL_REPLY";
    case IPC_PPP_AUTH_UP: return "PPP_AUTH_UP";
    case IPC_PPP_IP_UP: return "PPP_IP_UP";
    case IPC_PPP_IP_DOWN: return "PPP_IP_DOWN";
    case IPC_PPP_EXIT: return "PPP_EXIT";
    case IPC_CALL_ATTACHED: return "CALL_ATTACHED";
    case IPC_LINK_UP: return "LINK_UP";
    case IPC_LINK_DOWN: return "LINK_DOWN";
    case IPC_STATUS: return "STATUS";
    case IPC_STATUS_REPLY: return "STATUS_REPLY";
    case IPC_QUEUE_LIST: return "QUEUE_LIST";
    case IPC_QUEUE_SHOW: return "QUEUE_SHOW";
    case IPC_QUEUE_FLUSH: return "QUEUE_FLUSH";
    case IPC_QUEUE_DELETE: return "QUEUE_DELETE";
    case IPC_QUEUE_HOLD: return "QUEUE_HOLD";
    case IPC_QUEUE_RELEASE: return "QUEUE_RELEASE";
    case IPC_TRACE_START: return "TRACE_START";
    case IPC_TRACE_STOP: return "TRACE_STOP";
    default: return "UNKNOWN";
    }
}

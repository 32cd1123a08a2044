/*
 * vici_codec.c — building and parsing VICI packets (see vici_codec.h). Pure.
 */
#include "vici_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building ---------------------------------------------------------------------------- */

static void put(struct vici_builder *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > VICI_MAX_PACKET) {
        b->failed = true;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *d;

        while (cap < b->len + n)
            cap *= 2;
        d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u8(struct vici_builder *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}

static void put_name(struct vici_builder *b, const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > VICI_NAME_MAX) {
        b->failed = true;
        return;
    }
    put_u8(b, (unsigned)n);
    put(b, name, n);
}

static void put_value(struct vici_builder *b, const char *value)
{
    size_t n = strlen(value);

    if (n > VICI_VALUE_MAX) {
        b->failed = true;
        return;
    }
    put_u8(b, (unsigned)(n >> 8));
    put_u8(b, (unsigned)(n & 0xff));
    put(b, value, n);
}

static bool op_has_name(enum vici_op op)
{
    return op == VICI_CMD_REQUEST || op == VICI_EVENT_REGISTER || op == VICI_EVENT_UNREGISTER ||
           op == VICI_EVENT;
}

void vici_begin(struct vici_builder *b, enum vici_op op, const char *name)
{
    b->len = 0;
    b->depth = 0;
    b->in_list = false;
    b->failed = false;
    put(b, "\0\0\0\0", 4);
    put_u8(b, op);
    if (op_has_name(op))
        put_name(b, name);
    else if (name)
        b->failed = true;
}

void vici_section(struct vici_builder *b, const char *name)
{
    if (b->in_list || b->depth >= VICI_MAX_DEPTH)
        b->failed = true;
    put_u8(b, VICI_SECTION_START);
    put_name(b, name);
    b->depth++;
}

void vici_end_section(struct vici_builder *b)
{
    if (b->in_list || b->depth == 0)
        b->failed = true;
    put_u8(b, VICI_SECTION_END);
    b->depth--;
}

void vici_kv(struct vici_builder *b, const char *key, const char *value)
{
    if (b->in_list)
        b->failed = true;
    put_u8(b, VICI_KEY_VALUE);
    put_name(b, key);
    put_value(b, value);
}

void vici_list(struct vici_builder *b, const char *name)
{
    if (b->in_list)
        b->failed = true;
    put_u8(b, VICI_LIST_START);
    put_name(b, name);
    b->in_list = true;
}

void vici_item(struct vici_builder *b, const char *value)
{
    if (!b->in_list)
        b->failed = true;
    put_u8(b, VICI_LIST_ITEM);
    put_value(b, value);
}

void vici_end_list(struct vici_builder *b)
{
    if (!b->in_list)
        b->failed = true;
    put_u8(b, VICI_LIST_END);
    b->in_list = false;
}

int vici_finish(struct vici_builder *b)
{
    uint32_t n;

    if (b->failed || b->depth != 0 || b->in_list || b->len < 5)
        return -1;
    n = (uint32_t)(b->len - 4);
    b->data[0] = (uint8_t)(n >> 24);
    b->data[1] = (uint8_t)(n >> 16);
    b->data[2] = (uint8_t)(n >> 8);
    b->data[3] = (uint8_t)n;
    return 0;
}

void vici_builder_free(struct vici_builder *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ---- parsing ----------------------------------------------------------------------------- */

long vici_frame(const uint8_t *buf, size_t len, size_t max)
{
    uint32_t n;

    if (len < 4)
        return 0;
    n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    if (n == 0 || (size_t)n + 4 > max)
        return -1;
    if (len < (size_t)n + 4)
        return 0;
    return (long)n + 4;
}

void vici_iter_init(struct vici_iter *it, const uint8_t *msg, size_t len)
{
    it->p = msg;
    it->end = msg + len;
    it->depth = 0;
}

/* A name: u8 length (at least 1) and that many octets. */
static int take_name(struct vici_iter *it, char *out)
{
    size_t n;

    if (it->p >= it->end)
        return -1;
    n = *it->p++;
    if (n == 0 || (size_t)(it->end - it->p) < n)
        return -1;
    memcpy(out, it->p, n);
    out[n] = '\0';
    if (memchr(out, '\0', n))
        return -1;
    it->p += n;
    return 0;
}

static int take_value(struct vici_iter *it, struct vici_item *item)
{
    size_t n;

    if (it->end - it->p < 2)
        return -1;
    n = (size_t)it->p[0] << 8 | it->p[1];
    it->p += 2;
    if ((size_t)(it->end - it->p) < n)
        return -1;
    item->value = it->p;
    item->value_len = n;
    it->p += n;
    return 0;
}

/* it->depth: open sections in the low byte, IN_LIST while inside a list (lists do not nest). */
#define IN_LIST 0x100

int vici_next(struct vici_iter *it, struct vici_item *item)
{
    int depth = it->depth & 0xff;
    bool in_list = (it->depth & IN_LIST) != 0;

    if (it->p >= it->end)
        return (depth == 0 && !in_list) ? 0 : -1;
    memset(item, 0, sizeof(*item));
    item->type = (enum vici_elem)*it->p++;
    item->depth = depth;
    switch (item->type) {
    case VICI_SECTION_START:
        if (in_list || depth >= VICI_MAX_DEPTH || take_name(it, item->name) < 0)
            return -1;
        it->depth = depth + 1;
        return 1;
    case VICI_SECTION_END:
        if (in_list || depth == 0)
            return -1;
        it->depth = depth - 1;
        item->depth = depth - 1;
        return 1;
    case VICI_KEY_VALUE:
        if (in_list || take_name(it, item->name) < 0 || take_value(it, item) < 0)
            return -1;
        return 1;
    case VICI_LIST_START:
        if (in_list || take_name(it, item->name) < 0)
            return -1;
        it->depth = depth | IN_LIST;
        return 1;
    case VICI_LIST_ITEM:
        if (!in_list || take_value(it, item) < 0)
            return -1;
        return 1;
    case VICI_LIST_END:
        if (!in_list)
            return -1;
        it->depth = depth;
        return 1;
    }
    return -1;
}

static int validate(const uint8_t *msg, size_t len)
{
    struct vici_iter it;
    struct vici_item item;
    int r;

    vici_iter_init(&it, msg, len);
    while ((r = vici_next(&it, &item)) > 0)
        ;
    return r;
}

int vici_parse(const uint8_t *frame, size_t len, struct vici_packet *p, char *err, size_t errlen)
{
    long total = vici_frame(frame, len, VICI_MAX_PACKET);
    const uint8_t *q, *end;

    memset(p, 0, sizeof(*p));
    if (total <= 0 || (size_t)total != len) {
        snprintf(err, errlen, "vici packet length does not match its frame (%zu octets)", len);
        return -1;
    }
    q = frame + 4;
    end = frame + len;
    p->op = (enum vici_op)*q++;
    if (p->op > VICI_EVENT) {
        snprintf(err, errlen, "vici packet type %u unknown", (unsigned)p->op);
        return -1;
    }
    if (op_has_name(p->op)) {
        struct vici_iter it = { q, end, 0 };

        if (take_name(&it, p->name) < 0) {
            snprintf(err, errlen, "vici packet type %u: name missing or truncated", (unsigned)p->op);
            return -1;
        }
        q = it.p;
    }
    if (p->op == VICI_CMD_REQUEST || p->op == VICI_CMD_RESPONSE || p->op == VICI_EVENT) {
        p->msg = q;
        p->msglen = (size_t)(end - q);
        if (validate(p->msg, p->msglen) < 0) {
            snprintf(err, errlen, "vici packet type %u%s%s: malformed message", (unsigned)p->op,
                     p->name[0] ? " " : "", p->name);
            return -1;
        }
    } else if (q != end) {
        snprintf(err, errlen, "vici packet type %u carries %zu unexpected octets", (unsigned)p->op,
                 (size_t)(end - q));
        return -1;
    }
    return 0;
}

static bool copy_value(const struct vici_item *item, char *out, size_t outlen)
{
    if (item->value_len >= outlen || memchr(item->value, '\0', item->value_len))
        return false;
    memcpy(out, item->value, item->value_len);
    out[item->value_len] = '\0';
    return true;
}

bool vici_top_value(const uint8_t *msg, size_t len, const char *key, char *out, size_t outlen)
{
    struct vici_iter it;
    struct vici_item item;

    vici_iter_init(&it, msg, len);
    while (vici_next(&it, &item) > 0)
        if (item.type == VICI_KEY_VALUE && item.depth == 0 && strcmp(item.name, key) == 0)
            return copy_value(&item, out, outlen);
    return false;
}

bool vici_first_section(const uint8_t *msg, size_t len, char *out, size_t outlen)
{
    struct vici_iter it;
    struct vici_item item;

    vici_iter_init(&it, msg, len);
    while (vici_next(&it, &item) > 0)
        if (item.type == VICI_SECTION_START && item.depth == 0) {
            if (strlen(item.name) >= outlen)
                return false;
            strcpy(out, item.name);
            return true;
        }
    return false;
}

bool vici_section_value(const uint8_t *msg, size_t len, const char *key, char *out, size_t outlen)
{
    struct vici_iter it;
    struct vici_item item;
    bool inside = false;

    vici_iter_init(&it, msg, len);
    while (vici_next(&it, &item) > 0) {
        if (item.type == VICI_SECTION_START && item.depth == 0) {
            if (inside)
                return false;
            inside = true;
        } else if (item.type == VICI_SECTION_END && item.depth == 0) {
            return false;
        } else if (inside && item.type == VICI_KEY_VALUE && item.depth == 1 &&
                   strcmp(item.name, key) == 0) {
            return copy_value(&item, out, outlen);
        }
    }
    return false;
}

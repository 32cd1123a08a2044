/*
 * vici_codec.h — strongSwan's VICI protocol (the control socket of charon), pure: messages are
 * built into a buffer and parsed from bytes, with no I/O, no allocation beyond the builder's
 * buffer, and no global state.
 *
 * mailtund does not speak IKE: it asks charon over VICI to load a connection and a key,
 * initiate the SA, and tell it when the SA goes up, is rekeyed or goes away.
 *
 * Wire format (strongSwan's src/libcharon/plugins/vici/README.md):
 *   packet   = length (u32, big endian, of what follows) | type (u8) | [name] | [message]
 *              name (u8 length + octets) for CMD_REQUEST, EVENT_REGISTER, EVENT_UNREGISTER
 *              and EVENT; a message for CMD_REQUEST, CMD_RESPONSE and EVENT
 *   message  = elements: SECTION_START name | SECTION_END | KEY_VALUE name value(u16 len) |
 *              LIST_START name | LIST_ITEM value(u16 len) | LIST_END
 * Parsing is strict: every length is checked against what is left, sections and lists must
 * close, list items only inside lists, nesting depth is bounded, and a packet longer than the
 * caller's limit is refused before any of it is buffered.
 */
#ifndef MAILTUN_VICI_CODEC_H
#define MAILTUN_VICI_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VICI_MAX_PACKET   (256u * 1024)   /* charon's own limit is 512 KB; we need far less */
#define VICI_MAX_DEPTH    16
#define VICI_NAME_MAX     255
#define VICI_VALUE_MAX    65535

enum vici_op {
    VICI_CMD_REQUEST = 0,
    VICI_CMD_RESPONSE = 1,
    VICI_CMD_UNKNOWN = 2,
    VICI_EVENT_REGISTER = 3,
    VICI_EVENT_UNREGISTER = 4,
    VICI_EVENT_CONFIRM = 5,
    VICI_EVENT_UNKNOWN = 6,
    VICI_EVENT = 7,
};

enum vici_elem {
    VICI_SECTION_START = 1,
    VICI_SECTION_END = 2,
    VICI_KEY_VALUE = 3,
    VICI_LIST_START = 4,
    VICI_LIST_ITEM = 5,
    VICI_LIST_END = 6,
};

/* ---- building ---------------------------------------------------------------------------- */

struct vici_builder {
    uint8_t *data;
    size_t len, cap;
    int depth;          /* open sections and lists */
    bool in_list;
    bool failed;        /* sticky: a name or value too long, nesting wrong, out of memory */
};

/* Starts a packet; name only for the ops that carry one (NULL otherwise). */
void vici_begin(struct vici_builder *b, enum vici_op op, const char *name);
void vici_section(struct vici_builder *b, const char *name);
void vici_end_section(struct vici_builder *b);
void vici_kv(struct vici_builder *b, const char *key, const char *value);
void vici_list(struct vici_builder *b, const char *name);
void vici_item(struct vici_builder *b, const char *value);
void vici_end_list(struct vici_builder *b);
/* Fills in the length. 0 and the packet in b->data/b->len, or -1 (b->failed, or unclosed). */
int vici_finish(struct vici_builder *b);
void vici_builder_free(struct vici_builder *b);

/* ---- parsing ----------------------------------------------------------------------------- */

/* How much of a stream is one packet: >0 its total size (with the length field), 0 need
 * more bytes, -1 longer than max (the stream is unusable). */
long vici_frame(const uint8_t *buf, size_t len, size_t max);

struct vici_packet {
    enum vici_op op;
    char name[VICI_NAME_MAX + 1];    /* "" for ops without a name */
    const uint8_t *msg;              /* points into the frame */
    size_t msglen;
};

/* Parses one whole frame (as vici_frame measured it) and validates its message.
 * 0, or -1 with why in err. */
int vici_parse(const uint8_t *frame, size_t len, struct vici_packet *p, char *err, size_t errlen);

/* Walking a validated message element by element. */
struct vici_iter {
    const uint8_t *p, *end;
    int depth;
};
struct vici_item {
    enum vici_elem type;
    int depth;                        /* depth of the element (0: top level) */
    char name[VICI_NAME_MAX + 1];     /* sections, lists, key-values */
    const uint8_t *value;             /* key-values and list items; not NUL-terminated */
    size_t value_len;
};
void vici_iter_init(struct vici_iter *it, const uint8_t *msg, size_t len);
/* 1 and the next element, 0 at the end, -1 on a malformed message (never for a validated one). */
int vici_next(struct vici_iter *it, struct vici_item *item);

/* The value of a top-level key (e.g. "success", "errmsg", "up") as a string; false if absent
 * or too long for out. */
bool vici_top_value(const uint8_t *msg, size_t len, const char *key, char *out, size_t outlen);
/* The name of the first top-level section (an event's IKE_SA or connection name). */
bool vici_first_section(const uint8_t *msg, size_t len, char *out, size_t outlen);
/* The value of a key directly inside the first top-level section: the state of the IKE_SA
 * an event is about ("state", "remote-host"). */
bool vici_section_value(const uint8_t *msg, size_t len, const char *key, char *out, size_t outlen);

#endif

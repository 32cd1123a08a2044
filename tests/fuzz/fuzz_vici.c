/*
 * fuzz_vici.c — libFuzzer target for tunneld/ipsec/vici_codec: what charon (or anything that
 * took its socket's place) could send mailtund.
 *
 * The input is a byte stream cut into frames with vici_frame, as mailtund's reader does; each
 * frame is parsed, and a parsed message is walked to its end and searched with every look-up
 * mailtund uses. Invariants (trap on violation): a parsed message walks to a clean end without
 * an error; a walk never reads past the message; look-ups return NUL-terminated strings that
 * fit their buffer.
 * Seeds: tests/fuzz/corpus/vici/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vici_codec.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size > 0) {
        long n = vici_frame(data, size, VICI_MAX_PACKET);
        struct vici_packet p;
        char err[128], v[64];

        if (n <= 0)
            break;
        err[0] = '\0';
        if (vici_parse(data, (size_t)n, &p, err, sizeof(err)) != 0) {
            CHECK(strncmp(err, "vici packet", 11) == 0);
        } else if (p.msg) {
            struct vici_iter it;
            struct vici_item item;
            int r;

            CHECK(p.msg >= data && p.msg + p.msglen <= data + n);
            vici_iter_init(&it, p.msg, p.msglen);
            while ((r = vici_next(&it, &item)) > 0) {
                CHECK(item.depth >= 0 && item.depth <= VICI_MAX_DEPTH);
                CHECK(strlen(item.name) <= VICI_NAME_MAX);
                if (item.value)
                    CHECK(item.value >= p.msg && item.value + item.value_len <= p.msg + p.msglen);
            }
            CHECK(r == 0);
            if (vici_top_value(p.msg, p.msglen, "success", v, sizeof(v)))
                CHECK(strlen(v) < sizeof(v));
            if (vici_first_section(p.msg, p.msglen, v, sizeof(v)))
                CHECK(strlen(v) < sizeof(v));
            if (vici_section_value(p.msg, p.msglen, "state", v, sizeof(v)))
                CHECK(strlen(v) < sizeof(v));
        } else {
            CHECK(p.msglen == 0);
        }
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

/* test_ipc.c — the control-socket frame codec: round trips, partial input, every malformed field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "ipc.h"

static void test_round_trip(void **state)
{
    struct ipc_builder b;
    struct ipc_msg m;
    struct in_addr a, got;
    size_t len, used;
    const char *why;
    char s[32];
    uint16_t v16;
    uint32_t v32;

    inet_pton(AF_INET, "192.0.2.10", &a);
    ipc_begin(&b, IPC_PPP_IP_UP);
    ipc_put_str(&b, ATTR_IFNAME, "ppp0");
    ipc_put_in4(&b, ATTR_LOCAL, a);
    ipc_put_u32(&b, ATTR_MTU, 1400);
    ipc_put_u16(&b, ATTR_PEER_CALL_ID, 0xBEEF);
    len = ipc_finish(&b);
    assert_int_equal(len, IPC_HEADER_LEN + (4 + 4) + (4 + 4) + (4 + 4) + (4 + 2));

    assert_int_equal(ipc_decode(b.buf, len, &m, &used, &why), IPC_COMPLETE);
    assert_int_equal(used, len);
    assert_int_equal(m.type, IPC_PPP_IP_UP);
    assert_int_equal(m.nattrs, 4);
    assert_int_equal(ipc_get_str(&m, ATTR_IFNAME, s, sizeof(s)), 0);
    assert_string_equal(s, "ppp0");
    assert_int_equal(ipc_get_in4(&m, ATTR_LOCAL, &got), 0);
    assert_int_equal(got.s_addr, a.s_addr);
    assert_int_equal(ipc_get_u32(&m, ATTR_MTU, &v32), 0);
    assert_int_equal(v32, 1400);
    assert_int_equal(ipc_get_u16(&m, ATTR_PEER_CALL_ID, &v16), 0);
    assert_int_equal(v16, 0xBEEF);
    /* wrong sizes and absent attributes are refused */
    assert_int_equal(ipc_get_u16(&m, ATTR_MTU, &v16), -1);
    assert_int_equal(ipc_get_u32(&m, ATTR_PID, &v32), -1);
    assert_int_equal(ipc_get_str(&m, ATTR_IFNAME, s, 4), -1);   /* no room for NUL */
    assert_string_equal(ipc_type_name(m.type), "PPP_IP_UP");
}

static void test_partial_and_pipelined(void **state)
{
    struct ipc_builder b;
    uint8_t stream[2 * IPC_MAX_FRAME];
    size_t len, total = 0, used;
    struct ipc_msg m;
    const char *why;

    ipc_begin(&b, IPC_HELLO);
    ipc_put_str(&b, ATTR_ROLE, "relay");
    len = ipc_finish(&b);
    memcpy(stream, b.buf, len);
    total += len;
    ipc_begin(&b, IPC_SUBSCRIBE);
    len = ipc_finish(&b);
    memcpy(stream + total, b.buf, len);
    total += len;

    /* every prefix of the first frame is incomplete, never malformed */
    for (size_t i = 0; i < total - len; i++)
        assert_int_equal(ipc_decode(stream, i, &m, &used, &why), IPC_INCOMPLETE);
    assert_int_equal(ipc_decode(stream, total, &m, &used, &why), IPC_COMPLETE);
    assert_int_equal(m.type, IPC_HELLO);
    assert_int_equal(ipc_decode(stream + used, total - used, &m, &used, &why), IPC_COMPLETE);
    assert_int_equal(m.type, IPC_SUBSCRIBE);
    assert_int_equal(m.nattrs, 0);
}

static void expect_malformed(const uint8_t *buf, size_t len, const char *reason)
{
    struct ipc_msg m;
    size_t used;
    const char *why;
    assert_int_equal(ipc_decode(buf, len, &m, &used, &why), IPC_MALFORMED);
    assert_non_null(why);
    assert_string_equal(why, reason);
}

static void test_malformed(void **state)
{
    uint8_t bad_magic[] = { 0x12, 0x34 };
    uint8_t bad_version[] = { 0x4D, 0x54, 9 };
    uint8_t bad_reserved[] = { 0x4D, 0x54, 1, 1 };
    uint8_t too_long[] = { 0x4D, 0x54, 1, 0, 0, 1, 0xFF, 0xFF };
    uint8_t type0[] = { 0x4D, 0x54, 1, 0, 0, 0, 0, 0 };
    uint8_t trunc_attr[] = { 0x4D, 0x54, 1, 0, 0, 1, 0, 3, 0, 1, 0 };
    uint8_t attr_overrun[] = { 0x4D, 0x54, 1, 0, 0, 1, 0, 5, 0, 1, 0, 9, 'x' };
    uint8_t attr0[] = { 0x4D, 0x54, 1, 0, 0, 1, 0, 4, 0, 0, 0, 0 };

    expect_malformed(bad_magic, sizeof(bad_magic), "bad magic");
    expect_malformed(bad_version, sizeof(bad_version), "unsupported version");
    expect_malformed(bad_reserved, sizeof(bad_reserved), "reserved byte not zero");
    expect_malformed(too_long, sizeof(too_long), "payload too long");
    expect_malformed(type0, sizeof(type0), "message type 0");
    expect_malformed(trunc_attr, sizeof(trunc_attr), "truncated attribute header");
    expect_malformed(attr_overrun, sizeof(attr_overrun), "attribute longer than payload");
    expect_malformed(attr0, sizeof(attr0), "attribute type 0");
}

static void test_too_many_attrs_and_overflow(void **state)
{
    struct ipc_builder b;
    struct ipc_msg m;
    size_t used;
    const char *why;
    char big[IPC_MAX_PAYLOAD];

    ipc_begin(&b, IPC_STATUS_REPLY);
    for (int i = 0; i < IPC_MAX_ATTRS + 1; i++)
        ipc_put_u16(&b, ATTR_MTU, (uint16_t)i);
    assert_true(ipc_finish(&b) > 0);
    assert_int_equal(ipc_decode(b.buf, b.len, &m, &used, &why), IPC_MALFORMED);
    assert_string_equal(why, "too many attributes");

    memset(big, 'a', sizeof(big));
    ipc_begin(&b, IPC_STATUS_REPLY);
    ipc_put(&b, ATTR_TEXT, big, sizeof(big));  /* header + 4 + 8192 > frame */
    assert_int_equal(ipc_finish(&b), 0);
}

static void test_kv_and_embedded_nul(void **state)
{
    struct ipc_builder b;
    struct ipc_msg m;
    size_t used;
    const char *why;
    char s[64];

    ipc_begin(&b, IPC_STATUS_REPLY);
    ipc_put_kv(&b, "state", "%s", "up");
    ipc_put(&b, ATTR_IFNAME, "pp\0p", 4);
    ipc_finish(&b);
    assert_int_equal(ipc_decode(b.buf, b.len, &m, &used, &why), IPC_COMPLETE);
    assert_int_equal(ipc_get_str(&m, ATTR_KV, s, sizeof(s)), 0);
    assert_string_equal(s, "state=up");
    assert_int_equal(ipc_get_str(&m, ATTR_IFNAME, s, sizeof(s)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_partial_and_pipelined),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_too_many_attrs_and_overflow),
        cmocka_unit_test(test_kv_and_embedded_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

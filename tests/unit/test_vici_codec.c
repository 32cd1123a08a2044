/*
 * test_vici_codec.c — unit tests for tunneld/ipsec/vici_codec: golden bytes written by hand
 * from strongSwan's VICI description (so the codec is not only checked against itself), the
 * builder's refusals, frame measuring, every kind of malformed message, and the look-ups
 * mailtund uses on responses and events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vici_codec.h"

/* {success=yes} as a CMD_RESPONSE: length 15, type 1, KEY_VALUE "success" "yes". */
static const uint8_t golden_ok[] = {
    0, 0, 0, 15, VICI_CMD_RESPONSE,
    VICI_KEY_VALUE, 7, 's', 'u', 'c', 'c', 'e', 's', 's', 0, 3, 'y', 'e', 's',
};

static void test_golden_response(void **state)
{
    struct vici_builder b = { 0 };
    struct vici_packet p;
    char err[128], v[16];

    vici_begin(&b, VICI_CMD_RESPONSE, NULL);
    vici_kv(&b, "success", "yes");
    assert_int_equal(vici_finish(&b), 0);
    assert_int_equal(b.len, sizeof(golden_ok));
    assert_memory_equal(b.data, golden_ok, sizeof(golden_ok));
    vici_builder_free(&b);

    assert_int_equal(vici_frame(golden_ok, sizeof(golden_ok), VICI_MAX_PACKET), (long)sizeof(golden_ok));
    assert_int_equal(vici_parse(golden_ok, sizeof(golden_ok), &p, err, sizeof(err)), 0);
    assert_int_equal(p.op, VICI_CMD_RESPONSE);
    assert_string_equal(p.name, "");
    assert_true(vici_top_value(p.msg, p.msglen, "success", v, sizeof(v)));
    assert_string_equal(v, "yes");
    assert_false(vici_top_value(p.msg, p.msglen, "errmsg", v, sizeof(v)));
}

/* EVENT_REGISTER "ike-updown": length 12, type 3, name; no message. */
static void test_golden_register(void **state)
{
    static const uint8_t want[] = { 0, 0, 0, 12, VICI_EVENT_REGISTER, 10,
                                    'i', 'k', 'e', '-', 'u', 'p', 'd', 'o', 'w', 'n' };
    struct vici_builder b = { 0 };
    struct vici_packet p;
    char err[128];

    vici_begin(&b, VICI_EVENT_REGISTER, "ike-updown");
    assert_int_equal(vici_finish(&b), 0);
    assert_memory_equal(b.data, want, sizeof(want));
    assert_int_equal(vici_parse(b.data, b.len, &p, err, sizeof(err)), 0);
    assert_int_equal(p.op, VICI_EVENT_REGISTER);
    assert_string_equal(p.name, "ike-updown");
    assert_int_equal(p.msglen, 0);
    vici_builder_free(&b);
}

/* A load-conn request with sections and a list round-trips element by element. */
static void test_round_trip(void **state)
{
    struct vici_builder b = { 0 };
    struct vici_packet p;
    struct vici_iter it;
    struct vici_item item;
    char err[128];
    static const struct { enum vici_elem t; int depth; const char *name, *value; } want[] = {
        { VICI_SECTION_START, 0, "mailtun", NULL },
        { VICI_KEY_VALUE, 1, "version", "2" },
        { VICI_LIST_START, 1, "remote_addrs", NULL },
        { VICI_LIST_ITEM, 1, "", "203.0.113.1" },
        { VICI_LIST_END, 1, "", NULL },
        { VICI_SECTION_START, 1, "children", NULL },
        { VICI_SECTION_START, 2, "l2tp", NULL },
        { VICI_KEY_VALUE, 3, "mode", "transport" },
        { VICI_SECTION_END, 2, "", NULL },
        { VICI_SECTION_END, 1, "", NULL },
        { VICI_SECTION_END, 0, "", NULL },
    };
    size_t n = 0;

    vici_begin(&b, VICI_CMD_REQUEST, "load-conn");
    vici_section(&b, "mailtun");
    vici_kv(&b, "version", "2");
    vici_list(&b, "remote_addrs");
    vici_item(&b, "203.0.113.1");
    vici_end_list(&b);
    vici_section(&b, "children");
    vici_section(&b, "l2tp");
    vici_kv(&b, "mode", "transport");
    vici_end_section(&b);
    vici_end_section(&b);
    vici_end_section(&b);
    assert_int_equal(vici_finish(&b), 0);
    assert_int_equal(vici_parse(b.data, b.len, &p, err, sizeof(err)), 0);
    assert_string_equal(p.name, "load-conn");
    vici_iter_init(&it, p.msg, p.msglen);
    while (vici_next(&it, &item) > 0) {
        assert_true(n < sizeof(want) / sizeof(want[0]));
        assert_int_equal(item.type, want[n].t);
        assert_int_equal(item.depth, want[n].depth);
        assert_string_equal(item.name, want[n].name);
        if (want[n].value) {
            assert_int_equal(item.value_len, strlen(want[n].value));
            assert_memory_equal(item.value, want[n].value, item.value_len);
        }
        n++;
    }
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    vici_builder_free(&b);
}

/* The builder refuses what charon could not parse, and stays failed. */
static void test_builder_refuses(void **state)
{
    struct vici_builder b = { 0 };
    char longname[300];

    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    vici_begin(&b, VICI_CMD_REQUEST, longname);              /* name > 255 */
    assert_int_equal(vici_finish(&b), -1);
    vici_begin(&b, VICI_CMD_REQUEST, "x");
    vici_end_section(&b);                                    /* nothing open */
    assert_int_equal(vici_finish(&b), -1);
    vici_begin(&b, VICI_CMD_REQUEST, "x");
    vici_section(&b, "s");                                   /* left open */
    assert_int_equal(vici_finish(&b), -1);
    vici_begin(&b, VICI_CMD_REQUEST, "x");
    vici_item(&b, "v");                                      /* item outside a list */
    assert_int_equal(vici_finish(&b), -1);
    vici_begin(&b, VICI_CMD_REQUEST, "x");
    vici_list(&b, "l");
    vici_kv(&b, "k", "v");                                   /* key-value inside a list */
    vici_end_list(&b);
    assert_int_equal(vici_finish(&b), -1);
    vici_begin(&b, VICI_CMD_REQUEST, "x");
    vici_kv(&b, "", "v");                                    /* empty key */
    assert_int_equal(vici_finish(&b), -1);
    vici_begin(&b, VICI_CMD_RESPONSE, "named");               /* responses carry no name */
    assert_int_equal(vici_finish(&b), -1);
    vici_begin(&b, VICI_CMD_REQUEST, "x");
    for (int i = 0; i <= VICI_MAX_DEPTH; i++)
        vici_section(&b, "d");                               /* too deep */
    for (int i = 0; i <= VICI_MAX_DEPTH; i++)
        vici_end_section(&b);
    assert_int_equal(vici_finish(&b), -1);
    vici_builder_free(&b);
}

static void test_frame(void **state)
{
    uint8_t big[4] = { 0, 0x10, 0, 0 };    /* 1 MB announced */
    uint8_t zero[4] = { 0, 0, 0, 0 };

    assert_int_equal(vici_frame(golden_ok, 3, VICI_MAX_PACKET), 0);            /* no length yet */
    assert_int_equal(vici_frame(golden_ok, sizeof(golden_ok) - 1, VICI_MAX_PACKET), 0);
    assert_int_equal(vici_frame(big, sizeof(big), VICI_MAX_PACKET), -1);       /* refused at once */
    assert_int_equal(vici_frame(zero, sizeof(zero), VICI_MAX_PACKET), -1);     /* empty packet */
    assert_int_equal(vici_frame(golden_ok, sizeof(golden_ok), 10), -1);        /* caller's limit */
}

/* Each malformed message is refused with a reason, never read past its end. */
static void test_malformed(void **state)
{
    static const struct { const char *why; uint8_t bytes[24]; size_t len; } bad[] = {
        { "unclosed section", { 0, 0, 0, 4, 1, VICI_SECTION_START, 1, 's' }, 8 },
        { "section end at top", { 0, 0, 0, 2, 1, VICI_SECTION_END }, 6 },
        { "item outside a list", { 0, 0, 0, 4, 1, VICI_LIST_ITEM, 0, 0 }, 8 },
        { "unclosed list", { 0, 0, 0, 4, 1, VICI_LIST_START, 1, 'l' }, 8 },
        { "list end without list", { 0, 0, 0, 2, 1, VICI_LIST_END }, 6 },
        { "value longer than message", { 0, 0, 0, 6, 1, VICI_KEY_VALUE, 1, 'k', 0, 9 }, 10 },
        { "name longer than message", { 0, 0, 0, 4, 1, VICI_KEY_VALUE, 9, 'k' }, 8 },
        { "empty name", { 0, 0, 0, 5, 1, VICI_KEY_VALUE, 0, 0, 0 }, 9 },
        { "NUL in a name", { 0, 0, 0, 7, 1, VICI_KEY_VALUE, 2, 'k', 0, 0, 0 }, 11 },
        { "unknown element", { 0, 0, 0, 2, 1, 9 }, 6 },
        { "unknown packet type", { 0, 0, 0, 1, 8 }, 5 },
        { "register without name", { 0, 0, 0, 1, VICI_EVENT_REGISTER }, 5 },
        { "confirm with payload", { 0, 0, 0, 2, VICI_EVENT_CONFIRM, 1 }, 6 },
        { "frame length mismatch", { 0, 0, 0, 9, 1 }, 5 },
    };
    struct vici_packet p;
    char err[128];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (vici_parse(bad[i].bytes, bad[i].len, &p, err, sizeof(err)) != -1)
            fail_msg("accepted: %s", bad[i].why);
        assert_true(strncmp(err, "vici packet", 11) == 0);
    }
}

/* Nesting deeper than VICI_MAX_DEPTH is refused. */
static void test_too_deep(void **state)
{
    uint8_t buf[4 + 1 + 3 * (VICI_MAX_DEPTH + 1) + (VICI_MAX_DEPTH + 1)];
    size_t n = 5;
    struct vici_packet p;
    char err[128];

    for (int i = 0; i <= VICI_MAX_DEPTH; i++) {
        buf[n++] = VICI_SECTION_START; buf[n++] = 1; buf[n++] = 'd';
    }
    for (int i = 0; i <= VICI_MAX_DEPTH; i++)
        buf[n++] = VICI_SECTION_END;
    buf[0] = 0; buf[1] = 0; buf[2] = (uint8_t)((n - 4) >> 8); buf[3] = (uint8_t)(n - 4);
    buf[4] = VICI_CMD_RESPONSE;
    assert_int_equal(vici_parse(buf, n, &p, err, sizeof(err)), -1);
}

/* An ike-updown event as charon sends it: the IKE_SA's name, its state, and "up". */
static void test_event_lookups(void **state)
{
    struct vici_builder b = { 0 };
    struct vici_packet p;
    char err[128], v[64];

    vici_begin(&b, VICI_EVENT, "ike-updown");
    vici_kv(&b, "up", "yes");
    vici_section(&b, "mailtun");
    vici_kv(&b, "state", "ESTABLISHED");
    vici_kv(&b, "remote-host", "203.0.113.1");
    vici_section(&b, "child-sas");
    vici_section(&b, "l2tp-1");
    vici_kv(&b, "state", "INSTALLED");
    vici_end_section(&b);
    vici_end_section(&b);
    vici_end_section(&b);
    assert_int_equal(vici_finish(&b), 0);
    assert_int_equal(vici_parse(b.data, b.len, &p, err, sizeof(err)), 0);
    assert_true(vici_top_value(p.msg, p.msglen, "up", v, sizeof(v)));
    assert_string_equal(v, "yes");
    assert_true(vici_first_section(p.msg, p.msglen, v, sizeof(v)));
    assert_string_equal(v, "mailtun");
    /* the IKE_SA's own state, not the child's (one level deeper) */
    assert_true(vici_section_value(p.msg, p.msglen, "state", v, sizeof(v)));
    assert_string_equal(v, "ESTABLISHED");
    assert_true(vici_section_value(p.msg, p.msglen, "remote-host", v, sizeof(v)));
    assert_string_equal(v, "203.0.113.1");
    assert_false(vici_section_value(p.msg, p.msglen, "nosuch", v, sizeof(v)));
    /* too small an output buffer is a miss, not a truncation */
    assert_false(vici_top_value(p.msg, p.msglen, "up", v, 3));
    vici_builder_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_response),
        cmocka_unit_test(test_golden_register),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_builder_refuses),
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_event_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_transport.c — unit tests for tunneld/transport.c: picking a transport by name, the port
 * it dials, and what `mailtunctl trace` captures for it (transport_capture_filter): the control
 * port as dialled (UDP 1701 for L2TP, or the configured port), and for transport = auto both
 * transports it may switch between (it once had no filter at all, and mailtund crashed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "transport.h"
#include "tunnel_conf.h"

static const char *filter_for(const char *transport, long port)
{
    static char buf[256];
    struct tunnel_conf conf = { .transport = (char *)transport, .port = port };
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(transport_capture_filter(&conf, buf, sizeof(buf)), 0);
    return buf;
}

static void test_find_and_port(void **state)
{
    struct tunnel_conf conf = { .transport = "l2tp" };
    assert_ptr_equal(transport_find("l2tp"), &l2tp_transport);
    assert_ptr_equal(transport_find(NULL), &pptp_transport);
    assert_null(transport_find("auto"));            /* tunnel.c resolves auto itself */
    assert_null(transport_find("gre"));
    assert_int_equal(transport_port(&l2tp_transport, &conf), 1701);
    conf.port = 11701;
    assert_int_equal(transport_port(&l2tp_transport, &conf), 11701);
}

static void test_filter_per_transport(void **state)
{
    assert_string_equal(filter_for("l2tp", 0), "udp port 1701");
    assert_string_equal(filter_for("pptp", 0), "tcp port 1723 or ip proto 47");
    assert_string_equal(filter_for(NULL, 0), "tcp port 1723 or ip proto 47");
    assert_string_equal(filter_for("l2tp-ipsec", 0), "udp port 500 or udp port 4500 or esp");
}

/* The trace follows the port actually dialled, not the standard one. */
static void test_filter_follows_port(void **state)
{
    assert_string_equal(filter_for("l2tp", 1702), "udp port 1702");
    assert_string_equal(filter_for("pptp", 1724), "tcp port 1724 or ip proto 47");
}

/* auto may be on either transport when the trace starts, and switch while it runs. */
static void test_filter_auto_covers_both(void **state)
{
    const char *f = filter_for("auto", 0);
    assert_non_null(strstr(f, "tcp port 1723"));
    assert_non_null(strstr(f, "ip proto 47"));
    assert_non_null(strstr(f, "udp port 4500"));
    assert_non_null(strstr(f, "esp"));
}

static void test_filter_unknown_transport(void **state)
{
    char buf[64] = "junk";
    struct tunnel_conf conf = { .transport = "gre" };
    assert_int_equal(transport_capture_filter(&conf, buf, sizeof(buf)), -1);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_and_port),
        cmocka_unit_test(test_filter_per_transport),
        cmocka_unit_test(test_filter_follows_port),
        cmocka_unit_test(test_filter_auto_covers_both),
        cmocka_unit_test(test_filter_unknown_transport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

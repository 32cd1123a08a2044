/* test_config.c — mailtun.conf loading: defaults, every type, bounds, and error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "config.h"
#include "tunnel_conf.h"
#include "ipsec_proposal.h"

struct sample {
    char *name;
    char *path;
    long count;
    int enabled;
    long timeout_ms;
    long max_size;
    struct in_addr fixed;
    struct conf_hostport inside;
    struct conf_cidrs nets;
    struct conf_list domains;
    long reconnect_at;
};

static const struct conf_key keys[] = {
    { "relay", "name", CONF_STRING, "gw.example.net", NULL, offsetof(struct sample, name), 0, 0, 0, "host name" },
    { "relay", "spool", CONF_PATH, "/var/spool/mailtun", NULL, offsetof(struct sample, path), 0, 0, 0, "spool" },
    { "relay", "count", CONF_INT, "10", NULL, offsetof(struct sample, count), 1, 100, 0, "count" },
    { "relay", "enabled", CONF_BOOL, "no", NULL, offsetof(struct sample, enabled), 0, 0, 0, "on/off" },
    { "relay", "timeout", CONF_DURATION, "5m", "duration", offsetof(struct sample, timeout_ms), 1000, 86400000, 0, "t" },
    { "relay", "max_size", CONF_SIZE, "10M", "bytes", offsetof(struct sample, max_size), 0, 0, 0, "size" },
    { "tunnel", "fixed_address", CONF_IPV4, NULL, NULL, offsetof(struct sample, fixed), 0, 0, 1, "fixed" },
    { "relay", "inside", CONF_HOSTPORT, "127.0.0.1:2525", NULL, offsetof(struct sample, inside), 0, 0, 0, "inside" },
    { "relay", "networks", CONF_CIDRS, "192.0.2.0/24", NULL, offsetof(struct sample, nets), 0, 0, 0, "nets" },
    { "relay", "domains", CONF_LIST, NULL, NULL, offsetof(struct sample, domains), 0, 0, 0, "domains" },
    { "tunnel", "reconnect_at", CONF_TIMEOFDAY, NULL, NULL, offsetof(struct sample, reconnect_at), 0, 0, 0, "when" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
static const char *const foreign[] = { "other", NULL };

static int load(const char *text, struct sample *s, char *err)
{
    memset(s, 0, sizeof(*s));
    return conf_load_string("test.conf", text, keys, NKEYS, foreign, s, err);
}

static void test_defaults_and_values(void **state)
{
    struct sample s;
    char err[CONF_ERR_LEN];
    uint8_t a[4];

    assert_int_equal(load("[tunnel]\nfixed_address = 192.0.2.10\n", &s, err), 0);
    assert_string_equal(s.name, "gw.example.net");
    assert_int_equal(s.count, 10);
    assert_int_equal(s.enabled, 0);
    assert_int_equal(s.timeout_ms, 300000);
    assert_int_equal(s.max_size, 10 * 1024 * 1024);
    assert_int_equal(s.inside.port, 2525);
    assert_string_equal(s.inside.host, "127.0.0.1");
    assert_int_equal(s.reconnect_at, -1);
    conf_free(keys, NKEYS, &s);

    assert_int_equal(load("; comment\n[tunnel]\nfixed_address = 192.0.2.10\nreconnect_at = 04:30\n"
                          "[relay]\ncount = 100\nenabled = yes\ntimeout = 90s\nmax_size = 512k\n"
                          "inside = /run/lmtp.sock\nnetworks = 10.1.0.0/16, 2001:db8::/32\n"
                          "domains = example.net example.com\n[other]\nanything = goes\n", &s, err), 0);
    assert_int_equal(s.reconnect_at, 4 * 60 + 30);
    assert_int_equal(s.count, 100);
    assert_int_equal(s.enabled, 1);
    assert_int_equal(s.timeout_ms, 90000);
    assert_int_equal(s.max_size, 512 * 1024);
    assert_int_equal(s.inside.port, -1);
    assert_string_equal(s.inside.host, "/run/lmtp.sock");
    assert_int_equal(s.nets.n, 2);
    assert_int_equal(s.domains.n, 2);
    assert_string_equal(s.domains.v[1], "example.com");
    inet_pton(AF_INET, "10.1.200.3", a);
    assert_true(conf_cidrs_match(&s.nets, AF_INET, a));
    inet_pton(AF_INET, "10.2.0.1", a);
    assert_false(conf_cidrs_match(&s.nets, AF_INET, a));
    conf_free(keys, NKEYS, &s);
}

static void expect_error(const char *text, const char *message)
{
    struct sample s;
    char err[CONF_ERR_LEN];
    assert_int_equal(load(text, &s, err), -1);
    if (strstr(err, message) == NULL)
        fail_msg("error '%s' does not contain '%s'", err, message);
    conf_free(keys, NKEYS, &s);
}

#define FIXED "[tunnel]\nfixed_address = 192.0.2.10\n"

static void test_errors_name_file_line_key(void **state)
{
    expect_error("", "test.conf: [tunnel] fixed_address: required but not set");
    expect_error(FIXED "[relay]\ncount = 101\n", "test.conf:4: [relay] count: out of range 1..100");
    expect_error(FIXED "[relay]\ncount = 1x\n", "test.conf:4: [relay] count: not a whole number: '1x'");
    expect_error(FIXED "[relay]\ncolor = red\n", "test.conf:4: [relay] color: unknown key");
    expect_error(FIXED "[relya]\ncount = 1\n", "test.conf:4: [relya]: unknown section");
    expect_error(FIXED "[relay]\ncount = 1\ncount = 2\n", "test.conf:5: [relay] count: set twice");
    expect_error(FIXED "[relay]\nspool = var/spool\n", "[relay] spool: must be an absolute path");
    expect_error(FIXED "[relay]\ntimeout = 5 minutes\n", "[relay] timeout: unknown duration unit");
    expect_error(FIXED "[relay]\ntimeout = 100ms\n", "[relay] timeout: out of range 1000..86400000");
    expect_error(FIXED "[relay]\nmax_size = 10T\n", "[relay] max_size: unknown size unit");
    expect_error(FIXED "[relay]\nenabled = maybe\n", "[relay] enabled: not a boolean");
    expect_error("[tunnel]\nfixed_address = 192.0.2.300\n", "test.conf:2: [tunnel] fixed_address: not an IPv4 address");
    expect_error(FIXED "[relay]\ninside = host:99999\n", "[relay] inside: port out of range");
    expect_error(FIXED "[relay]\nnetworks = 192.0.2.0/33\n", "[relay] networks: not a list of networks");
    expect_error(FIXED "[tunnel]\nreconnect_at = 24:00\n", "test.conf:4: [tunnel] reconnect_at: not a time of day");
    expect_error(FIXED "this is not ini\n", "test.conf:3: syntax error");
    expect_error("count = 1\n", "test.conf:1: count: key outside any [section]");
    expect_error(FIXED "[relay]\nname =\n", "test.conf:4: [relay] name: empty value");
}

static void test_long_line_and_file(void **state)
{
    char text[600];
    struct sample s;
    char err[CONF_ERR_LEN];

    snprintf(text, sizeof(text), FIXED "[relay]\nname = %0300d\n", 7);
    expect_error(text, "test.conf:4: line longer than");

    assert_int_equal(conf_load("/nonexistent/mailtun.conf", keys, NKEYS, foreign, &s, 0, err), -1);
    assert_non_null(strstr(err, "/nonexistent/mailtun.conf: cannot open"));
    memset(&s, 0, sizeof(s));
    assert_int_equal(conf_load("/nonexistent/mailtun.conf", keys, NKEYS, foreign, &s, 1, err), -1);
    assert_non_null(strstr(err, "required but not set"));
    conf_free(keys, NKEYS, &s);
}

static void test_file_round_trip(void **state)
{
    char path[] = "/tmp/mailtun-conf-XXXXXX";
    int fd = mkstemp(path);
    struct sample s;
    char err[CONF_ERR_LEN];
    const char *text = FIXED "[relay]\ndomains = example.net\n";

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    memset(&s, 0, sizeof(s));
    assert_int_equal(conf_load(path, keys, NKEYS, foreign, &s, 0, err), 0);
    assert_string_equal(s.domains.v[0], "example.net");
    conf_free(keys, NKEYS, &s);
    unlink(path);
}

static void test_parsers(void **state)
{
    long v;
    const char *why;
    assert_int_equal(conf_parse_duration("2h", &v, &why), 0);
    assert_int_equal(v, 7200000);
    assert_int_equal(conf_parse_duration("1d", &v, &why), 0);
    assert_int_equal(v, 86400000);
    assert_int_equal(conf_parse_duration("30", &v, &why), 0);
    assert_int_equal(v, 30000);
    assert_int_equal(conf_parse_duration("-5s", &v, &why), -1);
    assert_int_equal(conf_parse_duration("99999999999999999999s", &v, &why), -1);
    assert_int_equal(conf_parse_size("1G", &v, &why), 0);
    assert_int_equal(v, 1024L * 1024 * 1024);
    assert_int_equal(conf_parse_size("", &v, &why), -1);
}

/* [tunnel]'s l2tp-ipsec keys, through tunnel_conf_load: one way to authenticate, the
 * provider's identity pinned with certificates, proposals checked, IKEv1's own default. */
#define IPSEC_BASE "[tunnel]\nserver = 203.0.113.1\nuser = u\nfixed_address = 192.0.2.10\nuplink = eth1\n" \
                   "transport = l2tp-ipsec\n"

static int tunnel_load(const char *text, struct tunnel_conf *c, char *err)
{
    char path[] = "/tmp/mailtun-tconf-XXXXXX";
    int fd = mkstemp(path), rc;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    rc = tunnel_conf_load(path, c, err);
    unlink(path);
    return rc;
}

static void tunnel_error(const char *text, const char *message)
{
    struct tunnel_conf c;
    char err[CONF_ERR_LEN];

    assert_int_equal(tunnel_load(text, &c, err), -1);
    if (!strstr(err, message))
        fail_msg("error '%s' does not contain '%s'", err, message);
    tunnel_conf_free(&c);
}

static void test_tunnel_ipsec_keys(void **state)
{
    struct tunnel_conf c;
    char err[CONF_ERR_LEN];

    /* PSK, IKEv2: the modern defaults */
    assert_int_equal(tunnel_load(IPSEC_BASE "ipsec_id = a@example.net\nipsec_psk_file = /etc/k\n", &c, err), 0);
    assert_int_equal(c.ipsec_ike_version, 2);
    assert_string_equal(c.ipsec_proposals, IPSEC_IKEV2_DEFAULT);
    assert_string_equal(c.ipsec_esp_proposals, IPSEC_ESP_DEFAULT);
    assert_null(c.ipsec_cert);
    tunnel_conf_free(&c);
    /* IKEv1: no AEAD for IKE, so its own default */
    assert_int_equal(tunnel_load(IPSEC_BASE "ipsec_id = a@example.net\nipsec_psk_file = /etc/k\n"
                                 "ipsec_ike_version = 1\n", &c, err), 0);
    assert_int_equal(c.ipsec_ike_version, 1);
    assert_string_equal(c.ipsec_proposals, IPSEC_IKEV1_DEFAULT);
    tunnel_conf_free(&c);
    /* certificates: ipsec_id optional (the certificate's subject), remote id required */
    assert_int_equal(tunnel_load(IPSEC_BASE "ipsec_ca = /etc/ca.pem\nipsec_cert = /etc/me.pem\n"
                                 "ipsec_key = /etc/me.key\nipsec_remote_id = vpn.example.com\n"
                                 "ipsec_proposals = aes128gcm16-prfsha256-ecp384\n", &c, err), 0);
    assert_string_equal(c.ipsec_ca, "/etc/ca.pem");
    assert_string_equal(c.ipsec_cert, "/etc/me.pem");
    assert_string_equal(c.ipsec_key, "/etc/me.key");
    assert_string_equal(c.ipsec_proposals, "aes128gcm16-prfsha256-ecp384");
    tunnel_conf_free(&c);

    tunnel_error(IPSEC_BASE "ipsec_id = a@example.net\n", "needs ipsec_id and ipsec_psk_file, or certificates");
    tunnel_error(IPSEC_BASE "ipsec_ca = /etc/ca.pem\nipsec_key = /etc/me.key\nipsec_remote_id = v\n",
                 "certificates need all three of ipsec_ca, ipsec_cert and ipsec_key (ipsec_cert missing)");
    tunnel_error(IPSEC_BASE "ipsec_ca = /etc/ca.pem\nipsec_cert = /etc/me.pem\nipsec_key = /etc/me.key\n",
                 "certificates need ipsec_remote_id");
    tunnel_error(IPSEC_BASE "ipsec_ca = /etc/ca.pem\nipsec_cert = /etc/me.pem\nipsec_key = /etc/me.key\n"
                 "ipsec_remote_id = v\nipsec_psk_file = /etc/k\n", "are both set: choose one");
    tunnel_error(IPSEC_BASE "ipsec_ca = etc/ca.pem\n", "ipsec_ca: must be an absolute path");
    tunnel_error(IPSEC_BASE "ipsec_id = a@example.net\nipsec_psk_file = /etc/k\nipsec_ike_version = 3\n",
                 "ipsec_ike_version: out of range 1..2");
    tunnel_error(IPSEC_BASE "ipsec_id = a@example.net\nipsec_psk_file = /etc/k\n"
                 "ipsec_proposals = aes256gcm16-prfsha384-curve2551\n",
                 "[tunnel] ipsec_proposals: 'aes256gcm16-prfsha384-curve2551': unknown algorithm 'curve2551'");
    tunnel_error(IPSEC_BASE "ipsec_id = a@example.net\nipsec_psk_file = /etc/k\n"
                 "ipsec_esp_proposals = aes256-md5\n", "[tunnel] ipsec_esp_proposals: 'aes256-md5': 'md5' is broken");
    /* the IKEv2 default is not valid for IKEv1: set by hand, it is named */
    tunnel_error(IPSEC_BASE "ipsec_id = a@example.net\nipsec_psk_file = /etc/k\nipsec_ike_version = 1\n"
                 "ipsec_proposals = " IPSEC_IKEV2_DEFAULT "\n", "'aes256gcm16' is an AEAD cipher, which IKEv1 cannot use");
    tunnel_error(IPSEC_BASE "ipsec_id = a b\nipsec_psk_file = /etc/k\n", "ipsec_id contains ' '");
}

/* L2TP's keep-alive: its own key and default (UDP: nothing else notices a dead LNS), bounded. */
static void test_tunnel_l2tp_hello_interval(void **state)
{
    struct tunnel_conf c;
    char err[CONF_ERR_LEN];

    assert_int_equal(tunnel_load(IPSEC_BASE "ipsec_id = a@example.net\nipsec_psk_file = /etc/k\n", &c, err), 0);
    assert_int_equal(c.l2tp_hello_interval_ms, 10000);
    assert_int_equal(c.echo_interval_ms, 60000);        /* PPTP's stays as it was */
    tunnel_conf_free(&c);
    assert_int_equal(tunnel_load(IPSEC_BASE "ipsec_id = a@example.net\nipsec_psk_file = /etc/k\n"
                                 "l2tp_hello_interval = 30s\n", &c, err), 0);
    assert_int_equal(c.l2tp_hello_interval_ms, 30000);
    tunnel_conf_free(&c);
    tunnel_error(IPSEC_BASE "ipsec_id = a@example.net\nipsec_psk_file = /etc/k\nl2tp_hello_interval = 500ms\n",
                 "l2tp_hello_interval");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_errors_name_file_line_key),
        cmocka_unit_test(test_long_line_and_file),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_tunnel_ipsec_keys),
        cmocka_unit_test(test_tunnel_l2tp_hello_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

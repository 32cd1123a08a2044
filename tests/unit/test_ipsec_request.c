/*
 * test_ipsec_request.c — tunneld/ipsec/ipsec_request: the VICI requests mailtund sends
 * charon, built, parsed back with the codec and flattened to "path=value" lines, compared
 * whole: PSK over IKEv2, certificates (pubkey auth, our certificate, the CA), IKEv1, the
 * private key's request, initiate with charon's log streamed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "ipsec_request.h"

/* The message as lines: "a.b.key=value", lists as "a.key=[x,y]". */
static void flatten(struct vici_builder *b, const char *want_name, char *out, size_t len)
{
    struct vici_packet p;
    struct vici_iter it;
    struct vici_item item;
    char err[128], path[256] = "", *o = out;
    size_t stack[VICI_MAX_DEPTH + 1], depth = 0;
    int r;

    assert_int_equal(vici_finish(b), 0);
    assert_int_equal(vici_parse(b->data, b->len, &p, err, sizeof(err)), 0);
    assert_int_equal(p.op, VICI_CMD_REQUEST);
    assert_string_equal(p.name, want_name);
    *o = '\0';
    vici_iter_init(&it, p.msg, p.msglen);
    while ((r = vici_next(&it, &item)) == 1) {
        size_t left = len - (size_t)(o - out);

        switch (item.type) {
        case VICI_SECTION_START:
            stack[depth++] = strlen(path);
            strcat(path, item.name);
            strcat(path, ".");
            break;
        case VICI_SECTION_END:
            path[stack[--depth]] = '\0';
            break;
        case VICI_KEY_VALUE:
            o += snprintf(o, left, "%s%s=%.*s\n", path, item.name, (int)item.value_len, (const char *)item.value);
            break;
        case VICI_LIST_START:
            o += snprintf(o, left, "%s%s=[", path, item.name);
            break;
        case VICI_LIST_ITEM:
            o += snprintf(o, left, "%s%.*s", o[-1] == '[' ? "" : ",", (int)item.value_len, (const char *)item.value);
            break;
        case VICI_LIST_END:
            o += snprintf(o, left, "]\n");
            break;
        }
        assert_true((size_t)(o - out) < len);
    }
    assert_int_equal(r, 0);
}

static struct ipsec_params psk_params(void)
{
    struct ipsec_params p = { 0 };

    p.conn_name = "mailtun";
    inet_pton(AF_INET, "203.0.113.1", &p.server);
    p.local_port = 40001;
    p.ike_version = 2;
    p.local_id = "customer1@example.net";
    p.remote_id = "vpn.example.com";
    p.psk = "0123456789abcdef-key";
    p.proposals = "aes256gcm16-prfsha384-curve25519,aes256gcm16-prfsha256-ecp256";
    p.esp_proposals = "aes256gcm16-curve25519";
    p.timeout_ms = 15000;
    return p;
}

static void test_load_conn_psk(void **state)
{
    struct ipsec_params p = psk_params();
    struct vici_builder b = { 0 };
    char text[4096];

    ipsec_req_load_conn(&b, &p);
    flatten(&b, "load-conn", text, sizeof(text));
    assert_string_equal(text,
        "mailtun.version=2\n"
        "mailtun.remote_addrs=[203.0.113.1]\n"
        "mailtun.proposals=[aes256gcm16-prfsha384-curve25519,aes256gcm16-prfsha256-ecp256]\n"
        "mailtun.dpd_delay=10s\n"
        "mailtun.unique=replace\n"
        "mailtun.mobike=no\n"
        "mailtun.local.auth=psk\n"
        "mailtun.local.id=customer1@example.net\n"
        "mailtun.remote.auth=psk\n"
        "mailtun.remote.id=vpn.example.com\n"
        "mailtun.children.l2tp.mode=transport\n"
        "mailtun.children.l2tp.local_ts=[dynamic[udp/40001]]\n"
        "mailtun.children.l2tp.remote_ts=[dynamic[udp/1701]]\n"
        "mailtun.children.l2tp.esp_proposals=[aes256gcm16-curve25519]\n"
        "mailtun.children.l2tp.dpd_action=clear\n");
    vici_builder_free(&b);
}

static void test_load_conn_certs_ikev1(void **state)
{
    struct ipsec_params p = psk_params();
    struct vici_builder b = { 0 };
    char text[4096];

    p.psk = NULL;
    p.local_id = NULL;                    /* the certificate's subject */
    p.ike_version = 1;
    p.proposals = "aes256-sha256-curve25519";
    p.ca_pem = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
    p.cert_pem = "-----BEGIN CERTIFICATE-----\nME\n-----END CERTIFICATE-----\n";
    p.key_pem = "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n";
    ipsec_req_load_conn(&b, &p);
    flatten(&b, "load-conn", text, sizeof(text));
    assert_string_equal(text,
        "mailtun.version=1\n"
        "mailtun.remote_addrs=[203.0.113.1]\n"
        "mailtun.proposals=[aes256-sha256-curve25519]\n"
        "mailtun.dpd_delay=10s\n"
        "mailtun.unique=replace\n"
        "mailtun.mobike=no\n"
        "mailtun.local.auth=pubkey\n"
        "mailtun.local.certs=[-----BEGIN CERTIFICATE-----\nME\n-----END CERTIFICATE-----\n]\n"
        "mailtun.remote.auth=pubkey\n"
        "mailtun.remote.id=vpn.example.com\n"
        "mailtun.remote.cacerts=[-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n]\n"
        "mailtun.children.l2tp.mode=transport\n"
        "mailtun.children.l2tp.local_ts=[dynamic[udp/40001]]\n"
        "mailtun.children.l2tp.remote_ts=[dynamic[udp/1701]]\n"
        "mailtun.children.l2tp.esp_proposals=[aes256gcm16-curve25519]\n"
        "mailtun.children.l2tp.dpd_action=clear\n");
    /* the private key never travels in the connection */
    assert_null(strstr(text, "PRIVATE KEY"));

    ipsec_req_load_key(&b, &p);
    flatten(&b, "load-key", text, sizeof(text));
    assert_string_equal(text, "type=any\ndata=-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n\n");
    vici_builder_free(&b);
}

static void test_shared_and_initiate(void **state)
{
    struct ipsec_params p = psk_params();
    struct vici_builder b = { 0 };
    char text[1024];

    ipsec_req_load_shared(&b, &p);
    flatten(&b, "load-shared", text, sizeof(text));
    assert_string_equal(text, "id=mailtun\ntype=IKE\ndata=0123456789abcdef-key\n"
                              "owners=[customer1@example.net,vpn.example.com]\n");
    p.remote_id = NULL;
    ipsec_req_load_shared(&b, &p);
    flatten(&b, "load-shared", text, sizeof(text));
    assert_string_equal(text, "id=mailtun\ntype=IKE\ndata=0123456789abcdef-key\nowners=[customer1@example.net]\n");

    ipsec_req_initiate(&b, &p);
    flatten(&b, "initiate", text, sizeof(text));
    assert_string_equal(text, "ike=mailtun\nchild=l2tp\ntimeout=15000\ninit-limits=no\nloglevel=1\n");
    vici_builder_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_conn_psk),
        cmocka_unit_test(test_load_conn_certs_ikev1),
        cmocka_unit_test(test_shared_and_initiate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * ipsec_request.c — the VICI requests for mailtund's L2TP SA (see ipsec_request.h).
 */
#include "ipsec_request.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* A list from comma-separated words. */
static void list_csv(struct vici_builder *b, const char *key, const char *csv)
{
    char item[256];
    const char *p = csv;

    vici_list(b, key);
    while (*p) {
        size_t n = strcspn(p, ",");

        if (n > 0 && n < sizeof(item)) {
            memcpy(item, p, n);
            item[n] = '\0';
            vici_item(b, item);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    vici_end_list(b);
}

static void list_one(struct vici_builder *b, const char *key, const char *value)
{
    vici_list(b, key);
    vici_item(b, value);
    vici_end_list(b);
}

static int uses_certs(const struct ipsec_params *p)
{
    return p->cert_pem && *p->cert_pem;
}

void ipsec_req_load_shared(struct vici_builder *b, const struct ipsec_params *p)
{
    vici_begin(b, VICI_CMD_REQUEST, "load-shared");
    vici_kv(b, "id", p->conn_name);
    vici_kv(b, "type", "IKE");
    vici_kv(b, "data", p->psk ? p->psk : "");
    vici_list(b, "owners");
    vici_item(b, p->local_id);
    if (p->remote_id && *p->remote_id)
        vici_item(b, p->remote_id);
    vici_end_list(b);
}

void ipsec_req_load_key(struct vici_builder *b, const struct ipsec_params *p)
{
    vici_begin(b, VICI_CMD_REQUEST, "load-key");
    vici_kv(b, "type", "any");          /* RSA, ECDSA or Ed25519: charon reads which */
    vici_kv(b, "data", p->key_pem ? p->key_pem : "");
}

void ipsec_req_load_conn(struct vici_builder *b, const struct ipsec_params *p)
{
    const char *auth = uses_certs(p) ? "pubkey" : "psk";
    char server[INET_ADDRSTRLEN], ts[64];

    inet_ntop(AF_INET, &p->server, server, sizeof(server));
    vici_begin(b, VICI_CMD_REQUEST, "load-conn");
    vici_section(b, p->conn_name);
    vici_kv(b, "version", p->ike_version == 1 ? "1" : "2");
    list_one(b, "remote_addrs", server);
    list_csv(b, "proposals", p->proposals);
    vici_kv(b, "dpd_delay", "10s");
    vici_kv(b, "unique", "replace");
    /* Never MOBIKE: the fixed address on pppN is a new local address once the tunnel is up,
     * and moving the SA onto it would put the tunnel inside itself (seen in the lab). */
    vici_kv(b, "mobike", "no");
    vici_section(b, "local");
    vici_kv(b, "auth", auth);
    if (p->local_id && *p->local_id)
        vici_kv(b, "id", p->local_id);       /* with a certificate, unset: its subject */
    if (uses_certs(p))
        list_one(b, "certs", p->cert_pem);
    vici_end_section(b);
    vici_section(b, "remote");
    vici_kv(b, "auth", auth);
    if (p->remote_id && *p->remote_id)
        vici_kv(b, "id", p->remote_id);
    /* the provider's certificate must chain to this CA (and to no other charon trusts) */
    if (uses_certs(p))
        list_one(b, "cacerts", p->ca_pem);
    vici_end_section(b);
    vici_section(b, "children");
    vici_section(b, IPSEC_CHILD_NAME);
    vici_kv(b, "mode", "transport");
    snprintf(ts, sizeof(ts), "dynamic[udp/%u]", (unsigned)p->local_port);
    list_one(b, "local_ts", ts);
    list_one(b, "remote_ts", "dynamic[udp/1701]");
    list_csv(b, "esp_proposals", p->esp_proposals);
    vici_kv(b, "dpd_action", "clear");
    vici_end_section(b);
    vici_end_section(b);
    vici_end_section(b);
}

void ipsec_req_initiate(struct vici_builder *b, const struct ipsec_params *p)
{
    char num[16];

    vici_begin(b, VICI_CMD_REQUEST, "initiate");
    vici_kv(b, "ike", p->conn_name);
    vici_kv(b, "child", IPSEC_CHILD_NAME);
    snprintf(num, sizeof(num), "%u", p->timeout_ms);
    vici_kv(b, "timeout", num);
    vici_kv(b, "init-limits", "no");
    /* charon's IKE log of this attempt (level 1: what failed and why) comes as control-log
     * events: the reason mailtund gives names the cause, not only "failed" */
    vici_kv(b, "loglevel", "1");
}

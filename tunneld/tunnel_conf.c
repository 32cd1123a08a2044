/*
 * tunnel_conf.c — the declared keys of [tunnel] (see tunnel_conf.h).
 */
#include "tunnel_conf.h"
#include "ipsec_sa.h"
#include "ipsec_proposal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K(name, type, def, unit, field, min, max, req, help) \
    { "tunnel", name, type, def, unit, offsetof(struct tunnel_conf, field), min, max, req, help }

const struct conf_key tunnel_conf_keys[] = {
    K("transport", CONF_STRING, "pptp", NULL, transport, 0, 0, 0,
      "protocol to the provider's server: pptp (TCP 1723 + GRE), l2tp (UDP 1701) or l2tp-ipsec "
      "(L2TP inside an IPsec SA set up by strongSwan's charon: crosses NATs, strong crypto), or auto "
      "(PPTP first; when its GRE path is dead, l2tp-ipsec)"),
    K("server", CONF_IPV4, NULL, NULL, server, 0, 0, 1, "the provider's PPTP or L2TP server (IPv4 address)"),
    K("port", CONF_INT, "0", NULL, port, 0, 65535, 0,
      "control port of the server; 0: the transport's own (PPTP 1723, L2TP 1701)"),
    K("l2tp_secret", CONF_STRING, NULL, NULL, l2tp_secret, 0, 0, 0,
      "L2TP tunnel secret (tunnel authentication, hidden AVPs); unset: none, as most LNS run"),
    K("ipsec_socket", CONF_STRING, "unix:///var/run/charon.vici", NULL, ipsec_socket, 0, 0, 0,
      "l2tp-ipsec: strongSwan charon's VICI socket"),
    K("ipsec_id", CONF_STRING, NULL, NULL, ipsec_id, 0, 0, 0,
      "l2tp-ipsec: our IKE identity, as in the provider's secrets (e.g. customer1@example.net)"),
    K("ipsec_remote_id", CONF_STRING, NULL, NULL, ipsec_remote_id, 0, 0, 0,
      "l2tp-ipsec: the provider's IKE identity (e.g. vpn.example.com); unset: any with the key"),
    K("ipsec_psk_file", CONF_PATH, NULL, NULL, ipsec_psk_file, 0, 0, 0,
      "l2tp-ipsec: file holding the pre-shared key (one line, root-owned, mode 600); or certificates below"),
    K("ipsec_ca", CONF_PATH, NULL, NULL, ipsec_ca, 0, 0, 0,
      "l2tp-ipsec with certificates: the CA certificate (PEM) the provider's certificate must be issued by"),
    K("ipsec_cert", CONF_PATH, NULL, NULL, ipsec_cert, 0, 0, 0,
      "l2tp-ipsec with certificates: our own certificate (PEM)"),
    K("ipsec_key", CONF_PATH, NULL, NULL, ipsec_key, 0, 0, 0,
      "l2tp-ipsec with certificates: our private key (PEM, unencrypted; root-owned, mode 600)"),
    K("ipsec_ike_version", CONF_INT, "2", NULL, ipsec_ike_version, 1, 2, 0,
      "l2tp-ipsec: 2 (IKEv2), or 1 (IKEv1 main mode, as Windows and many provider boxes speak it)"),
    K("ipsec_proposals", CONF_STRING, NULL, NULL, ipsec_proposals, 0, 0, 0,
      "l2tp-ipsec: IKE proposals offered, strongest first (strongSwan syntax); unset: "
      IPSEC_IKEV2_DEFAULT " (IKEv1: " IPSEC_IKEV1_DEFAULT ")"),
    K("ipsec_esp_proposals", CONF_STRING, IPSEC_ESP_DEFAULT, NULL,
      ipsec_esp_proposals, 0, 0, 0, "l2tp-ipsec: ESP proposals offered, strongest first"),
    K("user", CONF_STRING, NULL, NULL, user, 0, 0, 1,
      "MS-CHAPv2 user name; its secret is in /etc/ppp/chap-secrets"),
    K("remotename", CONF_STRING, "provider", NULL, remotename, 0, 0, 0,
      "server name column of the chap-secrets line"),
    K("fixed_address", CONF_IPV4, NULL, NULL, fixed_address, 0, 0, 1,
      "fixed address the provider assigns; any other address is refused"),
    K("uplink", CONF_STRING, NULL, NULL, uplink, 0, 0, 1,
      "DSL interface watched for address changes (e.g. ppp0 or eth1)"),
    K("hostname", CONF_STRING, "mailtun", NULL, hostname, 0, 0, 0,
      "host name sent to the server (PPTP SCCRQ, L2TP Host Name AVP)"),
    K("control_socket", CONF_PATH, "/run/mailtun/mailtund.sock", NULL, control_socket, 0, 0, 0,
      "Unix socket for pppd's plugin, mailrelayd and mailtunctl"),
    K("control_group", CONF_STRING, "mailtun", NULL, control_group, 0, 0, 0,
      "group that may use the control socket besides root"),
    K("pppd", CONF_PATH, "/usr/sbin/pppd", NULL, pppd, 0, 0, 0, "pppd binary"),
    K("plugin", CONF_PATH, "/usr/lib/pppd/2.4.9/mailtun.so", NULL, plugin, 0, 0, 0,
      "the mailtun pppd plugin"),
    K("pppd_options", CONF_PATH, NULL, NULL, pppd_options, 0, 0, 0,
      "file with extra pppd options, read by pppd with 'file'"),
    K("pppd_logfile", CONF_PATH, NULL, NULL, pppd_logfile, 0, 0, 0,
      "pppd's log file (besides syslog)"),
    K("mtu", CONF_INT, "1400", "bytes", mtu, 576, 1500, 0, "PPP MTU and MRU"),
    K("lcp_echo_interval", CONF_DURATION, "10s", "duration", lcp_echo_interval_ms, 1000, 3600000, 0,
      "pppd LCP echo interval"),
    K("lcp_echo_failure", CONF_INT, "3", NULL, lcp_echo_failure, 1, 100, 0,
      "unanswered LCP echoes before pppd gives up"),
    K("echo_interval", CONF_DURATION, "60s", "duration", echo_interval_ms, 1000, 3600000, 0,
      "PPTP keep-alive: Echo-Request after this much silence on the control connection"),
    K("echo_timeout", CONF_DURATION, "20s", "duration", echo_timeout_ms, 1000, 3600000, 0,
      "PPTP: no Echo-Reply within this, the server is declared dead"),
    K("l2tp_hello_interval", CONF_DURATION, "10s", "duration", l2tp_hello_interval_ms, 1000, 3600000, 0,
      "L2TP keep-alive: HELLO after this much silence on the control connection; a HELLO (or any "
      "control message) not acknowledged within as long again, through its retransmissions, means "
      "the LNS is dead (UDP has no connection whose end would tell)"),
    K("connect_timeout", CONF_DURATION, "15s", "duration", connect_timeout_ms, 1000, 600000, 0,
      "each step of the dial (TCP, SCCRP, OCRP, IPCP) must finish within this"),
    K("backoff_min", CONF_DURATION, "1s", "duration", backoff_min_ms, 100, 3600000, 0,
      "first wait after a failed dial"),
    K("backoff_max", CONF_DURATION, "5m", "duration", backoff_max_ms, 1000, 86400000, 0,
      "ceiling of the doubling wait between failed dials"),
    K("route_table", CONF_INT, "1723", NULL, route_table, 256, 2147483647L, 0,
      "routing table for traffic from the fixed address (256 or above: clear of main, local, default)"),
    K("rule_priority", CONF_INT, "1723", NULL, rule_priority, 1, 32765, 0,
      "priority of the 'from fixed_address' rule"),
    K("reconnect_at", CONF_TIMEOFDAY, NULL, NULL, reconnect_at, 0, 0, 0,
      "daily planned re-dial HH:MM (local time), before the line's forced disconnect"),
    K("state_dir", CONF_PATH, "/run/mailtun", NULL, state_dir, 0, 0, 0,
      "status file, metrics and traces"),
    K("metrics_file", CONF_PATH, NULL, NULL, metrics_file, 0, 0, 0,
      "metrics for node_exporter's textfile collector (e.g. /var/lib/prometheus/node-exporter/mailtund.prom)"),
    K("log_level", CONF_STRING, "info", NULL, log_level, 0, 0, 0, "err, warn, notice, info or debug"),
};
const size_t tunnel_conf_nkeys = sizeof(tunnel_conf_keys) / sizeof(tunnel_conf_keys[0]);
const char *const tunnel_conf_foreign[] = { "relay", "inside", "outbound", NULL };

/* l2tp-ipsec's keys together: one way to authenticate, and what goes to charon well-formed. */
static int check_ipsec(const char *path, const struct tunnel_conf *c, char err[CONF_ERR_LEN])
{
    char why[300];
    int certs = !!c->ipsec_ca + !!c->ipsec_cert + !!c->ipsec_key;

    if (certs > 0 && certs < 3) {
        snprintf(err, CONF_ERR_LEN, "%s: [tunnel] certificates need all three of ipsec_ca, ipsec_cert and "
                 "ipsec_key (%s missing)", path, !c->ipsec_ca ? "ipsec_ca" : !c->ipsec_cert ? "ipsec_cert" : "ipsec_key");
        return -1;
    }
    if (certs && c->ipsec_psk_file) {
        snprintf(err, CONF_ERR_LEN, "%s: [tunnel] ipsec_psk_file and certificates (ipsec_ca, ipsec_cert, "
                 "ipsec_key) are both set: choose one", path);
        return -1;
    }
    if (!certs && (!c->ipsec_id || !c->ipsec_psk_file)) {
        snprintf(err, CONF_ERR_LEN, "%s: [tunnel] transport %s needs ipsec_id and ipsec_psk_file, or "
                 "certificates (ipsec_ca, ipsec_cert, ipsec_key, ipsec_remote_id)", path, c->transport);
        return -1;
    }
    /* Any certificate of the CA would do otherwise, another customer's too: pin the provider's. */
    if (certs && !c->ipsec_remote_id) {
        snprintf(err, CONF_ERR_LEN, "%s: [tunnel] certificates need ipsec_remote_id (the identity in the "
                 "provider's certificate): without it any certificate of the CA would be taken for the provider",
                 path);
        return -1;
    }
    if ((c->ipsec_id && ipsec_param_check("ipsec_id", c->ipsec_id, why, sizeof(why)) < 0) ||
        (c->ipsec_remote_id && ipsec_param_check("ipsec_remote_id", c->ipsec_remote_id, why, sizeof(why)) < 0) ||
        ipsec_param_check("ipsec_proposals", c->ipsec_proposals, why, sizeof(why)) < 0 ||
        ipsec_param_check("ipsec_esp_proposals", c->ipsec_esp_proposals, why, sizeof(why)) < 0 ||
        ipsec_proposals_check("ipsec_proposals", c->ipsec_proposals,
                              c->ipsec_ike_version == 1 ? IPSEC_PROP_IKEV1 : IPSEC_PROP_IKEV2, why, sizeof(why)) < 0 ||
        ipsec_proposals_check("ipsec_esp_proposals", c->ipsec_esp_proposals, IPSEC_PROP_ESP, why, sizeof(why)) < 0) {
        snprintf(err, CONF_ERR_LEN, "%s: [tunnel] %s", path, why);
        return -1;
    }
    return 0;
}

int tunnel_conf_load(const char *path, struct tunnel_conf *c, char err[CONF_ERR_LEN])
{
    memset(c, 0, sizeof(*c));
    if (conf_load(path, tunnel_conf_keys, tunnel_conf_nkeys, tunnel_conf_foreign, c, 0, err) != 0)
        return -1;
    if (c->transport && strcmp(c->transport, "pptp") != 0 && strcmp(c->transport, "l2tp") != 0 &&
        strcmp(c->transport, "l2tp-ipsec") != 0 && strcmp(c->transport, "auto") != 0) {
        snprintf(err, CONF_ERR_LEN, "%s: [tunnel] transport: '%s' is not pptp, l2tp, l2tp-ipsec or auto",
                 path, c->transport);
        return -1;
    }
    if (!c->ipsec_proposals) {
        c->ipsec_proposals = strdup(c->ipsec_ike_version == 1 ? IPSEC_IKEV1_DEFAULT : IPSEC_IKEV2_DEFAULT);
        if (!c->ipsec_proposals) {
            snprintf(err, CONF_ERR_LEN, "out of memory");
            return -1;
        }
    }
    if (c->transport && (strcmp(c->transport, "l2tp-ipsec") == 0 || strcmp(c->transport, "auto") == 0) &&
        check_ipsec(path, c, err) < 0)
        return -1;
    return 0;
}

void tunnel_conf_free(struct tunnel_conf *c)
{
    conf_free(tunnel_conf_keys, tunnel_conf_nkeys, c);
}

/*
 * tunnel_conf.h — mailtund's settings: the [tunnel] section of mailtun.conf.
 *
 * Every key is declared once in tunnel_conf.c with its default, unit, bounds and help;
 * mailtun.conf(5) and conf/mailtun.conf describe the same table.
 */
#ifndef MAILTUN_TUNNEL_CONF_H
#define MAILTUN_TUNNEL_CONF_H

#include <netinet/in.h>
#include "config.h"

struct tunnel_conf {
    char *transport;                /* "pptp", "l2tp" or "l2tp-ipsec" (transport.h) */
    struct in_addr server;          /* the provider's PPTP or L2TP server */
    long port;                      /* its control port; 0: the transport's own */
    char *l2tp_secret;              /* L2TP tunnel secret, optional */
    char *ipsec_socket;             /* l2tp-ipsec: charon's VICI socket */
    char *ipsec_id;                 /* l2tp-ipsec: our IKE identity */
    char *ipsec_remote_id;          /* l2tp-ipsec: the provider's, optional */
    char *ipsec_psk_file;           /* l2tp-ipsec: root-only file with the pre-shared key */
    char *ipsec_ca;                 /* l2tp-ipsec with certificates: the provider's CA (PEM) */
    char *ipsec_cert;               /* ... our own certificate (PEM) */
    char *ipsec_key;                /* ... our private key (PEM, root-only) */
    long ipsec_ike_version;         /* 2, or 1 (IKEv1 main mode) */
    char *ipsec_proposals;          /* IKE proposals, comma-separated; default by version */
    char *ipsec_esp_proposals;      /* ESP proposals, comma-separated */
    long l2tp_local_port;           /* not a key: the port l2tp-ipsec's SA covers, per dial */
    char *user;                     /* MS-CHAPv2 name; secret in /etc/ppp/chap-secrets */
    char *remotename;               /* provider's name in chap-secrets */
    struct in_addr fixed_address;   /* the address IPCP must give us */
    char *uplink;                   /* DSL interface to watch (ppp0, eth1, ...) */
    char *hostname;                 /* sent in PPTP SCCRQ / L2TP SCCRQ */
    char *control_socket;           /* where mailtund listens */
    char *control_group;            /* group allowed on the control socket */
    char *pppd;                     /* pppd binary */
    char *plugin;                   /* mailtun.so */
    char *pppd_options;             /* admin's extra pppd options file, optional */
    char *pppd_logfile;             /* pppd's own log file, optional */
    long mtu;                       /* PPP MTU/MRU */
    long lcp_echo_interval_ms;
    long lcp_echo_failure;
    long echo_interval_ms;          /* PPTP Echo-Request after this much silence */
    long echo_timeout_ms;           /* no Echo-Reply within this: peer dead */
    long l2tp_hello_interval_ms;    /* L2TP HELLO after this much silence; unacked as long: dead */
    long connect_timeout_ms;        /* SCCRP / OCRP / IPCP must arrive within this */
    long backoff_min_ms;
    long backoff_max_ms;
    long route_table;               /* table for traffic from the fixed address */
    long rule_priority;             /* priority of the source rule */
    long reconnect_at;              /* planned daily re-dial, minutes after midnight, -1 none */
    char *state_dir;                /* pid file, traces */
    char *metrics_file;             /* node_exporter textfile, optional */
    char *log_level;
};

extern const struct conf_key tunnel_conf_keys[];
extern const size_t tunnel_conf_nkeys;
/* Sections of mailtun.conf that belong to other programs. */
extern const char *const tunnel_conf_foreign[];

int tunnel_conf_load(const char *path, struct tunnel_conf *c, char err[CONF_ERR_LEN]);
void tunnel_conf_free(struct tunnel_conf *c);

#endif

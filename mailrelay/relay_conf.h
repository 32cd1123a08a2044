/*
 * relay_conf.h — mailrelayd's settings: [relay], [inside] and [outbound] of mailtun.conf.
 *
 * Every key is declared once in relay_conf.c with default, unit, bounds and help.
 */
#ifndef MAILTUN_RELAY_CONF_H
#define MAILTUN_RELAY_CONF_H

#include "config.h"

struct relay_conf {
    /* [relay]: the SMTP server on the fixed address */
    struct conf_list listen;        /* "addr:port" listeners on the fixed address (IP_FREEBIND) */
    struct conf_list lan_listen;    /* "addr:port" listeners for the LAN (outbound submission) */
    char *hostname;                 /* our name in the greeting, EHLO and Received: */
    struct conf_list domains;       /* recipient domains accepted inbound */
    char *recipients;               /* optional file: one accepted address a line */
    struct conf_cidrs provider_networks;  /* if set: only these clients may connect inbound */
    struct conf_cidrs lan_networks; /* clients that may relay to any recipient */
    char *spool;                    /* spool directory */
    char *user;                     /* unprivileged user after binding */
    char *control_socket;
    char *mailtund_socket;          /* for LINK_UP / LINK_DOWN */
    char *tls_cert, *tls_key;       /* configured STARTTLS certificate and key (both or neither) */
    char *tls_dir;                  /* else: mailrelayd's own key and certificate live here */
    long max_message_size;
    long max_recipients;
    long max_sessions;
    long max_sessions_per_client;
    long max_commands;
    long max_errors;
    long timeout_command_ms;        /* RFC 5321 4.5.3.2: server timeout per command, 5 min */
    long timeout_data_block_ms;     /* between data blocks, 3 min */
    long timeout_data_term_ms;      /* client waiting for our 250, 10 min: the commit budget */
    char *metrics_file;             /* node_exporter textfile, optional */
    char *log_level;

    /* [inside]: delivery to the inside mail server */
    struct conf_hostport inside;    /* host:port or /unix/socket */
    char *inside_protocol;          /* smtp or lmtp */
    int inside_starttls;            /* opportunistic STARTTLS */
    long retry_base_ms;
    long retry_max_ms;
    long max_lifetime_ms;           /* then bounce */
    long inside_connections;        /* parallel connections */
    int inside_send_bounces;        /* bounces of inbound mail go out via the smarthost */

    /* [outbound]: provider's smarthost and ETRN */
    struct conf_hostport smarthost;
    char *smarthost_ca;             /* CA file for verifying the smarthost */
    char *smarthost_name;           /* name expected in its certificate */
    int smarthost_require_tls;
    char *smarthost_secrets;        /* root-readable "user password" file for AUTH */
    struct conf_hostport etrn_host; /* provider MTA to send ETRN to on LINK_UP */
    struct conf_list etrn_domains;
};

extern const struct conf_key relay_conf_keys[];
extern const size_t relay_conf_nkeys;
extern const char *const relay_conf_foreign[];

int relay_conf_load(const char *path, struct relay_conf *c, char err[CONF_ERR_LEN]);
void relay_conf_free(struct relay_conf *c);

#endif

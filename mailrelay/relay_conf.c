/*
 * relay_conf.c — the declared keys of [relay], [inside] and [outbound] (see relay_conf.h).
 * Timeouts follow RFC 5321 section 4.5.3.2 by default.
 */
#include "relay_conf.h"
#include "envelope.h"

#include <stddef.h>
#include <string.h>

#define R(name, type, def, unit, field, min, max, req, help) \
    { "relay", name, type, def, unit, offsetof(struct relay_conf, field), min, max, req, help }
#define I(name, type, def, unit, field, min, max, help) \
    { "inside", name, type, def, unit, offsetof(struct relay_conf, field), min, max, 0, help }
#define O(name, type, def, unit, field, min, max, help) \
    { "outbound", name, type, def, unit, offsetof(struct relay_conf, field), min, max, 0, help }

const struct conf_key relay_conf_keys[] = {
    R("listen", CONF_LIST, NULL, NULL, listen, 0, 0, 1,
      "SMTP listeners on the fixed address, addr:port (bound even while the tunnel is down)"),
    R("lan_listen", CONF_LIST, NULL, NULL, lan_listen, 0, 0, 0,
      "SMTP listeners on the LAN side, addr:port, for outbound mail"),
    R("hostname", CONF_STRING, "mailtun.invalid", NULL, hostname, 0, 0, 0,
      "name in the greeting, EHLO reply and Received: headers"),
    R("domains", CONF_LIST, NULL, NULL, domains, 0, 0, 1, "recipient domains accepted from outside"),
    R("recipients", CONF_PATH, NULL, NULL, recipients, 0, 0, 0,
      "optional file of accepted addresses, one a line; others get 550 5.1.1"),
    R("provider_networks", CONF_CIDRS, NULL, NULL, provider_networks, 0, 0, 0,
      "if set, only these clients may connect to the fixed-address listeners"),
    R("lan_networks", CONF_CIDRS, NULL, NULL, lan_networks, 0, 0, 0,
      "clients that may relay to any recipient (outbound)"),
    R("spool", CONF_PATH, "/var/spool/mailtun", NULL, spool, 0, 0, 0, "spool directory"),
    R("user", CONF_STRING, "mailtun", NULL, user, 0, 0, 0, "user mailrelayd runs as after binding"),
    R("control_socket", CONF_PATH, "/run/mailtun/mailrelayd.sock", NULL, control_socket, 0, 0, 0,
      "control socket for mailtunctl"),
    R("mailtund_socket", CONF_PATH, "/run/mailtun/mailtund.sock", NULL, mailtund_socket, 0, 0, 0,
      "mailtund's control socket, for link events"),
    R("tls_cert", CONF_PATH, NULL, NULL, tls_cert, 0, 0, 0, "certificate chain for STARTTLS (PEM)"),
    R("tls_key", CONF_PATH, NULL, NULL, tls_key, 0, 0, 0, "private key for STARTTLS (PEM)"),
    R("tls_dir", CONF_PATH, "/var/lib/mailtun/tls", NULL, tls_dir, 0, 0, 0,
      "without tls_cert/tls_key: mailrelayd's own key and self-signed certificate, made at the first start (root only, mode 0700)"),
    R("max_message_size", CONF_SIZE, "50M", "bytes", max_message_size, 1024, 2147483647L, 0,
      "largest message accepted (advertised in SIZE)"),
    /* capped by what a spooled envelope holds: more would get 250 at RCPT and 451 at DATA */
    R("max_recipients", CONF_INT, "100", NULL, max_recipients, 1, ENV_MAX_RCPT, 0,
      "recipients per message (at most 1000, what the spool's envelope holds)"),
    R("max_sessions", CONF_INT, "200", NULL, max_sessions, 1, 100000, 0, "SMTP sessions at once"),
    R("max_sessions_per_client", CONF_INT, "20", NULL, max_sessions_per_client, 1, 100000, 0,
      "SMTP sessions at once from one client address"),
    R("max_commands", CONF_INT, "10000", NULL, max_commands, 10, 10000000, 0, "commands per session"),
    R("max_errors", CONF_INT, "10", NULL, max_errors, 1, 1000, 0,
      "errors per session before it is closed with 421"),
    R("timeout_command", CONF_DURATION, "5m", "duration", timeout_command_ms, 1000, 3600000, 0,
      "wait for the next command"),
    R("timeout_data_block", CONF_DURATION, "3m", "duration", timeout_data_block_ms, 1000, 3600000, 0,
      "wait for the next block of message data"),
    R("timeout_data_term", CONF_DURATION, "10m", "duration", timeout_data_term_ms, 1000, 3600000, 0,
      "longest time to get a message onto disk before answering; then 451 4.3.0 and the session ends"),
    R("metrics_file", CONF_PATH, NULL, NULL, metrics_file, 0, 0, 0,
      "queue and delivery metrics for node_exporter's textfile collector, rewritten every 10 s (its directory must be writable by [relay] user)"),
    R("log_level", CONF_STRING, "info", NULL, log_level, 0, 0, 0, "err, warn, notice, info or debug"),

    I("server", CONF_HOSTPORT, "127.0.0.1:25", NULL, inside, 0, 0,
      "inside mail server: host:port, [v6]:port or /path/of/unix/socket"),
    I("protocol", CONF_STRING, "smtp", NULL, inside_protocol, 0, 0, "smtp or lmtp"),
    I("starttls", CONF_BOOL, "yes", NULL, inside_starttls, 0, 0,
      "use STARTTLS to the inside server when offered (not verified: LAN)"),
    I("retry_base", CONF_DURATION, "1m", "duration", retry_base_ms, 1000, 86400000,
      "first retry after a temporary failure; doubles each time"),
    I("retry_max", CONF_DURATION, "1h", "duration", retry_max_ms, 1000, 86400000,
      "ceiling of the retry interval"),
    I("max_lifetime", CONF_DURATION, "5d", "duration", max_lifetime_ms, 60000, 2592000000L,
      "a message undeliverable this long is bounced"),
    I("connections", CONF_INT, "4", NULL, inside_connections, 1, 100,
      "parallel connections to the inside server"),
    I("send_bounces", CONF_BOOL, "no", NULL, inside_send_bounces, 0, 0,
      "send bounces of undeliverable inbound mail to its sender through [outbound] smarthost; "
      "no: log and drop them (the sender of inbound mail is unverified: backscatter)"),

    O("smarthost", CONF_HOSTPORT, NULL, NULL, smarthost, 0, 0,
      "provider's relay for outbound mail, host:port (port 587 or 25)"),
    O("ca_file", CONF_PATH, "/etc/ssl/certs/ca-certificates.crt", NULL, smarthost_ca, 0, 0,
      "CA certificates to verify the smarthost"),
    O("tls_name", CONF_STRING, NULL, NULL, smarthost_name, 0, 0,
      "name expected in the smarthost's certificate (default: its host)"),
    O("require_tls", CONF_BOOL, "yes", NULL, smarthost_require_tls, 0, 0,
      "never send to the smarthost without verified STARTTLS"),
    O("secrets", CONF_PATH, NULL, NULL, smarthost_secrets, 0, 0,
      "root-readable file 'user password' for SMTP AUTH at the smarthost"),
    O("etrn_host", CONF_HOSTPORT, NULL, NULL, etrn_host, 0, 0,
      "provider MTA that gets ETRN when the tunnel comes up, IPv4 address[:port] (port 25 if none)"),
    O("etrn_domains", CONF_LIST, NULL, NULL, etrn_domains, 0, 0, "domains named in ETRN"),
};
const size_t relay_conf_nkeys = sizeof(relay_conf_keys) / sizeof(relay_conf_keys[0]);
const char *const relay_conf_foreign[] = { "tunnel", NULL };

int relay_conf_load(const char *path, struct relay_conf *c, char err[CONF_ERR_LEN])
{
    memset(c, 0, sizeof(*c));
    return conf_load(path, relay_conf_keys, relay_conf_nkeys, relay_conf_foreign, c, 0, err);
}

void relay_conf_free(struct relay_conf *c)
{
    conf_free(relay_conf_keys, relay_conf_nkeys, c);
}

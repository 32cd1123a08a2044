/*
 * server.h — mailrelayd's SMTP listeners and connections on libevent.
 *
 * server_new() binds every [relay] listen and lan_listen address (IP_FREEBIND /
 * IPV6_FREEBIND, so the fixed address may be absent while the tunnel is down), as root and
 * before privileges are dropped; server_start() begins accepting. Each accepted connection
 * runs one smtp_session: received bytes go in, replies go out, STARTTLS switches the socket
 * to a bufferevent_openssl (clear-text input still buffered is dropped), the session's
 * timeout drives a timer, and commits go through store.h (the connection waits, reading
 * nothing, until its commit is done).
 *
 * Limits: max_sessions in total and max_sessions_per_client per client address; a
 * connection over either gets "421 4.7.0" and is closed at once. A peer that vanishes is
 * cleaned up at once; if its message's commit is pending, the store finishes it alone.
 *
 * server_stop() (SIGTERM): listeners closed, idle sessions told "421 4.3.2" and closed,
 * sessions waiting for a commit get their answer first; done() runs once none is left.
 */
#ifndef MAILTUN_SERVER_H
#define MAILTUN_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "relay_conf.h"
#include "smtp_session.h"
#include "tls.h"

struct event_base;
struct policy;
struct store;
struct server;

struct server_stats {
    size_t sessions;        /* open now */
    uint64_t accepted;      /* connections accepted since start */
    uint64_t refused;       /* turned away over a session limit */
    uint64_t tls;           /* STARTTLS handshakes completed */
};

/* Binds all listeners. tls may be NULL (no STARTTLS). conf, smtp, policy and store must
 * outlive the server. NULL with err filled (which address, why). */
struct server *server_new(struct event_base *base, const struct relay_conf *conf,
                          const struct smtp_config *smtp, SSL_CTX *tls, struct policy *policy,
                          struct store *store, char *err, size_t errlen);
/* Starts accepting; 0 or -1 with err. */
int server_start(struct server *srv, char *err, size_t errlen);
/* Stops accepting and winds the sessions down; done(arg) runs (from the loop) when none is
 * left. Calling it twice is harmless. */
void server_stop(struct server *srv, void (*done)(void *arg), void *arg);
/* Closes listeners and every connection that is still there (pending commits continue in
 * the store). */
void server_free(struct server *srv);
void server_get_stats(const struct server *srv, struct server_stats *out);

/* Parses "192.0.2.10:25" or "[2001:db8::1]:25" (numeric only). 0 or -1 with why. */
int server_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len,
                        const char **why);

#endif

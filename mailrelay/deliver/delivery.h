/*
 * delivery.h — the delivery scheduler: takes due messages from the spool and delivers them
 * through a small pool of SMTP/LMTP client connections to one next hop.
 *
 * One instance serves one direction: the inside server gets ENV_INBOUND messages; the same
 * code with another config (direction ENV_OUTBOUND, TLS_VERIFY) will serve the smarthost.
 *
 * It runs on a timer (the earliest due time of its messages) and on delivery_kick() (new
 * mail spooled, link came up). Messages go out in spool arrival order; each connection
 * carries one message at a time and is reused (RSET in between), idle ones are closed after
 * idle_timeout_ms. Per recipient: 2xx -> sent, 5xx -> bounced, 4xx or a broken connection ->
 * pending, next attempt from retry.h (a reused connection that died before answering does
 * not count as an attempt: the message is tried again at once on a new one). Expired
 * messages (retry_expired) bounce their pending recipients with the last reply.
 * When every recipient is final: if any bounced and dsn_should_bounce(), an RFC 3464
 * report goes into the spool as a new message to the original sender (null sender,
 * direction reversed — so the bounce of inbound mail waits for the outbound instance), and
 * only then is the message removed (a crash in between may bounce twice, never lose).
 * After a connection could not be set up at all (connect, greeting, hello), the next hop
 * counts as down for retry.base seconds: other messages wait without an attempt being
 * counted (a kick ends the wait).
 * Drop bounces (drop_bounces): when every recipient is final and some bounced, the report is
 * not queued but logged ("id=... bounce not sent to <sender>: ...") and the message removed;
 * mailrelayd sets it for inbound mail, whose sender nobody verified (backscatter), unless
 * [inside] send_bounces = yes.
 * No route (no_route): an instance for a direction without a next hop (outbound mail without
 * [outbound] smarthost) opens no connection; each due message's pending recipients bounce at
 * once with that reply (a bounce of a bounce is logged and dropped), so nothing waits for ever.
 * Hold: an instance may be given a hold() function (the smarthost instance: "the tunnel is
 * down"). While it returns a reason, no connection is opened and due messages wait without
 * an attempt being counted; expired ones still bounce. The change is logged once
 * ("delivery held ..." / "delivery resumed ..."); delivery_kick() (LINK_UP) rescans.
 *
 * Log lines (Postfix style, info level):
 *   id=<qid> from=<sender> size=<n> nrcpt=<n>                  first attempt of a message
 *   id=<qid> to=<rcpt> relay=<host>[<addr>]:<port> delay=<s> status=sent|deferred|bounced (<reply>)
 *   id=<qid> removed
 * Addresses are written in angle brackets (from=<> is the null sender).
 *
 * Needs: libevent, spool.h, envelope.h, retry.h, dsn.h, smtp_client_conn.h, lib/log.h.
 * The process must ignore SIGPIPE.
 */
#ifndef MAILTUN_DELIVERY_H
#define MAILTUN_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"
#include "retry.h"
#include "smtp_client_conn.h"

struct event_base;
struct spool;
struct delivery;

struct delivery_config {
    const char *host;               /* next hop: address, name, or Unix socket path */
    int port;                       /* TCP port (0: 25, or 24 for LMTP); < 0: Unix socket path */
    bool lmtp;
    enum smtpc_tls_mode tls;        /* OPPORTUNISTIC for [inside] starttls = yes */
    const char *tls_ca_file;        /* VERIFY: CA bundle (NULL: system default paths) */
    const char *tls_name;           /* VERIFY: expected certificate name (NULL: host) */
    const char *helo_name;          /* our name in EHLO and Reporting-MTA of bounces */
    enum env_direction direction;   /* which messages this instance delivers */
    struct retry_policy retry;      /* seconds */
    unsigned connections;           /* parallel connections, >= 1 */
    int connect_timeout_ms;
    int greeting_timeout_ms;
    int command_timeout_ms;
    int data_timeout_ms;
    int dot_timeout_ms;
    int idle_timeout_ms;            /* close a connection idle this long */
    /* outbound (smarthost) specifics */
    const char *source_addr;        /* connect from this address (IP_FREEBIND); NULL: any */
    const char *auth_user;          /* SMTP AUTH (only over TLS) when both are set */
    const char *auth_pass;
    const char *(*hold)(void *arg); /* non-NULL reason: wait without counting attempts */
    void *hold_arg;
    /* every queue entry has a way out */
    bool drop_bounces;              /* a bounce of this instance's mail is logged, not queued */
    void (*bounce_queued)(void *arg); /* a report went into the spool for the other direction's
                                     * instance: kick it (else it waits for its next scan) */
    void *bounce_queued_arg;
    const char *no_route;           /* set: there is no next hop (host unused); queued mail
                                     * bounces at once with this reply, "554 5.x.x text" */
};

struct delivery_stats {
    uint64_t rcpt_sent;             /* recipient results, since start */
    uint64_t rcpt_deferred;
    uint64_t rcpt_bounced;
    uint64_t messages_done;         /* messages removed from the spool (all recipients final) */
    uint64_t bounces_queued;        /* DSNs put into the spool */
    uint64_t bounces_dropped;       /* DSNs logged instead (drop_bounces) */
    int64_t last_delivery;          /* seconds since the epoch of the last 2xx; 0 = never */
    double sent_delay_sum;          /* seconds from arrival to 2xx, summed over rcpt_sent */
    unsigned connections;           /* open now */
    unsigned in_flight;             /* messages being delivered now */
    bool hop_down;                  /* next hop counts as down (see above) */
};

/* Defaults: port 25, SMTP, no TLS, inbound, retry_policy_default(), 2 connections,
 * timeouts 30 s connect, 300 s greeting/command/dot, 180 s data, idle 10 s. */
void delivery_config_default(struct delivery_config *cfg);

/* Copies cfg (strings too) and schedules the first scan. NULL with err set on failure
 * (no memory, unusable TLS settings). The spool must outlive the delivery. */
struct delivery *delivery_new(struct event_base *base, struct spool *sp,
                              const struct delivery_config *cfg, char *err, size_t errlen);

/* New mail spooled or the link came up: scan now (from the loop) and forget "hop down". */
void delivery_kick(struct delivery *d);

/* Closes every connection at once. Messages in flight stay queued as they are on disk
 * (their attempt is not counted); nothing is lost. */
void delivery_free(struct delivery *d);

void delivery_get_stats(const struct delivery *d, struct delivery_stats *st);

/* True when no message of this instance's direction is queued and none is in flight
 * (held messages do not count). */
bool delivery_idle(const struct delivery *d);

#endif

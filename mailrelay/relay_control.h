/*
 * relay_control.h — mailrelayd's control-socket verbs, for mailtunctl.
 *
 *   IPC_STATUS          -> IPC_STATUS_REPLY: ATTR_KV daemon, pid, running_s, queued, held,
 *                          deferred, oldest_age_s, messages_in, bytes_in, commit_failures,
 *                          messages_out, rcpt_sent, rcpt_deferred, rcpt_bounced,
 *                          last_delivery_s (seconds ago, "never"), sessions, sessions_total,
 *                          sessions_refused, tls_sessions, link, link_* (link_events.h)
 *   IPC_QUEUE_LIST      -> IPC_OK with one ATTR_KV per message, oldest first:
 *                          "<qid>=<queued|held> size=N age=S nrcpt=N pending=N attempts=N
 *                          next=S|- from=<sender>"; a request may carry ATTR_KV "start=N"
 *                          (index to begin at); a full answer ends with ATTR_KV "next=N".
 *   IPC_QUEUE_SHOW      ATTR_QUEUE_ID -> IPC_OK with the envelope as ATTR_KV pairs (one
 *                          "rcpt=..." per recipient) and the message's Message-ID and Subject.
 *   IPC_QUEUE_FLUSH     [ATTR_QUEUE_ID] -> pending recipients due now, delivery kicked.
 *   IPC_QUEUE_DELETE / IPC_QUEUE_HOLD / IPC_QUEUE_RELEASE   ATTR_QUEUE_ID
 * Errors are IPC_ERROR with a sentence in ATTR_TEXT ("no message ... in the queue").
 * Every changing request is logged with the queue id and the client's uid.
 */
#ifndef MAILTUN_RELAY_CONTROL_H
#define MAILTUN_RELAY_CONTROL_H

#include <time.h>

#include "ctl_server.h"
#include "delivery.h"
#include "server.h"
#include "store.h"

struct spool;
struct store;
struct server;
struct link_events;
struct delivery;

struct etrn;

struct relay_control {
    time_t started;
    struct spool *spool;
    struct store *store;
    struct server *server;
    struct link_events *link;           /* may be NULL */
    struct delivery *delivery[2];       /* inside, smarthost; either may be NULL */
    struct etrn *etrn;                  /* NULL unless [outbound] etrn_host and etrn_domains */
};

void relay_control_on_msg(struct ctl_client *c, const struct ipc_msg *m, void *arg);
void relay_control_on_gone(struct ctl_client *c, void *arg);

/* The numbers behind status and the metrics file. */
struct relay_numbers {
    int64_t now, oldest, last;          /* oldest arrival, last delivery (epoch s; -1/0: none) */
    size_t queued, held, deferred;
    struct store_stats ss;
    struct server_stats sv;
    struct delivery_stats ds;
};
void relay_numbers_collect(struct relay_control *rc, struct relay_numbers *n);

/* Kicks every delivery instance (after a commit, on LINK_UP, on flush). */
void relay_control_kick(struct relay_control *rc);

#endif

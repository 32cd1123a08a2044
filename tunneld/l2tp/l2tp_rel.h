/*
 * l2tp_rel.h — reliable delivery of L2TP control messages (RFC 2661 section 5.8 and appendix
 * A), pure: time passed in, datagrams out.
 *
 * Gives each message we send the next Ns and the current Nr, keeps it until the peer's Nr
 * acknowledges it, sends no more than the peer's receive window unacknowledged, retransmits
 * the oldest with exponential back-off (rto_initial_ms doubling up to rto_max_ms) and gives up
 * after max_retries, or once it has waited give_up_ms since its first transmission (when set:
 * the retransmissions alone take 31 s, a keep-alive should name a dead peer sooner). On receive it reads Nr (acks), delivers each new message exactly once in
 * Ns order, drops duplicates (and acknowledges them again: our ack may have been lost) and
 * drops messages from the future (the peer retransmits them). A pending ack goes out with our
 * next message or, on l2tp_rel_flush(), as a ZLB.
 * Bounded: L2TP_REL_QUEUE messages of ours in flight or waiting, L2TP_REL_OUT datagrams waiting
 * for the socket (when that is full, a ZLB is dropped: the next one carries the same ack).
 * Needs: l2tp_codec.
 */
#ifndef MAILTUN_L2TP_REL_H
#define MAILTUN_L2TP_REL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l2tp_codec.h"

#define L2TP_REL_QUEUE   8      /* our messages not yet acknowledged */
#define L2TP_REL_OUT     16     /* datagrams for the socket */
#define L2TP_REL_MSG_MAX 512    /* our messages are small (SCCRQ with a challenge is ~100) */
#define L2TP_REL_DEFAULT_WINDOW 4   /* when the peer sends no Receive Window Size */

struct l2tp_rel_config {
	uint32_t rto_initial_ms;   /* first retransmission after 1000 ms */
	uint32_t rto_max_ms;       /* back-off cap 8000 ms */
	uint32_t max_retries;      /* retransmissions of one message before the peer is dead: 5 */
	uint32_t give_up_ms;       /* or unacknowledged this long after it first went out: 0, no limit */
};

void l2tp_rel_config_defaults(struct l2tp_rel_config *cfg);

enum l2tp_rel_rx {
	L2TP_RX_NEW,         /* the next message in order: handle it */
	L2TP_RX_ZLB,         /* an ack only */
	L2TP_RX_DUPLICATE,   /* seen before: dropped, acknowledged again */
	L2TP_RX_FUTURE       /* a gap before it: dropped */
};

struct l2tp_rel_msg {
	uint16_t len;
	uint16_t type;         /* for log lines: which message went unanswered */
	bool sent;
	uint64_t first_ms;     /* its first transmission */
	uint8_t buf[L2TP_REL_MSG_MAX];
};

struct l2tp_rel {
	struct l2tp_rel_config cfg;
	uint16_t ns_next;      /* Ns of our next new message */
	uint16_t nr_next;      /* the peer's next Ns we expect: the Nr we send */
	uint16_t una;          /* Ns of our oldest unacknowledged message */
	uint16_t window;       /* the peer's receive window */
	uint16_t tunnel_id;    /* the peer's tunnel id, for ZLBs */
	bool ack_pending;
	unsigned queued;       /* messages in q, from una on */
	struct l2tp_rel_msg q[L2TP_REL_QUEUE];
	uint32_t rto_ms;       /* current back-off */
	uint32_t retries;      /* of the oldest message */
	uint64_t deadline_ms;  /* retransmission due, 0: nothing in flight */
	uint64_t bad_nr;       /* acks for messages never sent (ignored) */
	unsigned out_head, out_count;
	uint16_t out_len[L2TP_REL_OUT];
	uint8_t out[L2TP_REL_OUT][L2TP_REL_MSG_MAX];
};

void l2tp_rel_init(struct l2tp_rel *r, const struct l2tp_rel_config *cfg);
void l2tp_rel_set_window(struct l2tp_rel *r, uint16_t window);
void l2tp_rel_set_tunnel(struct l2tp_rel *r, uint16_t peer_tunnel_id);

/* Queues m (its hdr.tunnel_id and session_id as given; Ns and Nr are filled in) and sends it
 * when the window allows. Returns 0, or -1 when it does not encode or the queue is full. */
int l2tp_rel_send(struct l2tp_rel *r, struct l2tp_msg *m, uint64_t now_ms);

/* A control message's header from the peer (any decode status but MALFORMED). */
enum l2tp_rel_rx l2tp_rel_receive(struct l2tp_rel *r, const struct l2tp_header *h, uint64_t now_ms);

/* Retransmits what is due. Returns 0, or -1 when the oldest message ran out of retries or
 * waited give_up_ms. */
int l2tp_rel_tick(struct l2tp_rel *r, uint64_t now_ms);

/* Sends a ZLB if an ack is still owed. */
void l2tp_rel_flush(struct l2tp_rel *r);

/* The type of our oldest unacknowledged message (L2TP_ZLB: none). */
uint16_t l2tp_rel_oldest_type(const struct l2tp_rel *r);

/* Everything we sent is acknowledged. */
bool l2tp_rel_idle(const struct l2tp_rel *r);
uint64_t l2tp_rel_next_deadline(const struct l2tp_rel *r);

/* The next datagram for the socket (NULL: none); pop it once sent. */
const uint8_t *l2tp_rel_output(const struct l2tp_rel *r, size_t *len);
void l2tp_rel_pop(struct l2tp_rel *r);

#endif

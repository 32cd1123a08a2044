/*
 * l2tp_rel.c — reliable delivery of L2TP control messages (RFC 2661 section 5.8, appendix A).
 *
 * Sequence numbers compare in 16-bit serial arithmetic (a difference taken as int16_t), so
 * wrap-around at 65535 needs no special case. Our queued messages are kept encoded; a
 * retransmission rewrites only its Nr, so it always carries our latest acknowledgement.
 * Needs: l2tp_codec.
 */
#include "l2tp_rel.h"

#include <string.h>

void l2tp_rel_config_defaults(struct l2tp_rel_config *cfg)
{
	cfg->rto_initial_ms = 1000;
	cfg->rto_max_ms = 8000;
	cfg->max_retries = 5;
	cfg->give_up_ms = 0;
}

void l2tp_rel_init(struct l2tp_rel *r, const struct l2tp_rel_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	if (r->cfg.rto_initial_ms == 0)
		r->cfg.rto_initial_ms = 1;
	if (r->cfg.rto_max_ms < r->cfg.rto_initial_ms)
		r->cfg.rto_max_ms = r->cfg.rto_initial_ms;
	r->window = L2TP_REL_DEFAULT_WINDOW;
	r->rto_ms = r->cfg.rto_initial_ms;
}

void l2tp_rel_set_window(struct l2tp_rel *r, uint16_t window)
{
	r->window = window ? window : L2TP_REL_DEFAULT_WINDOW;
}

void l2tp_rel_set_tunnel(struct l2tp_rel *r, uint16_t peer_tunnel_id)
{
	r->tunnel_id = peer_tunnel_id;
}

/* Slots are indexed by Ns modulo the queue size (65536 is a multiple of it), so a message
 * keeps its slot from send to acknowledgement. */
static struct l2tp_rel_msg *qat(struct l2tp_rel *r, unsigned i)
{
	return &r->q[(r->una + i) % L2TP_REL_QUEUE];
}

static void emit(struct l2tp_rel *r, const uint8_t *buf, size_t len)
{
	unsigned slot;
	if (r->out_count == L2TP_REL_OUT || len > L2TP_REL_MSG_MAX)
		return;     /* queued messages are retransmitted; a lost ZLB is re-sent next time */
	slot = (r->out_head + r->out_count) % L2TP_REL_OUT;
	memcpy(r->out[slot], buf, len);
	r->out_len[slot] = (uint16_t)len;
	r->out_count++;
}

static void transmit(struct l2tp_rel *r, struct l2tp_rel_msg *q, uint64_t now_ms)
{
	if (!q->sent)
		q->first_ms = now_ms;
	q->buf[10] = (uint8_t)(r->nr_next >> 8);
	q->buf[11] = (uint8_t)r->nr_next;
	emit(r, q->buf, q->len);
	q->sent = true;
	r->ack_pending = false;
}

static unsigned sent_count(struct l2tp_rel *r)
{
	unsigned n = 0;
	while (n < r->queued && qat(r, n)->sent)
		n++;
	return n;
}

/* Sends what waits, as far as the window allows. */
static void pump(struct l2tp_rel *r, uint64_t now_ms)
{
	for (unsigned i = 0; i < r->queued && i < r->window; i++) {
		struct l2tp_rel_msg *q = qat(r, i);
		if (q->sent)
			continue;
		transmit(r, q, now_ms);
		if (r->deadline_ms == 0)
			r->deadline_ms = now_ms + r->rto_ms;
	}
}

int l2tp_rel_send(struct l2tp_rel *r, struct l2tp_msg *m, uint64_t now_ms)
{
	struct l2tp_rel_msg *q;
	size_t n;
	if (r->queued == L2TP_REL_QUEUE)
		return -1;
	m->hdr.ns = r->ns_next;
	m->hdr.nr = r->nr_next;
	q = qat(r, r->queued);
	n = l2tp_encode(m, NULL, q->buf, sizeof(q->buf));
	if (n == 0)
		return -1;
	q->len = (uint16_t)n;
	q->type = m->type;
	q->sent = false;
	r->ns_next++;
	r->queued++;
	pump(r, now_ms);
	return 0;
}

enum l2tp_rel_rx l2tp_rel_receive(struct l2tp_rel *r, const struct l2tp_header *h, uint64_t now_ms)
{
	uint16_t acked = (uint16_t)(h->nr - r->una);
	int16_t d;

	if (acked <= sent_count(r)) {
		if (acked > 0) {
			r->una = h->nr;
			r->queued -= acked;
			r->retries = 0;
			r->rto_ms = r->cfg.rto_initial_ms;
			r->deadline_ms = 0;
			pump(r, now_ms);
			if (r->deadline_ms == 0 && sent_count(r) > 0)
				r->deadline_ms = now_ms + r->rto_ms;
		}
	} else {
		r->bad_nr++;
	}
	if (h->length == h->payload_off)
		return L2TP_RX_ZLB;
	d = (int16_t)(h->ns - r->nr_next);
	if (d == 0) {
		r->nr_next++;
		r->ack_pending = true;
		return L2TP_RX_NEW;
	}
	if (d < 0) {
		r->ack_pending = true;
		return L2TP_RX_DUPLICATE;
	}
	return L2TP_RX_FUTURE;
}

/* When the oldest message in flight runs out of time (0: no limit, or nothing in flight). */
static uint64_t give_up_at(const struct l2tp_rel *r)
{
	const struct l2tp_rel_msg *q = &r->q[r->una % L2TP_REL_QUEUE];
	if (r->cfg.give_up_ms == 0 || r->queued == 0 || !q->sent)
		return 0;
	return q->first_ms + r->cfg.give_up_ms;
}

int l2tp_rel_tick(struct l2tp_rel *r, uint64_t now_ms)
{
	unsigned n;
	uint64_t limit = give_up_at(r);
	if (limit != 0 && now_ms >= limit)
		return -1;
	if (r->deadline_ms == 0 || now_ms < r->deadline_ms)
		return 0;
	if (r->retries >= r->cfg.max_retries)
		return -1;
	r->retries++;
	r->rto_ms = r->rto_ms * 2 > r->cfg.rto_max_ms ? r->cfg.rto_max_ms : r->rto_ms * 2;
	n = sent_count(r);
	for (unsigned i = 0; i < n; i++)
		transmit(r, qat(r, i), now_ms);
	r->deadline_ms = n ? now_ms + r->rto_ms : 0;
	return 0;
}

void l2tp_rel_flush(struct l2tp_rel *r)
{
	uint8_t z[L2TP_CTRL_HDR_LEN] = { 0xC8, 0x02, 0, L2TP_CTRL_HDR_LEN };
	if (!r->ack_pending)
		return;
	z[4] = (uint8_t)(r->tunnel_id >> 8);
	z[5] = (uint8_t)r->tunnel_id;
	z[8] = (uint8_t)(r->ns_next >> 8);
	z[9] = (uint8_t)r->ns_next;
	z[10] = (uint8_t)(r->nr_next >> 8);
	z[11] = (uint8_t)r->nr_next;
	emit(r, z, sizeof(z));
	r->ack_pending = false;
}

uint16_t l2tp_rel_oldest_type(const struct l2tp_rel *r)
{
	return r->queued ? r->q[r->una % L2TP_REL_QUEUE].type : L2TP_ZLB;
}

bool l2tp_rel_idle(const struct l2tp_rel *r)
{
	return r->queued == 0;
}

uint64_t l2tp_rel_next_deadline(const struct l2tp_rel *r)
{
	uint64_t limit = give_up_at(r);
	if (limit != 0 && (r->deadline_ms == 0 || limit < r->deadline_ms))
		return limit;
	return r->deadline_ms;
}

const uint8_t *l2tp_rel_output(const struct l2tp_rel *r, size_t *len)
{
	if (r->out_count == 0) {
		*len = 0;
		return NULL;
	}
	*len = r->out_len[r->out_head];
	return r->out[r->out_head];
}

void l2tp_rel_pop(struct l2tp_rel *r)
{
	if (r->out_count == 0)
		return;
	r->out_head = (r->out_head + 1) % L2TP_REL_OUT;
	r->out_count--;
}

/*
 * store.h — the store side of smtp_session's callbacks, on top of the spool, with group commit.
 *
 * msg_begin opens a spool message and builds its envelope from the session's smtp_envelope;
 * msg_write appends body bytes; msg_commit queues the message with spool_commit_async() and
 * answers SMTP_STORE_PENDING. The first queued commit arms a zero-delay event; when it runs,
 * every commit queued meanwhile (by any session) is made durable with one spool flush — one
 * directory fsync for the whole batch — and each session hears its result through its
 * store_session's done function. The session answers 250 only then.
 *
 * A session may vanish while its commit is pending: store_session_free() detaches it, the
 * message is still committed (it is the store's from msg_commit on), and its result is only
 * logged. Log lines carry the queue id: "message id=<qid> client=<addr>" at DATA and
 * "message id=<qid> from=<sender> size=<n> nrcpt=<n>" once durable.
 */
#ifndef MAILTUN_STORE_H
#define MAILTUN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "smtp_session.h"

struct event_base;
struct spool;
struct store;
struct store_session;

/* Result of a pending commit, for the session that asked (never called after
 * store_session_free). Runs from the event loop, not from inside msg_commit. */
typedef void store_done_fn(void *arg, enum smtp_store_result result);
/* After a batch with at least one durable message (e.g. to kick delivery). */
typedef void store_committed_fn(void *arg);

struct store_stats {
    uint64_t messages;      /* committed (250 given or due) */
    uint64_t bytes;         /* their data size */
    uint64_t failed;        /* commits that failed (4xx given) */
    uint64_t batches;       /* flushes that committed something */
    uint64_t last_commit;   /* time of the last durable message, 0 if none */
};

struct store *store_new(struct event_base *base, struct spool *sp);
/* Flushes what is still queued (detached sessions only by then), frees. The spool stays open. */
void store_free(struct store *st);
void store_set_committed(struct store *st, store_committed_fn *fn, void *arg);
void store_get_stats(const struct store *st, struct store_stats *out);
/* Commits queued or being flushed right now. */
size_t store_pending(const struct store *st);

/* One per SMTP connection. direction goes into every envelope of this connection. */
struct store_session *store_session_new(struct store *st, enum env_direction direction,
                                        store_done_fn *done, void *arg);
/* Detaches a pending commit (it still completes) and aborts nothing: an open, uncommitted
 * message is the smtp_session's to abort (smtp_session_free does so). */
void store_session_free(struct store_session *ss);
/* True while this session's commit is queued. */
int store_session_pending(const struct store_session *ss);

/* Sets store_ctx, msg_begin, msg_write, msg_commit, msg_abort and now in cb. */
void store_session_callbacks(struct store_session *ss, struct smtp_callbacks *cb);

#endif

/*
 * spool.h — mailrelayd's durable message spool on disk.
 *
 * Layout under the spool directory (all on one file system):
 *   lock            flock()ed by the one daemon that owns the spool; holds its pid
 *   incoming/       messages being received and envelope rewrites in progress (never durable)
 *   queue/          committed messages: <qid>.data, and <qid>.env once the envelope changed
 *   hold/           committed messages an admin put on hold (the same files)
 *   quarantine/     files recovery could not make sense of, kept for a human
 *
 * <qid>.data is the message followed by its envelope as a trailer (spool_trailer.h), so one
 * file carries the commit. A message is durable (and SMTP may answer 250) only after: message,
 * envelope trailer and footer written to incoming/<qid>.data, fdatasync()ed, renamed into
 * queue/, and queue/ fsync()ed. Later envelope changes (delivery results, next attempts) go
 * to <qid>.env (written in incoming/, fdatasync()ed, renamed beside the data, directory
 * fsync()ed), which from then on takes precedence over the trailer. Group commit:
 * spool_commit_async() only queues a finished message; spool_flush_commits() makes a whole
 * batch durable with one directory fsync and then calls every message's callback with its
 * status. A daemon calls it from its event loop (e.g. a zero-timeout event armed by the
 * first queued commit), or hands the work to a thread: spool_batch_take() and
 * spool_batch_finish() on the loop thread, spool_batch_sync() — the only part that blocks on
 * the disk — on the worker thread. All other functions belong to one thread (the event
 * loop); the spool takes no locks.
 *
 * Failures are reported as enum spool_status (negative). SPOOL_ERR_NOSPACE (ENOSPC, EDQUOT,
 * EFBIG) means "answer 452 4.3.1", SPOOL_ERR_IO "451 4.3.0"; in both cases nothing of the
 * message is left in queue/. Removing a delivered message unlinks its files at once and makes
 * the removal durable with the next batch's directory fsync (or spool_sync()): a crash in
 * between may deliver the message twice, never lose it.
 *
 * Recovery (in spool_open): complete, parseable messages in queue/ and hold/ are indexed
 * (envelope from <qid>.env if there is one, else from the data's trailer); everything in
 * incoming/ is removed (never acknowledged), and so is data with neither an envelope nor a
 * trailer (a commit or a removal cut short); a message whose envelope reached its directory
 * before its data did is completed; anything else — foreign names, non-regular files, an
 * envelope or trailer that does not parse or does not match the data size — is moved to
 * quarantine/ and logged. Nothing found on disk is ever fatal. (Spools written before the
 * trailer existed hold <qid>.env + <qid>.data without trailer; they recover the same way.)
 */
#ifndef MAILTUN_SPOOL_H
#define MAILTUN_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "queue_id.h"

enum spool_status {
    SPOOL_OK = 0,
    SPOOL_ERR_NOSPACE = -1,   /* disk full, quota, file size limit: 452 4.3.1 */
    SPOOL_ERR_IO = -2,        /* any other I/O error: 451 4.3.0 */
    SPOOL_ERR_NOMEM = -3,     /* 451 4.3.0 */
    SPOOL_ERR_NOTFOUND = -4,  /* no such queue ID (or not in the state the call needs) */
    SPOOL_ERR_LOCKED = -5,    /* another process owns the spool */
    SPOOL_ERR_INVALID = -6,   /* the envelope or argument was refused */
};

/* "disk full", "I/O error", ... */
const char *spool_strerror(int status);

enum spool_place { SPOOL_QUEUED, SPOOL_HELD };

/* One committed message as the index holds it. Read-only for callers. */
struct spool_entry {
    struct envelope env;      /* env.qid is the queue ID, env.size the data size */
    enum spool_place place;
    int64_t due;              /* envelope_next_due(&env): INT64_MAX when nothing is pending */
};

struct spool_recovery {
    size_t loaded;            /* messages indexed from queue/ */
    size_t held;              /* messages indexed from hold/ */
    size_t completed;         /* commits interrupted after the envelope rename, finished */
    size_t removed;           /* leftovers removed from incoming/ */
    size_t quarantined;       /* files moved to quarantine/ */
};

struct spool;
struct spool_msg;
struct spool_batch;

/* ---- opening ----------------------------------------------------------------------------- */

/* Creates the layout if needed (mode 0700), takes the lock, recovers. rec may be NULL.
 * SPOOL_ERR_LOCKED when another process holds the lock (err names its pid); other errors
 * only for an unusable directory. err gets a one-line reason on failure. */
int spool_open(const char *dir, struct spool **out, struct spool_recovery *rec,
               char *err, size_t errlen);

/* Flushes pending commits (callbacks run), makes removals durable, unlocks, frees. */
void spool_close(struct spool *sp);

const char *spool_path(const struct spool *sp);

/* ---- receiving a message ----------------------------------------------------------------- */

/* Allocates a queue ID and opens incoming/<qid>.data. */
int spool_msg_begin(struct spool *sp, struct spool_msg **out);
const char *spool_msg_qid(const struct spool_msg *m);
/* Appends body bytes (buffered). A failure is sticky: later writes and the commit return it. */
int spool_msg_write(struct spool_msg *m, const void *buf, size_t len);
uint64_t spool_msg_size(const struct spool_msg *m);
/* Drops the message: temp file removed, m freed. */
void spool_msg_abort(struct spool_msg *m);

/* Called once per message when its commit finished: status SPOOL_OK (durable, answer 250)
 * or a negative spool_status (nothing left in queue/, answer 4xx). qid stays valid only
 * during the call. */
typedef void spool_commit_cb(void *arg, const char *qid, int status);

/* Synchronous commit (tools, tests, bounces): durable on SPOOL_OK. Always consumes m.
 * The spool copies env and fills in env.qid and env.size itself. */
int spool_commit(struct spool_msg *m, const struct envelope *env);

/* Queues m for the next batch; consumes m. The callback runs from spool_flush_commits() or
 * spool_batch_finish(), never from here. Returns SPOOL_OK or, for a refused envelope /
 * no memory, a negative status — then the callback is NOT called and m is already gone. */
int spool_commit_async(struct spool_msg *m, const struct envelope *env,
                       spool_commit_cb *cb, void *arg);

/* Commits queued but not yet flushed (the daemon arms its flush when this goes 0 -> 1). */
size_t spool_commits_pending(const struct spool *sp);

/* take + sync + finish in the calling thread; returns the number of callbacks run. */
size_t spool_flush_commits(struct spool *sp);

/* Moves everything queued into a batch (NULL if nothing to do, i.e. no commits and no
 * removals waiting for a directory fsync). Loop thread. */
struct spool_batch *spool_batch_take(struct spool *sp);
/* The disk work: writes, fdatasyncs, renames, one fsync of queue/. Any thread; touches only
 * the batch and the spool's directory descriptors. */
void spool_batch_sync(struct spool_batch *b);
/* Indexes the committed messages, calls the callbacks, frees b. Loop thread. Returns the
 * number of callbacks run. */
size_t spool_batch_finish(struct spool *sp, struct spool_batch *b);

/* fsyncs directories with removals not yet durable. */
int spool_sync(struct spool *sp);

/* ---- the queue --------------------------------------------------------------------------- */

size_t spool_count(const struct spool *sp);
/* i-th message in arrival order (0 <= i < spool_count()); for listings. */
const struct spool_entry *spool_entry_at(const struct spool *sp, size_t i);
const struct spool_entry *spool_lookup(const struct spool *sp, const char *qid);

/* Up to max queue IDs of queued (not held) messages with due <= now, in arrival order,
 * copied into ids. Returns how many. */
size_t spool_due(const struct spool *sp, int64_t now, char (*ids)[QUEUE_ID_SIZE], size_t max);
/* Earliest due time of a queued message; INT64_MAX if none (for the retry timer). */
int64_t spool_next_due(const struct spool *sp);

/* Read-only descriptor of the message data (caller closes it); read only the entry's env.size
 * octets: the envelope trailer follows them. Negative status on error. */
int spool_open_data(const struct spool *sp, const char *qid);

/* Replaces the envelope of env->qid (after delivery attempts): temp file, fdatasync,
 * atomic rename, directory fsync; then the index. qid, arrival and size cannot change. */
int spool_update(struct spool *sp, const struct envelope *env);

/* Removes a finished message (delivered or bounced); reason goes to the log. */
int spool_remove(struct spool *sp, const char *qid, const char *reason);
/* Removes a message on an admin's request (queued or held), durable at once. */
int spool_delete(struct spool *sp, const char *qid);
/* Moves a message queue/ -> hold/ and back; durable at once. */
int spool_hold(struct spool *sp, const char *qid);
int spool_release(struct spool *sp, const char *qid);

/* ---- test hook: fault injection ---------------------------------------------------------- */

/* Compiled in always, set only by tests: the nth (1 = next) spool call of the kind fails
 * with err, as if the kernel had returned it. err 0 clears. Not thread-safe (tests only). */
enum spool_fault_op { SPOOL_FAULT_WRITE, SPOOL_FAULT_FSYNC, SPOOL_FAULT_RENAME, SPOOL_FAULT_OPS };
void spool_test_fault(enum spool_fault_op op, unsigned nth, int err);

#endif

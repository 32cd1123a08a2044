/*
 * spool_commit.c — receiving a message into incoming/ and making it durable in queue/,
 * one message at a time (spool_commit) or many per directory fsync (group commit).
 *
 * The batch hand-off is the thread contract: spool_batch_take() and spool_batch_finish() run
 * on the loop thread and own the index; spool_batch_sync() owns only the batch it was given
 * (and reads the spool's directory descriptors), so it may run on a worker thread.
 * Needs: lib/log.h.
 */
#include "spool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool_trailer.h"

#define NAME_LEN (QUEUE_ID_SIZE + 8)

static void name_of(char buf[NAME_LEN], const char *qid, const char *ext)
{
    snprintf(buf, NAME_LEN, "%s.%s", qid, ext);
}

int spool_msg_begin(struct spool *sp, struct spool_msg **out)
{
    struct spool_msg *m = calloc(1, sizeof(*m));
    char name[NAME_LEN];

    *out = NULL;
    if (!m || !(m->buf = malloc(SPOOL_WBUF))) {
        free(m);
        return SPOOL_ERR_NOMEM;
    }
    m->sp = sp;
    for (int tries = 0;; tries++) {
        queue_id_next(&sp->gen, m->qid);
        name_of(name, m->qid, "data");
        m->fd = openat(sp->dirfd[SD_INCOMING], name,
                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (m->fd >= 0)
            break;
        if (errno != EEXIST || tries == 3) {
            int e = errno;

            log_warn("spool begin failed id=%s", m->qid);
            free(m->buf);
            free(m);
            return spool_errno_status(e);
        }
    }
    *out = m;
    return SPOOL_OK;
}

const char *spool_msg_qid(const struct spool_msg *m)
{
    return m->qid;
}

uint64_t spool_msg_size(const struct spool_msg *m)
{
    return m->size;
}

static void set_failed(struct spool_msg *m, int err)
{
    if (m->status == SPOOL_OK) {
        m->status = spool_errno_status(err);
        if (m->status == SPOOL_ERR_NOTFOUND)
            m->status = SPOOL_ERR_IO;
        errno = err;
        log_warn("spool write failed id=%s", m->qid);
    }
}

static int flush_buf(struct spool_msg *m)
{
    int e;

    if (m->buflen == 0)
        return 0;
    e = spool_write_all(m->fd, m->buf, m->buflen);
    m->buflen = 0;
    return e;
}

int spool_msg_write(struct spool_msg *m, const void *buf, size_t len)
{
    const char *p = buf;
    int e = 0;

    if (m->status)
        return m->status;
    m->size += len;
    if (m->buflen + len > SPOOL_WBUF) {
        e = flush_buf(m);
        if (!e && len >= SPOOL_WBUF) {
            e = spool_write_all(m->fd, p, len);
            len = 0;
        }
    }
    if (!e && len) {
        memcpy(m->buf + m->buflen, p, len);
        m->buflen += len;
    }
    if (e)
        set_failed(m, e);
    return m->status;
}

/* Removes whatever of m exists on disk (incoming/ and, if it got that far, queue/). */
static void msg_unlink(struct spool *sp, struct spool_msg *m)
{
    char name[NAME_LEN];

    name_of(name, m->qid, "data");
    unlinkat(sp->dirfd[m->renamed_data ? SD_QUEUE : SD_INCOMING], name, 0);
}

static void msg_free(struct spool_msg *m)
{
    if (m->fd >= 0)
        close(m->fd);
    envelope_free(&m->env);
    free(m->env_text);
    free(m->buf);
    free(m);
}

void spool_msg_abort(struct spool_msg *m)
{
    if (!m)
        return;
    msg_unlink(m->sp, m);
    log_debug("spool aborted id=%s", m->qid);
    msg_free(m);
}

/* Checks and encodes the envelope; on failure m is gone. */
static int prepare(struct spool_msg *m, const struct envelope *env)
{
    char why[160];
    int rc = m->status;

    if (rc == SPOOL_OK && envelope_copy(&m->env, env))
        rc = SPOOL_ERR_NOMEM;
    if (rc == SPOOL_OK) {
        memcpy(m->env.qid, m->qid, QUEUE_ID_SIZE);
        m->env.size = m->size;
        m->env_text = envelope_encode(&m->env, &m->env_len, why, sizeof(why));
        if (!m->env_text) {
            log_warnx("spool envelope refused id=%s reason=\"%s\"", m->qid, why);
            rc = SPOOL_ERR_INVALID;
        }
    }
    if (rc != SPOOL_OK) {
        msg_unlink(m->sp, m);
        msg_free(m);
    }
    return rc;
}

int spool_commit_async(struct spool_msg *m, const struct envelope *env,
                       spool_commit_cb *cb, void *arg)
{
    struct spool *sp = m->sp;
    int rc = prepare(m, env);

    if (rc)
        return rc;
    m->cb = cb;
    m->arg = arg;
    *sp->pending_tail = m;
    sp->pending_tail = &m->next;
    sp->npending++;
    return SPOOL_OK;
}

size_t spool_commits_pending(const struct spool *sp)
{
    return sp->npending;
}

struct spool_batch *spool_batch_take(struct spool *sp)
{
    struct spool_batch *b;

    if (!sp->pending && !sp->queue_dirty)
        return NULL;
    b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;   /* retried at the next flush */
    b->sp = sp;
    b->head = sp->pending;
    b->sync_queue = true;
    sp->pending = NULL;
    sp->pending_tail = &sp->pending;
    sp->npending = 0;
    sp->queue_dirty = false;
    return b;
}

/* Phase 1 of a message: the rest of the body, then the envelope and its footer as the
 * file's trailer (spool_trailer.h), go to the kernel, and writeback starts at once
 * (sync_file_range). Returns the errno of the first failure or 0. */
static int msg_write_out(struct spool_msg *m)
{
    char footer[SPOOL_FOOTER_LEN];
    int e = flush_buf(m);

    spool_footer_encode(footer, m->env_len);
    if (!e)
        e = spool_write_all(m->fd, m->env_text, m->env_len);
    if (!e)
        e = spool_write_all(m->fd, footer, sizeof(footer));
    if (!e)   /* only a hint: fdatasync below is what makes it durable and reports errors */
        sync_file_range(m->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    return e;
}

/* Phase 2 of a message: fdatasync, close, rename into queue/. The errno of the first
 * failure or 0. */
static int msg_sync_rename(struct spool *sp, struct spool_msg *m)
{
    char data[NAME_LEN];
    int e;

    e = spool_fdatasync(m->fd);
    if (close(m->fd) < 0 && !e)
        e = errno;
    m->fd = -1;
    name_of(data, m->qid, "data");
    if (!e) {
        e = spool_renameat(sp->dirfd[SD_INCOMING], data, sp->dirfd[SD_QUEUE], data);
        m->renamed_data = !e;
    }
    return e;
}

static void msg_failed(struct spool_msg *m, int e)
{
    m->status = spool_errno_status(e);
    if (m->status == SPOOL_ERR_NOTFOUND)
        m->status = SPOOL_ERR_IO;
    m->fail_errno = e;
}

/* The batch in phases, so the disk sees the whole batch before the first fdatasync waits:
 * every message's file is completed and its writeback started (phase 1), then waited for,
 * then fdatasync()ed one by one (phase 2) and renamed; then one fsync of queue/. Durability
 * per message: its own fdatasync (message and envelope are one file), its rename, the
 * directory fsync. */
void spool_batch_sync(struct spool_batch *b)
{
    struct spool *sp = b->sp;
    struct spool_msg *m;
    bool any = false;
    int e = 0;

    for (m = b->head; m; m = m->next) {
        int me = msg_write_out(m);

        if (me) {
            msg_failed(m, me);
            close(m->fd);
            m->fd = -1;
        }
    }
    for (m = b->head; m; m = m->next)
        if (m->status == SPOOL_OK)
            sync_file_range(m->fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                         SYNC_FILE_RANGE_WAIT_AFTER);
    for (m = b->head; m; m = m->next) {
        if (m->status != SPOOL_OK)
            continue;
        int me = msg_sync_rename(sp, m);

        if (me)
            msg_failed(m, me);
        any |= m->status == SPOOL_OK;
    }
    if (any || b->sync_queue)
        e = spool_fsync_dir(sp->dirfd[SD_QUEUE]);
    if (e) {
        b->dir_errno = e;
        /* not durable: take the messages back out, the clients will retry */
        for (m = b->head; m; m = m->next)
            if (m->status == SPOOL_OK) {
                m->status = spool_errno_status(e) == SPOOL_ERR_NOSPACE ? SPOOL_ERR_NOSPACE
                                                                      : SPOOL_ERR_IO;
                m->fail_errno = e;
            }
    }
    for (m = b->head; m; m = m->next)
        if (m->status != SPOOL_OK)
            msg_unlink(sp, m);
}

size_t spool_batch_finish(struct spool *sp, struct spool_batch *b)
{
    size_t n = 0;
    struct spool_msg *m, *next;

    if (!b)
        return 0;
    if (b->dir_errno) {
        errno = b->dir_errno;
        log_warn("spool fsync failed id=- dir=queue");
        sp->queue_dirty = true;
    }
    for (m = b->head; m; m = next) {
        struct spool_entry *e = NULL;

        next = m->next;
        if (m->status == SPOOL_OK) {
            e = calloc(1, sizeof(*e));
            if (e) {
                e->env = m->env;
                e->place = SPOOL_QUEUED;
                memset(&m->env, 0, sizeof(m->env));
            }
            if (!e || spool_index_add(sp, e) != SPOOL_OK) {
                /* durable on disk: the next start will find it; say so */
                log_warnx("spool index add failed id=%s (message kept on disk)", m->qid);
                spool_entry_free(e);
            } else {
                log_info("spool queued id=%s size=%llu rcpts=%zu from=<%s> direction=%s",
                         m->qid, (unsigned long long)e->env.size, e->env.nrcpt,
                         e->env.sender, env_direction_name(e->env.direction));
            }
        } else {
            if (m->fail_errno)
                errno = m->fail_errno;
            log_warnx("spool commit failed id=%s status=\"%s\" error=\"%s\"", m->qid,
                      spool_strerror(m->status),
                      m->fail_errno ? strerror(m->fail_errno) : "earlier write failed");
        }
        if (m->cb)
            m->cb(m->arg, m->qid, m->status);
        msg_free(m);
        n++;
    }
    free(b);
    return n;
}

size_t spool_flush_commits(struct spool *sp)
{
    struct spool_batch *b = spool_batch_take(sp);

    if (!b)
        return 0;
    spool_batch_sync(b);
    return spool_batch_finish(sp, b);
}

static void sync_done(void *arg, const char *qid, int status)
{
    (void)qid;
    *(int *)arg = status;
}

int spool_commit(struct spool_msg *m, const struct envelope *env)
{
    struct spool *sp = m->sp;
    struct spool_batch *b = calloc(1, sizeof(*b));
    int status = SPOOL_ERR_IO, rc;

    if (!b) {
        spool_msg_abort(m);
        return SPOOL_ERR_NOMEM;
    }
    rc = prepare(m, env);
    if (rc) {
        free(b);
        return rc;
    }
    m->cb = sync_done;
    m->arg = &status;
    /* a private batch of one, so other sessions' queued commits are not run from here */
    b->sp = sp;
    b->head = m;
    b->sync_queue = true;
    spool_batch_sync(b);
    spool_batch_finish(sp, b);
    return status;
}

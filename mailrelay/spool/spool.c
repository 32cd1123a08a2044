/*
 * spool.c — opening and locking the spool, and queue operations (update, remove, delete, hold,
 * release). See spool.h.
 *
 * The top of the spool: it calls spool_commit.c (flushing pending commits on sync and close) and
 * spool_recover.c (at open); both of those, like this file, build on spool_index.c and spool_io.c,
 * which call nothing above them. Needs: a POSIX file system with atomic rename and flock(); lib/log.h.
 */
#include "spool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* ---- opening ------------------------------------------------------------------------------ */

const char *spool_path(const struct spool *sp)
{
    return sp->path;
}

static int take_lock(struct spool *sp, int dfd, char *err, size_t errlen)
{
    char pid[32] = "";
    ssize_t n;
    int len;

    sp->lockfd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (sp->lockfd < 0) {
        snprintf(err, errlen, "cannot open %s/lock: %s", sp->path, strerror(errno));
        return SPOOL_ERR_IO;
    }
    if (flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        if (e == EWOULDBLOCK) {
            n = pread(sp->lockfd, pid, sizeof(pid) - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            snprintf(err, errlen, "spool %s is in use by another mailrelayd (pid %s)",
                     sp->path, pid[0] ? pid : "unknown");
            return SPOOL_ERR_LOCKED;
        }
        snprintf(err, errlen, "cannot lock %s/lock: %s", sp->path, strerror(e));
        return SPOOL_ERR_IO;
    }
    len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(sp->lockfd, 0) < 0 || pwrite(sp->lockfd, pid, (size_t)len, 0) != len)
        log_warn("spool lock pid not written path=%s/lock", sp->path);
    return SPOOL_OK;
}

static void spool_free(struct spool *sp)
{
    for (int i = 0; i < SD_COUNT; i++)
        if (sp->dirfd[i] >= 0)
            close(sp->dirfd[i]);
    if (sp->lockfd >= 0)
        close(sp->lockfd);
    for (size_t i = 0; i < sp->n; i++)
        spool_entry_free(sp->idx[i]);
    free(sp->idx);
    free(sp->path);
    free(sp);
}

int spool_open(const char *dir, struct spool **out, struct spool_recovery *rec,
               char *err, size_t errlen)
{
    struct spool_recovery dummy;
    struct spool *sp = calloc(1, sizeof(*sp));
    int dfd = -1, rc;

    *out = NULL;
    if (!rec)
        rec = &dummy;
    memset(rec, 0, sizeof(*rec));
    if (!sp || !(sp->path = strdup(dir))) {
        free(sp);
        snprintf(err, errlen, "out of memory");
        return SPOOL_ERR_NOMEM;
    }
    sp->lockfd = -1;
    for (int i = 0; i < SD_COUNT; i++)
        sp->dirfd[i] = -1;
    sp->pending_tail = &sp->pending;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create spool %s: %s", dir, strerror(errno));
        rc = spool_errno_status(errno);
        goto fail;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, errlen, "cannot open spool %s: %s", dir, strerror(errno));
        rc = spool_errno_status(errno);
        goto fail;
    }
    rc = take_lock(sp, dfd, err, errlen);
    if (rc)
        goto fail;
    for (int i = 0; i < SD_COUNT; i++) {
        if (mkdirat(dfd, spool_dir_names[i], 0700) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s/%s: %s", dir, spool_dir_names[i],
                     strerror(errno));
            rc = spool_errno_status(errno);
            goto fail;
        }
        sp->dirfd[i] = openat(dfd, spool_dir_names[i],
                              O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sp->dirfd[i] < 0) {
            snprintf(err, errlen, "cannot open %s/%s: %s", dir, spool_dir_names[i],
                     strerror(errno));
            rc = spool_errno_status(errno);
            goto fail;
        }
    }
    /* the subdirectories' own entries must survive a crash too */
    fsync(dfd);
    close(dfd);
    dfd = -1;
    rc = spool_recover(sp, rec);
    if (rc) {
        snprintf(err, errlen, "recovery of %s failed: %s", dir, spool_strerror(rc));
        goto fail;
    }
#ifdef MAILTUN_TEST_NO_FSYNC
    log_warnx("TEST BUILD: spool fsyncs disabled (MAILTUN_TEST_NO_FSYNC): a 250 is not durable");
#endif
    log_info("spool open path=%s loaded=%zu held=%zu completed=%zu removed=%zu quarantined=%zu",
             dir, rec->loaded, rec->held, rec->completed, rec->removed, rec->quarantined);
    *out = sp;
    return SPOOL_OK;
fail:
    if (dfd >= 0)
        close(dfd);
    spool_free(sp);
    return rc;
}

int spool_sync(struct spool *sp)
{
    int e;

    if (!sp->queue_dirty)
        return SPOOL_OK;
    e = spool_fsync_dir(sp->dirfd[SD_QUEUE]);
    if (e) {
        errno = e;
        log_warn("spool fsync failed id=- dir=queue");
        return spool_errno_status(e);
    }
    sp->queue_dirty = false;
    return SPOOL_OK;
}

void spool_close(struct spool *sp)
{
    if (!sp)
        return;
    spool_flush_commits(sp);
    spool_sync(sp);
    log_info("spool closed path=%s messages=%zu", sp->path, sp->n);
    spool_free(sp);
}

/* ---- queue operations --------------------------------------------------------------------- */

static int place_dir(const struct spool_entry *e)
{
    return e->place == SPOOL_HELD ? SD_HOLD : SD_QUEUE;
}

static void file_name(char *buf, size_t len, const char *qid, const char *ext)
{
    snprintf(buf, len, "%s.%s", qid, ext);
}

int spool_open_data(const struct spool *sp, const char *qid)
{
    const struct spool_entry *e = spool_lookup(sp, qid);
    char name[QUEUE_ID_SIZE + 8];
    int fd;

    if (!e)
        return SPOOL_ERR_NOTFOUND;
    file_name(name, sizeof(name), qid, "data");
    fd = openat(sp->dirfd[place_dir(e)], name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e2 = errno;

        log_warn("spool open data failed id=%s", qid);
        return spool_errno_status(e2);
    }
    return fd;
}

int spool_update(struct spool *sp, const struct envelope *env)
{
    struct spool_entry *e = spool_index_find(sp, env->qid, NULL);
    char tmp[QUEUE_ID_SIZE + 12], name[QUEUE_ID_SIZE + 8], why[160];
    struct envelope copy;
    size_t len;
    char *text;
    bool renamed = false;
    int err, dir;

    if (!e)
        return SPOOL_ERR_NOTFOUND;
    if (env->arrival != e->env.arrival || env->size != e->env.size) {
        log_warnx("spool update refused id=%s reason=arrival-or-size-changed", env->qid);
        return SPOOL_ERR_INVALID;
    }
    text = envelope_encode(env, &len, why, sizeof(why));
    if (!text) {
        log_warnx("spool update refused id=%s reason=\"%s\"", env->qid, why);
        return SPOOL_ERR_INVALID;
    }
    if (envelope_copy(&copy, env)) {
        free(text);
        return SPOOL_ERR_NOMEM;
    }
    file_name(tmp, sizeof(tmp), env->qid, "env.new");
    file_name(name, sizeof(name), env->qid, "env");
    dir = place_dir(e);
    err = spool_write_file(sp->dirfd[SD_INCOMING], tmp, text, len);
    free(text);
    if (!err) {
        err = spool_renameat(sp->dirfd[SD_INCOMING], tmp, sp->dirfd[dir], name);
        if (err)
            unlinkat(sp->dirfd[SD_INCOMING], tmp, 0);
        else
            renamed = true;
    }
    if (renamed) {
        /* the new envelope is in place: the index follows the disk */
        envelope_free(&e->env);
        e->env = copy;
        e->due = envelope_next_due(&e->env);
        err = spool_fsync_dir(sp->dirfd[dir]);
    } else {
        envelope_free(&copy);
    }
    if (err) {
        errno = err;
        log_warn("spool update failed id=%s", env->qid);
        return spool_errno_status(err);
    }
    log_debug("spool updated id=%s pending=%zu sent=%zu bounced=%zu", env->qid,
              envelope_count(&e->env, RCPT_PENDING), envelope_count(&e->env, RCPT_SENT),
              envelope_count(&e->env, RCPT_BOUNCED));
    return SPOOL_OK;
}

/* Unlinks the envelope (the commit marker) first, then the data. */
static int unlink_message(struct spool *sp, const struct spool_entry *e)
{
    char name[QUEUE_ID_SIZE + 8];
    int dfd = sp->dirfd[place_dir(e)];

    file_name(name, sizeof(name), e->env.qid, "env");
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        return errno;
    file_name(name, sizeof(name), e->env.qid, "data");
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        return errno;
    return 0;
}

int spool_remove(struct spool *sp, const char *qid, const char *reason)
{
    size_t pos;
    struct spool_entry *e = spool_index_find(sp, qid, &pos);
    int err;

    if (!e)
        return SPOOL_ERR_NOTFOUND;
    err = unlink_message(sp, e);
    if (err) {
        errno = err;
        log_warn("spool remove failed id=%s", qid);
        return spool_errno_status(err);
    }
    if (e->place == SPOOL_QUEUED)
        sp->queue_dirty = true;
    else
        spool_fsync_dir(sp->dirfd[SD_HOLD]);
    log_info("spool removed id=%s reason=\"%s\"", qid, reason ? reason : "done");
    spool_index_remove_at(sp, pos);
    return SPOOL_OK;
}

int spool_delete(struct spool *sp, const char *qid)
{
    const struct spool_entry *e = spool_lookup(sp, qid);
    bool held;
    int rc;

    if (!e)
        return SPOOL_ERR_NOTFOUND;
    held = e->place == SPOOL_HELD;
    rc = spool_remove(sp, qid, "deleted by admin");
    if (rc == SPOOL_OK && !held)
        rc = spool_sync(sp);
    return rc;
}

static int move_message(struct spool *sp, const char *qid, enum spool_place to)
{
    struct spool_entry *e = spool_index_find(sp, qid, NULL);
    char name[QUEUE_ID_SIZE + 8];
    int from_fd, to_fd, err;

    if (!e || e->place == to)
        return SPOOL_ERR_NOTFOUND;
    from_fd = sp->dirfd[place_dir(e)];
    to_fd = sp->dirfd[to == SPOOL_HELD ? SD_HOLD : SD_QUEUE];
    /* envelope first: recovery follows the envelope and fetches the data after it. A message
     * whose envelope was never rewritten has none beside it (it is the data's trailer). */
    file_name(name, sizeof(name), qid, "env");
    err = spool_renameat(from_fd, name, to_fd, name);
    bool had_env = !err;
    if (err == ENOENT)
        err = 0;
    if (!err) {
        file_name(name, sizeof(name), qid, "data");
        err = spool_renameat(from_fd, name, to_fd, name);
        if (err && had_env) {
            file_name(name, sizeof(name), qid, "env");
            renameat(to_fd, name, from_fd, name);
        }
    }
    if (err) {
        errno = err;
        log_warn("spool %s failed id=%s", to == SPOOL_HELD ? "hold" : "release", qid);
        return spool_errno_status(err);
    }
    /* both files moved: the index follows the disk even if an fsync below fails */
    e->place = to;
    err = spool_fsync_dir(to_fd);
    if (!err)
        err = spool_fsync_dir(from_fd);
    if (err) {
        errno = err;
        log_warn("spool %s not durable id=%s", to == SPOOL_HELD ? "hold" : "release", qid);
        return spool_errno_status(err);
    }
    log_info("spool %s id=%s", to == SPOOL_HELD ? "held" : "released", qid);
    return SPOOL_OK;
}

int spool_hold(struct spool *sp, const char *qid)
{
    return move_message(sp, qid, SPOOL_HELD);
}

int spool_release(struct spool *sp, const char *qid)
{
    return move_message(sp, qid, SPOOL_QUEUED);
}

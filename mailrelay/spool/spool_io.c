/*
 * spool_io.c — the spool's primitive file operations: write, fdatasync, directory fsync, rename,
 * whole-file write, errno to status, and the fault injection tests use to make each of them fail.
 *
 * The lowest layer of the spool: spool_index.c, spool_commit.c, spool_recover.c and spool.c call it;
 * it calls nothing of theirs. Needs: POSIX file I/O.
 */
#include "spool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

const char *const spool_dir_names[SD_COUNT] = { "incoming", "queue", "hold", "quarantine" };

const char *spool_strerror(int status)
{
    switch (status) {
    case SPOOL_OK: return "ok";
    case SPOOL_ERR_NOSPACE: return "no space left on spool";
    case SPOOL_ERR_IO: return "spool I/O error";
    case SPOOL_ERR_NOMEM: return "out of memory";
    case SPOOL_ERR_NOTFOUND: return "no such message";
    case SPOOL_ERR_LOCKED: return "spool in use by another process";
    case SPOOL_ERR_INVALID: return "invalid request";
    }
    return "unknown spool error";
}

int spool_errno_status(int e)
{
    switch (e) {
    case 0: return SPOOL_OK;
    case ENOSPC: case EDQUOT: case EFBIG: return SPOOL_ERR_NOSPACE;
    case ENOMEM: return SPOOL_ERR_NOMEM;
    case ENOENT: return SPOOL_ERR_NOTFOUND;
    }
    return SPOOL_ERR_IO;
}

/* ---- fault injection and I/O helpers ------------------------------------------------------ */

static struct { unsigned nth; int err; } faults[SPOOL_FAULT_OPS];

void spool_test_fault(enum spool_fault_op op, unsigned nth, int err)
{
    if ((unsigned)op < SPOOL_FAULT_OPS) {
        faults[op].nth = nth;
        faults[op].err = err;
    }
}

int spool_fault_take(enum spool_fault_op op)
{
    if (!faults[op].err || faults[op].nth == 0)
        return 0;
    if (--faults[op].nth > 0)
        return 0;
    return faults[op].err;
}

int spool_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    int e = spool_fault_take(SPOOL_FAULT_WRITE);

    if (e)
        return e;
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* MAILTUN_TEST_NO_FSYNC (make NOFSYNC=1, build-nofsync/ only, never installed) makes the
 * two syncs below no-ops: the power-cut lab's negative control, which must then lose mail. */
#ifdef MAILTUN_TEST_NO_FSYNC
#define SPOOL_SYNC(call) (0)
#else
#define SPOOL_SYNC(call) (call)
#endif

int spool_fdatasync(int fd)
{
    int e = spool_fault_take(SPOOL_FAULT_FSYNC);

    if (e)
        return e;
    return SPOOL_SYNC(fdatasync(fd)) < 0 ? errno : 0;
}

int spool_fsync_dir(int dirfd)
{
    int e = spool_fault_take(SPOOL_FAULT_FSYNC);

    if (e)
        return e;
    return SPOOL_SYNC(fsync(dirfd)) < 0 ? errno : 0;
}

int spool_renameat(int from, const char *a, int to, const char *b)
{
    int e = spool_fault_take(SPOOL_FAULT_RENAME);

    if (e)
        return e;
    return renameat(from, a, to, b) < 0 ? errno : 0;
}

int spool_write_file(int dirfd, const char *name, const char *text, size_t len)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    int e;

    if (fd < 0)
        return errno;
    e = spool_write_all(fd, text, len);
    if (!e)
        e = spool_fdatasync(fd);
    if (close(fd) < 0 && !e)
        e = errno;
    if (e)
        unlinkat(dirfd, name, 0);
    return e;
}

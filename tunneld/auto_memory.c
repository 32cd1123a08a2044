/*
 * auto_memory.c — the transport auto last came up with, kept in <state_dir>/auto-transport
 * (auto_memory.h). Not fsynced: it is advice, and a memory lost in a power cut only means
 * PPTP first once more.
 */
#include "auto_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Only the transports auto chooses between; plain l2tp is never auto's choice. */
static int known(const char *name)
{
    return strcmp(name, "pptp") == 0 || strcmp(name, "l2tp-ipsec") == 0;
}

int auto_memory_load(const char *state_dir, char *name, size_t len, char *err, size_t errlen)
{
    char path[4096], buf[32];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", state_dir, AUTO_MEMORY_FILE);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (!known(buf) || strlen(buf) >= len) {
        snprintf(err, errlen, "%s: not a transport auto uses (pptp or l2tp-ipsec); ignored", path);
        return -1;
    }
    snprintf(name, len, "%s", buf);
    return 1;
}

int auto_memory_save(const char *state_dir, const char *name, char *err, size_t errlen)
{
    char path[4096], tmp[4200];
    size_t len = strlen(name);
    int fd, ok;

    if (!known(name)) {
        snprintf(err, errlen, "'%s' is not a transport auto uses", name);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", state_dir, AUTO_MEMORY_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    ok = write(fd, name, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    if (close(fd) < 0)
        ok = 0;
    if (!ok || rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: %s", ok ? path : tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/*
 * ipc_io.c — blocking, time-bounded send and receive of control frames (see ipc_io.h).
 *
 * For short request/answer exchanges by clients that may block: the pppd plugin and
 * mailtunctl. poll() bounds every wait, so a stuck peer costs at most the timeout.
 */
#include "ipc_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int ipc_connect(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

long ipc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Waits for fd to become ready for events before the deadline; 0, or -1 with errno
 * (EINTR when a signal came and stop() says to give up). */
static int wait_fd(int fd, short events, long deadline, int (*stop)(void))
{
    for (;;) {
        long left = deadline - ipc_now_ms();
        struct pollfd p = { .fd = fd, .events = events };
        int n;
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && (errno != EINTR || (stop && stop())))
            return -1;
    }
}

int ipc_send(int fd, const struct ipc_builder *b, int timeout_ms)
{
    long deadline = ipc_now_ms() + timeout_ms;
    size_t off = 0;

    if (b->overflow) {
        errno = EMSGSIZE;
        return -1;
    }
    while (off < b->len) {
        ssize_t n;
        if (wait_fd(fd, POLLOUT, deadline, NULL) < 0)
            return -1;
        n = send(fd, b->buf + off, b->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

/* Reads exactly want bytes into buf; 0, or -1 with *why set. */
static int read_exact(int fd, uint8_t *buf, size_t want, long deadline, int (*stop)(void),
                      const char **why)
{
    size_t got = 0;
    while (got < want) {
        ssize_t n;
        if (wait_fd(fd, POLLIN, deadline, stop) < 0) {
            *why = errno == ETIMEDOUT ? "timeout" : errno == EINTR ? "interrupted" : "poll failed";
            return -1;
        }
        n = recv(fd, buf + got, want - got, MSG_DONTWAIT);
        if (n == 0) {
            *why = "connection closed";
            return -1;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            *why = "read failed";
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

int ipc_recv(int fd, uint8_t *buf, struct ipc_msg *msg, int timeout_ms, const char **why)
{
    return ipc_recv_until(fd, buf, msg, ipc_now_ms() + timeout_ms, NULL, why);
}

int ipc_recv_until(int fd, uint8_t *buf, struct ipc_msg *msg, long deadline,
                   int (*stop)(void), const char **why)
{
    size_t plen, consumed;

    if (read_exact(fd, buf, IPC_HEADER_LEN, deadline, stop, why) < 0)
        return -1;
    plen = (size_t)buf[6] << 8 | buf[7];
    if (plen > IPC_MAX_PAYLOAD) {
        *why = "payload too long";
        return -1;
    }
    if (read_exact(fd, buf + IPC_HEADER_LEN, plen, deadline, stop, why) < 0)
        return -1;
    if (ipc_decode(buf, IPC_HEADER_LEN + plen, msg, &consumed, why) != IPC_COMPLETE) {
        if (!*why)
            *why = "incomplete frame";
        return -1;
    }
    return 0;
}

/*
 * request.c — one request/answer exchange with a daemon's control socket, for every verb.
 * Errors say which daemon, which socket and what went wrong, e.g. that it is not running.
 */
#include "ctl.h"
#include "ipc_io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int ctl_request(const char *socket_path, const char *daemon, struct ipc_builder *req,
                uint8_t *buf, struct ipc_msg *answer, int timeout_ms)
{
    const char *why;
    int fd;

    if (!ipc_finish(req)) {
        fprintf(stderr, "mailtunctl: request too large\n");
        return -1;
    }
    fd = ipc_connect(socket_path);
    if (fd < 0) {
        if (errno == ENOENT || errno == ECONNREFUSED)
            fprintf(stderr, "mailtunctl: %s is not running (no listener on %s)\n", daemon, socket_path);
        else
            fprintf(stderr, "mailtunctl: cannot reach %s on %s: %s\n", daemon, socket_path, strerror(errno));
        return -1;
    }
    if (ipc_send(fd, req, timeout_ms) < 0) {
        fprintf(stderr, "mailtunctl: sending to %s failed: %s\n", daemon, strerror(errno));
        close(fd);
        return -1;
    }
    if (ipc_recv(fd, buf, answer, timeout_ms, &why) < 0) {
        fprintf(stderr, "mailtunctl: no answer from %s on %s: %s\n", daemon, socket_path, why);
        close(fd);
        return -1;
    }
    close(fd);
    if (answer->type == IPC_ERROR) {
        char text[256] = "no reason given";
        ipc_get_str(answer, ATTR_TEXT, text, sizeof(text));
        fprintf(stderr, "mailtunctl: %s refused: %s\n", daemon, text);
        return -1;
    }
    return 0;
}

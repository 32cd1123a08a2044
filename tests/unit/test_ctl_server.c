/* test_ctl_server.c — the control socket: request/answer, broadcast by flags, malformed
 * clients dropped, client close from inside the handler, slots (per uid, root's reserve),
 * silent clients dropped. Real Unix socket in /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>

#include "ctl_server.h"
#include "ipc_io.h"

static int gone_count;

static void on_msg(struct ctl_client *c, const struct ipc_msg *m, void *arg)
{
    switch (m->type) {
    case IPC_HELLO: ctl_client_ok(c, "hello"); break;
    case IPC_SUBSCRIBE: ctl_client_set_flags(c, 1); ctl_client_ok(c, NULL); break;
    case IPC_TRACE_STOP: ctl_client_error(c, "bye"); ctl_client_close(c); break;
    default: ctl_client_error(c, "unknown"); break;
    }
}

static void on_gone(struct ctl_client *c, void *arg) { gone_count++; }

static void spin(struct event_base *base)
{
    struct timeval tv = { 0, 30000 };
    for (int i = 0; i < 3; i++) {
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

static int request(struct event_base *base, int fd, uint16_t type, struct ipc_msg *m, uint8_t *buf)
{
    struct ipc_builder b;
    const char *why;
    ipc_begin(&b, type);
    ipc_finish(&b);
    assert_int_equal(ipc_send(fd, &b, 1000), 0);
    spin(base);
    return ipc_recv(fd, buf, m, 1000, &why);
}

static void test_request_broadcast_close(void **state)
{
    struct event_base *base = event_base_new();
    char path[64], err[256], text[64];
    struct ctl_server *s;
    uint8_t buf[IPC_MAX_FRAME];
    struct ipc_msg m;
    struct ipc_builder b;
    const char *why;
    int a, sub;

    snprintf(path, sizeof(path), "/tmp/mailtun-ctl-test-%d.sock", (int)getpid());
    s = ctl_server_open(base, path, (gid_t)-1, on_msg, on_gone, NULL, err, sizeof(err));
    assert_non_null(s);
    a = ipc_connect(path);
    sub = ipc_connect(path);
    assert_true(a >= 0 && sub >= 0);
    spin(base);
    assert_int_equal(ctl_server_nclients(s), 2);

    assert_int_equal(request(base, a, IPC_HELLO, &m, buf), 0);
    assert_int_equal(m.type, IPC_OK);
    assert_int_equal(ipc_get_str(&m, ATTR_TEXT, text, sizeof(text)), 0);
    assert_string_equal(text, "hello");
    assert_int_equal(request(base, sub, IPC_SUBSCRIBE, &m, buf), 0);
    assert_int_equal(m.type, IPC_OK);

    /* only the subscriber gets the event */
    ipc_begin(&b, IPC_LINK_UP);
    ipc_put_str(&b, ATTR_IFNAME, "ppp0");
    ipc_finish(&b);
    ctl_server_broadcast(s, 1, &b);
    spin(base);
    assert_int_equal(ipc_recv(sub, buf, &m, 1000, &why), 0);
    assert_int_equal(m.type, IPC_LINK_UP);
    assert_int_equal(ipc_recv(a, buf, &m, 100, &why), -1);
    assert_string_equal(why, "timeout");

    /* the handler closes the client after answering: answer arrives, then EOF */
    assert_int_equal(request(base, a, IPC_TRACE_STOP, &m, buf), 0);
    assert_int_equal(m.type, IPC_ERROR);
    assert_int_equal(ipc_recv(a, buf, &m, 500, &why), -1);
    assert_string_equal(why, "connection closed");
    assert_int_equal(gone_count, 1);

    /* garbage drops the client without harming the others */
    assert_int_equal(write(sub, "GARBAGE!", 8), 8);
    spin(base);
    assert_int_equal(gone_count, 2);
    assert_int_equal(ctl_server_nclients(s), 0);

    close(a);
    close(sub);
    ctl_server_close(s);
    assert_int_equal(access(path, F_OK), -1);
    event_base_free(base);
}

/* Connects with euid uid (SO_PEERCRED records it), then lets the server accept. The socket
 * is root:root 0660 and the egid stays 0, so any uid reaches it as a group member would. */
static int connect_as(struct event_base *base, const char *path, uid_t uid)
{
    int fd;
    assert_int_equal(seteuid(uid), 0);
    fd = ipc_connect(path);
    assert_int_equal(seteuid(0), 0);
    assert_true(fd >= 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    return fd;
}

/* The server closed fd (refused or dropped) if a read sees EOF. */
static int is_closed(int fd)
{
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* One local user cannot take every slot: per-uid limit, and root's reserve. */
static void test_slots_per_uid_and_root_reserve(void **state)
{
    struct event_base *base = event_base_new();
    char path[64], err[256];
    struct ctl_server *s;
    int fds[CTL_MAX_CLIENTS + 16], n = 0, refused = 0;

    if (geteuid() != 0) {
        skip();     /* needs to connect under other uids */
    }
    snprintf(path, sizeof(path), "/tmp/mailtun-ctl-slots-%d.sock", (int)getpid());
    s = ctl_server_open(base, path, (gid_t)-1, on_msg, on_gone, NULL, err, sizeof(err));
    assert_non_null(s);

    /* one user opening twice its share keeps CTL_MAX_PER_UID */
    for (int i = 0; i < 2 * CTL_MAX_PER_UID; i++)
        fds[n++] = connect_as(base, path, 65534);
    spin(base);
    assert_int_equal(ctl_server_nclients(s), CTL_MAX_PER_UID);
    for (int i = 0; i < n; i++)
        refused += is_closed(fds[i]);
    assert_int_equal(refused, CTL_MAX_PER_UID);

    /* many users fill what is not root's; the next non-root user is refused */
    for (uid_t u = 65533; ctl_server_nclients(s) < CTL_MAX_CLIENTS - CTL_RESERVED_ROOT; u--)
        for (int i = 0; i < CTL_MAX_PER_UID; i++)
            fds[n++] = connect_as(base, path, u);
    spin(base);
    assert_int_equal(ctl_server_nclients(s), CTL_MAX_CLIENTS - CTL_RESERVED_ROOT);
    fds[n] = connect_as(base, path, 1000);
    spin(base);
    assert_true(is_closed(fds[n]));
    n++;
    assert_int_equal(ctl_server_nclients(s), CTL_MAX_CLIENTS - CTL_RESERVED_ROOT);

    /* root still gets its reserved slots, and no more than the total */
    for (int i = 0; i < CTL_RESERVED_ROOT; i++)
        fds[n++] = connect_as(base, path, 0);
    spin(base);
    assert_int_equal(ctl_server_nclients(s), CTL_MAX_CLIENTS);
    fds[n] = connect_as(base, path, 0);
    spin(base);
    assert_true(is_closed(fds[n]));
    n++;

    for (int i = 0; i < n; i++)
        close(fds[i]);
    ctl_server_close(s);
    event_base_free(base);
}

/* A client that never sends a frame is dropped after the timeout; one that spoke stays. */
static void test_silent_client_dropped(void **state)
{
    struct event_base *base = event_base_new();
    char path[64], err[256];
    struct ctl_server *s;
    uint8_t buf[IPC_MAX_FRAME];
    struct ipc_msg m;
    int quiet, talker;

    snprintf(path, sizeof(path), "/tmp/mailtun-ctl-silent-%d.sock", (int)getpid());
    s = ctl_server_open(base, path, (gid_t)-1, on_msg, on_gone, NULL, err, sizeof(err));
    assert_non_null(s);
    ctl_server_set_first_frame_timeout(s, 150);
    quiet = ipc_connect(path);
    talker = ipc_connect(path);
    assert_true(quiet >= 0 && talker >= 0);
    assert_int_equal(request(base, talker, IPC_HELLO, &m, buf), 0);
    assert_int_equal(m.type, IPC_OK);
    assert_int_equal(ctl_server_nclients(s), 2);
    spin(base);
    spin(base);     /* 180 ms: past the timeout */
    assert_int_equal(ctl_server_nclients(s), 1);
    assert_true(is_closed(quiet));
    assert_false(is_closed(talker));
    close(quiet);
    close(talker);
    ctl_server_close(s);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_broadcast_close),
        cmocka_unit_test(test_slots_per_uid_and_root_reserve),
        cmocka_unit_test(test_silent_client_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

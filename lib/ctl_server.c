/*
 * ctl_server.c — control socket listener and clients on libevent (see ctl_server.h).
 */
#include "ctl_server.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

struct ctl_client {
    struct ctl_server *srv;
    struct bufferevent *bev;
    struct ctl_client *next;
    struct ucred cred;
    unsigned flags;
    void *data;
    struct event *silent;   /* armed until the first frame: a client that never speaks goes */
    int closing;
    int busy;       /* inside the message handler: freeing is deferred */
    int dead;       /* freed while busy; destroyed when the handler returns */
};

struct ctl_server {
    struct evconnlistener *listener;
    char *path;
    ctl_msg_fn on_msg;
    ctl_gone_fn on_gone;
    void *arg;
    struct ctl_client *clients;
    size_t nclients;
    long first_frame_ms;
    time_t refused_logged;      /* refusals are logged at most once a second */
    unsigned long refused;
};

static void client_free(struct ctl_client *c)
{
    struct ctl_server *s = c->srv;
    if (c->busy) {
        c->dead = 1;
        return;
    }
    for (struct ctl_client **p = &s->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    s->nclients--;
    if (s->on_gone)
        s->on_gone(c, s->arg);
    if (c->silent)
        event_free(c->silent);
    bufferevent_free(c->bev);
    free(c);
}

static void on_read(struct bufferevent *bev, void *ctx)
{
    struct ctl_client *c = ctx;
    struct evbuffer *in = bufferevent_get_input(bev);

    while (!c->closing) {
        size_t have = evbuffer_get_length(in), used;
        const uint8_t *buf;
        struct ipc_msg m;
        const char *why;
        enum ipc_result r;

        if (have == 0)
            return;
        buf = evbuffer_pullup(in, have < IPC_MAX_FRAME ? (ssize_t)have : IPC_MAX_FRAME);
        r = ipc_decode(buf, have < IPC_MAX_FRAME ? have : IPC_MAX_FRAME, &m, &used, &why);
        if (r == IPC_INCOMPLETE)
            return;
        if (r == IPC_MALFORMED) {
            log_warnx("control client dropped pid=%d uid=%d reason=\"%s\"", (int)c->cred.pid,
                      (int)c->cred.uid, why);
            client_free(c);
            return;
        }
        if (c->silent) {
            event_free(c->silent);
            c->silent = NULL;
        }
        /* Work on a copy: the handler may close the client, which frees its buffers. */
        uint8_t frame[IPC_MAX_FRAME];
        memcpy(frame, buf, used);
        evbuffer_drain(in, used);
        ipc_decode(frame, used, &m, &used, &why);
        c->busy = 1;
        c->srv->on_msg(c, &m, c->srv->arg);
        c->busy = 0;
        if (c->dead) {
            client_free(c);
            return;
        }
    }
}

static void on_write(struct bufferevent *bev, void *ctx)
{
    struct ctl_client *c = ctx;
    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        client_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
    struct ctl_client *c = ctx;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        client_free(c);
}

static void on_silent(evutil_socket_t fd, short what, void *arg)
{
    struct ctl_client *c = arg;
    log_warnx("control client dropped pid=%d uid=%d reason=\"no request within %ld ms\"",
              (int)c->cred.pid, (int)c->cred.uid, c->srv->first_frame_ms);
    client_free(c);
}

/*
 * Why a new client may not have a slot, or NULL. Root (mailtund's own pppd, the admin) always
 * finds one of the CTL_RESERVED_ROOT slots the others cannot take, and no other user holds
 * more than CTL_MAX_PER_UID: one local user cannot lock pppd and mailtunctl out.
 */
static const char *slot_refused(const struct ctl_server *s, uid_t uid)
{
    size_t same = 0, others = 0;

    if (s->nclients >= CTL_MAX_CLIENTS)
        return "all slots taken";
    if (uid == 0)
        return NULL;
    for (const struct ctl_client *c = s->clients; c; c = c->next) {
        if (c->cred.uid != 0)
            others++;
        if (c->cred.uid == uid)
            same++;
    }
    if (same >= CTL_MAX_PER_UID)
        return "too many clients of this uid";
    if (others >= CTL_MAX_CLIENTS - CTL_RESERVED_ROOT)
        return "the remaining slots are root's";
    return NULL;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct ctl_server *s = arg;
    struct ctl_client *c;
    struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
    socklen_t len = sizeof(cred);
    const char *why;

    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
    if ((why = slot_refused(s, cred.uid))) {
        time_t now = time(NULL);
        s->refused++;
        if (now != s->refused_logged) {
            log_warnx("control client refused pid=%d uid=%d reason=\"%s\" refused_so_far=%lu",
                      (int)cred.pid, (int)cred.uid, why, s->refused);
            s->refused_logged = now;
        }
        close(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->cred = cred;
    c->srv = s;
    c->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        close(fd);
        free(c);
        return;
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, IPC_MAX_FRAME * 4);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = s->clients;
    s->clients = c;
    s->nclients++;
    c->silent = evtimer_new(evconnlistener_get_base(l), on_silent, c);
    if (c->silent) {
        struct timeval tv = { s->first_frame_ms / 1000, (s->first_frame_ms % 1000) * 1000 };
        evtimer_add(c->silent, &tv);
    }
}

void ctl_server_set_first_frame_timeout(struct ctl_server *s, long ms) { s->first_frame_ms = ms; }

struct ctl_server *ctl_server_open(struct event_base *base, const char *path, gid_t group,
                                   ctl_msg_fn on_msg, ctl_gone_fn on_gone, void *arg,
                                   char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct ctl_server *s;
    mode_t old;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "control socket path too long: %s", path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->on_msg = on_msg;
    s->on_gone = on_gone;
    s->arg = arg;
    s->first_frame_ms = CTL_FIRST_FRAME_MS;
    unlink(path);   /* a stale socket of a previous run; the pid/lock file guards against two daemons */
    old = umask(0117);
    s->listener = evconnlistener_new_bind(base, on_accept, s,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                          (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (!s->listener) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        free(s->path);
        free(s);
        return NULL;
    }
    if (group != (gid_t)-1 && chown(path, 0, group) < 0)
        log_warn("control socket chown path=%s gid=%d", path, (int)group);
    return s;
}

void ctl_server_close(struct ctl_server *s)
{
    if (!s)
        return;
    while (s->clients)
        client_free(s->clients);
    evconnlistener_free(s->listener);
    unlink(s->path);
    free(s->path);
    free(s);
}

int ctl_client_send(struct ctl_client *c, const struct ipc_builder *b)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (b->overflow || c->closing)
        return -1;
    if (evbuffer_get_length(out) + b->len > CTL_MAX_BACKLOG) {
        log_warnx("control client dropped pid=%d reason=\"not reading its messages\"", (int)c->cred.pid);
        c->closing = 1;
        bufferevent_disable(c->bev, EV_READ);
        evbuffer_drain(out, evbuffer_get_length(out));
        on_write(c->bev, c);
        return -1;
    }
    return bufferevent_write(c->bev, b->buf, b->len) == 0 ? 0 : -1;
}

static void answer(struct ctl_client *c, uint16_t type, const char *text)
{
    struct ipc_builder b;
    ipc_begin(&b, type);
    if (text)
        ipc_put_str(&b, ATTR_TEXT, text);
    ipc_finish(&b);
    ctl_client_send(c, &b);
}

void ctl_client_ok(struct ctl_client *c, const char *text) { answer(c, IPC_OK, text); }
void ctl_client_error(struct ctl_client *c, const char *text) { answer(c, IPC_ERROR, text); }

void ctl_client_close(struct ctl_client *c)
{
    c->closing = 1;
    bufferevent_disable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        client_free(c);
}

void ctl_client_set_flags(struct ctl_client *c, unsigned flags) { c->flags = flags; }
unsigned ctl_client_flags(const struct ctl_client *c) { return c->flags; }
void ctl_client_set_data(struct ctl_client *c, void *data) { c->data = data; }
void *ctl_client_data(const struct ctl_client *c) { return c->data; }
uid_t ctl_client_uid(const struct ctl_client *c) { return c->cred.uid; }
pid_t ctl_client_pid(const struct ctl_client *c) { return c->cred.pid; }

void ctl_server_broadcast(struct ctl_server *s, unsigned flags, const struct ipc_builder *b)
{
    struct ctl_client *c = s->clients, *next;
    for (; c; c = next) {
        next = c->next;     /* a send may drop c */
        if ((c->flags & flags) == flags && !c->closing)
            ctl_client_send(c, b);
    }
}

size_t ctl_server_nclients(const struct ctl_server *s) { return s->nclients; }

/*
 * vici_conn.c — charon's VICI socket on libevent (see vici_conn.h).
 */
#include "vici_conn.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

struct pending {
    vici_reply_cb *cb;
    void *arg;
};

struct vici_conn {
    struct bufferevent *bev;
    struct event *report;             /* deferred "closed" */
    struct vici_conn_events ev;
    struct pending q[VICI_CONN_PENDING];
    size_t head, n;
    int closed;
    char reason[160];
};

/* Fails every outstanding request, then reports "closed" from the event loop. */
static void close_conn(struct vici_conn *c, const char *reason)
{
    struct timeval now = { 0, 0 };

    if (c->closed)
        return;
    c->closed = 1;
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    while (c->n > 0) {
        struct pending p = c->q[c->head];

        c->head = (c->head + 1) % VICI_CONN_PENDING;
        c->n--;
        p.cb(p.arg, NULL, reason);
    }
    evtimer_add(c->report, &now);
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
    struct vici_conn *c = arg;

    c->ev.closed(c->ev.arg, c->reason);
}

static void dispatch(struct vici_conn *c, const struct vici_packet *p)
{
    switch (p->op) {
    case VICI_EVENT:
        c->ev.event(c->ev.arg, p->name, p->msg, p->msglen);
        return;
    case VICI_CMD_RESPONSE: case VICI_CMD_UNKNOWN: case VICI_EVENT_CONFIRM: case VICI_EVENT_UNKNOWN:
        if (c->n == 0) {
            close_conn(c, "vici: an answer nobody asked for");
            return;
        } else {
            struct pending q = c->q[c->head];

            c->head = (c->head + 1) % VICI_CONN_PENDING;
            c->n--;
            q.cb(q.arg, p, NULL);
        }
        return;
    default:
        close_conn(c, "vici: charon sent a request-type packet");
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct vici_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    while (!c->closed) {
        size_t avail = evbuffer_get_length(in);
        uint8_t hdr[4];
        long n;
        const uint8_t *frame;
        struct vici_packet p;
        char err[128];

        if (avail < 4)
            return;
        evbuffer_copyout(in, hdr, 4);
        n = vici_frame(hdr, 4, VICI_MAX_PACKET);
        if (n < 0) {
            close_conn(c, "vici: charon announced a packet over 256 KB");
            return;
        }
        /* vici_frame says 0 with only the header; the length field itself tells the size */
        n = (long)((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3]) + 4;
        if (avail < (size_t)n)
            return;
        frame = evbuffer_pullup(in, n);
        if (!frame) {
            close_conn(c, "vici: out of memory");
            return;
        }
        if (vici_parse(frame, (size_t)n, &p, err, sizeof(err)) < 0) {
            close_conn(c, err);
            return;
        }
        dispatch(c, &p);
        evbuffer_drain(in, n);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct vici_conn *c = arg;
    char why[160];

    if (what & BEV_EVENT_EOF)
        close_conn(c, "vici: charon closed the connection");
    else if (what & BEV_EVENT_ERROR) {
        snprintf(why, sizeof(why), "vici: %s", strerror(EVUTIL_SOCKET_ERROR()));
        close_conn(c, why);
    }
}

struct vici_conn *vici_conn_open(struct event_base *base, const char *path,
                                 const struct vici_conn_events *ev, char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct vici_conn *c;
    int fd;

    if (strncmp(path, "unix://", 7) == 0)
        path += 7;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "vici socket path too long: %s", path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        snprintf(err, errlen, "cannot reach charon's VICI socket %s: %s (is strongSwan's charon running?)",
                 path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c || !(c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)) ||
        !(c->report = evtimer_new(base, on_report, c))) {
        snprintf(err, errlen, "vici: out of memory");
        if (c && c->bev)
            bufferevent_free(c->bev);
        else
            close(fd);
        free(c);
        return NULL;
    }
    c->ev = *ev;
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return c;
}

int vici_conn_send(struct vici_conn *c, const struct vici_builder *b, vici_reply_cb *cb, void *arg)
{
    if (c->closed || c->n == VICI_CONN_PENDING || b->failed || b->len < 5)
        return -1;
    if (bufferevent_write(c->bev, b->data, b->len) < 0)
        return -1;
    c->q[(c->head + c->n) % VICI_CONN_PENDING] = (struct pending){ cb, arg };
    c->n++;
    return 0;
}

void vici_conn_flush(struct vici_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evutil_socket_t fd = bufferevent_getfd(c->bev);

    /* a few hundred octets into a Unix socket: the first write takes them all */
    for (int i = 0; i < 8 && !c->closed && evbuffer_get_length(out) > 0; i++)
        if (evbuffer_write(out, fd) <= 0)
            break;
}

void vici_conn_free(struct vici_conn *c)
{
    if (!c)
        return;
    bufferevent_free(c->bev);
    event_free(c->report);
    free(c);
}

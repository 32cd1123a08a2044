/*
 * link_events.c — the client side of mailtund's event subscription (see link_events.h).
 *
 * Connection states (conn_goto() is the one place they change; each change is logged once):
 *   IDLE        not connected, the retry timer runs
 *   SUBSCRIBING HELLO and SUBSCRIBE sent, waiting for their two OKs
 *   SUBSCRIBED  events arrive
 * The connect() on a Unix socket finishes at once (or fails at once), so there is no
 * "connecting" state. The link state itself (UNKNOWN/UP/DOWN) is what mailtund last said;
 * it becomes UNKNOWN when mailtund goes away, since the link may change without us hearing.
 */
#include "link_events.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ipc.h"
#include "log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

enum conn_state { LE_IDLE, LE_SUBSCRIBING, LE_SUBSCRIBED };

struct link_events {
    struct event_base *base;
    char *path;
    link_up_fn *on_up;
    void *arg;
    enum conn_state cst;
    unsigned oks;               /* OKs received while SUBSCRIBING */
    struct bufferevent *bev;
    struct event *retry;
    unsigned backoff_ms;
    int last_errno;             /* to log a repeated connect failure only once */
    enum link_state link;
    time_t since;
    char ifname[32], local[INET_ADDRSTRLEN], peer[INET_ADDRSTRLEN], reason[128];
};

static const char *conn_state_name(enum conn_state s)
{
    switch (s) {
    case LE_IDLE: return "idle";
    case LE_SUBSCRIBING: return "subscribing";
    case LE_SUBSCRIBED: return "subscribed";
    }
    return "?";
}

const char *link_state_name(enum link_state s)
{
    switch (s) {
    case LINK_UNKNOWN: return "unknown";
    case LINK_UP: return "up";
    case LINK_DOWN: return "down";
    }
    return "?";
}

static void conn_goto(struct link_events *le, enum conn_state to, const char *why)
{
    if (le->cst == to)
        return;
    log_info("link events from=%s to=%s why=\"%s\" socket=%s", conn_state_name(le->cst),
             conn_state_name(to), why, le->path);
    le->cst = to;
}

static void set_link(struct link_events *le, enum link_state to)
{
    if (le->link == to)
        return;
    le->link = to;
    le->since = time(NULL);
}

static void schedule_retry(struct link_events *le)
{
    struct timeval tv = { le->backoff_ms / 1000, (le->backoff_ms % 1000) * 1000 };
    evtimer_add(le->retry, &tv);
    le->backoff_ms = le->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : le->backoff_ms * 2;
}

static void drop(struct link_events *le, const char *why)
{
    if (le->bev) {
        bufferevent_free(le->bev);
        le->bev = NULL;
    }
    if (le->link != LINK_UNKNOWN)
        log_notice("link state=unknown reason=\"lost mailtund: %s\"", why);
    set_link(le, LINK_UNKNOWN);
    conn_goto(le, LE_IDLE, why);
    schedule_retry(le);
}

static void handle(struct link_events *le, const struct ipc_msg *m)
{
    char text[256] = "";
    struct in_addr a;

    switch (m->type) {
    case IPC_OK:
        if (le->cst == LE_SUBSCRIBING && ++le->oks == 2) {
            conn_goto(le, LE_SUBSCRIBED, "mailtund accepted the subscription");
            le->backoff_ms = BACKOFF_MIN_MS;
            le->last_errno = 0;
            if (le->link == LINK_UNKNOWN)
                set_link(le, LINK_DOWN);    /* mailtund sends LINK_UP at once if it is up */
        }
        break;
    case IPC_ERROR:
        ipc_get_str(m, ATTR_TEXT, text, sizeof(text));
        log_warnx("link events refused by mailtund reason=\"%s\"", text);
        drop(le, "refused");
        break;
    case IPC_LINK_UP:
        le->ifname[0] = le->local[0] = le->peer[0] = '\0';
        ipc_get_str(m, ATTR_IFNAME, le->ifname, sizeof(le->ifname));
        if (ipc_get_in4(m, ATTR_LOCAL, &a) == 0)
            inet_ntop(AF_INET, &a, le->local, sizeof(le->local));
        if (ipc_get_in4(m, ATTR_PEER, &a) == 0)
            inet_ntop(AF_INET, &a, le->peer, sizeof(le->peer));
        le->reason[0] = '\0';
        set_link(le, LINK_UP);
        log_notice("link up ifname=%s local=%s peer=%s", le->ifname[0] ? le->ifname : "-",
                   le->local[0] ? le->local : "-", le->peer[0] ? le->peer : "-");
        if (le->on_up)
            le->on_up(le->arg);
        break;
    case IPC_LINK_DOWN:
        le->reason[0] = '\0';
        ipc_get_str(m, ATTR_REASON, le->reason, sizeof(le->reason));
        set_link(le, LINK_DOWN);
        log_notice("link down reason=\"%s\"", le->reason[0] ? le->reason : "-");
        break;
    default:
        log_debug("link events ignored type=%s(%u)", ipc_type_name(m->type), m->type);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct link_events *le = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct ipc_msg m;

    while (le->bev == bev) {
        size_t len = evbuffer_get_length(in), used;
        const char *why = NULL;
        if (!len)
            return;
        if (len > IPC_MAX_FRAME)
            len = IPC_MAX_FRAME;
        const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)len);
        enum ipc_result r = ipc_decode(p, len, &m, &used, &why);
        if (r == IPC_INCOMPLETE)
            return;
        if (r == IPC_MALFORMED) {
            log_warnx("link events malformed frame from mailtund reason=\"%s\"", why);
            drop(le, "malformed frame");
            return;
        }
        handle(le, &m);             /* may drop(): then le->bev != bev */
        if (le->bev == bev)
            evbuffer_drain(in, used);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct link_events *le = arg;
    drop(le, what & BEV_EVENT_EOF ? "mailtund closed the connection" : "connection error");
}

static void try_connect(evutil_socket_t fd_unused, short what, void *arg)
{
    struct link_events *le = arg;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct ipc_builder b;
    int fd;

    if (strlen(le->path) >= sizeof(sun.sun_path)) {
        log_warnx("link events socket path too long path=%s: not subscribing", le->path);
        return;
    }
    memcpy(sun.sun_path, le->path, strlen(le->path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (e != le->last_errno) {
            if (e == EACCES)
                log_warnx("link events cannot reach mailtund socket=%s error=\"%s\" "
                          "(is our user in mailtund's control_group?); retrying", le->path, strerror(e));
            else
                log_notice("link events mailtund not reachable socket=%s error=\"%s\"; retrying "
                           "(mail is received anyway)", le->path, strerror(e));
            le->last_errno = e;
        }
        schedule_retry(le);
        return;
    }
    le->bev = bufferevent_socket_new(le->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!le->bev) {
        close(fd);
        schedule_retry(le);
        return;
    }
    bufferevent_setcb(le->bev, on_read, NULL, on_event, le);
    bufferevent_enable(le->bev, EV_READ | EV_WRITE);
    le->oks = 0;
    ipc_begin(&b, IPC_HELLO);
    ipc_put_str(&b, ATTR_ROLE, "relay");
    ipc_put_u32(&b, ATTR_PID, (uint32_t)getpid());
    ipc_finish(&b);
    bufferevent_write(le->bev, b.buf, b.len);
    ipc_begin(&b, IPC_SUBSCRIBE);
    ipc_finish(&b);
    bufferevent_write(le->bev, b.buf, b.len);
    conn_goto(le, LE_SUBSCRIBING, "connected");
}

struct link_events *link_events_new(struct event_base *base, const char *socket_path,
                                    link_up_fn *on_up, void *arg)
{
    struct link_events *le = calloc(1, sizeof(*le));
    if (!le)
        return NULL;
    le->base = base;
    le->path = strdup(socket_path);
    le->on_up = on_up;
    le->arg = arg;
    le->backoff_ms = BACKOFF_MIN_MS;
    le->since = time(NULL);
    le->retry = evtimer_new(base, try_connect, le);
    if (!le->path || !le->retry) {
        link_events_free(le);
        return NULL;
    }
    event_active(le->retry, EV_TIMEOUT, 0);
    return le;
}

void link_events_free(struct link_events *le)
{
    if (!le)
        return;
    if (le->bev)
        bufferevent_free(le->bev);
    if (le->retry)
        event_free(le->retry);
    free(le->path);
    free(le);
}

enum link_state link_events_state(const struct link_events *le)
{
    return le->link;
}

void link_events_status(const struct link_events *le, struct ipc_builder *b)
{
    ipc_put_kv(b, "link", "%s", link_state_name(le->link));
    ipc_put_kv(b, "link_since_s", "%ld", (long)(time(NULL) - le->since));
    ipc_put_kv(b, "mailtund", "%s", le->cst == LE_SUBSCRIBED ? "connected" : "absent");
    if (le->link == LINK_UP) {
        ipc_put_kv(b, "link_ifname", "%s", le->ifname[0] ? le->ifname : "-");
        ipc_put_kv(b, "link_local", "%s", le->local[0] ? le->local : "-");
        ipc_put_kv(b, "link_peer", "%s", le->peer[0] ? le->peer : "-");
    } else if (le->link == LINK_DOWN && le->reason[0]) {
        ipc_put_kv(b, "link_reason", "%.200s", le->reason);
    }
}

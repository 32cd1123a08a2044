/*
 * pptp_conn.c — TCP transport and timers for the PPTP control connection (see pptp_conn.h).
 *
 * Every event ends in after_event(): write what the state machine queued, re-arm its timer,
 * and report "closed" once it got there. "closed" is reported from a zero-delay timer, never
 * from inside the state machine, so the owner can free us in its callback.
 */
#include "pptp_conn.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define PPTP_CONN_SOCK_OUT_MAX PPTP_CTRL_OUT_MAX   /* unsent octets in the socket's buffer */

struct pptp_conn {
    struct event_base *base;
    struct bufferevent *bev;
    struct event *timer;            /* the state machine's next deadline */
    struct event *connect_timer;    /* TCP connect must finish in time */
    struct event *report;           /* deferred "closed" */
    struct pptp_ctrl ctrl;
    struct pptp_conn_events ev;
    struct in_addr server;
    int connected;
    int closed_reported;
    char close_reason[PPTP_CTRL_REASON_LEN];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Moves what the state machine queued into the socket's buffer, but never past
 * PPTP_CONN_SOCK_OUT_MAX unsent octets there: a server that floods us and never reads keeps
 * the rest in the state machine's own bounded buffer, which closes the connection ("peer
 * not reading") when it fills, instead of growing ours without limit.
 */
static void flush_output(struct pptp_conn *c)
{
    size_t len, queued, room;
    const uint8_t *out = pptp_ctrl_output(&c->ctrl, &len);
    if (!len || !c->connected)
        return;
    queued = evbuffer_get_length(bufferevent_get_output(c->bev));
    room = queued < PPTP_CONN_SOCK_OUT_MAX ? PPTP_CONN_SOCK_OUT_MAX - queued : 0;
    if (len > room)
        len = room;
    if (len && bufferevent_write(c->bev, out, len) == 0)
        pptp_ctrl_consume(&c->ctrl, len);
}

static void after_event(struct pptp_conn *c)
{
    uint64_t next;
    flush_output(c);
    if (pptp_ctrl_state(&c->ctrl) == PPTP_ST_CLOSED) {
        evtimer_del(c->timer);
        if (!c->closed_reported) {
            struct timeval now = { 0, 0 };
            c->closed_reported = 1;
            evtimer_add(c->report, &now);
        }
        return;
    }
    next = pptp_ctrl_next_deadline(&c->ctrl);
    if (next) {
        uint64_t now = now_ms(), wait = next > now ? next - now : 0;
        struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
        evtimer_add(c->timer, &tv);
    } else {
        evtimer_del(c->timer);
    }
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
    struct pptp_conn *c = arg;
    if (c->ev.closed)
        c->ev.closed(c->ev.arg, c->close_reason);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pptp_conn *c = arg;
    pptp_ctrl_tick(&c->ctrl, now_ms());
    after_event(c);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pptp_conn *c = arg;
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &c->server, addr, sizeof(addr));
    log_warnx("pptp connect failed server=%s reason=\"timeout\"", addr);
    pptp_ctrl_lost(&c->ctrl, "TCP connect timeout");
    after_event(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct pptp_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t buf[4096];
    int n;

    while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0 && pptp_ctrl_state(&c->ctrl) != PPTP_ST_CLOSED)
        pptp_ctrl_input(&c->ctrl, buf, (size_t)n, now_ms());
    after_event(c);
}

/* The socket's buffer drained: room for what the state machine still holds. */
static void on_write(struct bufferevent *bev, void *arg)
{
    after_event(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct pptp_conn *c = arg;
    char addr[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &c->server, addr, sizeof(addr));
    if (what & BEV_EVENT_CONNECTED) {
        evtimer_del(c->connect_timer);
        c->connected = 1;
        log_info("pptp connected server=%s", addr);
        pptp_ctrl_connected(&c->ctrl, now_ms());
    } else if (what & BEV_EVENT_EOF) {
        pptp_ctrl_lost(&c->ctrl, "server closed the TCP connection");
    } else if (what & BEV_EVENT_ERROR) {
        char why[PPTP_CTRL_REASON_LEN];
        snprintf(why, sizeof(why), "TCP %s: %s", c->connected ? "error" : "connect failed",
                 strerror(EVUTIL_SOCKET_ERROR()));
        evtimer_del(c->connect_timer);
        pptp_ctrl_lost(&c->ctrl, why);
    }
    after_event(c);
}

static void hook_established(void *arg, const struct pptp_call_info *call)
{
    struct pptp_conn *c = arg;
    if (c->ev.established)
        c->ev.established(c->ev.arg, call);
}

static void hook_cleared(void *arg, const char *reason)
{
    struct pptp_conn *c = arg;
    if (c->ev.cleared)
        c->ev.cleared(c->ev.arg, reason);
}

static void hook_closed(void *arg, const char *reason)
{
    struct pptp_conn *c = arg;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "closed");
}

struct pptp_conn *pptp_conn_open(struct event_base *base, struct in_addr server, uint16_t port,
                                 const struct pptp_ctrl_config *cfg, long connect_timeout_ms,
                                 const struct pptp_conn_events *ev)
{
    struct pptp_conn *c = calloc(1, sizeof(*c));
    struct pptp_ctrl_hooks hooks = { hook_established, hook_cleared, hook_closed, NULL };
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = server };
    struct timeval tv = { connect_timeout_ms / 1000, (connect_timeout_ms % 1000) * 1000 };

    if (!c)
        return NULL;
    c->base = base;
    c->ev = *ev;
    c->server = server;
    hooks.arg = c;
    pptp_ctrl_init(&c->ctrl, cfg, &hooks);
    c->timer = evtimer_new(base, on_timer, c);
    c->connect_timer = evtimer_new(base, on_connect_timeout, c);
    c->report = evtimer_new(base, on_report, c);
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->timer || !c->connect_timer || !c->report || !c->bev) {
        pptp_conn_free(c);
        return NULL;
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    evtimer_add(c->connect_timer, &tv);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        char why[PPTP_CTRL_REASON_LEN];
        snprintf(why, sizeof(why), "TCP connect failed: %s", strerror(errno));
        evtimer_del(c->connect_timer);
        pptp_ctrl_lost(&c->ctrl, why);
        after_event(c);
    }
    return c;
}

void pptp_conn_shutdown(struct pptp_conn *c)
{
    if (!c->connected) {
        pptp_ctrl_lost(&c->ctrl, "shutdown before connected");
    } else {
        pptp_ctrl_shutdown(&c->ctrl, now_ms());
    }
    after_event(c);
}

void pptp_conn_free(struct pptp_conn *c)
{
    if (!c)
        return;
    if (c->bev) {
        evutil_socket_t fd = bufferevent_getfd(c->bev);
        size_t len;
        const uint8_t *out = pptp_ctrl_output(&c->ctrl, &len);
        /* A last StopCCRP or StopCCRQ: small, so a direct write nearly always fits. */
        evbuffer_write(bufferevent_get_output(c->bev), fd);
        if (c->connected && len && fd >= 0 && send(fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            log_debug("pptp last message not sent: %s", strerror(errno));
        bufferevent_free(c->bev);
    }
    if (c->timer)
        event_free(c->timer);
    if (c->connect_timer)
        event_free(c->connect_timer);
    if (c->report)
        event_free(c->report);
    free(c);
}

int pptp_conn_local_addr(const struct pptp_conn *c, struct in_addr *addr)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&sin, &len) < 0 || sin.sin_family != AF_INET)
        return -1;
    *addr = sin.sin_addr;
    return 0;
}

enum pptp_ctrl_state pptp_conn_state(const struct pptp_conn *c)
{
    return pptp_ctrl_state(&c->ctrl);
}

/*
 * uplink.c — rtnetlink watch of the uplink interface (see uplink.h).
 *
 * Two netlink sockets: one subscribed to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and
 * RTNLGRP_IPV4_ROUTE whose messages only arm the debounce timer, and one for the
 * synchronous queries that read the interface's state afresh. Reading the state instead of
 * interpreting each message keeps this correct when messages are lost (ENOBUFS).
 */
#include "uplink.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/rtnl.h>

#define DEBOUNCE_MS 50

struct uplink {
    char ifname[IF_NAMESIZE];
    struct nl_sock *events;
    struct nl_sock *query;
    struct event *readable;
    struct event *debounce;
    struct uplink_state state;
    int route_seen;             /* a route message arrived since the last look */
    uplink_cb cb;
    void *arg;
};

int uplink_usable(const struct uplink_state *s)
{
    return s->present && s->up && s->has_addr;
}

static void read_state(struct uplink *u, struct uplink_state *s)
{
    struct rtnl_link *link = NULL;
    struct nl_cache *addrs = NULL;
    int ifindex;

    memset(s, 0, sizeof(*s));
    s->route_gen = u->state.route_gen;
    if (rtnl_link_get_kernel(u->query, 0, u->ifname, &link) < 0)
        return;
    s->present = 1;
    s->up = (rtnl_link_get_flags(link) & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
    ifindex = rtnl_link_get_ifindex(link);
    rtnl_link_put(link);
    if (rtnl_addr_alloc_cache(u->query, &addrs) < 0)
        return;
    for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *)o;
        struct nl_addr *local = rtnl_addr_get_local(a);
        if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET || !local ||
            (rtnl_addr_get_flags(a) & IFA_F_SECONDARY))
            continue;
        memcpy(&s->addr, nl_addr_get_binary_addr(local), 4);
        s->has_addr = 1;
        break;
    }
    nl_cache_free(addrs);
}

static void describe(const struct uplink_state *s, char *buf, size_t len)
{
    char a[INET_ADDRSTRLEN] = "-";
    if (s->has_addr)
        inet_ntop(AF_INET, &s->addr, a, sizeof(a));
    snprintf(buf, len, "%s%s addr=%s", s->present ? "present" : "absent",
             s->present ? (s->up ? " up" : " down") : "", a);
}

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
    struct uplink *u = arg;
    struct uplink_state now, old = u->state;
    char before[96], after[96];

    read_state(u, &now);
    if (u->route_seen) {
        now.route_gen++;
        u->route_seen = 0;
    }
    if (now.present == old.present && now.up == old.up && now.has_addr == old.has_addr &&
        now.addr.s_addr == old.addr.s_addr && now.route_gen == old.route_gen)
        return;
    u->state = now;
    describe(&old, before, sizeof(before));
    describe(&now, after, sizeof(after));
    if (now.route_gen == old.route_gen || strcmp(before, after) != 0)
        log_info("uplink change ifname=%s was=\"%s\" now=\"%s\"", u->ifname, before, after);
    else
        log_debug("uplink routes changed ifname=%s", u->ifname);
    u->cb(u->arg, &old, &now);
}

static int on_nl_msg(struct nl_msg *msg, void *arg)
{
    struct uplink *u = arg;
    struct nlmsghdr *h = nlmsg_hdr(msg);
    struct timeval tv = { 0, DEBOUNCE_MS * 1000 };

    if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE)
        u->route_seen = 1;
    if (!evtimer_pending(u->debounce, NULL))
        evtimer_add(u->debounce, &tv);
    return NL_OK;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct uplink *u = arg;
    int e = nl_recvmsgs_default(u->events);
    if (e < 0 && e != -NLE_AGAIN) {
        /* Lost messages (ENOBUFS): the state is re-read anyway, so just look again. */
        struct timeval tv = { 0, DEBOUNCE_MS * 1000 };
        log_debug("uplink netlink receive: %s", nl_geterror(e));
        u->route_seen = 1;
        evtimer_add(u->debounce, &tv);
    }
}

struct uplink *uplink_new(struct event_base *base, const char *ifname, uplink_cb cb, void *arg,
                          char *err, size_t errlen)
{
    struct uplink *u = calloc(1, sizeof(*u));
    int e;

    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strlen(ifname) >= sizeof(u->ifname)) {
        snprintf(err, errlen, "uplink interface name too long: %s", ifname);
        free(u);
        return NULL;
    }
    strcpy(u->ifname, ifname);
    u->cb = cb;
    u->arg = arg;
    u->events = nl_socket_alloc();
    u->query = nl_socket_alloc();
    if (!u->events || !u->query) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    nl_socket_disable_seq_check(u->events);
    nl_socket_modify_cb(u->events, NL_CB_VALID, NL_CB_CUSTOM, on_nl_msg, u);
    if ((e = nl_connect(u->events, NETLINK_ROUTE)) < 0 || (e = nl_connect(u->query, NETLINK_ROUTE)) < 0 ||
        (e = nl_socket_add_memberships(u->events, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, 0)) < 0 ||
        (e = nl_socket_set_nonblocking(u->events)) < 0) {
        snprintf(err, errlen, "uplink watch: netlink: %s", nl_geterror(e));
        goto fail;
    }
    u->readable = event_new(base, nl_socket_get_fd(u->events), EV_READ | EV_PERSIST, on_readable, u);
    u->debounce = evtimer_new(base, on_debounce, u);
    if (!u->readable || !u->debounce || event_add(u->readable, NULL) < 0) {
        snprintf(err, errlen, "uplink watch: event setup failed");
        goto fail;
    }
    read_state(u, &u->state);
    {
        char now[96];
        describe(&u->state, now, sizeof(now));
        log_info("uplink watch ifname=%s state=\"%s\"", ifname, now);
    }
    return u;
fail:
    uplink_free(u);
    return NULL;
}

void uplink_get(const struct uplink *u, struct uplink_state *out)
{
    *out = u->state;
}

void uplink_free(struct uplink *u)
{
    if (!u)
        return;
    if (u->readable)
        event_free(u->readable);
    if (u->debounce)
        event_free(u->debounce);
    if (u->events)
        nl_socket_free(u->events);
    if (u->query)
        nl_socket_free(u->query);
    free(u);
}

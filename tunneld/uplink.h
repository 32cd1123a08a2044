/*
 * uplink.h — watches the DSL side of the gateway over rtnetlink (libnl).
 *
 * The uplink is the interface named in [tunnel] uplink: a PPPoE pppN or the Ethernet port
 * towards the DSL router. Any link, IPv4 address or IPv4 route message from the kernel
 * triggers a fresh look at that interface (debounced by 50 ms, so a burst of messages is one
 * look); the callback hears the old and the new state whenever something the tunnel cares
 * about changed: present, up, the primary IPv4 address, or the routes (gateway) behind it.
 * Nothing polls: while the uplink is down the process sleeps in the event loop.
 */
#ifndef MAILTUN_UPLINK_H
#define MAILTUN_UPLINK_H

#include <netinet/in.h>

struct event_base;
struct uplink;

struct uplink_state {
    int present;            /* the interface exists */
    int up;                 /* administratively up and carrier (IFF_UP and IFF_RUNNING) */
    int has_addr;
    struct in_addr addr;    /* primary IPv4 address */
    unsigned route_gen;     /* bumped by every IPv4 route change (gateway may have moved) */
};

/* Usable for dialling: present, up, with an address. */
int uplink_usable(const struct uplink_state *s);

typedef void (*uplink_cb)(void *arg, const struct uplink_state *old, const struct uplink_state *now);

struct uplink *uplink_new(struct event_base *base, const char *ifname, uplink_cb cb, void *arg,
                          char *err, size_t errlen);
void uplink_get(const struct uplink *u, struct uplink_state *out);
void uplink_free(struct uplink *u);

#endif

/*
 * link_events.h — mailrelayd as a subscriber of mailtund's link events.
 *
 * Connects to [relay] mailtund_socket, says IPC_HELLO (role "relay") and IPC_SUBSCRIBE, then
 * hears IPC_LINK_UP {ifname, fixed address, peer} and IPC_LINK_DOWN {reason}. mailrelayd does
 * not need mailtund: while it is absent (or restarting) the link state is "unknown" and the
 * connection is retried with a back-off from 1 s doubling to 30 s. LINK_UP calls on_up (kick
 * delivery, ETRN); the state is shown in mailrelayd's status.
 */
#ifndef MAILTUN_LINK_EVENTS_H
#define MAILTUN_LINK_EVENTS_H

#include <time.h>

struct event_base;
struct ipc_builder;
struct link_events;

enum link_state { LINK_UNKNOWN = 0, LINK_UP, LINK_DOWN };

typedef void link_up_fn(void *arg);

/* Starts connecting at once (from the loop). NULL only when out of memory. */
struct link_events *link_events_new(struct event_base *base, const char *socket_path,
                                    link_up_fn *on_up, void *arg);
void link_events_free(struct link_events *le);

enum link_state link_events_state(const struct link_events *le);
const char *link_state_name(enum link_state s);
/* Adds link=..., link_since=..., and when known link_ifname/link_local/link_peer or
 * link_reason, and mailtund=connected|absent as ATTR_KV pairs. */
void link_events_status(const struct link_events *le, struct ipc_builder *b);

#endif

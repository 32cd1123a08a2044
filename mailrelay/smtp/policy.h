/*
 * policy.h — who may talk to mailrelayd and which recipients it accepts (never an open relay).
 *
 * Fixed-address listeners ("inbound"): if [relay] provider_networks is set, only those
 * clients may connect (others get 554 5.7.1 at the greeting). Recipients must be in
 * [relay] domains; with a [relay] recipients file, the whole address must be listed too
 * (else 550 5.1.1).
 * LAN listeners ("outbound"): only clients in [relay] lan_networks may connect, and they may
 * send to any recipient (the inside server's outbound mail).
 *
 * The smtp_session callbacks carry one context pointer, so every connection has its own
 * struct policy_client naming its listener kind and its address's class.
 */
#ifndef MAILTUN_POLICY_H
#define MAILTUN_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "relay_conf.h"
#include "smtp_session.h"

struct policy;

struct policy_client {
    const struct policy *policy;
    bool lan_listener;      /* accepted on a lan_listen address */
    bool may_relay;         /* set by policy_client_allowed: a lan_networks client on a LAN listener */
};

/* Reads the recipients file (if configured). NULL with err filled on failure. */
struct policy *policy_new(const struct relay_conf *conf, char *err, size_t errlen);
void policy_free(struct policy *p);
size_t policy_nrecipients(const struct policy *p);

/* smtp_callbacks.client_allowed / rcpt_allowed; ctx is a struct policy_client *. */
enum smtp_verdict policy_client_allowed(void *ctx, const char *client_addr);
enum smtp_verdict policy_rcpt_allowed(void *ctx, const char *address);

/* True if addr (printable IPv4/IPv6) is in the CIDR list. */
bool policy_addr_in(const struct conf_cidrs *nets, const char *addr);

#endif

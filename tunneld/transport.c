/*
 * transport.c — picking a transport by name (see transport.h).
 */
#include "transport.h"

#include <string.h>

const struct transport_ops *transport_find(const char *name)
{
    if (name == NULL || strcmp(name, "pptp") == 0)
        return &pptp_transport;
    if (strcmp(name, "l2tp") == 0)
        return &l2tp_transport;
    if (strcmp(name, "l2tp-ipsec") == 0)
        return &l2tp_ipsec_transport;
    return NULL;
}

uint16_t transport_port(const struct transport_ops *ops, const struct tunnel_conf *conf)
{
    return conf->port > 0 ? (uint16_t)conf->port : ops->default_port;
}

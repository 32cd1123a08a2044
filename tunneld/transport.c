/*
 * transport.c — picking a transport by name (see transport.h).
 */
#include "transport.h"

#include <stdio.h>
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

static void one_filter(const struct transport_ops *ops, const struct tunnel_conf *conf, char *buf, size_t len)
{
    if (ops->control_proto)
        snprintf(buf, len, "%s port %u%s%s", ops->control_proto, transport_port(ops, conf),
                 ops->capture_extra ? " or " : "", ops->capture_extra ? ops->capture_extra : "");
    else
        snprintf(buf, len, "%s", ops->capture_extra ? ops->capture_extra : "");
}

int transport_capture_filter(const struct tunnel_conf *conf, char *buf, size_t len)
{
    const struct transport_ops *ops;

    /* auto dials PPTP or L2TP/IPsec and may switch between dials: a trace sees both. */
    if (conf->transport && strcmp(conf->transport, "auto") == 0) {
        char a[128], b[128];
        one_filter(&pptp_transport, conf, a, sizeof(a));
        one_filter(&l2tp_ipsec_transport, conf, b, sizeof(b));
        snprintf(buf, len, "%s or %s", a, b);
        return 0;
    }
    if (!(ops = transport_find(conf->transport))) {
        if (len)
            buf[0] = '\0';
        return -1;
    }
    one_filter(ops, conf, buf, len);
    return 0;
}

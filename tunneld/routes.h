/*
 * routes.h — the routes mailtund puts into the kernel, through libnl (rtnetlink).
 *
 * Two things keep the tunnel working:
 *   1. a host route  SERVER/32 via <uplink gateway> dev <uplink>  in table main, so GRE and
 *      the control connection to the PPTP server never route into the tunnel itself; it is
 *      re-computed (and replaced) when the uplink's gateway changes;
 *   2. a source rule  from FIXED lookup <table>  and in that table  default dev pppN,  so
 *      replies from the fixed address leave through the tunnel, not the DSL default route.
 *      While the link is down that table holds  unreachable default  instead, so nothing
 *      from the fixed address leaks out of the DSL line.
 * Everything added is marked with the route protocol of the config (`ip route` shows
 * "proto 77"), removed by routes_remove_all(), and leftovers of an earlier run (same
 * protocol, table, priority) are removed by routes_open().
 *
 * Every change is logged once ("route add dst=... gw=... dev=..."); errors carry libnl's
 * text in err. Needs CAP_NET_ADMIN. Not thread-safe; one struct routes per daemon.
 */
#ifndef MAILTUN_ROUTES_H
#define MAILTUN_ROUTES_H

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#define ROUTES_DEFAULT_TABLE     1723   /* the PPTP port: easy to recognise in `ip rule` */
#define ROUTES_DEFAULT_PRIORITY  1723   /* before main (32766), after local (0) */
#define ROUTES_DEFAULT_PROTOCOL  77     /* 'M'; not in /etc/iproute2/rt_protos */

struct routes_config {
    uint32_t table;          /* table for the fixed-source routes; 1..252 or > 255 */
    uint32_t rule_priority;  /* priority of "from FIXED lookup table"; 1..32765 */
    uint8_t protocol;        /* rtm_protocol marking our routes and rule; 5..254 */
};

/* Where a destination is reached: the uplink, not the tunnel. */
struct routes_path {
    int has_gateway;
    struct in_addr gateway;
    int ifindex;
    char ifname[IF_NAMESIZE];
    int has_prefsrc;
    struct in_addr prefsrc;  /* source address the kernel would use (routes_lookup only) */
    uint32_t table;          /* table the route came from */
};

struct routes;

/* Fills cfg with the defaults above. */
void routes_config_defaults(struct routes_config *cfg);

/*
 * Connects to rtnetlink and removes what an earlier run with the same protocol, table and
 * priority left behind. NULL on error (reason in err).
 */
struct routes *routes_open(const struct routes_config *cfg, char *err, size_t errlen);

/* Removes leftovers (also called by routes_open). Returns how many objects it removed, -1 on error. */
int routes_remove_stale(struct routes *r, char *err, size_t errlen);

/* The kernel's own answer (RTM_GETROUTE, like `ip route get`), policy rules included. */
int routes_lookup(struct routes *r, struct in_addr dst, struct routes_path *out,
                  char *err, size_t errlen);

/*
 * The path to dst through the uplink: longest-prefix match in table main that ignores the
 * routes we added ourselves (the kernel would answer with our own host route) and anything
 * via the tunnel interface. 0, or -1 with err ("no route ...").
 */
int routes_uplink_path(struct routes *r, struct in_addr dst, struct routes_path *out,
                       char *err, size_t errlen);

/*
 * Adds or replaces the host route to the PPTP server via the current uplink path.
 * Call again whenever the uplink changes. Returns 1 if the kernel's table changed,
 * 0 if it was already right, -1 on error.
 */
int routes_server_host_route(struct routes *r, struct in_addr server, char *err, size_t errlen);

/*
 * The source rule for `fixed` and the default route via ppp_ifname in the config's table.
 * Call when the PPP link is up (IPCP done). Returns 1 if something changed, 0 if not, -1 on error.
 */
int routes_fixed_source_route(struct routes *r, struct in_addr fixed, const char *ppp_ifname,
                              char *err, size_t errlen);

/*
 * Link is down: keeps the rule for `fixed`, makes the table's default "unreachable" so traffic
 * from the fixed address fails fast instead of leaving by the DSL line. 1 changed, 0 not, -1 error.
 */
int routes_fixed_source_down(struct routes *r, struct in_addr fixed, char *err, size_t errlen);

/* Removes every route and rule this struct added (best effort; failures are logged). */
void routes_remove_all(struct routes *r);

/* Frees r; does not touch the kernel (call routes_remove_all() first on shutdown). */
void routes_close(struct routes *r);

#endif

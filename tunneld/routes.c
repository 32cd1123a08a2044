/*
 * routes.c — host route to the PPTP server and the fixed-source rule/table, via libnl.
 *
 * See routes.h for what is installed and why. Design notes:
 *  - "Is it already right?" is always asked of the kernel (a dump), never of our memory:
 *    the kernel drops routes by itself when their interface goes away.
 *  - The uplink path is a longest-prefix match over table main that skips our own routes.
 *    RTM_GETROUTE (routes_lookup) would answer with our own host route once it exists, so it
 *    cannot tell where the server is reached when the uplink gateway changes.
 *  - Everything we add carries cfg.protocol; cleaning up removes exactly what carries it
 *    (in table main and our table) plus rules with our priority and table.
 *
 * Needs: libnl-3, libnl-route-3, CAP_NET_ADMIN; lib/log.h for the change log.
 */
#include "routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "log.h"

struct routes {
    struct routes_config cfg;
    struct nl_sock *sk;
    int have_server;
    struct in_addr server;       /* the host route we maintain */
    int have_fixed;
    struct in_addr fixed;        /* the source of our rule */
    int ppp_ifindex;             /* tunnel interface, never an uplink */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void
routes_config_defaults(struct routes_config *cfg)
{
    cfg->table = ROUTES_DEFAULT_TABLE;
    cfg->rule_priority = ROUTES_DEFAULT_PRIORITY;
    cfg->protocol = ROUTES_DEFAULT_PROTOCOL;
}

/* ---- small conversions ---------------------------------------------------------------- */

static struct nl_addr *
in4_addr(struct in_addr a, unsigned plen)
{
    struct nl_addr *na = nl_addr_build(AF_INET, &a, sizeof(a));

    if (na != NULL)
        nl_addr_set_prefixlen(na, (int)plen);
    return na;
}

/* An nl_addr as IPv4; a missing or empty one (e.g. "default") is 0.0.0.0. */
static struct in_addr
addr_in4(struct nl_addr *na)
{
    struct in_addr a = { 0 };

    if (na != NULL && nl_addr_get_family(na) == AF_INET && nl_addr_get_len(na) == sizeof(a))
        memcpy(&a, nl_addr_get_binary_addr(na), sizeof(a));
    return a;
}

static unsigned
addr_plen(struct nl_addr *na)
{
    return na == NULL ? 0 : nl_addr_get_prefixlen(na);
}

static const char *
table_name(uint32_t table, char *buf, size_t len)
{
    if (table == RT_TABLE_MAIN)
        return "main";
    snprintf(buf, len, "%u", table);
    return buf;
}

static void
ifname_of(int ifindex, char *buf)
{
    if (ifindex <= 0 || if_indextoname((unsigned)ifindex, buf) == NULL)
        snprintf(buf, IF_NAMESIZE, "if%d", ifindex);
}

static int
route_is_ours(const struct routes *r, struct rtnl_route *rt)
{
    return rtnl_route_get_protocol(rt) == r->cfg.protocol;
}

/* Path (gateway, interface) of a route's first next hop. */
static void
route_path(struct rtnl_route *rt, struct routes_path *p)
{
    struct rtnl_nexthop *nh = rtnl_route_get_nnexthops(rt) > 0 ? rtnl_route_nexthop_n(rt, 0) : NULL;
    struct nl_addr *gw = nh != NULL ? rtnl_route_nh_get_gateway(nh) : NULL;

    memset(p, 0, sizeof(*p));
    p->table = rtnl_route_get_table(rt);
    if (gw != NULL && nl_addr_get_len(gw) == sizeof(struct in_addr)) {
        p->has_gateway = 1;
        p->gateway = addr_in4(gw);
    }
    p->ifindex = nh != NULL ? rtnl_route_nh_get_ifindex(nh) : 0;
    ifname_of(p->ifindex, p->ifname);
    if (rtnl_route_get_pref_src(rt) != NULL) {
        p->has_prefsrc = 1;
        p->prefsrc = addr_in4(rtnl_route_get_pref_src(rt));
    }
}

/* One line per route for the change log: "dst=... gw=... dev=... table=..." */
static void
describe_route(struct rtnl_route *rt, char *buf, size_t len)
{
    char dst[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], tb[16];
    struct in_addr d = addr_in4(rtnl_route_get_dst(rt));
    unsigned plen = addr_plen(rtnl_route_get_dst(rt));
    struct routes_path p;

    route_path(rt, &p);
    inet_ntop(AF_INET, &d, dst, sizeof(dst));
    inet_ntop(AF_INET, &p.gateway, gw, sizeof(gw));
    if (rtnl_route_get_type(rt) != RTN_UNICAST) {
        char type[32];
        nl_rtntype2str(rtnl_route_get_type(rt), type, sizeof(type));
        snprintf(buf, len, "dst=%s/%u type=%s table=%s", dst, plen, type,
                 table_name(p.table, tb, sizeof(tb)));
    } else if (p.has_gateway) {
        snprintf(buf, len, "dst=%s/%u gw=%s dev=%s table=%s", dst, plen, gw, p.ifname,
                 table_name(p.table, tb, sizeof(tb)));
    } else {
        snprintf(buf, len, "dst=%s/%u dev=%s table=%s", dst, plen, p.ifname,
                 table_name(p.table, tb, sizeof(tb)));
    }
}

/* ---- kernel state ---------------------------------------------------------------------- */

static int
dump_routes(struct routes *r, struct nl_cache **cache, char *err, size_t errlen)
{
    int e = rtnl_route_alloc_cache(r->sk, AF_INET, 0, cache);

    if (e < 0) {
        seterr(err, errlen, "route dump failed: %s", nl_geterror(e));
        return -1;
    }
    return 0;
}

/* Our route in `table` for exactly dst/plen, or NULL. */
static struct rtnl_route *
find_ours(struct routes *r, struct nl_cache *cache, uint32_t table, struct in_addr dst, unsigned plen)
{
    struct nl_object *o;

    for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
        struct rtnl_route *rt = (struct rtnl_route *)o;
        if (rtnl_route_get_table(rt) == table && route_is_ours(r, rt) &&
            addr_plen(rtnl_route_get_dst(rt)) == plen &&
            addr_in4(rtnl_route_get_dst(rt)).s_addr == dst.s_addr)
            return rt;
    }
    return NULL;
}

static int
delete_route(struct routes *r, struct rtnl_route *rt)
{
    char desc[160];
    int e;

    describe_route(rt, desc, sizeof(desc));
    e = rtnl_route_delete(r->sk, rt, 0);
    if (e < 0 && e != -NLE_OBJ_NOTFOUND) {
        log_warnx("route del %s failed: %s", desc, nl_geterror(e));
        return -1;
    }
    if (e == 0)
        log_info("route del %s", desc);
    return 0;
}

/*
 * Adds or replaces dst/plen in table. type RTN_UNICAST with path (gateway optional), or
 * e.g. RTN_UNREACHABLE without. `old` is what the kernel has now (NULL if nothing).
 */
static int
put_route(struct routes *r, uint32_t table, struct in_addr dst, unsigned plen, uint8_t type,
          const struct routes_path *path, struct rtnl_route *old, char *err, size_t errlen)
{
    struct rtnl_route *rt = rtnl_route_alloc();
    struct nl_addr *na = in4_addr(dst, plen);
    char desc[160], olddesc[160];
    int e = -NLE_NOMEM;

    if (rt == NULL || na == NULL)
        goto out;
    rtnl_route_set_family(rt, AF_INET);
    rtnl_route_set_table(rt, table);
    rtnl_route_set_protocol(rt, r->cfg.protocol);
    rtnl_route_set_type(rt, type);
    if ((e = rtnl_route_set_dst(rt, na)) < 0)
        goto out;
    if (type == RTN_UNICAST) {
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        if (nh == NULL)
            goto out;
        rtnl_route_nh_set_ifindex(nh, path->ifindex);
        if (path->has_gateway) {
            struct nl_addr *gw = in4_addr(path->gateway, 32);
            if (gw == NULL) {
                rtnl_route_nh_free(nh);
                goto out;
            }
            rtnl_route_nh_set_gateway(nh, gw);
            nl_addr_put(gw);
        }
        rtnl_route_add_nexthop(rt, nh);
        rtnl_route_set_scope(rt, path->has_gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    } else {
        rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
    }
    describe_route(rt, desc, sizeof(desc));
    e = rtnl_route_add(r->sk, rt, NLM_F_REPLACE);
    if (e < 0) {
        seterr(err, errlen, "route add %s failed: %s", desc, nl_geterror(e));
    } else if (old != NULL) {
        describe_route(old, olddesc, sizeof(olddesc));
        log_info("route change %s was %s", desc, olddesc);
    } else {
        log_info("route add %s", desc);
    }
out:
    if (e == -NLE_NOMEM)
        seterr(err, errlen, "route add: out of memory");
    nl_addr_put(na);
    if (rt != NULL)
        rtnl_route_put(rt);
    return e < 0 ? -1 : 0;
}

static int
same_path(struct rtnl_route *rt, uint8_t type, const struct routes_path *want)
{
    struct routes_path have;

    if (rtnl_route_get_type(rt) != type)
        return 0;
    if (type != RTN_UNICAST)
        return 1;
    route_path(rt, &have);
    return have.ifindex == want->ifindex && have.has_gateway == want->has_gateway &&
           (!want->has_gateway || have.gateway.s_addr == want->gateway.s_addr);
}

/* Adds/replaces only if the kernel's route differs. 1 changed, 0 not, -1 error. */
static int
ensure_route(struct routes *r, struct nl_cache *cache, uint32_t table, struct in_addr dst,
             unsigned plen, uint8_t type, const struct routes_path *path, char *err, size_t errlen)
{
    struct rtnl_route *old = find_ours(r, cache, table, dst, plen);

    if (old != NULL && same_path(old, type, path))
        return 0;
    return put_route(r, table, dst, plen, type, path, old, err, errlen) < 0 ? -1 : 1;
}

/* ---- rules ------------------------------------------------------------------------------ */

static void
describe_rule(struct rtnl_rule *rule, char *buf, size_t len)
{
    char src[INET_ADDRSTRLEN];
    struct in_addr s = addr_in4(rtnl_rule_get_src(rule));

    inet_ntop(AF_INET, &s, src, sizeof(src));
    snprintf(buf, len, "from=%s/%u table=%u priority=%u", src, addr_plen(rtnl_rule_get_src(rule)),
             rtnl_rule_get_table(rule), rtnl_rule_get_prio(rule));
}

static int
rule_is_ours(const struct routes *r, struct rtnl_rule *rule)
{
    return rtnl_rule_get_family(rule) == AF_INET && rtnl_rule_get_prio(rule) == r->cfg.rule_priority &&
           rtnl_rule_get_table(rule) == r->cfg.table;
}

/* Calls fn for each of our rules; fn returns -1 to stop. Returns count or -1. */
static int
dump_rules(struct routes *r, struct nl_cache **cache, char *err, size_t errlen)
{
    int e = rtnl_rule_alloc_cache(r->sk, AF_INET, cache);

    if (e < 0) {
        seterr(err, errlen, "rule dump failed: %s", nl_geterror(e));
        return -1;
    }
    return 0;
}

static int
delete_rule(struct routes *r, struct rtnl_rule *rule)
{
    char desc[128];
    int e;

    describe_rule(rule, desc, sizeof(desc));
    e = rtnl_rule_delete(r->sk, rule, 0);
    if (e < 0 && e != -NLE_OBJ_NOTFOUND) {
        log_warnx("rule del %s failed: %s", desc, nl_geterror(e));
        return -1;
    }
    if (e == 0)
        log_info("rule del %s", desc);
    return 0;
}

/* Exactly one rule "from fixed/32 lookup table" at our priority. 1 changed, 0 not, -1 error. */
static int
ensure_rule(struct routes *r, struct in_addr fixed, char *err, size_t errlen)
{
    struct nl_cache *cache = NULL;
    struct nl_object *o;
    struct rtnl_rule *rule = NULL;
    struct nl_addr *src = NULL;
    char desc[128];
    int found = 0, changed = 0, e;

    if (dump_rules(r, &cache, err, errlen) < 0)
        return -1;
    for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
        struct rtnl_rule *cur = (struct rtnl_rule *)o;
        if (!rule_is_ours(r, cur))
            continue;
        if (!found && addr_plen(rtnl_rule_get_src(cur)) == 32 &&
            addr_in4(rtnl_rule_get_src(cur)).s_addr == fixed.s_addr &&
            rtnl_rule_get_action(cur) == FR_ACT_TO_TBL) {
            found = 1;
            continue;
        }
        delete_rule(r, cur);    /* another fixed address, or a duplicate */
        changed = 1;
    }
    nl_cache_free(cache);
    if (found)
        return changed;

    if ((rule = rtnl_rule_alloc()) == NULL || (src = in4_addr(fixed, 32)) == NULL) {
        seterr(err, errlen, "rule add: out of memory");
        e = -1;
        goto out;
    }
    rtnl_rule_set_family(rule, AF_INET);
    rtnl_rule_set_prio(rule, r->cfg.rule_priority);
    rtnl_rule_set_table(rule, r->cfg.table);
    rtnl_rule_set_action(rule, FR_ACT_TO_TBL);
    rtnl_rule_set_protocol(rule, r->cfg.protocol);
    rtnl_rule_set_src(rule, src);
    describe_rule(rule, desc, sizeof(desc));
    e = rtnl_rule_add(r->sk, rule, NLM_F_EXCL);
    if (e < 0) {
        seterr(err, errlen, "rule add %s failed: %s", desc, nl_geterror(e));
        e = -1;
    } else {
        log_info("rule add %s", desc);
        e = 1;
    }
out:
    if (src != NULL)
        nl_addr_put(src);
    if (rule != NULL)
        rtnl_rule_put(rule);
    return e;
}

/* ---- public ----------------------------------------------------------------------------- */

static int
config_ok(const struct routes_config *c, char *err, size_t errlen)
{
    if (c->table == 0 || (c->table >= 253 && c->table <= 255)) {
        seterr(err, errlen, "routes: table %u is reserved (0, 253-255)", c->table);
        return 0;
    }
    if (c->rule_priority == 0 || c->rule_priority >= 32766) {
        seterr(err, errlen, "routes: rule priority %u must be 1..32765", c->rule_priority);
        return 0;
    }
    if (c->protocol <= RTPROT_STATIC || c->protocol == 255) {
        seterr(err, errlen, "routes: route protocol %u is reserved (0-4, 255)", c->protocol);
        return 0;
    }
    return 1;
}

struct routes *
routes_open(const struct routes_config *cfg, char *err, size_t errlen)
{
    struct routes *r;
    int e;

    if (!config_ok(cfg, err, errlen))
        return NULL;
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        seterr(err, errlen, "routes: out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    if ((r->sk = nl_socket_alloc()) == NULL) {
        seterr(err, errlen, "routes: netlink socket: out of memory");
        free(r);
        return NULL;
    }
    if ((e = nl_connect(r->sk, NETLINK_ROUTE)) < 0) {
        seterr(err, errlen, "routes: netlink connect: %s", nl_geterror(e));
        routes_close(r);
        return NULL;
    }
    if (routes_remove_stale(r, err, errlen) < 0) {
        routes_close(r);
        return NULL;
    }
    return r;
}

int
routes_remove_stale(struct routes *r, char *err, size_t errlen)
{
    struct nl_cache *cache = NULL;
    struct nl_object *o;
    int n = 0;

    if (dump_routes(r, &cache, err, errlen) < 0)
        return -1;
    for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
        struct rtnl_route *rt = (struct rtnl_route *)o;
        uint32_t t = rtnl_route_get_table(rt);
        if ((t == RT_TABLE_MAIN || t == r->cfg.table) && route_is_ours(r, rt) && delete_route(r, rt) == 0)
            n++;
    }
    nl_cache_free(cache);

    if (dump_rules(r, &cache, err, errlen) < 0)
        return -1;
    for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
        struct rtnl_rule *rule = (struct rtnl_rule *)o;
        if (rule_is_ours(r, rule) && delete_rule(r, rule) == 0)
            n++;
    }
    nl_cache_free(cache);
    return n;
}

int
routes_lookup(struct routes *r, struct in_addr dst, struct routes_path *out, char *err, size_t errlen)
{
    struct nl_addr *na = in4_addr(dst, 32);
    struct rtnl_route *rt = NULL;
    char d[INET_ADDRSTRLEN];
    int e;

    if (na == NULL) {
        seterr(err, errlen, "route get: out of memory");
        return -1;
    }
    e = rtnl_route_lookup(r->sk, na, &rt);
    nl_addr_put(na);
    if (e < 0) {
        inet_ntop(AF_INET, &dst, d, sizeof(d));
        seterr(err, errlen, "route get %s: %s", d, nl_geterror(e));
        return -1;
    }
    route_path(rt, out);
    rtnl_route_put(rt);
    return 0;
}

int
routes_uplink_path(struct routes *r, struct in_addr dst, struct routes_path *out, char *err, size_t errlen)
{
    struct nl_cache *cache = NULL;
    struct nl_object *o;
    struct rtnl_route *best = NULL;
    unsigned best_plen = 0;
    uint32_t best_prio = 0;
    char d[INET_ADDRSTRLEN];
    int rc = 0;

    if (dump_routes(r, &cache, err, errlen) < 0)
        return -1;
    for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
        struct rtnl_route *rt = (struct rtnl_route *)o;
        struct nl_addr *rdst = rtnl_route_get_dst(rt);
        unsigned plen = addr_plen(rdst);
        uint32_t mask = plen == 0 ? 0 : htonl(0xffffffffu << (32 - plen));
        struct routes_path p;

        if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || route_is_ours(r, rt) ||
            rtnl_route_get_tos(rt) != 0 || plen > 32 ||
            ((addr_in4(rdst).s_addr ^ dst.s_addr) & mask) != 0)
            continue;
        if (rtnl_route_get_type(rt) == RTN_UNICAST) {
            route_path(rt, &p);
            if (p.ifindex == 0 || (r->ppp_ifindex != 0 && p.ifindex == r->ppp_ifindex))
                continue;   /* never via the tunnel itself */
            if (rtnl_route_get_nnexthops(rt) > 0 &&
                (rtnl_route_nh_get_flags(rtnl_route_nexthop_n(rt, 0)) & RTNH_F_DEAD))
                continue;
        }
        if (best == NULL || plen > best_plen ||
            (plen == best_plen && rtnl_route_get_priority(rt) < best_prio)) {
            best = rt;
            best_plen = plen;
            best_prio = rtnl_route_get_priority(rt);
        }
    }
    inet_ntop(AF_INET, &dst, d, sizeof(d));
    if (best == NULL) {
        seterr(err, errlen, "no route to %s in table main (outside the tunnel)", d);
        rc = -1;
    } else if (rtnl_route_get_type(best) != RTN_UNICAST) {
        char type[32];
        nl_rtntype2str(rtnl_route_get_type(best), type, sizeof(type));
        seterr(err, errlen, "route to %s in table main is %s", d, type);
        rc = -1;
    } else {
        route_path(best, out);
    }
    nl_cache_free(cache);
    return rc;
}

int
routes_server_host_route(struct routes *r, struct in_addr server, char *err, size_t errlen)
{
    struct routes_path path;
    struct nl_cache *cache = NULL;
    int rc;

    if (routes_uplink_path(r, server, &path, err, errlen) < 0)
        return -1;
    if (dump_routes(r, &cache, err, errlen) < 0)
        return -1;
    /* A different server than before: its old host route goes. */
    if (r->have_server && r->server.s_addr != server.s_addr) {
        struct rtnl_route *old = find_ours(r, cache, RT_TABLE_MAIN, r->server, 32);
        if (old != NULL)
            delete_route(r, old);
        r->have_server = 0;
    }
    rc = ensure_route(r, cache, RT_TABLE_MAIN, server, 32, RTN_UNICAST, &path, err, errlen);
    nl_cache_free(cache);
    if (rc >= 0) {
        r->have_server = 1;
        r->server = server;
    }
    return rc;
}

static int
fixed_source(struct routes *r, struct in_addr fixed, uint8_t type, const struct routes_path *path,
             char *err, size_t errlen)
{
    struct in_addr any = { 0 };
    struct nl_cache *cache = NULL;
    int rc, rc2;

    if (dump_routes(r, &cache, err, errlen) < 0)
        return -1;
    rc = ensure_route(r, cache, r->cfg.table, any, 0, type, path, err, errlen);
    nl_cache_free(cache);
    if (rc < 0)
        return -1;
    /* The route first: a rule pointing at an empty table would send fixed-source traffic
     * on through main, i.e. out of the DSL line. */
    if ((rc2 = ensure_rule(r, fixed, err, errlen)) < 0)
        return -1;
    r->have_fixed = 1;
    r->fixed = fixed;
    return rc || rc2;
}

int
routes_fixed_source_route(struct routes *r, struct in_addr fixed, const char *ppp_ifname,
                          char *err, size_t errlen)
{
    struct routes_path path;
    unsigned idx;

    if (ppp_ifname == NULL || (idx = if_nametoindex(ppp_ifname)) == 0) {
        seterr(err, errlen, "fixed source route: no interface %s", ppp_ifname ? ppp_ifname : "(none)");
        return -1;
    }
    memset(&path, 0, sizeof(path));
    path.ifindex = (int)idx;
    r->ppp_ifindex = (int)idx;
    return fixed_source(r, fixed, RTN_UNICAST, &path, err, errlen);
}

int
routes_fixed_source_down(struct routes *r, struct in_addr fixed, char *err, size_t errlen)
{
    return fixed_source(r, fixed, RTN_UNREACHABLE, NULL, err, errlen);
}

void
routes_remove_all(struct routes *r)
{
    char err[256];

    if (r == NULL)
        return;
    if (routes_remove_stale(r, err, sizeof(err)) < 0)
        log_warnx("routes remove: %s", err);
    r->have_server = 0;
    r->have_fixed = 0;
}

void
routes_close(struct routes *r)
{
    if (r == NULL)
        return;
    if (r->sk != NULL)
        nl_socket_free(r->sk);
    free(r);
}

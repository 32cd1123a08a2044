/*
 * check.c — `mailtunctl check [--defaults]`: is this gateway ready to run mailtun?
 *
 * Loads the config as each daemon would, then looks at the environment those settings
 * need. Every finding is one line, "ok ..." or "FAIL what: why; fix: what to do", and the
 * exit status is 1 if anything failed. --defaults prints every key with its default.
 */
#include "config.h"
#include "ctl.h"
#include "ipsec_creds.h"
#include "relay_conf.h"
#include "tunnel_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static int failures;

static void ok(const char *what) { printf("ok    %s\n", what); }

static void bad(const char *what, const char *why, const char *fix)
{
    printf("FAIL  %s: %s; fix: %s\n", what, why, fix);
    failures++;
}

/* A kernel module is usable if loaded, built in, or present on disk for this kernel. */
static int module_available(const char *name)
{
    char path[512], line[512];
    struct utsname u;
    FILE *f;
    int found = 0;

    snprintf(path, sizeof(path), "/sys/module/%s", name);
    if (access(path, F_OK) == 0)
        return 1;
    if (uname(&u) < 0)
        return 0;
    snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
    if (!(f = fopen(path, "r")))
        return 0;
    snprintf(path, sizeof(path), "/%s.ko", name);
    while (!found && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            found = strstr(line, path) != NULL;
        }
    }
    fclose(f);
    return found;
}

/*
 * Is there a route to the PPTP server outside the tunnel? Read-only, from /proc/net/route
 * (IPv4, main table): the most specific route covering the server whose interface is not a
 * ppp interface. Never touches the routes mailtund manages.
 */
static void check_route(const struct tunnel_conf *t)
{
    FILE *f = fopen("/proc/net/route", "r");
    char line[256], ifname[64], best_if[64] = "", msg[200], a[INET_ADDRSTRLEN];
    unsigned long dst, gw, mask, flags;
    int best_len = -1;
    uint32_t server = ntohl(t->server.s_addr);

    inet_ntop(AF_INET, &t->server, a, sizeof(a));
    if (!f) {
        bad("route to the PPTP server", "cannot read /proc/net/route", "check the system");
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%63s %lx %lx %lx %*d %*d %*d %lx", ifname, &dst, &gw, &flags, &mask) != 5)
            continue;                       /* the header line */
        uint32_t d = ntohl((uint32_t)dst), m = ntohl((uint32_t)mask);
        int len = __builtin_popcount(m);
        if (!(flags & 1) || (server & m) != d || (strncmp(ifname, "ppp", 3) == 0 && strcmp(ifname, t->uplink) != 0))
            continue;
        if (len > best_len) {
            best_len = len;
            snprintf(best_if, sizeof(best_if), "%s", ifname);
        }
    }
    fclose(f);
    if (best_len < 0) {
        snprintf(msg, sizeof(msg), "route to the PPTP server %s", a);
        bad(msg, "none outside the tunnel", "give the uplink a default route (DHCP/PPPoE) or a route to the server");
    } else {
        snprintf(msg, sizeof(msg), "route to the PPTP server %s via %s%s", a, best_if,
                 strcmp(best_if, t->uplink) == 0 ? "" : " (not the configured uplink!)");
        if (strcmp(best_if, t->uplink) == 0)
            ok(msg);
        else
            bad(msg, "the server is not reached over [tunnel] uplink", "set [tunnel] uplink to the DSL interface");
    }
}

static void check_tunnel(const struct tunnel_conf *t)
{
    char msg[600];
    struct stat st;

    check_route(t);
    if (access(t->pppd, X_OK) == 0)
        ok("pppd is installed");
    else
        bad(t->pppd, strerror(errno), "apt-get install ppp, or set [tunnel] pppd");
    /* pppd loads only plugins built for its own version: the plugin's directory says which. */
    {
        char cmd[600], line[128] = "", ver[64] = "", want[80];
        FILE *p;
        snprintf(cmd, sizeof(cmd), "'%s' --version 2>&1", t->pppd);
        if (!strchr(t->pppd, '\'') && (p = popen(cmd, "r"))) {
            if (fgets(line, sizeof(line), p))
                sscanf(line, "pppd version %63s", ver);
            pclose(p);
        }
        snprintf(want, sizeof(want), "/pppd/%s/", ver);
        if (!ver[0]) {
            bad("pppd version", "pppd --version gave no version", "check [tunnel] pppd");
        } else if (strstr(t->plugin, "/pppd/") && !strstr(t->plugin, want)) {
            snprintf(msg, sizeof(msg), "installed pppd is %s but [tunnel] plugin is %s", ver, t->plugin);
            bad("pppd version", msg, "make install builds the plugin for the installed pppd (ppp-dev) and puts it under /usr/lib/pppd/<version>/");
        } else {
            snprintf(msg, sizeof(msg), "pppd %s", ver);
            ok(msg);
        }
    }
    if (access(t->plugin, R_OK) == 0) {
        snprintf(msg, sizeof(msg), "plugin %s found", t->plugin);
        ok(msg);
    } else {
        bad(t->plugin, strerror(errno),
            "make install (it puts mailtun.so into pppd's plugin directory), or set [tunnel] plugin");
    }
    if (t->pppd_options && access(t->pppd_options, R_OK) != 0)
        bad(t->pppd_options, strerror(errno), "create it or remove [tunnel] pppd_options");
    /* The data path of the configured transport: GRE for PPTP, l2tp_ppp for L2TP; auto dials
     * PPTP and may go over to L2TP/IPsec, so it needs both. */
    int is_auto = t->transport && strcmp(t->transport, "auto") == 0;
    int l2tp = is_auto || (t->transport && strncmp(t->transport, "l2tp", 4) == 0);
    int pptp = is_auto || !l2tp;
    const char *const mods[] = { "ppp_generic", pptp ? "pptp" : "", l2tp ? "l2tp_core" : "",
                                 l2tp ? "l2tp_ppp" : "", "ppp_mppe" };
    snprintf(msg, sizeof(msg), "transport %s", is_auto ? "auto (pptp, then l2tp-ipsec)" : l2tp ? "l2tp" : "pptp");
    ok(msg);
    for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
        if (!mods[i][0])
            continue;
        snprintf(msg, sizeof(msg), "kernel module %s", mods[i]);
        if (module_available(mods[i]))
            ok(msg);
        else
            bad(msg, "not available for the running kernel",
                l2tp ? "install a kernel with PPP and L2TP support (Debian's linux-image has l2tp_ppp)"
                     : "install a kernel with PPP and PPTP support (Debian's linux-image has them)");
    }
    if (t->transport && (strcmp(t->transport, "l2tp-ipsec") == 0 || strcmp(t->transport, "auto") == 0)) {
        /* what mailtund reads at each dial, with the same checks */
        struct ipsec_creds cr;
        char why[400];

        if (ipsec_creds_load(t, &cr, why, sizeof(why)) == 0)
            ok(cr.certs ? "IPsec certificates: CA, certificate and its key readable and consistent"
                        : "IPsec pre-shared key file private and long enough");
        else
            bad("IPsec credentials", why, "see mailtun.conf(5), ipsec_psk_file / ipsec_ca, ipsec_cert, ipsec_key");
        ipsec_creds_clear(&cr);
    }
    if (stat("/dev/ppp", &st) == 0 && S_ISCHR(st.st_mode))
        ok("/dev/ppp exists");
    else
        bad("/dev/ppp", "missing", "modprobe ppp_generic (udev creates it), or mknod /dev/ppp c 108 0");
    if (access("/etc/ppp/chap-secrets", R_OK) == 0) {
        FILE *f = fopen("/etc/ppp/chap-secrets", "r");
        char line[512], user[256];
        int found = 0;
        while (f && !found && fgets(line, sizeof(line), f))
            found = sscanf(line, " %255s", user) == 1 && strcmp(user, t->user) == 0;
        if (f)
            fclose(f);
        snprintf(msg, sizeof(msg), "/etc/ppp/chap-secrets has a line for user %s", t->user);
        if (found)
            ok(msg);
        else
            bad(msg, "no such line", "add: <user> <remotename> \"<secret>\" *");
    } else {
        bad("/etc/ppp/chap-secrets", strerror(errno), "create it (mode 600) with the provider's secret");
    }
}

static void check_relay(const struct relay_conf *r)
{
    struct stat st;
    struct passwd *pw = getpwnam(r->user);
    char msg[600];

    if (pw)
        ok("relay user exists");
    else
        bad(r->user, "no such user", "make install creates it, or: adduser --system --group mailtun");
    if (stat(r->spool, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (pw && st.st_uid != pw->pw_uid)
            bad(r->spool, "not owned by the relay user", "chown -R mailtun: the spool directory");
        else if (st.st_mode & 0007)
            bad(r->spool, "readable or writable by others", "chmod 750 the spool directory");
        else
            ok("spool directory owned and private");
    } else {
        bad(r->spool, "missing", "make install creates it, or mkdir it owned by the relay user, mode 750");
    }
    if (!r->tls_cert != !r->tls_key)
        bad("[relay] tls_cert/tls_key", "only one of them set", "set both or neither");
    for (const char *const *p = (const char *const[]){ r->tls_cert, r->tls_key, NULL }; *p; p++) {
        snprintf(msg, sizeof(msg), "%s readable", *p);
        if (access(*p, R_OK) == 0)
            ok(msg);
        else
            bad(*p, strerror(errno), "fix the path in [relay] or create the file");
    }
    if (r->smarthost_secrets) {
        if (stat(r->smarthost_secrets, &st) < 0)
            bad(r->smarthost_secrets, strerror(errno), "create it: one line 'user password', mode 600");
        else if (st.st_mode & 0077)
            bad(r->smarthost_secrets, "readable by others than its owner", "chmod 600 it");
        else
            ok("smarthost secrets file private");
    }
}

int verb_check(const struct ctl_opts *o, int argc, char **argv)
{
    struct tunnel_conf t;
    struct relay_conf r;
    char err[CONF_ERR_LEN];

    if (argc == 2 && strcmp(argv[1], "--defaults") == 0) {
        conf_print_defaults(tunnel_conf_keys, tunnel_conf_nkeys, stdout);
        printf("\n");
        conf_print_defaults(relay_conf_keys, relay_conf_nkeys, stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "mailtunctl check: unexpected argument '%s' (only --defaults)\n", argv[1]);
        return 2;
    }
    failures = 0;
    /* Without a config file nothing else can be judged: say how to get one (a fresh install
     * has none until `make install`), not "correct the named line". */
    if (access(o->conf_path, F_OK) < 0 && errno == ENOENT) {
        if (strcmp(o->conf_path, CTL_DEFAULT_CONF) == 0)
            bad("configuration " CTL_DEFAULT_CONF, "no such file",
                "install the sample with `make install` from the source tree and edit it, "
                "or name your file with -c FILE");
        else
            bad(o->conf_path, "no such file (named with -c)", "give the path of an existing mailtun.conf");
        printf("%d problem%s found\n", failures, failures == 1 ? "" : "s");
        return 1;
    }
    if (tunnel_conf_load(o->conf_path, &t, err) == 0) {
        ok("configuration [tunnel] loads");
        check_tunnel(&t);
    } else {
        bad("configuration [tunnel]", err, "correct the named line (mailtun.conf(5))");
    }
    tunnel_conf_free(&t);
    if (relay_conf_load(o->conf_path, &r, err) == 0) {
        ok("configuration [relay] [inside] [outbound] loads");
        check_relay(&r);
    } else {
        bad("configuration [relay]", err, "correct the named line (mailtun.conf(5))");
    }
    relay_conf_free(&r);
    printf("%d problem%s found\n", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}

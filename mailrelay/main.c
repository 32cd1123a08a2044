/*
 * main.c — mailrelayd: the SMTP relay on the fixed address, with a durable spool.
 *
 *   mailrelayd [-f] [-d] [-n] [-c config]
 *
 * Reads [relay], [inside] and [outbound] of mailtun.conf. Started as root it opens the spool
 * as [relay] user (creating the spool directory for that user if missing), binds the SMTP
 * listeners (IP_FREEBIND: the fixed address may not exist yet) and the control socket, then
 * drops to that user for good (initgroups, setresgid, setresuid). Started as another user it
 * runs as that user. STARTTLS is always offered: the configured tls_cert/tls_key, or else its
 * own key in tls_dir, made at the first start while still root (tls_ownkey.c). The [outbound] secrets file (SMTP AUTH at the smarthost) is read first,
 * as root; the smarthost's connections leave from the fixed address (the first [relay]
 * listen) and hold while mailtund says the tunnel is down.
 *
 * Mail flows: SMTP session (server.c) -> store.c (group commit into the spool) -> 250 ->
 * delivery.c (inside server; smarthost for LAN mail if [outbound] smarthost is set, else
 * outbound mail bounces at once), kicked after every commit and on LINK_UP from mailtund
 * (link_events.c). Bounces of inbound mail are logged and dropped unless [inside]
 * send_bounces = yes: every queue entry ends delivered, bounced or dropped, with a log line.
 *
 * Signals: SIGTERM/SIGINT stop accepting, answer "421" to idle sessions, let sessions whose
 * message is being committed get their answer, then exit (after [relay] timeout_data_term,
 * at most 30 s; a second signal exits at once; what is still queued for the disk is
 * committed before exit either way). SIGHUP is ignored (logged): the configuration and the
 * recipients file are read at start, so restart to change them; logs go to syslog or stderr,
 * which need no reopening.
 */
#include "config.h"
#include "daemon.h"
#include "ctl_server.h"
#include "delivery.h"
#include "etrn.h"
#include "link_events.h"
#include "log.h"
#include "policy.h"
#include "relay_conf.h"
#include "relay_control.h"
#include "relay_metrics.h"
#include "secrets.h"
#include "server.h"
#include "smtp_session.h"
#include "spool.h"
#include "store.h"
#include "tls.h"
#include "tls_fprint.h"
#include "tls_ownkey.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

/* LeakSanitizer inspects the process at exit and needs it dumpable, which setuid() clears. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#define STOP_GRACE_MAX_MS 30000  /* systemd's stop timeout is 90 s */

struct daemon {
    struct event_base *base;
    struct server *server;
    struct event *grace;
    long grace_ms;              /* timeout_data_term, at most STOP_GRACE_MAX_MS */
    int stopping;
};

/* ---- configuration ----------------------------------------------------------------------- */

static void smtp_config_from(const struct relay_conf *c, struct smtp_config *s, int tls)
{
    smtp_config_defaults(s);
    s->hostname = c->hostname;
    s->max_rcpts = (size_t)c->max_recipients;
    s->max_size = (uint64_t)c->max_message_size;
    s->max_commands = (unsigned)c->max_commands;
    s->max_errors = (unsigned)c->max_errors;
    s->tls_available = tls;
    s->cmd_timeout_ms = (unsigned)c->timeout_command_ms;
    s->data_timeout_ms = (unsigned)c->timeout_data_block_ms;
    s->commit_timeout_ms = (unsigned)c->timeout_data_term_ms;
}

/* What conf_load cannot check alone; err names the key. */
static int check_conf(const struct relay_conf *c, const char *path, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why;

    for (size_t i = 0; i < c->listen.n + c->lan_listen.n; i++) {
        int lan = i >= c->listen.n;
        const char *spec = lan ? c->lan_listen.v[i - c->listen.n] : c->listen.v[i];
        if (server_parse_listen(spec, &ss, &len, &why) < 0) {
            snprintf(err, errlen, "%s: [relay] %s: '%s': %s", path, lan ? "lan_listen" : "listen", spec, why);
            return -1;
        }
    }
    if (!c->tls_cert != !c->tls_key) {
        snprintf(err, errlen, "%s: [relay] tls_cert and tls_key must be set together", path);
        return -1;
    }
    if (strcasecmp(c->inside_protocol, "smtp") && strcasecmp(c->inside_protocol, "lmtp")) {
        snprintf(err, errlen, "%s: [inside] protocol: '%s' is neither smtp nor lmtp", path, c->inside_protocol);
        return -1;
    }
    if (c->inside_send_bounces && !c->smarthost.host) {
        snprintf(err, errlen, "%s: [inside] send_bounces = yes needs [outbound] smarthost: "
                 "bounces of inbound mail leave through it", path);
        return -1;
    }
    if (log_level_parse(c->log_level) < 0) {
        snprintf(err, errlen, "%s: [relay] log_level: unknown level '%s'", path, c->log_level);
        return -1;
    }
    return 0;
}

static void delivery_inside(const struct relay_conf *c, struct delivery_config *d)
{
    delivery_config_default(d);
    d->host = c->inside.host;
    d->port = c->inside.port < 0 ? -1 : c->inside.port ? c->inside.port : 25;
    d->lmtp = strcasecmp(c->inside_protocol, "lmtp") == 0;
    d->tls = c->inside_starttls ? SMTPC_TLS_OPPORTUNISTIC : SMTPC_TLS_OFF;
    d->helo_name = c->hostname;
    d->direction = ENV_INBOUND;
    d->retry.base = c->retry_base_ms / 1000;
    d->retry.max_interval = c->retry_max_ms / 1000;
    d->retry.max_lifetime = c->max_lifetime_ms / 1000;
    d->connections = (unsigned)c->inside_connections;
    d->drop_bounces = !c->inside_send_bounces;
}

/* Without a smarthost, outbound mail (LAN mail, bounces queued by an older mailrelayd) has no
 * next hop: it bounces at once instead of waiting in the spool for ever. */
static void delivery_no_route(const struct relay_conf *c, struct delivery_config *d)
{
    delivery_config_default(d);
    d->helo_name = c->hostname;
    d->direction = ENV_OUTBOUND;
    d->no_route = "554 5.4.4 no route for outbound mail: [outbound] smarthost is not set";
}

struct outbound_hold_ctx {
    const struct relay_control *rc;
    const char *mailtund_socket;
};

/* The smarthost's delivery holds while the tunnel is down: its mail would only burn retries
 * (and must not leave through the DSL line). An unknown state holds too while mailtund's
 * socket exists (mailtund starting, restarting, or not answering yet); without that socket
 * mailrelayd runs without mailtund and does not hold. */
static const char *outbound_hold(void *arg)
{
    const struct outbound_hold_ctx *h = arg;
    enum link_state s = h->rc->link ? link_events_state(h->rc->link) : LINK_UNKNOWN;
    struct stat st;

    if (s == LINK_DOWN)
        return "the tunnel is down";
    if (s == LINK_UNKNOWN && stat(h->mailtund_socket, &st) == 0 && S_ISSOCK(st.st_mode))
        return "the tunnel's state is unknown: mailtund's socket exists but mailtund has not told it";
    return NULL;
}

/* The fixed address: the address of the first [relay] listen, unless it is a wildcard. */
static void fixed_address(const struct relay_conf *c, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why;

    out[0] = '\0';
    if (!c->listen.n || server_parse_listen(c->listen.v[0], &ss, &len, &why) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        if (in->sin_addr.s_addr != htonl(INADDR_ANY))
            inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)outlen);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        if (!IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)outlen);
    }
}

/* secret may be NULL (no AUTH); source is the fixed address ("" for none). */
static void delivery_smarthost(const struct relay_conf *c, struct delivery_config *d,
                               const struct smtp_secret *secret, const char *source,
                               struct outbound_hold_ctx *hold)
{
    delivery_config_default(d);
    d->host = c->smarthost.host;
    d->port = c->smarthost.port > 0 ? c->smarthost.port : 25;
    d->tls = c->smarthost_require_tls ? SMTPC_TLS_VERIFY : SMTPC_TLS_OPPORTUNISTIC;
    d->tls_ca_file = c->smarthost_ca;
    d->tls_name = c->smarthost_name;
    d->helo_name = c->hostname;
    d->direction = ENV_OUTBOUND;
    d->retry.base = c->retry_base_ms / 1000;
    d->retry.max_interval = c->retry_max_ms / 1000;
    d->retry.max_lifetime = c->max_lifetime_ms / 1000;
    d->source_addr = source[0] ? source : NULL;
    d->auth_user = secret ? secret->user : NULL;
    d->auth_pass = secret ? secret->pass : NULL;
    d->hold = outbound_hold;
    d->hold_arg = hold;
}

/* ---- privileges -------------------------------------------------------------------------- */

/* Creates the spool directory for pw, or checks it is pw's. Root only. */
static void prepare_spool_dir(const char *dir, const struct passwd *pw)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        if (errno != ENOENT)
            fatal("spool %s", dir);
        if (mkdir(dir, 0700) < 0)
            fatal("cannot create spool %s (does its parent directory exist?)", dir);
        if (chown(dir, pw->pw_uid, pw->pw_gid) < 0)
            fatal("cannot give spool %s to user %s", dir, pw->pw_name);
        log_notice("spool created path=%s owner=%s", dir, pw->pw_name);
        return;
    }
    if (!S_ISDIR(st.st_mode))
        fatalx("spool %s is not a directory", dir);
    if (st.st_uid != pw->pw_uid)
        fatalx("spool %s is owned by uid %d, not by user %s (uid %d): fix with "
               "'chown -R %s %s' or set [relay] user", dir, (int)st.st_uid, pw->pw_name,
               (int)pw->pw_uid, pw->pw_name, dir);
}

static void become(const struct passwd *pw, int for_good)
{
    if (!for_good) {
        if (setegid(pw->pw_gid) < 0 || seteuid(pw->pw_uid) < 0)
            fatal("cannot switch to user %s", pw->pw_name);
        return;
    }
    if (seteuid(0) < 0 || setegid(0) < 0)
        fatal("cannot regain root to drop privileges");
    if (initgroups(pw->pw_name, pw->pw_gid) < 0)
        fatal("initgroups %s", pw->pw_name);
    if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
        fatal("cannot drop privileges to %s", pw->pw_name);
    if (pw->pw_uid != 0 && setuid(0) == 0)
        fatalx("privileges could not be dropped: setuid(0) still works");
#ifdef UNDER_ASAN
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);     /* sanitizer builds only */
#endif
}

/* ---- signals ----------------------------------------------------------------------------- */

static void on_drained(void *arg)
{
    struct daemon *d = arg;
    log_info("sessions drained");
    event_base_loopexit(d->base, NULL);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    log_warnx("stop grace of %ld ms over: closing the remaining sessions", d->grace_ms);
    event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    struct timeval tv = { d->grace_ms / 1000, (d->grace_ms % 1000) * 1000 };

    if (sig == SIGHUP) {
        log_notice("SIGHUP ignored: restart mailrelayd to read the configuration again");
        return;
    }
    if (d->stopping) {
        log_notice("second %s: exiting now", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        event_base_loopexit(d->base, NULL);
        return;
    }
    d->stopping = 1;
    log_notice("stopping signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    evtimer_add(d->grace, &tv);
    server_stop(d->server, on_drained, d);
}

#define METRICS_INTERVAL_S 10

struct metrics_ctx {
    struct relay_control *rc;
    const char *path;
    struct event *timer;
};

static void on_metrics(evutil_socket_t fd, short what, void *arg)
{
    struct metrics_ctx *m = arg;
    struct relay_numbers n;
    struct timeval tv = { METRICS_INTERVAL_S, 0 };
    enum link_state ls = m->rc->link ? link_events_state(m->rc->link) : LINK_UNKNOWN;

    relay_numbers_collect(m->rc, &n);
    if (relay_metrics_write(m->path, &n, ls == LINK_UP ? 1 : ls == LINK_DOWN ? 0 : -1) < 0)
        log_warn("metrics not written path=%s", m->path);
    evtimer_add(m->timer, &tv);
}

static void on_committed(void *arg)
{
    relay_control_kick(arg);
}

/* The tunnel is up: our deferred mail can go, and the provider should push what it holds. */
static void on_link_up(void *arg)
{
    struct relay_control *rc = arg;
    relay_control_kick(rc);
    if (rc->etrn)
        etrn_trigger(rc->etrn);
}

/*
 * The STARTTLS context: the configured certificate, or else mailrelayd's own key in tls_dir,
 * made at the first start (as root, before privileges are dropped). A check (-n) does not
 * create anything: it loads the own pair only if it is there. The fingerprints are logged
 * so the provider's pin can be compared with what this start uses.
 */
static SSL_CTX *open_tls(const struct relay_conf *c, int check_only, int *not_yet, char *err, size_t errlen)
{
    struct tls_own_paths own;
    const char *cert = c->tls_cert, *key = c->tls_key;
    char cfp[TLS_FPRINT_LEN], kfp[TLS_FPRINT_LEN];
    int made = 0;
    SSL_CTX *ctx;

    if (!cert) {
        if (check_only) {
            if ((made = tls_own_check(c->tls_dir, &own, err, errlen)) < 0)
                return NULL;
            if (made == 2) {
                *not_yet = 1;
                return NULL;
            }
        } else if ((made = tls_own_ensure(c->tls_dir, c->hostname, &own, err, errlen)) < 0) {
            return NULL;
        }
        cert = own.cert, key = own.key;
    }
    if (!(ctx = tls_server_ctx_new(cert, key, err, errlen)))
        return NULL;
    if (!check_only && tls_fprint_cert(SSL_CTX_get0_certificate(ctx), cfp, kfp) == 0)
        log_notice("tls %s cert=%s sha256=%s pkey-sha256=%s", !c->tls_cert ? made ? "own key created" : "own key" :
                   "configured", cert, cfp, kfp);
    return ctx;
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct daemon_args args;
    int done, lvl;
    struct relay_conf conf;
    struct smtp_config smtp;
    char err[CONF_ERR_LEN];
    struct passwd *pw = NULL;
    struct policy *policy;
    SSL_CTX *tls = NULL;
    int tls_not_yet = 0;
    struct spool *spool;
    struct store *store;
    struct ctl_server *ctl;
    struct relay_control rc = { 0 };
    struct daemon d = { 0 };
    struct delivery_config dc;
    struct smtp_secret secret;
    struct outbound_hold_ctx hold = { &rc, NULL };
    char source[64];
    struct event *sigs[3];
    const int signos[3] = { SIGTERM, SIGINT, SIGHUP };
    int is_root = geteuid() == 0;

    if ((done = daemon_parse_args("mailrelayd", argc, argv, &args)) >= 0)
        return done;
    if (relay_conf_load(args.conf_path, &conf, err) < 0) {
        fprintf(stderr, "mailrelayd: %s\n", err);
        return 1;
    }
    if (check_conf(&conf, args.conf_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "mailrelayd: %s\n", err);
        relay_conf_free(&conf);
        return 1;
    }
    lvl = log_level_parse(conf.log_level);
    /* The check uses stderr either way; -n must say what is wrong right there. */
    log_init("mailrelayd", args.foreground || args.check_only ? LOG_TO_STDERR : LOG_TO_SYSLOG,
             args.debug ? LOG_LVL_DEBUG : (enum log_level)lvl);
    policy = policy_new(&conf, err, sizeof(err));
    if (!policy) {
        fprintf(stderr, "mailrelayd: %s: [relay] recipients: %s\n", args.conf_path, err);
        relay_conf_free(&conf);
        return 1;
    }
    if (!(tls = open_tls(&conf, args.check_only, &tls_not_yet, err, sizeof(err))) && !tls_not_yet) {
        fprintf(stderr, "mailrelayd: %s: [relay] %s\n", args.conf_path, err);
        policy_free(policy);
        relay_conf_free(&conf);
        return 1;
    }
    /* Read as root, before any privilege is given up; wiped once delivery has its copy. */
    if (conf.smarthost_secrets && secrets_load(conf.smarthost_secrets, &secret, err, sizeof(err)) < 0) {
        fprintf(stderr, "mailrelayd: %s: [outbound] %s\n", args.conf_path, err);
        tls_server_ctx_free(tls);
        policy_free(policy);
        relay_conf_free(&conf);
        return 1;
    }
    if (args.check_only) {
        secrets_wipe(&secret);
        printf("mailrelayd: %s: configuration ok (%zu listener%s, %zu domain%s, %zu listed recipient%s, STARTTLS %s)\n",
               args.conf_path, conf.listen.n + conf.lan_listen.n, conf.listen.n + conf.lan_listen.n == 1 ? "" : "s",
               conf.domains.n, conf.domains.n == 1 ? "" : "s", policy_nrecipients(policy),
               policy_nrecipients(policy) == 1 ? "" : "s",
               tls ? (conf.tls_cert ? "on, configured certificate" : "on, own key") : "on, own key made at the first start");
        tls_server_ctx_free(tls);
        policy_free(policy);
        relay_conf_free(&conf);
        return 0;
    }
    if (conf.lan_listen.n && !conf.smarthost.host)
        log_warnx("[relay] lan_listen is set but [outbound] smarthost is not: LAN mail bounces at once");
    if (conf.lan_listen.n && !conf.lan_networks.n)
        log_warnx("[relay] lan_listen is set but lan_networks is empty: the LAN listeners refuse every client");
    if (conf.smarthost_secrets && !conf.smarthost.host)
        log_warnx("[outbound] secrets is set but smarthost is not: no use for it");
    if (conf.smarthost.host && !conf.smarthost_require_tls)
        log_warnx("[outbound] require_tls = no: the smarthost's certificate is not verified "
                  "(credentials still go only over TLS)");
    smtp_config_from(&conf, &smtp, tls != NULL);
    signal(SIGPIPE, SIG_IGN);

    if (is_root) {
        pw = getpwnam(conf.user);
        if (!pw)
            fatalx("[relay] user %s does not exist: create it (useradd --system %s) or set "
                   "[relay] user; mailrelayd does not keep running as root", conf.user, conf.user);
        if (pw->pw_uid == 0)
            log_warnx("[relay] user is %s (uid 0): mailrelayd keeps running as root", conf.user);
        prepare_spool_dir(conf.spool, pw);
        become(pw, 0);          /* the spool's files belong to the user from the start */
    } else if (strcmp(conf.user, "") != 0) {
        struct passwd *me = getpwuid(geteuid());
        if (!me || strcmp(me->pw_name, conf.user) != 0)
            log_notice("not started as root: running as uid %d, [relay] user %s not used",
                       (int)geteuid(), conf.user);
    }
    if (spool_open(conf.spool, &spool, NULL, err, sizeof(err)) < 0)
        fatalx("spool %s: %s", conf.spool, err);
    if (is_root && (seteuid(0) < 0 || setegid(0) < 0))
        fatal("cannot regain root to bind the listeners");

    d.base = event_base_new();
    if (!d.base)
        fatalx("cannot create the event loop");
    store = store_new(d.base, spool);
    if (!store)
        fatalx("out of memory");
    d.server = server_new(d.base, &conf, &smtp, tls, policy, store, err, sizeof(err));
    if (!d.server)
        fatalx("%s", err);
    if (daemon_make_dir_of(conf.control_socket) < 0)
        fatal("cannot create the directory of %s", conf.control_socket);
    rc.started = time(NULL);
    rc.spool = spool;
    rc.store = store;
    rc.server = d.server;
    ctl = ctl_server_open(d.base, conf.control_socket, is_root ? pw->pw_gid : (gid_t)-1,
                          relay_control_on_msg, relay_control_on_gone, &rc, err, sizeof(err));
    if (!ctl)
        fatalx("%s", err);
    if (conf.inside.host) {
        delivery_inside(&conf, &dc);
        dc.bounce_queued = on_committed;
        dc.bounce_queued_arg = &rc;
        if (!(rc.delivery[0] = delivery_new(d.base, spool, &dc, err, sizeof(err))))
            fatalx("[inside] %s", err);
    }
    if (conf.smarthost.host) {
        fixed_address(&conf, source, sizeof(source));
        hold.mailtund_socket = conf.mailtund_socket;
        delivery_smarthost(&conf, &dc, conf.smarthost_secrets ? &secret : NULL, source, &hold);
        dc.bounce_queued = on_committed;
        dc.bounce_queued_arg = &rc;
        if (!(rc.delivery[1] = delivery_new(d.base, spool, &dc, err, sizeof(err))))
            fatalx("[outbound] %s", err);
        log_notice("outbound smarthost=%s:%d source=%s tls=%s auth=%s", conf.smarthost.host,
                   dc.port, source[0] ? source : "any",
                   conf.smarthost_require_tls ? "verify" : "opportunistic",
                   conf.smarthost_secrets ? secret.user : "none");
    }
    if (!conf.smarthost.host) {
        delivery_no_route(&conf, &dc);
        dc.bounce_queued = on_committed;
        dc.bounce_queued_arg = &rc;
        if (!(rc.delivery[1] = delivery_new(d.base, spool, &dc, err, sizeof(err))))
            fatalx("[outbound] %s", err);
    }
    if (conf.smarthost_secrets)
        secrets_wipe(&secret);
    if (is_root)
        become(pw, 1);

    store_set_committed(store, on_committed, &rc);
    {
        struct etrn_config ec = { .host = &conf.etrn_host, .hostname = conf.hostname,
                                  .domains = &conf.etrn_domains, .attempts = 3, .retry_ms = 10000,
                                  .timeout_ms = 30000 };
        rc.etrn = etrn_new(d.base, &ec);
        if (conf.etrn_host.host && !rc.etrn)
            fatalx("[outbound] etrn_host is set: etrn_domains must name at least one domain");
    }
    rc.link = link_events_new(d.base, conf.mailtund_socket, on_link_up, &rc);
    if (!rc.link)
        fatalx("out of memory");
    if (server_start(d.server, err, sizeof(err)) < 0)
        fatalx("%s", err);
    struct metrics_ctx metrics = { .rc = &rc, .path = conf.metrics_file };
    if (conf.metrics_file) {
        metrics.timer = evtimer_new(d.base, on_metrics, &metrics);
        if (!metrics.timer)
            fatalx("out of memory");
        on_metrics(-1, 0, &metrics);
    }
    d.grace = evtimer_new(d.base, on_grace, &d);
    d.grace_ms = conf.timeout_data_term_ms < STOP_GRACE_MAX_MS ? conf.timeout_data_term_ms : STOP_GRACE_MAX_MS;
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(d.base, signos[i], on_signal, &d);
        evsignal_add(sigs[i], NULL);
    }
    log_notice("mailrelayd started config=%s uid=%d queued=%zu starttls=%s inside=%s%s%d",
               args.conf_path, (int)geteuid(), spool_count(spool), tls ? "on" : "off",
               conf.inside.host ? conf.inside.host : "-", conf.inside.port < 0 ? "" : ":",
               conf.inside.port < 0 ? 0 : conf.inside.port ? conf.inside.port : 25);
    event_base_dispatch(d.base);

    {
        struct server_stats sv;
        server_get_stats(d.server, &sv);
        log_notice("mailrelayd stopping sessions=%zu commits_pending=%zu", sv.sessions, store_pending(store));
    }
    server_free(d.server);              /* pending commits stay with the store */
    link_events_free(rc.link);
    etrn_free(rc.etrn);
    for (int i = 0; i < 2; i++)
        if (rc.delivery[i])
            delivery_free(rc.delivery[i]);
    ctl_server_close(ctl);
    store_free(store);                  /* flushes what is still queued */
    spool_close(spool);
    for (int i = 0; i < 3; i++)
        event_free(sigs[i]);
    event_free(d.grace);
    if (metrics.timer)
        event_free(metrics.timer);
    event_base_free(d.base);
    tls_server_ctx_free(tls);
    policy_free(policy);
    relay_conf_free(&conf);
    log_notice("mailrelayd stopped");
    return 0;
}

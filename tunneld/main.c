/*
 * main.c — mailtund: holds the PPTP tunnel that gives this gateway its fixed address.
 *
 * Reads [tunnel] of mailtun.conf, opens the control socket, and runs the tunnel supervisor
 * on libevent until SIGTERM/SIGINT, which hangs up pppd, clears the call and removes the
 * routes before exiting (and with L2TP/IPsec waits up to 3 s for charon to unload the SA). SIGUSR1 re-dials at once. Needs root (pppd, routes).
 */
#include "config.h"
#include "daemon.h"
#include "control.h"
#include "ctl_server.h"
#include "ipsec_sa.h"
#include "log.h"
#include "tunnel.h"
#include "tunnel_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

static void on_stopped(void *arg)
{
    event_base_loopexit(arg, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct tunnel *t = arg;
    switch (sig) {
    case SIGCHLD: tunnel_child_exited(t); break;
    case SIGUSR1: tunnel_redial(t, "SIGUSR1"); break;
    default: tunnel_stop(t, sig == SIGTERM ? "SIGTERM" : "SIGINT"); break;
    }
}

/* One mailtund per state dir: a second one would fight over pppd and routes. */
static int take_pidfile(const char *dir, char *err, size_t errlen)
{
    char path[300], pid[32];
    int fd;

    snprintf(path, sizeof(path), "%s/mailtund.pid", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "another mailtund holds %s", path);
        close(fd);
        return -1;
    }
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || write(fd, pid, strlen(pid)) < 0)
        log_warn("pid file write path=%s", path);
    return fd;   /* kept open: the lock lives as long as we do */
}

int main(int argc, char **argv)
{
    struct daemon_args args;
    int rc;
    struct tunnel_conf conf;
    char err[CONF_ERR_LEN];
    struct event_base *base;
    struct ctl_server *ctl;
    struct control control = { 0 };
    struct tunnel *t;
    struct event *sigs[4];
    const int signos[4] = { SIGTERM, SIGINT, SIGCHLD, SIGUSR1 };
    struct group *gr;
    int lvl;

    if ((rc = daemon_parse_args("mailtund", argc, argv, &args)) >= 0)
        return rc;
    if (tunnel_conf_load(args.conf_path, &conf, err) < 0) {
        fprintf(stderr, "mailtund: %s\n", err);
        return 1;
    }
    lvl = log_level_parse(conf.log_level);
    if (lvl < 0) {
        fprintf(stderr, "mailtund: %s: [tunnel] log_level: unknown level '%s'\n", args.conf_path, conf.log_level);
        return 1;
    }
    if (args.check_only) {
        printf("mailtund: %s: configuration ok\n", args.conf_path);
        tunnel_conf_free(&conf);
        return 0;
    }
    log_init("mailtund", args.foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG, args.debug ? LOG_LVL_DEBUG : (enum log_level)lvl);
    if (geteuid() != 0)
        fatalx("mailtund must run as root (it starts pppd and changes routes)");
    if (mkdir(conf.state_dir, 0755) < 0 && errno != EEXIST)
        fatal("cannot create state_dir %s", conf.state_dir);
    if (daemon_make_dir_of(conf.control_socket) < 0)
        fatal("cannot create the directory of %s", conf.control_socket);
    if (take_pidfile(conf.state_dir, err, sizeof(err)) < 0)
        fatalx("%s", err);
    signal(SIGPIPE, SIG_IGN);

    base = event_base_new();
    if (!base)
        fatalx("cannot create the event loop");
    gr = getgrnam(conf.control_group);
    if (!gr)
        log_warnx("control group %s does not exist: control socket is root-only", conf.control_group);
    control.started = time(NULL);
    control.conf = &conf;
    control.base = base;
    ctl = ctl_server_open(base, conf.control_socket, gr ? gr->gr_gid : (gid_t)-1, control_on_msg,
                          control_on_gone, &control, err, sizeof(err));
    if (!ctl)
        fatalx("%s", err);
    t = tunnel_new(base, &conf, ctl, on_stopped, base, err, sizeof(err));
    if (!t)
        fatalx("routes: %s", err);
    control.tunnel = t;
    for (int i = 0; i < 4; i++) {
        sigs[i] = evsignal_new(base, signos[i], on_signal, t);
        evsignal_add(sigs[i], NULL);
    }
    log_notice("mailtund started config=%s server=%s uplink=%s", args.conf_path,
               inet_ntoa(conf.server), conf.uplink);
    tunnel_start(t);
    event_base_dispatch(base);

    log_notice("mailtund stopped");
    for (int i = 0; i < 4; i++)
        event_free(sigs[i]);
    /* Clients first: closing them calls back into the tunnel. */
    control_close(&control);
    ctl_server_close(ctl);
    tunnel_free(t);
    /* charon may drop a terminate or unload-conn whose client is gone: wait for its answers */
    ipsec_sa_wait_stops(base, IPSEC_STOP_WAIT_MS);
    event_base_free(base);
    tunnel_conf_free(&conf);
    return 0;
}

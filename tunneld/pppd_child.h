/*
 * pppd_child.h — pppd as a child of mailtund: its command line, start, stop, exit status.
 *
 * pppd_build_argv() is pure: config in, argv out, no I/O — unit-tested word for word. It never
 * produces `persist` (mailtund decides when to re-dial) and refuses config values that could
 * smuggle options (whitespace, control characters, a leading '-', empty strings).
 * The process part forks/execs with a clean environment and only fds 0-2 open, stops pppd
 * with SIGTERM and SIGKILL after a grace period, and reaps it without blocking; the daemon
 * calls pppd_child_reap() on SIGCHLD and pppd_child_escalate() from a timer (no event
 * library here).
 */
#ifndef MAILTUN_PPPD_CHILD_H
#define MAILTUN_PPPD_CHILD_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include <netinet/in.h>

#define PPPD_DEFAULT_PATH    "/usr/sbin/pppd"
#define PPPD_ARGV_MAX        64
#define PPPD_IPPARAM         "mailtun"

struct pppd_config {
    const char *pppd_path;      /* NULL: PPPD_DEFAULT_PATH */
    const char *plugin_path;    /* mailtun.so; required */
    const char *ipc_socket;     /* mailtun-socket; NULL: the plugin's default */
    const char *user;           /* `name`: the MS-CHAPv2 user; required */
    const char *remotename;     /* `remotename`, selects the chap-secrets line; optional */
    struct in_addr fixed;       /* requested local address "<fixed>:"; 0.0.0.0 = none */
    const char *options_file;   /* `file`: the admin's extra options; optional */
    const char *logfile;        /* `logfile`; optional */
    const char *linkname;       /* `linkname` (/run/ppp-<name>.pid); optional */
    int unit;                   /* `unit` (pppN); -1 = pppd picks */
    int lcp_echo_interval;      /* seconds; 0 = leave pppd's default */
    int lcp_echo_failure;       /* count; 0 = leave pppd's default */
    int mtu;                    /* 0 = leave pppd's default */
    int mru;                    /* 0 = leave pppd's default */
    int debug;                  /* non-zero: `debug` */
    int call_timeout;           /* `mailtun-timeout` (s the plugin waits for the call);
                                   0 = the plugin's default */
};

/* The command line; argv[] points into cfg's strings and into store. */
struct pppd_argv {
    int argc;
    const char *argv[PPPD_ARGV_MAX + 1];   /* NULL-terminated */
    char store[256];                        /* numbers and the address, formatted */
    size_t used;
};

/* Zeroes cfg and sets unit = -1. */
void pppd_config_init(struct pppd_config *cfg);

/*
 * Builds pppd's argv in this order:
 *   pppd plugin <so> [mailtun-socket <path>]
 *   noauth refuse-pap refuse-chap refuse-mschap refuse-eap require-mppe-128 nobsdcomp nodeflate
 *   nodefaultroute [lcp-echo-interval N] [lcp-echo-failure N] [mtu N] [mru N]
 *   [file <options_file>]                 -- the admin's file may change the defaults above,
 *   nodetach nopersist                    -- but not these, which come after it
 *   name <user> [remotename <r>] ipparam mailtun [<fixed>: ipcp-accept-local] [logfile <f>] [linkname <l>]
 *   [unit N] [debug]
 * Returns 0, or -1 with the reason in err.
 */
int pppd_build_argv(const struct pppd_config *cfg, struct pppd_argv *out, char *err, size_t errlen);

/* How a pppd ended. */
struct pppd_exit {
    int exited;         /* 1: exit(code); 0: killed by signo */
    int code;
    int signo;
    char text[96];      /* "exit 16 (hangup: the link was terminated by the peer)" */
};

/* Meaning of a pppd exit code (pppd(8) EXIT STATUS), e.g. "peer authentication failed". */
const char *pppd_exit_code_text(int code);
/* Decodes a waitpid() status. Pure. */
void pppd_exit_decode(int wstatus, struct pppd_exit *out);

struct pppd_child {
    pid_t pid;                  /* 0: none running */
    int term_sent;
    struct timespec term_at;    /* CLOCK_MONOTONIC time of SIGTERM */
};

/*
 * Starts argv[0] with argv, environment only PATH, stdin /dev/null, stdout and stderr to
 * out_fd (-1: /dev/null), no other fds, default signal dispositions, own session.
 * Reports a failed exec (e.g. pppd not installed) here, synchronously. 0 or -1 (err).
 */
int pppd_child_spawn(struct pppd_child *c, const struct pppd_argv *a, int out_fd,
                     char *err, size_t errlen);

/* Asks pppd to hang up (SIGTERM, once). 0, or -1 if none is running. */
int pppd_child_terminate(struct pppd_child *c);

/*
 * From a timer: if SIGTERM went out more than grace_ms ago and pppd still runs, SIGKILL its
 * process group. Returns 1 if it killed, 0 otherwise.
 */
int pppd_child_escalate(struct pppd_child *c, int grace_ms);

/*
 * Non-blocking reap (call on SIGCHLD). 1: pppd ended, *out filled, c->pid reset;
 * 0: still running (or none); -1: waitpid error.
 */
int pppd_child_reap(struct pppd_child *c, struct pppd_exit *out);

/*
 * Blocking stop for shutdown: SIGTERM, wait up to grace_ms, then SIGKILL and reap.
 * Returns 0 with *out filled, or -1 if none was running.
 */
int pppd_child_stop(struct pppd_child *c, int grace_ms, struct pppd_exit *out);

#endif

/*
 * daemon.h — what mailtund and mailrelayd share at start-up: the command line (-c -f -d -n -h)
 * and creating the directory a socket or pid file goes into.
 */
#ifndef MAILTUN_DAEMON_H
#define MAILTUN_DAEMON_H

#define DAEMON_DEFAULT_CONF "/etc/mailtun/mailtun.conf"

struct daemon_args {
    const char *conf_path;  /* -c, default DAEMON_DEFAULT_CONF */
    int foreground;         /* -f: stay in front, log to stderr */
    int debug;              /* -d */
    int check_only;         /* -n: check the configuration and exit */
};

/* Parses argv for program prog. Returns -1 to go on, or the exit status to end with
 * (0 after -h, 2 after a usage error, which is reported on stderr). */
int daemon_parse_args(const char *prog, int argc, char **argv, struct daemon_args *a);

/* Creates the directory that will hold path (one level, mode 0755). 0, or -1 with errno. */
int daemon_make_dir_of(const char *path);

#endif

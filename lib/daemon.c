/*
 * daemon.c — shared start-up of the mailtun daemons (see daemon.h).
 */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void usage(const char *prog, FILE *out)
{
    fprintf(out, "usage: %s [-f] [-n] [-d] [-c config]\n"
                 "  -c FILE  configuration (default " DAEMON_DEFAULT_CONF ")\n"
                 "  -f       stay in the foreground and log to stderr (default: syslog)\n"
                 "  -d       debug logging\n"
                 "  -n       check the configuration and exit\n", prog);
}

int daemon_parse_args(const char *prog, int argc, char **argv, struct daemon_args *a)
{
    int opt;

    memset(a, 0, sizeof(*a));
    a->conf_path = DAEMON_DEFAULT_CONF;
    while ((opt = getopt(argc, argv, "c:fdnh")) != -1) {
        switch (opt) {
        case 'c': a->conf_path = optarg; break;
        case 'f': a->foreground = 1; break;
        case 'd': a->debug = 1; break;
        case 'n': a->check_only = 1; break;
        case 'h': usage(prog, stdout); return 0;
        default: usage(prog, stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        usage(prog, stderr);
        return 2;
    }
    return -1;
}

int daemon_make_dir_of(const char *path)
{
    char dir[512];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return mkdir(dir, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

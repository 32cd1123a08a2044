/*
 * main.c — mailtunctl: the admin's command for both mailtun daemons.
 *
 *   mailtunctl [-c config] [--json] [--timeout ms] VERB [args]
 *
 * Socket paths come from the config (control_socket of [tunnel] and [relay]); when the
 * config cannot be read, the built-in defaults are used so status still works.
 */
#include "config.h"
#include "ctl.h"
#include "relay_conf.h"
#include "tunnel_conf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const struct ctl_verb verbs[] = {
    { "status", "status [--json]            link and queue state of both daemons", verb_status },
    { "check", "check [--defaults]          validate the config and the environment", verb_check },
    { "queue", "queue list|show ID|flush [ID]|delete ID|hold ID|release ID   mailrelayd's spool", verb_queue },
    { "trace", "trace start | stop          capture the tunnel's packets on the uplink (pcap)", verb_trace },
    { "tls", "tls [--policy]              fingerprints of mailrelayd's certificate, the provider's pin line", verb_tls },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: mailtunctl [-c config] [--json] [--timeout ms] VERB [args]\nverbs:\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        fprintf(out, "  %s\n", verbs[i].usage);
}

/* Socket paths: defaults of the tables, overridden by the config if it loads. */
static void socket_paths(struct ctl_opts *o, struct tunnel_conf *tc, struct relay_conf *rc)
{
    char err[CONF_ERR_LEN];
    static char tpath[256], rpath[256];

    snprintf(tpath, sizeof(tpath), "/run/mailtun/mailtund.sock");
    snprintf(rpath, sizeof(rpath), "/run/mailtun/mailrelayd.sock");
    if (tunnel_conf_load(o->conf_path, tc, err) == 0)
        snprintf(tpath, sizeof(tpath), "%s", tc->control_socket);
    tunnel_conf_free(tc);
    if (relay_conf_load(o->conf_path, rc, err) == 0)
        snprintf(rpath, sizeof(rpath), "%s", rc->control_socket);
    relay_conf_free(rc);
    if (!o->tunneld_socket)
        o->tunneld_socket = tpath;
    if (!o->relayd_socket)
        o->relayd_socket = rpath;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "tunneld-socket", required_argument, NULL, 'T' },
        { "relayd-socket", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { 0, 0, 0, 0 },
    };
    struct ctl_opts o = { .conf_path = CTL_DEFAULT_CONF, .timeout_ms = 5000 };
    struct tunnel_conf tc;
    struct relay_conf rc;
    int opt;
    char *end;

    while ((opt = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': o.conf_path = optarg; break;
        case 'j': o.json = 1; break;
        case 'T': o.tunneld_socket = optarg; break;
        case 'R': o.relayd_socket = optarg; break;
        case 't':
            o.timeout_ms = (int)strtol(optarg, &end, 10);
            if (*end || o.timeout_ms <= 0 || o.timeout_ms > 600000) {
                fprintf(stderr, "mailtunctl: --timeout: '%s' is not a number of milliseconds (1..600000)\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    /* Verb options may also follow the verb (mailtunctl status --json). */
    for (int i = optind + 1; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0) {
            o.json = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--, i--;
        }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(argv[optind], verbs[i].name) == 0) {
            socket_paths(&o, &tc, &rc);
            return verbs[i].run(&o, argc - optind, argv + optind);
        }
    fprintf(stderr, "mailtunctl: unknown verb '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
}

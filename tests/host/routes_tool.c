/*
 * routes_tool — drives tunneld/routes.c line by line for tests/host/routes.sh.
 *
 * Usage: routes_tool TABLE PRIORITY  (in the network namespace under test)
 * Opens routes (which removes leftovers), prints "ready" or "error <text>", then reads
 * commands from stdin and answers each with one line:
 *   host SERVER            -> "changed" | "unchanged" | "error <text>"
 *   fixed ADDR IFNAME      -> same
 *   down ADDR              -> same
 *   lookup DST             -> "gw=<a|-> dev=<ifname> table=<n>" (the kernel's RTM_GETROUTE answer)
 *   uplink DST             -> same format, the uplink path that ignores our own routes
 *   remove                 -> "ok"
 *   quit                   -> exits WITHOUT removing (to leave leftovers for the next run)
 * The change log (log.h) goes to stderr.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "routes.h"

static void
answer_rc(int rc, const char *err)
{
    if (rc < 0)
        printf("error %s\n", err);
    else
        printf("%s\n", rc ? "changed" : "unchanged");
}

static void
answer_path(int rc, const struct routes_path *p, const char *err)
{
    char gw[INET_ADDRSTRLEN] = "-";

    if (rc < 0) {
        printf("error %s\n", err);
        return;
    }
    if (p->has_gateway)
        inet_ntop(AF_INET, &p->gateway, gw, sizeof(gw));
    printf("gw=%s dev=%s table=%u\n", gw, p->ifname, p->table);
}

static int
parse_in4(const char *s, struct in_addr *a)
{
    return s != NULL && inet_pton(AF_INET, s, a) == 1 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    struct routes_config cfg;
    struct routes *r;
    char line[256], err[256];

    if (argc != 3) {
        fprintf(stderr, "usage: routes_tool TABLE PRIORITY\n");
        return 2;
    }
    log_init("routes_tool", LOG_TO_STDERR, LOG_LVL_DEBUG);
    setvbuf(stdout, NULL, _IOLBF, 0);
    routes_config_defaults(&cfg);
    cfg.table = (uint32_t)strtoul(argv[1], NULL, 10);
    cfg.rule_priority = (uint32_t)strtoul(argv[2], NULL, 10);
    if ((r = routes_open(&cfg, err, sizeof(err))) == NULL) {
        printf("error %s\n", err);
        return 1;
    }
    printf("ready\n");

    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *cmd = strtok(line, " \t\r\n"), *a1 = strtok(NULL, " \t\r\n"), *a2 = strtok(NULL, " \t\r\n");
        struct in_addr addr;
        struct routes_path p;

        err[0] = '\0';
        if (cmd == NULL)
            continue;
        if (strcmp(cmd, "quit") == 0)
            break;
        if (strcmp(cmd, "remove") == 0) {
            routes_remove_all(r);
            printf("ok\n");
            continue;
        }
        if (parse_in4(a1, &addr) < 0) {
            printf("error bad address\n");
            continue;
        }
        if (strcmp(cmd, "host") == 0)
            answer_rc(routes_server_host_route(r, addr, err, sizeof(err)), err);
        else if (strcmp(cmd, "fixed") == 0)
            answer_rc(routes_fixed_source_route(r, addr, a2, err, sizeof(err)), err);
        else if (strcmp(cmd, "down") == 0)
            answer_rc(routes_fixed_source_down(r, addr, err, sizeof(err)), err);
        else if (strcmp(cmd, "lookup") == 0)
            answer_path(routes_lookup(r, addr, &p, err, sizeof(err)), &p, err);
        else if (strcmp(cmd, "uplink") == 0)
            answer_path(routes_uplink_path(r, addr, &p, err, sizeof(err)), &p, err);
        else
            printf("error unknown command %s\n", cmd);
    }
    routes_close(r);
    return 0;
}

/*
 * ctl.h — mailtunctl's verbs and the little they share.
 *
 * main.c dispatches argv[1] through a table of verbs; each verb lives in its own file.
 */
#ifndef MAILTUN_CTL_H
#define MAILTUN_CTL_H

#include "ipc.h"

/* Where `make install` puts the sample configuration; -c names another file. */
#define CTL_DEFAULT_CONF "/etc/mailtun/mailtun.conf"

struct ctl_opts {
    const char *conf_path;      /* -c, default CTL_DEFAULT_CONF */
    const char *tunneld_socket; /* from the config, or -s */
    const char *relayd_socket;
    int json;                   /* --json */
    int timeout_ms;
};

struct ctl_verb {
    const char *name;
    const char *usage;
    int (*run)(const struct ctl_opts *o, int argc, char **argv);
};

/* Sends one request (already built) and waits for the answer; 0 or -1 with a message printed. */
int ctl_request(const char *socket_path, const char *daemon, struct ipc_builder *req,
                uint8_t *buf, struct ipc_msg *answer, int timeout_ms);

int verb_status(const struct ctl_opts *o, int argc, char **argv);
int verb_check(const struct ctl_opts *o, int argc, char **argv);
int verb_queue(const struct ctl_opts *o, int argc, char **argv);
int verb_trace(const struct ctl_opts *o, int argc, char **argv);
int verb_tls(const struct ctl_opts *o, int argc, char **argv);

#endif

/*
 * etrn.h — asks the provider's MTA to flush the mail it queued for us (RFC 1985), each time
 * the tunnel comes up.
 *
 * The dialogue is a pure state machine (etrn_dialog_*: reply in, next command out), driven
 * on the network by struct etrn: connect to [outbound] etrn_host, EHLO, one "ETRN <domain>"
 * per configured domain, QUIT. A failed trigger (connection, timeout, 4xx) is retried a few
 * times; a 5xx (ETRN not offered or refused) is not. Every reply is logged:
 *   etrn host=192.0.2.1:25 domain=example.net reply="250 Queuing started"
 */
#ifndef MAILTUN_ETRN_H
#define MAILTUN_ETRN_H

#include <stddef.h>
#include "config.h"

struct event_base;
struct ipc_builder;
struct smtpc_reply;

/* ---- the dialogue ------------------------------------------------------------------------ */

enum etrn_step { ETRN_GREETING, ETRN_EHLO, ETRN_DOMAIN, ETRN_QUIT, ETRN_DONE };

enum etrn_outcome {
    ETRN_CONTINUE,      /* send dlg->cmd */
    ETRN_OK,            /* every domain accepted (2xx); dlg->cmd holds QUIT */
    ETRN_TEMPFAIL,      /* 4xx, or an unexpected reply: try again later */
    ETRN_PERMFAIL,      /* 5xx: the server does not offer ETRN to us; do not retry */
};

struct etrn_dialog {
    enum etrn_step step;
    const char *hostname;           /* our EHLO name */
    const char *const *domains;
    size_t ndomains, next;          /* next domain to ask for */
    size_t accepted;
    char cmd[600];                  /* the command to send, CRLF-terminated */
    char why[1200];                 /* on failure: what the server said */
};

void etrn_dialog_init(struct etrn_dialog *d, const char *hostname, const char *const *domains,
                      size_t ndomains);
/* Feeds one complete reply; returns what to do next. */
enum etrn_outcome etrn_dialog_reply(struct etrn_dialog *d, const struct smtpc_reply *r);

/* ---- on the network ------------------------------------------------------------------------ */

struct etrn_config {
    const struct conf_hostport *host;   /* provider MTA */
    const char *hostname;
    const struct conf_list *domains;
    int attempts;                       /* per trigger */
    long retry_ms;
    long timeout_ms;                    /* whole conversation */
};

struct etrn;
struct sockaddr_in;

/* Where ETRN goes: host's IPv4 address, its port or 25 when none is given. 0, or -1 with why. */
int etrn_target(const struct conf_hostport *host, struct sockaddr_in *sin, const char **why);

/* NULL if host or domains are not configured (ETRN off) or out of memory. */
struct etrn *etrn_new(struct event_base *base, const struct etrn_config *cfg);
/* The link came up: start a fresh trigger (a running one is restarted). */
void etrn_trigger(struct etrn *e);
/* Adds etrn_last=..., etrn_result=... as ATTR_KV. */
void etrn_status(const struct etrn *e, struct ipc_builder *b);
void etrn_free(struct etrn *e);

#endif

/*
 * etrn_dialog.c — the ETRN conversation as a pure state machine (see etrn.h).
 *
 * RFC 1985 replies: 250 queuing started, 251 nothing waiting, 252 pending messages started,
 * 253 n messages started: all success. 458/459 (cannot queue, node not allowed) and other
 * 4xx are temporary; 500-504 and other 5xx mean the server will not do it for us.
 */
#include "etrn.h"
#include "smtp_client.h"

#include <stdio.h>
#include <string.h>

void etrn_dialog_init(struct etrn_dialog *d, const char *hostname, const char *const *domains,
                      size_t ndomains)
{
    memset(d, 0, sizeof(*d));
    d->step = ETRN_GREETING;
    d->hostname = hostname;
    d->domains = domains;
    d->ndomains = ndomains;
}

static enum etrn_outcome failed(struct etrn_dialog *d, const struct smtpc_reply *r, const char *during)
{
    char summary[SMTPC_SUMMARY];
    smtpc_reply_summary(r, summary);
    snprintf(d->why, sizeof(d->why), "%s: %s", during, summary);
    d->step = ETRN_DONE;
    return smtpc_reply_class(r) == 5 ? ETRN_PERMFAIL : ETRN_TEMPFAIL;
}

static enum etrn_outcome ask_next(struct etrn_dialog *d)
{
    if (d->next < d->ndomains) {
        snprintf(d->cmd, sizeof(d->cmd), "ETRN %s\r\n", d->domains[d->next]);
        d->step = ETRN_DOMAIN;
        return ETRN_CONTINUE;
    }
    snprintf(d->cmd, sizeof(d->cmd), "QUIT\r\n");
    d->step = ETRN_QUIT;
    return ETRN_OK;
}

enum etrn_outcome etrn_dialog_reply(struct etrn_dialog *d, const struct smtpc_reply *r)
{
    switch (d->step) {
    case ETRN_GREETING:
        if (r->code != 220)
            return failed(d, r, "greeting");
        snprintf(d->cmd, sizeof(d->cmd), "EHLO %s\r\n", d->hostname);
        d->step = ETRN_EHLO;
        return ETRN_CONTINUE;
    case ETRN_EHLO:
        if (r->code != 250)
            return failed(d, r, "EHLO");
        return ask_next(d);
    case ETRN_DOMAIN:
        if (r->code < 250 || r->code > 253) {
            char during[600];
            snprintf(during, sizeof(during), "ETRN %s", d->domains[d->next]);
            return failed(d, r, during);
        }
        d->accepted++;
        d->next++;
        return ask_next(d);
    case ETRN_QUIT:
    case ETRN_DONE:
        d->step = ETRN_DONE;
        return ETRN_OK;
    }
    return ETRN_TEMPFAIL;
}

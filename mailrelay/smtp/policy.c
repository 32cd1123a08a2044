/*
 * policy.c — inbound accept policy and LAN relay permission (see policy.h).
 *
 * The recipients file: one address a line; blank lines and lines starting with '#' are
 * ignored; surrounding blanks are trimmed. Matching is case-insensitive (smtp_session.c's
 * smtp_policy_domains). The file is read once at start (as root, before dropping
 * privileges); a restart picks up changes.
 */
#include "policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

#define RCPT_FILE_MAX_LINE 1024

struct policy {
    const struct relay_conf *conf;
    struct smtp_policy_domains domains;
    char **recipients;
    size_t nrecipients, cap;
};

static int add_recipient(struct policy *p, const char *addr)
{
    if (p->nrecipients == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        char **n = realloc(p->recipients, ncap * sizeof(*n));
        if (!n)
            return -1;
        p->recipients = n;
        p->cap = ncap;
    }
    if (!(p->recipients[p->nrecipients] = strdup(addr)))
        return -1;
    p->nrecipients++;
    return 0;
}

static int load_recipients(struct policy *p, const char *path, char *err, size_t errlen)
{
    char line[RCPT_FILE_MAX_LINE + 2];
    unsigned lineno = 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "recipients file %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(f)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            fclose(f);
            return -1;
        }
        char *s = line, *e = line + len;
        while (*s && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*s || *s == '#')
            continue;
        for (char *c = s; *c; c++)
            if (isspace((unsigned char)*c) || *c == '<' || *c == '>') {
                snprintf(err, errlen, "%s:%u: '%s' is not one plain address", path, lineno, s);
                fclose(f);
                return -1;
            }
        if (add_recipient(p, s) < 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

struct policy *policy_new(const struct relay_conf *conf, char *err, size_t errlen)
{
    struct policy *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->conf = conf;
    if (conf->recipients && load_recipients(p, conf->recipients, err, errlen) < 0) {
        policy_free(p);
        return NULL;
    }
    if (conf->recipients && p->nrecipients == 0)
        log_warnx("policy recipients file %s lists no address: every recipient is unknown",
                  conf->recipients);
    p->domains.domains = (const char *const *)conf->domains.v;
    p->domains.ndomains = conf->domains.n;
    p->domains.recipients = (const char *const *)p->recipients;
    p->domains.nrecipients = p->nrecipients;
    /* A configured but empty file must refuse everyone, not accept the whole domain. */
    if (conf->recipients && p->nrecipients == 0) {
        static const char *const none[] = { "" };
        p->domains.recipients = none;
        p->domains.nrecipients = 1;
    }
    return p;
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nrecipients; i++)
        free(p->recipients[i]);
    free(p->recipients);
    free(p);
}

size_t policy_nrecipients(const struct policy *p)
{
    return p->nrecipients;
}

bool policy_addr_in(const struct conf_cidrs *nets, const char *addr)
{
    unsigned char buf[16];
    if (inet_pton(AF_INET, addr, buf) == 1)
        return conf_cidrs_match(nets, AF_INET, buf) != 0;
    if (inet_pton(AF_INET6, addr, buf) == 1)
        return conf_cidrs_match(nets, AF_INET6, buf) != 0;
    return false;
}

enum smtp_verdict policy_client_allowed(void *ctx, const char *client_addr)
{
    struct policy_client *pc = ctx;
    const struct relay_conf *c = pc->policy->conf;
    pc->may_relay = false;
    if (pc->lan_listener) {
        if (!policy_addr_in(&c->lan_networks, client_addr))
            return SMTP_REJECT_CLIENT;
        pc->may_relay = true;
        return SMTP_ACCEPT;
    }
    if (c->provider_networks.n && !policy_addr_in(&c->provider_networks, client_addr))
        return SMTP_REJECT_CLIENT;
    return SMTP_ACCEPT;
}

enum smtp_verdict policy_rcpt_allowed(void *ctx, const char *address)
{
    const struct policy_client *pc = ctx;
    if (pc->may_relay)
        return SMTP_ACCEPT;
    return smtp_policy_domains((void *)&pc->policy->domains, address);
}

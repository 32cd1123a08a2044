/*
 * ipsec_diag.c — charon's log lines of a failed set-up, turned into a reason (ipsec_diag.h).
 *
 * The patterns are charon's (5.9) level-1 messages; a higher rank wins, so "no trusted key"
 * beats the AUTHENTICATION_FAILED notify the initiator sends after it, and any cause beats
 * the retransmits that precede a time-out. Lines charon logs on the way to a success too
 * (e.g. "certificate status is not available" for a CA without a CRL) are no cause.
 * A refusal our own charon sends ("generating ... N(NO_PROP)": IKEv1 quick mode after its
 * kernel would not install the SA) is the provider's answer to nothing: it ranks below the
 * local cause that came before it.
 */
#include "ipsec_diag.h"

#include <stdio.h>
#include <string.h>

struct pattern {
    const char *needle;
    int rank;
    const char *hint_psk, *hint_certs;     /* hint_certs NULL: the same */
    const char *unless;                    /* not when the line also holds this */
};

static const struct pattern patterns[] = {
    { "no trusted", 60, "the provider's identity is not proven",
      "the provider's certificate is not issued by ipsec_ca (or not for ipsec_remote_id)", NULL },
    { "constraint check failed", 60, "the provider is not the one configured",
      "the provider's certificate is not issued by ipsec_ca", NULL },
    { "no private key found", 55, "no private key for our identity",
      "no private key for our identity: ipsec_id not in ipsec_cert, or ipsec_key not its key", NULL },
    { "not confirmed by certificate", 55, "ipsec_id is not in our certificate", NULL, NULL },
    { "MAC mismatched", 50, "wrong pre-shared key (it does not match the provider's)", NULL, NULL },
    { "AUTHENTICATION_FAILED", 45, "the provider refused us: wrong pre-shared key or identity",
      "the provider refused our certificate: not issued by a CA it trusts, or identity not in it", NULL },
    { "no shared key found", 45, "no pre-shared key for these identities", NULL, NULL },
    { "INVALID_ID_INFORMATION", 40, "the provider refused our identity (ipsec_id) or traffic selectors", NULL, NULL },
    { "no CHILD_SA built", 41, "IKE is up but the provider refused the SA for L2TP: no common ESP proposal "
      "(ipsec_esp_proposals), or its kernel could not install it", NULL, NULL },
    { "NO_PROPOSAL_CHOSEN", 40, "no common proposal with the provider (ipsec_proposals, ipsec_esp_proposals, "
      "ipsec_ike_version)", NULL, "generating" },
    { "NO_PROP", 39, "no common proposal with the provider (ipsec_proposals, ipsec_esp_proposals, "
      "ipsec_ike_version)", NULL, "generating" },
    { "TS_UNACCEPTABLE", 35, "the provider does not accept an SA for L2TP (UDP 1701)", NULL, NULL },
    { "unable to install", 30, "the kernel refused the SA (ESP or AES-GCM modules missing?)", NULL, NULL },
    { "NO_PROP", 29, "our side found no acceptable proposal in the provider's answer (ipsec_proposals, "
      "ipsec_esp_proposals, ipsec_ike_version)", NULL, NULL },
    { "giving up after", 20, "no answer from the provider's IKE (UDP 500/4500 blocked, or the wrong server?)", NULL, NULL },
};

void ipsec_diag_init(struct ipsec_diag *d, bool certs)
{
    memset(d, 0, sizeof(*d));
    d->certs = certs;
}

void ipsec_diag_feed(struct ipsec_diag *d, const char *line)
{
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        const struct pattern *p = &patterns[i];
        size_t n;

        if (p->rank <= d->rank || !strstr(line, p->needle) || (p->unless && strstr(line, p->unless)))
            continue;
        d->rank = p->rank;
        d->hint = d->certs && p->hint_certs ? p->hint_certs : p->hint_psk;
        /* one printable line, without quotes that would break the log's reason="..." */
        n = 0;
        for (const char *c = line; *c && n + 1 < sizeof(d->line); c++)
            d->line[n++] = (*c == '"' || (unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) ? '\'' : *c;
        d->line[n] = '\0';
        return;
    }
}

bool ipsec_diag_reason(const struct ipsec_diag *d, char *out, size_t len)
{
    if (len)
        out[0] = '\0';
    if (!d->rank)
        return false;
    snprintf(out, len, "%s (charon: %s)", d->hint, d->line);
    return true;
}

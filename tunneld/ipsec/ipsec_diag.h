/*
 * ipsec_diag.h — why an IPsec set-up failed, from charon's own log of the attempt.
 *
 * charon's answer to initiate only says "establishing CHILD_SA 'l2tp' failed"; the cause is in
 * its log, which it streams to us during the attempt (control-log events, level 1). Each line
 * is fed here; the most telling one is kept with a plain-words hint (a wrong key, a
 * certificate from another CA, no common proposal, no answer, the kernel refusing the SA),
 * and the reason mailtund logs carries both. Pure.
 */
#ifndef MAILTUN_IPSEC_DIAG_H
#define MAILTUN_IPSEC_DIAG_H

#include <stdbool.h>
#include <stddef.h>

struct ipsec_diag {
    bool certs;            /* we authenticate with certificates (else a pre-shared key) */
    int rank;              /* of the line kept; 0: none */
    const char *hint;
    char line[128];
};

void ipsec_diag_init(struct ipsec_diag *d, bool certs);
void ipsec_diag_feed(struct ipsec_diag *d, const char *line);
/* "<hint> (charon: <line>)" into out; false (out empty) when no line told anything. */
bool ipsec_diag_reason(const struct ipsec_diag *d, char *out, size_t len);

#endif

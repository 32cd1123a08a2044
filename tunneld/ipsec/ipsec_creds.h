/*
 * ipsec_creds.h — what proves us to the provider, read from the files the config names at
 * each dial (so the admin can replace them without a restart): the pre-shared key, or our
 * certificate, its private key and the CA the provider's certificate must come from.
 *
 * Secret files (the key file, the private key) must be regular files owned by root that
 * nobody else may read or write; certificates must be owned by root and writable by root
 * only (whoever swaps the CA can pose as the provider). Certificates and the key must be
 * PEM; the key unencrypted and the one of the certificate; the CA a CA. Every error names
 * the key, the file and what is wrong with it.
 */
#ifndef MAILTUN_IPSEC_CREDS_H
#define MAILTUN_IPSEC_CREDS_H

#include <stdbool.h>
#include <stddef.h>

#include "tunnel_conf.h"

#define IPSEC_PSK_MAX   256
#define IPSEC_PEM_MAX   60000             /* one VICI value holds 64 KB */

struct ipsec_creds {
    bool certs;                           /* certificates, else psk */
    char psk[IPSEC_PSK_MAX];
    char *ca_pem, *cert_pem, *key_pem;    /* NUL-terminated PEM text */
};

/* 0, or -1 with why in err. Clear with ipsec_creds_clear in both cases. */
int ipsec_creds_load(const struct tunnel_conf *c, struct ipsec_creds *cr, char *err, size_t errlen);
/* Wipes the secrets and frees. */
void ipsec_creds_clear(struct ipsec_creds *cr);

/* The file checks alone (for tests): a root-only secret file, or a root-owned public one,
 * read whole into a NUL-terminated malloc'd buffer. */
char *ipsec_read_file(const char *key, const char *path, bool secret, size_t max, char *err, size_t errlen);

#endif

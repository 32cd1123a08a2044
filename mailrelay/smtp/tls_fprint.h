/*
 * tls_fprint.h — SHA-256 fingerprints of a certificate and of its public key, in the form
 * Postfix writes and expects in a TLS policy "match=" (upper-case hex, colon-separated, as
 * `openssl x509 -noout -fingerprint -sha256` and `posttls-finger` print them).
 *
 * The certificate fingerprint is the digest of the whole DER certificate; the public-key
 * fingerprint is the digest of the DER SubjectPublicKeyInfo and survives a new certificate
 * for the same key. Postfix's "fingerprint" level accepts a peer when either one matches.
 */
#ifndef MAILTUN_TLS_FPRINT_H
#define MAILTUN_TLS_FPRINT_H

#include <stddef.h>

typedef struct x509_st X509;

#define TLS_FPRINT_LEN 96       /* 32 bytes as "AB:" * 32, last colon is the NUL */

/* Pure: n bytes as "AB:CD:..." into out (3*n bytes needed); -1 when out is too small. */
int tls_fprint_hex(const unsigned char *bytes, size_t n, char *out, size_t outlen);

/* Both fingerprints of cert; -1 on an OpenSSL failure. */
int tls_fprint_cert(X509 *cert, char cert_fp[TLS_FPRINT_LEN], char pkey_fp[TLS_FPRINT_LEN]);

#endif

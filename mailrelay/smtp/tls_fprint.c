/*
 * tls_fprint.c — certificate and public-key SHA-256 fingerprints (see tls_fprint.h).
 */
#include "tls_fprint.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

int tls_fprint_hex(const unsigned char *bytes, size_t n, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";

    if (n == 0 || outlen < 3 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        out[3 * i] = hex[bytes[i] >> 4];
        out[3 * i + 1] = hex[bytes[i] & 15];
        out[3 * i + 2] = i + 1 < n ? ':' : '\0';
    }
    return 0;
}

int tls_fprint_cert(X509 *cert, char cert_fp[TLS_FPRINT_LEN], char pkey_fp[TLS_FPRINT_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned int mdlen = 0;
    int derlen, rc;

    if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 ||
        tls_fprint_hex(md, mdlen, cert_fp, TLS_FPRINT_LEN) < 0)
        return -1;
    derlen = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
    if (derlen <= 0)
        return -1;
    rc = EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL) == 1 ? 0 : -1;
    OPENSSL_free(der);
    if (rc == 0)
        rc = tls_fprint_hex(md, mdlen, pkey_fp, TLS_FPRINT_LEN);
    return rc;
}

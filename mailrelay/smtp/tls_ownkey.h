/*
 * tls_ownkey.h — mailrelayd's own STARTTLS key and self-signed certificate.
 *
 * Without [relay] tls_cert/tls_key, mailrelayd still offers STARTTLS on the fixed address:
 * at its first start it makes a P-256 key and a self-signed certificate in [relay] tls_dir
 * (default /var/lib/mailtun/tls, mode 0700, not a file any package owns, so upgrades keep
 * it) and uses the same pair on every later start. The provider pins the fingerprint
 * (`mailtunctl tls`), so the key must not change by itself: a damaged key file is an error
 * that names the file, never a silent new key.
 *
 *   DIR/key.pem   PKCS#8 private key, mode 0600
 *   DIR/cert.pem  self-signed X.509 v3, CN = [relay] hostname, valid until 9999 (RFC 5280
 *                 4.1.2.5: no well-defined expiry; the pin is what is checked, not a date)
 *
 * Each file is written to a temporary name, fsync'ed, renamed into place and the directory
 * fsync'ed: a crash leaves the old file or the new one, never half of one. A key without a
 * certificate (crash between the two) gets its certificate on the next start.
 * P-256 rather than Ed25519: every Postfix/OpenSSL a provider may run signs and verifies it
 * in TLS 1.2 and 1.3; Ed25519 certificates need OpenSSL >= 1.1.1 on both ends.
 */
#ifndef MAILTUN_TLS_OWNKEY_H
#define MAILTUN_TLS_OWNKEY_H

#include <stddef.h>

#define TLS_OWN_KEY "key.pem"
#define TLS_OWN_CERT "cert.pem"

struct tls_own_paths {
    char key[4096];
    char cert[4096];
};

/* Fills the two paths inside dir; -1 (err filled) when they do not fit. */
int tls_own_paths(const char *dir, struct tls_own_paths *p, char *err, size_t errlen);

/*
 * Makes sure dir holds a key and a matching certificate, creating what is missing.
 * Returns 1 when the key was created now, 0 when an existing one is used, -1 with err
 * filled (damaged or foreign files, unsafe permissions, I/O errors).
 */
int tls_own_ensure(const char *dir, const char *common_name, struct tls_own_paths *p,
                   char *err, size_t errlen);

/* The same checks without creating anything (mailrelayd -n): 0 usable, 2 not made yet, -1 error. */
int tls_own_check(const char *dir, struct tls_own_paths *p, char *err, size_t errlen);

#endif

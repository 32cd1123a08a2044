/*
 * ipsec_creds.c — the pre-shared key or the certificates, read and checked (ipsec_creds.h).
 */
#include "ipsec_creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

char *ipsec_read_file(const char *key, const char *path, bool secret, size_t max, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", key, path, errno == ELOOP ? "is a symbolic link" : strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (secret ? 077 : 022))) {
        if (secret)
            snprintf(err, errlen, "%s %s must be a regular file owned by root, mode 600 or stricter "
                     "(chown root %s; chmod 600 %s)", key, path, path, path);
        else
            snprintf(err, errlen, "%s %s must be a regular file owned by root and writable by root only "
                     "(chown root %s; chmod 644 %s)", key, path, path, path);
        close(fd);
        return NULL;
    }
    if ((size_t)st.st_size > max) {
        snprintf(err, errlen, "%s %s: larger than %zu bytes", key, path, max);
        close(fd);
        return NULL;
    }
    buf = malloc(max + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, max - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
            explicit_bzero(buf, got);
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)n;
        if (n == 0 || got == max)
            break;
    }
    close(fd);
    buf[got] = '\0';
    return buf;
}

static int read_psk(const char *path, char *psk, size_t len, char *err, size_t errlen)
{
    char *text = ipsec_read_file("ipsec_psk_file", path, true, len - 1, err, errlen);

    if (!text)
        return -1;
    text[strcspn(text, "\r\n")] = '\0';
    snprintf(psk, len, "%s", text);
    explicit_bzero(text, strlen(text));
    free(text);
    if (strlen(psk) < 16) {
        snprintf(err, errlen, "ipsec_psk_file %s: the key is shorter than 16 characters", path);
        return -1;
    }
    return 0;
}

/* Never asks for a pass phrase (mailtund has no terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return 0;
}

static X509 *parse_cert(const char *key, const char *path, const char *pem, char *err, size_t errlen)
{
    BIO *b;
    X509 *x;

    if (!strstr(pem, "-----BEGIN CERTIFICATE-----")) {
        snprintf(err, errlen, "%s %s is not a PEM certificate (no BEGIN CERTIFICATE line; from DER: "
                 "openssl x509 -inform der -in FILE -out FILE.pem)", key, path);
        return NULL;
    }
    b = BIO_new_mem_buf(pem, -1);
    x = b ? PEM_read_bio_X509(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (!x)
        snprintf(err, errlen, "%s %s: the PEM certificate does not parse (%s)", key, path,
                 ERR_reason_error_string(ERR_peek_last_error()) ? ERR_reason_error_string(ERR_peek_last_error())
                                                                : "damaged");
    ERR_clear_error();
    return x;
}

static EVP_PKEY *parse_key(const char *path, const char *pem, char *err, size_t errlen)
{
    BIO *b;
    EVP_PKEY *k;

    if (!strstr(pem, "-----BEGIN") || !strstr(pem, "PRIVATE KEY-----")) {
        snprintf(err, errlen, "ipsec_key %s is not a PEM private key (no BEGIN ... PRIVATE KEY line)", path);
        return NULL;
    }
    if (strstr(pem, "ENCRYPTED")) {
        snprintf(err, errlen, "ipsec_key %s is encrypted; mailtund cannot type a pass phrase: store it "
                 "unencrypted, root-only (openssl pkey -in FILE -out FILE.plain)", path);
        return NULL;
    }
    b = BIO_new_mem_buf(pem, -1);
    k = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (!k)
        snprintf(err, errlen, "ipsec_key %s: the PEM private key does not parse", path);
    ERR_clear_error();
    return k;
}

static int load_certs(const struct tunnel_conf *c, struct ipsec_creds *cr, char *err, size_t errlen)
{
    X509 *ca = NULL, *cert = NULL;
    EVP_PKEY *key = NULL;
    int rc = -1;

    if (!(cr->ca_pem = ipsec_read_file("ipsec_ca", c->ipsec_ca, false, IPSEC_PEM_MAX, err, errlen)) ||
        !(cr->cert_pem = ipsec_read_file("ipsec_cert", c->ipsec_cert, false, IPSEC_PEM_MAX, err, errlen)) ||
        !(cr->key_pem = ipsec_read_file("ipsec_key", c->ipsec_key, true, IPSEC_PEM_MAX, err, errlen)) ||
        !(ca = parse_cert("ipsec_ca", c->ipsec_ca, cr->ca_pem, err, errlen)) ||
        !(cert = parse_cert("ipsec_cert", c->ipsec_cert, cr->cert_pem, err, errlen)) ||
        !(key = parse_key(c->ipsec_key, cr->key_pem, err, errlen)))
        goto out;
    if (X509_check_ca(ca) == 0) {
        snprintf(err, errlen, "ipsec_ca %s is not a CA certificate (no CA basic constraint): "
                 "give the certificate of the CA that issued the provider's", c->ipsec_ca);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        snprintf(err, errlen, "ipsec_key %s is not the private key of ipsec_cert %s", c->ipsec_key, c->ipsec_cert);
        goto out;
    }
    rc = 0;
out:
    ERR_clear_error();
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int ipsec_creds_load(const struct tunnel_conf *c, struct ipsec_creds *cr, char *err, size_t errlen)
{
    memset(cr, 0, sizeof(*cr));
    if (c->ipsec_cert) {
        cr->certs = true;
        return load_certs(c, cr, err, errlen);
    }
    if (!c->ipsec_psk_file || !*c->ipsec_psk_file) {
        snprintf(err, errlen, "[tunnel] ipsec_psk_file is not set (transport l2tp-ipsec needs a pre-shared key "
                 "or certificates)");
        return -1;
    }
    return read_psk(c->ipsec_psk_file, cr->psk, sizeof(cr->psk), err, errlen);
}

void ipsec_creds_clear(struct ipsec_creds *cr)
{
    explicit_bzero(cr->psk, sizeof(cr->psk));
    if (cr->key_pem) {
        explicit_bzero(cr->key_pem, strlen(cr->key_pem));
        free(cr->key_pem);
    }
    free(cr->ca_pem);
    free(cr->cert_pem);
    cr->ca_pem = cr->cert_pem = cr->key_pem = NULL;
}

/*
 * tls_ownkey.c — create once, then keep: mailrelayd's own key and certificate (see tls_ownkey.h).
 */
#include "tls_ownkey.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const char *ossl_err(void)
{
    static char buf[200];
    unsigned long e = ERR_get_error();
    if (!e)
        return "no OpenSSL error";
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

int tls_own_paths(const char *dir, struct tls_own_paths *p, char *err, size_t errlen)
{
    if ((size_t)snprintf(p->key, sizeof(p->key), "%s/%s", dir, TLS_OWN_KEY) >= sizeof(p->key) ||
        (size_t)snprintf(p->cert, sizeof(p->cert), "%s/%s", dir, TLS_OWN_CERT) >= sizeof(p->cert)) {
        snprintf(err, errlen, "tls_dir %s: path too long", dir);
        return -1;
    }
    return 0;
}

/* mkdir -p: the parents get 0755 (like /var/lib), the directory itself 0700. */
static int make_dir(const char *dir, mode_t mode, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return 0;
    if (errno != ENOENT) {
        snprintf(err, errlen, "tls_dir: %s: %s", dir, strerror(errno));
        return -1;
    }
    char *copy = strdup(dir);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = make_dir(dirname(copy), 0755, err, errlen);
    free(copy);
    if (rc < 0)
        return -1;
    if (mkdir(dir, mode) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "tls_dir: cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* The directory holds a private key: ours alone, nobody else may read or write in it. */
static int check_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (make_dir(dir, 0700, err, errlen) < 0)
        return -1;
    if (lstat(dir, &st) < 0) {
        snprintf(err, errlen, "tls_dir: %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "tls_dir: %s is not a directory", dir);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "tls_dir: %s is owned by uid %d, not by uid %d: fix with 'chown %d %s'",
                 dir, (int)st.st_uid, (int)geteuid(), (int)geteuid(), dir);
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "tls_dir: %s has mode %04o, others may reach the key: fix with 'chmod 700 %s'",
                 dir, (unsigned)(st.st_mode & 07777), dir);
        return -1;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Temporary file, fsync, rename, fsync of the directory: the old file or the new, never half. */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode, char *err, size_t errlen)
{
    char tmp[4200];
    int fd;
    size_t off = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);                            /* left over by a crash */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        goto fail;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            goto fail;
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0) {
        close(fd);
        goto fail;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0 || fsync_dir_of(path) < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "tls_dir: cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
}

/* PEM text of a key (PKCS#8) or a certificate, written atomically. */
static int save_pem(const char *path, EVP_PKEY *key, X509 *cert, mode_t mode, char *err, size_t errlen)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int rc = -1;

    if (!b || (key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                   : PEM_write_bio_X509(b, cert)) != 1) {
        snprintf(err, errlen, "tls_dir: cannot encode %s: %s", path, ossl_err());
        goto out;
    }
    len = BIO_get_mem_data(b, &data);
    rc = write_atomic(path, data, (size_t)len, mode, err, errlen);
out:
    BIO_free(b);
    return rc;
}

/* Opens path for reading if it is a regular file of ours; sets *missing when it does not exist. */
static FILE *open_own(const char *path, int private, int *missing, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    *missing = 0;
    if (fd < 0) {
        if (errno == ENOENT)
            *missing = 1;
        else
            snprintf(err, errlen, "tls_dir: %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "tls_dir: %s is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (private && (st.st_uid != geteuid() || (st.st_mode & 077))) {
        snprintf(err, errlen, "tls_dir: %s has owner uid %d and mode %04o; a private key must be "
                 "uid %d's alone: fix with 'chown %d %s; chmod 600 %s'", path, (int)st.st_uid,
                 (unsigned)(st.st_mode & 07777), (int)geteuid(), (int)geteuid(), path, path);
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        snprintf(err, errlen, "tls_dir: %s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int rc = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ext);
    return rc;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, char *err, size_t errlen)
{
    unsigned char serial[16];
    char san[300];
    X509 *cert = X509_new();
    X509_NAME *name;
    BIGNUM *bn = NULL;

    if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f;                      /* positive, RFC 5280 4.1.2.2 */
    serial[0] |= 0x40;
    if (!(bn = BN_bin2bn(serial, sizeof(serial), NULL)) || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
        goto fail;
    name = X509_get_subject_name(cert);
    if (X509_set_version(cert, 2) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
        ASN1_TIME_set_string(X509_getm_notAfter(cert), "99991231235959Z") != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1)
        goto fail;
    snprintf(san, sizeof(san), "DNS:%s", cn);
    if (add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(cert, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
        add_ext(cert, NID_subject_alt_name, san) < 0 ||
        X509_sign(cert, key, EVP_sha256()) <= 0)
        goto fail;
    BN_free(bn);
    return cert;
fail:
    snprintf(err, errlen, "tls_dir: cannot make the self-signed certificate: %s", ossl_err());
    BN_free(bn);
    X509_free(cert);
    return NULL;
}

/* create = 0: only look (mailrelayd -n); 2 when the key is not made yet. */
static int own_pair(const char *dir, const char *common_name, int create, struct tls_own_paths *p,
                    char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    FILE *f;
    int missing, created = 0, rc = -1;

    if (tls_own_paths(dir, p, err, errlen) < 0)
        return -1;
    if (!create && access(dir, F_OK) < 0 && errno == ENOENT)
        return 2;
    if (check_dir(dir, err, errlen) < 0)
        return -1;
    if ((f = open_own(p->key, 1, &missing, err, errlen))) {
        key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (!key) {
            snprintf(err, errlen, "tls_dir: %s is not a PEM private key (%s); mailrelayd does not "
                     "replace it by itself because the provider pins it: restore it from a backup, "
                     "or move it away to have a new key made (then give the provider the new "
                     "fingerprint, mailtunctl tls)", p->key, ossl_err());
            return -1;
        }
    } else if (!missing) {
        return -1;
    } else if (!create) {
        return 2;
    } else {
        if (!(key = EVP_EC_gen("P-256"))) {
            snprintf(err, errlen, "tls_dir: cannot make a P-256 key: %s", ossl_err());
            return -1;
        }
        unlink(p->cert);                    /* a certificate of another key is no use */
        if (save_pem(p->key, key, NULL, 0600, err, errlen) < 0)
            goto out;
        created = 1;
    }
    if ((f = open_own(p->cert, 0, &missing, err, errlen))) {
        cert = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        if (!cert) {
            snprintf(err, errlen, "tls_dir: %s is not a PEM certificate (%s): remove it and a new one "
                     "is made for the same key (the public-key fingerprint stays)", p->cert, ossl_err());
            goto out;
        }
        if (X509_check_private_key(cert, key) != 1) {
            ERR_clear_error();
            snprintf(err, errlen, "tls_dir: %s does not belong to %s: remove the certificate and a "
                     "new one is made for the key", p->cert, p->key);
            goto out;
        }
    } else if (!missing) {
        goto out;
    } else if (!create) {
        rc = 2;
        goto out;
    } else if (!(cert = make_cert(key, common_name, err, errlen)) ||
               save_pem(p->cert, NULL, cert, 0644, err, errlen) < 0) {
        goto out;
    }
    rc = created;
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int tls_own_ensure(const char *dir, const char *common_name, struct tls_own_paths *p,
                   char *err, size_t errlen)
{
    return own_pair(dir, common_name, 1, p, err, errlen);
}

int tls_own_check(const char *dir, struct tls_own_paths *p, char *err, size_t errlen)
{
    return own_pair(dir, NULL, 0, p, err, errlen);
}

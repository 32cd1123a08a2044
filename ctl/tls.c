/*
 * tls.c — `mailtunctl tls [--policy]`: the certificate mailrelayd shows on the fixed address,
 * and what the provider puts into its Postfix TLS policy to pin it.
 *
 * Reads the certificate file itself (the configured tls_cert, or cert.pem in tls_dir, made by
 * mailrelayd at its first start), so it works while mailrelayd is stopped; tls_dir is root's
 * alone, so run it as root. Prints the SHA-256 fingerprints of the certificate and of its
 * public key in Postfix's form, and the policy line for the provider's smtp_tls_policy_maps:
 *
 *   [192.0.2.10]:25 fingerprint match=<certificate fingerprint>|<public-key fingerprint>
 *
 * The key of that line is the next hop exactly as the provider's transport map names it
 * ([first listen address]:port). Either fingerprint pins the same key; the public-key one
 * still matches after a new certificate for the same key. --policy prints only that line.
 */
#include "config.h"
#include "ctl.h"
#include "relay_conf.h"
#include "tls_fprint.h"
#include "tls_ownkey.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* "[addr]:port" of the first fixed-address listener ("192.0.2.10:25" or "[2001:db8::1]:25"). */
static void nexthop(const struct relay_conf *c, char *out, size_t outlen)
{
    const char *l = c->listen.n ? c->listen.v[0] : "";
    const char *colon = strrchr(l, ':');

    if (l[0] == '[' || !colon)
        snprintf(out, outlen, "%s", l);
    else
        snprintf(out, outlen, "[%.*s]%s", (int)(colon - l), l, colon);
}

int verb_tls(const struct ctl_opts *o, int argc, char **argv)
{
    struct relay_conf rc;
    struct tls_own_paths own;
    char err[CONF_ERR_LEN], cfp[TLS_FPRINT_LEN], kfp[TLS_FPRINT_LEN], hop[300], subject[256];
    const char *path;
    int policy_only = argc == 2 && strcmp(argv[1], "--policy") == 0, status = 1;
    X509 *cert = NULL;
    FILE *f;

    if (argc > 2 || (argc == 2 && !policy_only)) {
        fprintf(stderr, "usage: mailtunctl tls [--policy]\n");
        return 2;
    }
    if (relay_conf_load(o->conf_path, &rc, err) < 0) {
        fprintf(stderr, "mailtunctl: %s\n", err);
        relay_conf_free(&rc);
        return 1;
    }
    path = rc.tls_cert;
    if (!path) {
        if (tls_own_paths(rc.tls_dir, &own, err, sizeof(err)) < 0) {
            fprintf(stderr, "mailtunctl: %s\n", err);
            goto out;
        }
        path = own.cert;
    }
    if (!(f = fopen(path, "r"))) {
        fprintf(stderr, "mailtunctl: %s: %s%s\n", path, strerror(errno),
                errno == ENOENT && !rc.tls_cert ? " (mailrelayd makes it at its first start: start it once)" :
                errno == EACCES ? " (run mailtunctl tls as root)" : "");
        goto out;
    }
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!cert) {
        fprintf(stderr, "mailtunctl: %s is not a PEM certificate (%s)\n", path,
                ERR_reason_error_string(ERR_get_error()));
        goto out;
    }
    if (tls_fprint_cert(cert, cfp, kfp) < 0) {
        fprintf(stderr, "mailtunctl: %s: cannot compute its fingerprints\n", path);
        goto out;
    }
    nexthop(&rc, hop, sizeof(hop));
    if (!policy_only) {
        X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
        printf("certificate  %s (%s)\n", path, rc.tls_cert ? "configured tls_cert" : "mailrelayd's own, self-signed");
        printf("subject      %s\n", subject);
        printf("sha256       %s\n", cfp);
        printf("pkey-sha256  %s\n", kfp);
        printf("provider's smtp_tls_policy_maps line (see conf/provider/README.md):\n");
    }
    printf("%s fingerprint match=%s|%s\n", hop, cfp, kfp);
    status = 0;
out:
    X509_free(cert);
    relay_conf_free(&rc);
    return status;
}

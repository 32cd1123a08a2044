/*
 * ipsec_proposal.c — IKE and ESP proposal lists checked word by word (see ipsec_proposal.h).
 */
#include "ipsec_proposal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum word_kind { W_CIPHER, W_AEAD, W_INTEG, W_PRF, W_DH, W_ESN, W_BROKEN };

struct word {
    const char *name;
    enum word_kind kind;
};

static const struct word words[] = {
    { "aes128", W_CIPHER }, { "aes192", W_CIPHER }, { "aes256", W_CIPHER },
    { "aes128ctr", W_CIPHER }, { "aes192ctr", W_CIPHER }, { "aes256ctr", W_CIPHER },
    { "camellia128", W_CIPHER }, { "camellia192", W_CIPHER }, { "camellia256", W_CIPHER },
    { "3des", W_CIPHER },
    { "aes128gcm8", W_AEAD }, { "aes128gcm12", W_AEAD }, { "aes128gcm16", W_AEAD }, { "aes128gcm", W_AEAD },
    { "aes192gcm8", W_AEAD }, { "aes192gcm12", W_AEAD }, { "aes192gcm16", W_AEAD }, { "aes192gcm", W_AEAD },
    { "aes256gcm8", W_AEAD }, { "aes256gcm12", W_AEAD }, { "aes256gcm16", W_AEAD }, { "aes256gcm", W_AEAD },
    { "aes128ccm8", W_AEAD }, { "aes128ccm12", W_AEAD }, { "aes128ccm16", W_AEAD },
    { "aes256ccm8", W_AEAD }, { "aes256ccm12", W_AEAD }, { "aes256ccm16", W_AEAD },
    { "chacha20poly1305", W_AEAD },
    { "sha1", W_INTEG }, { "sha", W_INTEG }, { "sha256", W_INTEG }, { "sha2_256", W_INTEG },
    { "sha384", W_INTEG }, { "sha2_384", W_INTEG }, { "sha512", W_INTEG }, { "sha2_512", W_INTEG },
    { "aesxcbc", W_INTEG }, { "aescmac", W_INTEG },
    { "prfsha1", W_PRF }, { "prfsha256", W_PRF }, { "prfsha384", W_PRF }, { "prfsha512", W_PRF },
    { "prfaesxcbc", W_PRF }, { "prfaescmac", W_PRF },
    { "modp1024", W_DH }, { "modp1536", W_DH }, { "modp2048", W_DH }, { "modp3072", W_DH },
    { "modp4096", W_DH }, { "modp6144", W_DH }, { "modp8192", W_DH },
    { "ecp224", W_DH }, { "ecp256", W_DH }, { "ecp384", W_DH }, { "ecp521", W_DH },
    { "ecp224bp", W_DH }, { "ecp256bp", W_DH }, { "ecp384bp", W_DH }, { "ecp512bp", W_DH },
    { "curve25519", W_DH }, { "x25519", W_DH }, { "curve448", W_DH }, { "x448", W_DH },
    { "esn", W_ESN }, { "noesn", W_ESN },
    { "des", W_BROKEN }, { "null", W_BROKEN }, { "md5", W_BROKEN }, { "prfmd5", W_BROKEN },
    { "modp768", W_BROKEN }, { "ecp192", W_BROKEN },
};

static const struct word *find_word(const char *w)
{
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(words[i].name, w) == 0)
            return &words[i];
    return NULL;
}

/* One proposal (its words joined by '-'), as a NUL-terminated copy. */
static int check_one(const char *key, const char *prop, enum ipsec_prop_kind kind, char *err, size_t errlen)
{
    char copy[256], *save = NULL;
    unsigned n[W_BROKEN + 1] = { 0 };
    bool ike = kind != IPSEC_PROP_ESP;

    if (strlen(prop) >= sizeof(copy)) {
        snprintf(err, errlen, "%s: a proposal longer than %zu characters", key, sizeof(copy) - 1);
        return -1;
    }
    snprintf(copy, sizeof(copy), "%s", prop);
    for (char *w = strtok_r(copy, "-", &save); w; w = strtok_r(NULL, "-", &save)) {
        const struct word *k = find_word(w);

        if (!k) {
            snprintf(err, errlen, "%s: '%s': unknown algorithm '%s' (e.g. aes256gcm16, aes256, sha256, "
                     "prfsha384, curve25519, ecp256, modp2048)", key, prop, w);
            return -1;
        }
        if (k->kind == W_BROKEN) {
            snprintf(err, errlen, "%s: '%s': '%s' is broken and not accepted", key, prop, w);
            return -1;
        }
        if (ike && k->kind == W_ESN) {
            snprintf(err, errlen, "%s: '%s': '%s' belongs to ESP proposals, not IKE", key, prop, w);
            return -1;
        }
        if (!ike && k->kind == W_PRF) {
            snprintf(err, errlen, "%s: '%s': '%s' is a PRF, which ESP proposals do not have", key, prop, w);
            return -1;
        }
        if (kind == IPSEC_PROP_IKEV1 && k->kind == W_AEAD) {
            snprintf(err, errlen, "%s: '%s': '%s' is an AEAD cipher, which IKEv1 cannot use for IKE "
                     "(e.g. aes256-sha256-curve25519)", key, prop, w);
            return -1;
        }
        n[k->kind]++;
    }
    if (n[W_CIPHER] + n[W_AEAD] == 0) {
        snprintf(err, errlen, "%s: '%s': no cipher (e.g. aes256gcm16 or aes256)", key, prop);
        return -1;
    }
    if (n[W_CIPHER] > 0 && n[W_INTEG] == 0) {
        snprintf(err, errlen, "%s: '%s': a cipher without integrity protection (add e.g. sha256)", key, prop);
        return -1;
    }
    if (ike && n[W_CIPHER] == 0 && n[W_PRF] == 0) {
        snprintf(err, errlen, "%s: '%s': an AEAD cipher needs a PRF in IKE (add e.g. prfsha384)", key, prop);
        return -1;
    }
    if (ike && n[W_DH] == 0) {
        snprintf(err, errlen, "%s: '%s': no Diffie-Hellman group (add e.g. curve25519 or ecp256)", key, prop);
        return -1;
    }
    return 0;
}

int ipsec_proposals_check(const char *key, const char *list, enum ipsec_prop_kind kind,
                          char *err, size_t errlen)
{
    const char *p = list;

    if (!list || !*list) {
        snprintf(err, errlen, "%s is empty", key);
        return -1;
    }
    while (*p) {
        size_t len = strcspn(p, ",");
        char prop[300];

        if (len == 0 || len >= sizeof(prop)) {
            snprintf(err, errlen, "%s: %s proposal in '%s'", key, len ? "an overlong" : "an empty", list);
            return -1;
        }
        memcpy(prop, p, len);
        prop[len] = '\0';
        if (prop[0] == '-' || prop[len - 1] == '-' || strstr(prop, "--")) {
            snprintf(err, errlen, "%s: '%s': an empty algorithm between dashes", key, prop);
            return -1;
        }
        if (check_one(key, prop, kind, err, errlen) < 0)
            return -1;
        p += len;
        if (*p == ',' && !*++p) {
            snprintf(err, errlen, "%s: '%s' ends with a comma", key, list);
            return -1;
        }
    }
    return 0;
}

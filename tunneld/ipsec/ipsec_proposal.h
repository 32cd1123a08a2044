/*
 * ipsec_proposal.h — checks IKE and ESP proposals (strongSwan's syntax) before they go to
 * charon, so a typo is named at start-up with the key and the word, not found later as a
 * "config discarded" from charon or a NO_PROPOSAL_CHOSEN from the provider. Pure.
 *
 * A list is proposals separated by commas; a proposal is algorithm words joined by '-'
 * ("aes256gcm16-prfsha384-curve25519"). Each word must be one strongSwan knows (a common
 * subset: AES-CBC/CTR/GCM/CCM, ChaCha20-Poly1305, Camellia, 3DES; SHA-1/SHA-2, AES-XCBC/CMAC;
 * MODP 1024-8192, NIST and Brainpool ECP, curve25519/448), and the proposal must be whole:
 *   IKE: a cipher; an integrity algorithm unless every cipher is AEAD; a PRF when it is AEAD
 *        only; a DH group. IKEv1 cannot use AEAD ciphers for IKE in strongSwan.
 *   ESP: a cipher; an integrity algorithm unless every cipher is AEAD; no PRF; a DH group is
 *        optional (PFS); esn/noesn allowed.
 * Broken algorithms (des, null, md5, modp768, ecp192) are refused by name.
 */
#ifndef MAILTUN_IPSEC_PROPOSAL_H
#define MAILTUN_IPSEC_PROPOSAL_H

#include <stddef.h>

enum ipsec_prop_kind { IPSEC_PROP_IKEV2, IPSEC_PROP_IKEV1, IPSEC_PROP_ESP };

/* Defaults: AES-GCM with SHA-2 PRFs and curve25519, P-256 for peers without it. IKEv1 has no
 * AEAD for IKE in strongSwan, so its IKE default is AES-CBC with HMAC-SHA-256. */
#define IPSEC_IKEV2_DEFAULT "aes256gcm16-prfsha384-curve25519,aes256gcm16-prfsha256-ecp256"
#define IPSEC_IKEV1_DEFAULT "aes256-sha256-curve25519,aes256-sha256-ecp256"
#define IPSEC_ESP_DEFAULT   "aes256gcm16-curve25519,aes256gcm16-ecp256"

/* 0, or -1 with why in err, naming key, the proposal and the word. */
int ipsec_proposals_check(const char *key, const char *list, enum ipsec_prop_kind kind,
                          char *err, size_t errlen);

#endif

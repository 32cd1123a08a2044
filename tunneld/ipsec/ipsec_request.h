/*
 * ipsec_request.h — the VICI requests mailtund sends charon for its L2TP SA, built from
 * struct ipsec_params into a vici_builder (pure: no I/O, so unit tests read them back).
 *
 *   load-shared  the pre-shared key, owned by both identities          (PSK only)
 *   load-key     our private key (PEM), charon finds it by our cert     (certificates only)
 *   load-conn    IKEv2 or IKEv1, proposals, no MOBIKE; auth psk, or pubkey with our
 *                certificate and the CA the provider's must come from; a transport-mode
 *                child for UDP local_port here and 1701 at the server
 *   initiate     that child, with charon's log of the attempt streamed to us (control-log)
 * Each begins the packet and leaves it unfinished (vici_finish is the sender's).
 */
#ifndef MAILTUN_IPSEC_REQUEST_H
#define MAILTUN_IPSEC_REQUEST_H

#include "ipsec_sa.h"
#include "vici_codec.h"

#define IPSEC_CHILD_NAME "l2tp"

void ipsec_req_load_shared(struct vici_builder *b, const struct ipsec_params *p);
void ipsec_req_load_key(struct vici_builder *b, const struct ipsec_params *p);
void ipsec_req_load_conn(struct vici_builder *b, const struct ipsec_params *p);
void ipsec_req_initiate(struct vici_builder *b, const struct ipsec_params *p);

#endif

/*
 * ipsec_sa.h — one transport-mode IPsec SA for L2TP, brought up and watched through
 * strongSwan's charon over VICI. IKE and ESP are charon's and the kernel's; this file only
 * tells charon what to do and listens to what it says.
 *
 * ipsec_sa_start: connect to the VICI socket, register for ike-updown, child-updown,
 * child-rekey and control-log, load the pre-shared key (or our private key; the certificates
 * travel in the connection) and the connection (IKEv2 or IKEv1, the configured proposals, a
 * transport-mode child covering UDP local_port here and 1701 at the server; ipsec_request.h),
 * initiate it. A failed set-up's reason names the cause charon logged (ipsec_diag.h). "up" follows once the CHILD_SA is installed; "down" exactly once, when
 * setting up failed or the SA went away afterwards (deleted, expired, DPD, charon gone),
 * with the reason charon gave. ipsec_sa_stop terminates and unloads what we loaded, then
 * frees (asynchronously, once charon has answered; no callback after it).
 * ipsec_sa_wait_stops: for a daemon on its way out, runs the event loop until charon has
 * answered every stop (or timeout_ms passed; then it logs which went unanswered and frees
 * them). Returns how many went unanswered.
 */
#ifndef MAILTUN_IPSEC_SA_H
#define MAILTUN_IPSEC_SA_H

#include <netinet/in.h>
#include <stdint.h>

#define IPSEC_REASON_LEN 256

struct event_base;
struct ipsec_sa;

struct ipsec_params {
    const char *vici_socket;       /* "unix:///var/run/charon.vici" */
    const char *conn_name;         /* ours, e.g. "mailtun"; charon's: "<conn_name>-<local_port>" */
    struct in_addr server;
    uint16_t local_port;           /* the L2TP source port the SA covers */
    int ike_version;               /* 2 (default) or 1 */
    const char *local_id;          /* our IKE identity; with a certificate NULL: its subject */
    const char *remote_id;         /* the provider's; NULL or "" accepts any (PSK only) */
    const char *psk;               /* the pre-shared key itself, or NULL with certificates: */
    const char *ca_pem;            /* the CA the provider's certificate must come from */
    const char *cert_pem;          /* our certificate */
    const char *key_pem;           /* its private key */
    const char *proposals;         /* IKE proposals, comma-separated */
    const char *esp_proposals;     /* ESP proposals, comma-separated */
    unsigned timeout_ms;           /* for the whole set-up */
};

struct ipsec_sa_events {
    void (*up)(void *arg, const char *desc);
    void (*down)(void *arg, const char *reason);
    void *arg;
};

/* NULL with why in err when charon cannot even be asked (socket, parameters). */
struct ipsec_sa *ipsec_sa_start(struct event_base *base, const struct ipsec_params *p,
                                const struct ipsec_sa_events *ev, char *err, size_t errlen);
void ipsec_sa_stop(struct ipsec_sa *sa);
int ipsec_sa_wait_stops(struct event_base *base, unsigned timeout_ms);

/* How long mailtund waits on exit for charon to answer its stops. */
#define IPSEC_STOP_WAIT_MS 3000

/* Checks a parameter that goes to charon: identities and proposals are printable, without
 * blanks, quotes or braces, and not empty. 0, or -1 with why in err (naming the key). */
int ipsec_param_check(const char *key, const char *value, char *err, size_t errlen);

#endif

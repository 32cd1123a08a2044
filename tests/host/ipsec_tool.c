/*
 * ipsec_tool.c — drives tunneld/ipsec/ipsec_sa against a real charon, for
 * tests/host/ipsec_sa.sh: brings the SA up, prints "up ..." or "down <reason>" as they come,
 * and on SIGTERM stops it (terminate + unload-conn) and exits once charon has answered
 * (ipsec_sa_wait_stops; "unanswered" if it did not within IPSEC_STOP_WAIT_MS).
 *
 *   ipsec_tool VICI_SOCKET SERVER LOCAL_PORT LOCAL_ID REMOTE_ID PSK [IKE_VERSION]
 *
 * With IPSEC_TOOL_CA, IPSEC_TOOL_CERT and IPSEC_TOOL_KEY in the environment (paths, as
 * [tunnel] ipsec_ca, ipsec_cert, ipsec_key) it authenticates with certificates, read and
 * checked by ipsec_creds as mailtund does; PSK is then ignored. The proposals are mailtund's
 * defaults for the IKE version.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "ipsec_sa.h"
#include "ipsec_creds.h"
#include "ipsec_proposal.h"
#include "log.h"

static struct event_base *base;
static struct ipsec_sa *sa;

static void on_up(void *arg, const char *desc)
{
    printf("up conn=%s\n", desc);
    fflush(stdout);
}

static void on_down(void *arg, const char *reason)
{
    printf("down %s\n", reason);
    fflush(stdout);
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
    printf("stopping\n");
    fflush(stdout);
    ipsec_sa_stop(sa);
    sa = NULL;
    event_base_loopbreak(base);          /* main waits for the stop's answers, as mailtund does */
}

int main(int argc, char **argv)
{
    struct ipsec_params p = { 0 };
    struct ipsec_sa_events ev = { on_up, on_down, NULL };
    struct event *term;
    struct tunnel_conf conf = { 0 };
    struct ipsec_creds cr = { 0 };
    char err[256];

    if (argc < 7) {
        fprintf(stderr, "usage: ipsec_tool VICI_SOCKET SERVER LOCAL_PORT LOCAL_ID REMOTE_ID PSK [IKE_VERSION]\n");
        return 2;
    }
    log_init("ipsec_tool", LOG_TO_STDERR, LOG_LVL_DEBUG);
    p.vici_socket = argv[1];
    if (inet_pton(AF_INET, argv[2], &p.server) != 1) {
        fprintf(stderr, "ipsec_tool: bad server address %s\n", argv[2]);
        return 2;
    }
    p.conn_name = "mailtun";
    p.local_port = (uint16_t)atoi(argv[3]);
    p.local_id = argv[4];
    p.remote_id = argv[5];
    p.psk = argv[6];
    p.ike_version = argc > 7 ? atoi(argv[7]) : 2;
    p.proposals = p.ike_version == 1 ? IPSEC_IKEV1_DEFAULT : IPSEC_IKEV2_DEFAULT;
    p.esp_proposals = IPSEC_ESP_DEFAULT;
    conf.ipsec_ca = getenv("IPSEC_TOOL_CA");
    conf.ipsec_cert = getenv("IPSEC_TOOL_CERT");
    conf.ipsec_key = getenv("IPSEC_TOOL_KEY");
    if (conf.ipsec_cert) {
        if (ipsec_creds_load(&conf, &cr, err, sizeof(err)) < 0) {
            printf("error %s\n", err);
            ipsec_creds_clear(&cr);
            return 1;
        }
        p.psk = NULL;
        p.ca_pem = cr.ca_pem;
        p.cert_pem = cr.cert_pem;
        p.key_pem = cr.key_pem;
    }
    p.timeout_ms = 15000;
    base = event_base_new();
    term = evsignal_new(base, SIGTERM, on_term, NULL);
    evsignal_add(term, NULL);
    sa = ipsec_sa_start(base, &p, &ev, err, sizeof(err));
    if (!sa) {
        printf("error %s\n", err);
        return 1;
    }
    event_base_dispatch(base);
    if (ipsec_sa_wait_stops(base, IPSEC_STOP_WAIT_MS) > 0)
        printf("unanswered\n");
    printf("exit\n");
    event_free(term);
    event_base_free(base);
    ipsec_creds_clear(&cr);
    return 0;
}

/*
 * ipsec_sa.c — a transport-mode SA for L2TP through charon's VICI socket (see ipsec_sa.h).
 *
 * The steps are VICI requests sent back to back (charon answers in order): four event
 * registrations, load-shared (or load-key), load-conn, initiate (ipsec_request.c). The first answer that is not a success
 * ends it ("down" with charon's errmsg). initiate's answer comes when the CHILD_SA is
 * installed (or failed, or timed out); meanwhile charon's log of the attempt arrives as
 * control-log events, kept by ipsec_diag for the reason if it fails. After "up", the events decide: a child-updown or
 * ike-updown for our connection without "up" means the SA is gone.
 *
 * Each SA is its own connection in charon, "<conn_name>-<local_port>": a dial right after a stop
 * (a new uplink address) does not wait for the old SA's terminate and unload-conn, which may
 * reach charon after the new load-conn and initiate, so they must not name the new connection.
 * The key (load-shared, id conn_name) is one per daemon and replaced at each dial.
 *
 * A stopped SA lives on until charon has answered its terminate and unload-conn: it is on the
 * "stopping" list, which ipsec_sa_wait_stops lets a daemon on its way out wait for (a request
 * whose client has gone may be dropped by charon, leaving the connection loaded).
 */
#include "ipsec_sa.h"
#include "ipsec_diag.h"
#include "ipsec_request.h"
#include "vici_conn.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

enum sa_state { SA_STARTING, SA_UP, SA_DOWN, SA_STOPPING };

struct ipsec_sa {
    struct vici_conn *conn;
    struct event *report;            /* deferred "down" */
    struct event *reap;              /* deferred free after ipsec_sa_stop */
    bool reaping;
    struct ipsec_sa_events ev;
    enum sa_state state;
    char name[64];                   /* ours, in the log: conn_name */
    char charon_name[80];            /* the connection and IKE_SA in charon */
    unsigned answers_left;           /* STOPPING: terminate + unload-conn */
    struct ipsec_diag diag;          /* charon's log of the set-up */
    char refused[IPSEC_REASON_LEN];  /* STOPPING: what charon said to a stop request, if not yes */
    struct ipsec_sa *next_stopping;  /* on the stopping list until freed */
    bool listed;
    char reason[IPSEC_REASON_LEN];
};

/* Stopped SAs whose answers have not come yet (one event loop per daemon). */
static struct ipsec_sa *stopping;

int ipsec_param_check(const char *key, const char *value, char *err, size_t errlen)
{
    if (!value || !*value) {
        snprintf(err, errlen, "%s is empty", key);
        return -1;
    }
    for (const char *c = value; *c; c++)
        if (!isprint((unsigned char)*c) || strchr(" \t\"'{}", *c)) {
            snprintf(err, errlen, "%s contains '%c' (0x%02x): identities and proposals are one word",
                     key, isprint((unsigned char)*c) ? *c : '?', (unsigned char)*c);
            return -1;
        }
    return 0;
}

/* "down" once, from the event loop (the owner may free us in it). */
static void go_down(struct ipsec_sa *sa, const char *reason)
{
    struct timeval now = { 0, 0 };

    if (sa->state == SA_DOWN || sa->state == SA_STOPPING)
        return;
    sa->state = SA_DOWN;
    snprintf(sa->reason, sizeof(sa->reason), "%s", reason);
    evtimer_add(sa->report, &now);
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
    struct ipsec_sa *sa = arg;

    sa->ev.down(sa->ev.arg, sa->reason);
}

/* An answer to one of the set-up steps: success, or the end. */
static void on_step(void *arg, const struct vici_packet *p, const char *err)
{
    struct ipsec_sa *sa = arg;
    char ok[8] = "", msg[160] = "", why[IPSEC_REASON_LEN];

    if (sa->state != SA_STARTING)
        return;
    if (!p) {
        go_down(sa, err);
        return;
    }
    switch (p->op) {
    case VICI_EVENT_CONFIRM:
        return;
    case VICI_EVENT_UNKNOWN:
        go_down(sa, "charon does not know the SA events (too old a strongSwan?)");
        return;
    case VICI_CMD_UNKNOWN:
        go_down(sa, "charon does not know a VICI command we need (too old a strongSwan?)");
        return;
    default:
        break;
    }
    vici_top_value(p->msg, p->msglen, "success", ok, sizeof(ok));
    if (strcmp(ok, "yes") != 0) {
        vici_top_value(p->msg, p->msglen, "errmsg", msg, sizeof(msg));
        snprintf(why, sizeof(why), "IPsec set-up refused by charon: %s", msg[0] ? msg : "no reason given");
        go_down(sa, why);
    }
}

/* initiate's answer: the CHILD_SA is in the kernel, or it is not. */
static void on_initiated(void *arg, const struct vici_packet *p, const char *err)
{
    struct ipsec_sa *sa = arg;
    char ok[8] = "", msg[160] = "", why[IPSEC_REASON_LEN], cause[IPSEC_REASON_LEN - 32];

    if (sa->state != SA_STARTING)
        return;
    if (!p) {
        go_down(sa, err);
        return;
    }
    if (p->op == VICI_CMD_RESPONSE)
        vici_top_value(p->msg, p->msglen, "success", ok, sizeof(ok));
    if (strcmp(ok, "yes") != 0) {
        if (p->op == VICI_CMD_RESPONSE)
            vici_top_value(p->msg, p->msglen, "errmsg", msg, sizeof(msg));
        if (ipsec_diag_reason(&sa->diag, cause, sizeof(cause)))
            snprintf(why, sizeof(why), "IPsec SA not established: %s", cause);
        else
            snprintf(why, sizeof(why), "IPsec SA not established: %s (wrong pre-shared key or identity, "
                 "no common proposal, or UDP 500/4500 blocked? charon's log says which)",
                 msg[0] ? msg : "no reason given");
        go_down(sa, why);
        return;
    }
    sa->state = SA_UP;
    sa->ev.up(sa->ev.arg, sa->name);
}

static void on_event(void *arg, const char *name, const uint8_t *msg, size_t len)
{
    struct ipsec_sa *sa = arg;
    char ike[64], up[8] = "", why[IPSEC_REASON_LEN], line[256];

    if (strcmp(name, "control-log") == 0) {
        if (sa->state == SA_STARTING && vici_top_value(msg, len, "msg", line, sizeof(line))) {
            log_debug("ipsec charon: %s", line);
            ipsec_diag_feed(&sa->diag, line);
        }
        return;
    }
    if (!vici_first_section(msg, len, ike, sizeof(ike)) || strcmp(ike, sa->charon_name) != 0)
        return;                      /* another connection of the same charon (or our previous SA) */
    if (strcmp(name, "child-rekey") == 0) {
        log_info("ipsec rekeyed conn=%s", sa->name);
        return;
    }
    vici_top_value(msg, len, "up", up, sizeof(up));
    if (strcmp(up, "yes") == 0 || sa->state != SA_UP)
        return;
    snprintf(why, sizeof(why), "IPsec SA gone (%s from charon: deleted, expired or the peer stopped "
             "answering)", name);
    go_down(sa, why);
}

static void sa_free(struct ipsec_sa *sa)
{
    for (struct ipsec_sa **pp = &stopping; sa->listed && *pp; pp = &(*pp)->next_stopping)
        if (*pp == sa) {
            *pp = sa->next_stopping;
            break;
        }
    vici_conn_free(sa->conn);
    if (sa->report)
        event_free(sa->report);
    if (sa->reap)
        event_free(sa->reap);
    free(sa);
}

/* Frees from the event loop: the answers that end a stop arrive inside vici_conn's reader. */
static void reap_later(struct ipsec_sa *sa)
{
    struct timeval now = { 0, 0 };

    if (sa->reaping)
        return;
    sa->reaping = true;
    evtimer_add(sa->reap, &now);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    sa_free(arg);
}

static void on_closed(void *arg, const char *reason)
{
    struct ipsec_sa *sa = arg;

    if (sa->state == SA_STOPPING) {
        if (sa->answers_left > 0)
            log_warnx("ipsec stop conn=%s: charon closed the VICI connection before answering (%s); "
                      "the connection may still be loaded in charon", sa->name, reason);
        reap_later(sa);
        return;
    }
    go_down(sa, reason);
}

/* Builds and sends one request; -1 if it could not be queued. */
static int send_req(struct ipsec_sa *sa, struct vici_builder *b, vici_reply_cb *cb)
{
    int r = vici_finish(b) == 0 ? vici_conn_send(sa->conn, b, cb, sa) : -1;

    return r;
}

struct ipsec_sa *ipsec_sa_start(struct event_base *base, const struct ipsec_params *p,
                                const struct ipsec_sa_events *ev, char *err, size_t errlen)
{
    struct vici_conn_events cev = { on_event, on_closed, NULL };
    struct vici_builder b = { 0 };
    struct ipsec_params in_charon;
    struct ipsec_sa *sa;
    char server[INET_ADDRSTRLEN];
    static const char *const events[] = { "ike-updown", "child-updown", "child-rekey", "control-log" };
    bool certs = p->cert_pem && *p->cert_pem;
    int r = 0;

    if ((!certs || (p->local_id && *p->local_id)) && ipsec_param_check("ipsec_id", p->local_id, err, errlen) < 0)
        return NULL;
    if (ipsec_param_check("ipsec_proposals", p->proposals, err, errlen) < 0 ||
        ipsec_param_check("ipsec_esp_proposals", p->esp_proposals, err, errlen) < 0 ||
        (p->remote_id && *p->remote_id && ipsec_param_check("ipsec_remote_id", p->remote_id, err, errlen) < 0))
        return NULL;
    if (certs ? !p->ca_pem || !*p->ca_pem || !p->key_pem || !*p->key_pem : !p->psk || !*p->psk) {
        snprintf(err, errlen, certs ? "a certificate without its CA or private key" : "no pre-shared key");
        return NULL;
    }
    sa = calloc(1, sizeof(*sa));
    if (!sa || !(sa->report = evtimer_new(base, on_report, sa)) ||
        !(sa->reap = evtimer_new(base, on_reap, sa))) {
        snprintf(err, errlen, "out of memory");
        if (sa)
            sa_free(sa);
        return NULL;
    }
    sa->ev = *ev;
    ipsec_diag_init(&sa->diag, certs);
    snprintf(sa->name, sizeof(sa->name), "%s", p->conn_name);
    snprintf(sa->charon_name, sizeof(sa->charon_name), "%s-%u", p->conn_name, (unsigned)p->local_port);
    in_charon = *p;
    in_charon.conn_name = sa->charon_name;
    cev.arg = sa;
    sa->conn = vici_conn_open(base, p->vici_socket, &cev, err, errlen);
    if (!sa->conn) {
        sa_free(sa);
        return NULL;
    }
    inet_ntop(AF_INET, &p->server, server, sizeof(server));

    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]) && r == 0; i++) {
        vici_begin(&b, VICI_EVENT_REGISTER, events[i]);
        r = send_req(sa, &b, on_step);
    }
    if (certs)
        ipsec_req_load_key(&b, p);
    else
        ipsec_req_load_shared(&b, p);
    r = r ? r : send_req(sa, &b, on_step);
    ipsec_req_load_conn(&b, &in_charon);
    r = r ? r : send_req(sa, &b, on_step);
    ipsec_req_initiate(&b, &in_charon);
    r = r ? r : send_req(sa, &b, on_initiated);
    if (b.data)
        explicit_bzero(b.data, b.cap);       /* the last secret in it: the key's request */
    vici_builder_free(&b);
    if (r) {
        snprintf(err, errlen, "cannot send the IPsec set-up to charon (parameters too long?)");
        sa_free(sa);
        return NULL;
    }
    log_info("ipsec dial conn=%s server=%s ike=v%d auth=%s local_port=%u id=%s charon_conn=%s", sa->name,
             server, p->ike_version == 1 ? 1 : 2, certs ? "certificate" : "psk", (unsigned)p->local_port,
             p->local_id && *p->local_id ? p->local_id : "(the certificate's subject)", sa->charon_name);
    return sa;
}

/* terminate and unload-conn; freed when both are answered or the socket closes. */
static void on_stop_answer(void *arg, const struct vici_packet *p, const char *err)
{
    struct ipsec_sa *sa = arg;
    char ok[8] = "", msg[160] = "";

    if (!p || sa->answers_left == 0)
        return;                      /* closed: on_closed says so */
    if (p->op == VICI_CMD_RESPONSE)
        vici_top_value(p->msg, p->msglen, "success", ok, sizeof(ok));
    if (strcmp(ok, "yes") != 0 && !sa->refused[0]) {
        vici_top_value(p->msg, p->msglen, "errmsg", msg, sizeof(msg));
        snprintf(sa->refused, sizeof(sa->refused), "%s", msg[0] ? msg : "no reason given");
    }
    if (--sa->answers_left > 0)
        return;
    if (sa->refused[0])
        log_warnx("ipsec stop conn=%s: charon answered, refusing: %s", sa->name, sa->refused);
    else
        log_info("ipsec stop conn=%s: charon answered: terminated and unloaded", sa->name);
    reap_later(sa);
}

void ipsec_sa_stop(struct ipsec_sa *sa)
{
    struct vici_builder b = { 0 };
    int r;

    if (!sa)
        return;
    evtimer_del(sa->report);
    sa->state = SA_STOPPING;
    vici_begin(&b, VICI_CMD_REQUEST, "terminate");
    vici_kv(&b, "ike", sa->charon_name);
    vici_kv(&b, "force", "yes");
    vici_kv(&b, "timeout", "-1");
    r = send_req(sa, &b, on_stop_answer);
    vici_begin(&b, VICI_CMD_REQUEST, "unload-conn");
    vici_kv(&b, "name", sa->charon_name);
    r = r ? r : send_req(sa, &b, on_stop_answer);
    vici_builder_free(&b);
    sa->answers_left = 2;
    if (r) {
        reap_later(sa);
    } else {
        vici_conn_flush(sa->conn);     /* mailtund may exit before its loop runs again */
        sa->next_stopping = stopping;
        stopping = sa;
        sa->listed = true;
    }
    log_info("ipsec stop conn=%s", sa->name);
}

static void on_wait_over(evutil_socket_t fd, short what, void *arg)
{
    *(bool *)arg = true;
}

int ipsec_sa_wait_stops(struct event_base *base, unsigned timeout_ms)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    bool over = false;
    struct event *timer;
    int left = 0;

    if (!stopping)
        return 0;
    timer = evtimer_new(base, on_wait_over, &over);
    if (!timer || evtimer_add(timer, &tv) < 0)
        over = true;
    /* the answers free their SAs (reap_later): the list empties as they come */
    while (stopping && !over)
        event_base_loop(base, EVLOOP_ONCE);
    if (timer)
        event_free(timer);
    while (stopping) {
        log_warnx("ipsec stop conn=%s: charon did not answer terminate and unload-conn within %u ms; "
                  "the connection may still be loaded in charon (the next dial replaces it)",
                  stopping->name, timeout_ms);
        left++;
        sa_free(stopping);
    }
    return left;
}

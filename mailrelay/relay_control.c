/*
 * relay_control.c — mailrelayd's control verbs (see relay_control.h).
 *
 * Answers must fit one frame (IPC_MAX_PAYLOAD, IPC_MAX_ATTRS): listings are paged, long
 * values are cut, and a message with very many recipients shows the first ones and how
 * many more there are.
 */
#include "relay_control.h"
#include "etrn.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "delivery.h"
#include "link_events.h"
#include "log.h"
#include "server.h"
#include "spool.h"
#include "store.h"

#define MAX_KV_ATTRS (IPC_MAX_ATTRS - 2)  /* room for the closing "next=" / "more" */
#define KV_ROOM 560                        /* worst case of one KV: 512 + attribute header */
#define HEADER_SCAN 16384                  /* bytes of the message read for show */

void relay_control_kick(struct relay_control *rc)
{
    for (int i = 0; i < 2; i++)
        if (rc->delivery[i])
            delivery_kick(rc->delivery[i]);
}

static bool frame_has_room(const struct ipc_builder *b, size_t nattrs, size_t need)
{
    return nattrs < MAX_KV_ATTRS && b->len + need + KV_ROOM <= IPC_MAX_FRAME;
}

static void send_or_error(struct ctl_client *c, struct ipc_builder *b)
{
    if (ipc_finish(b))
        ctl_client_send(c, b);
    else
        ctl_client_error(c, "answer too large");
}

/* ---- status ------------------------------------------------------------------------------ */

void relay_numbers_collect(struct relay_control *rc, struct relay_numbers *n)
{
    memset(n, 0, sizeof(*n));
    n->now = (int64_t)time(NULL);
    n->oldest = -1;
    for (size_t i = 0; i < spool_count(rc->spool); i++) {
        const struct spool_entry *e = spool_entry_at(rc->spool, i);
        if (e->place == SPOOL_HELD) {
            n->held++;
        } else {
            n->queued++;
            for (size_t r = 0; r < e->env.nrcpt; r++)
                if (e->env.rcpt[r].state == RCPT_PENDING && e->env.rcpt[r].attempts > 0) {
                    n->deferred++;
                    break;
                }
        }
        if (n->oldest < 0 || e->env.arrival < n->oldest)
            n->oldest = e->env.arrival;
    }
    for (int i = 0; i < 2; i++) {
        struct delivery_stats d;
        if (!rc->delivery[i])
            continue;
        delivery_get_stats(rc->delivery[i], &d);
        n->ds.messages_done += d.messages_done;
        n->ds.rcpt_sent += d.rcpt_sent;
        n->ds.sent_delay_sum += d.sent_delay_sum;
        n->ds.rcpt_deferred += d.rcpt_deferred;
        n->ds.rcpt_bounced += d.rcpt_bounced;
        n->ds.bounces_queued += d.bounces_queued;
        n->ds.bounces_dropped += d.bounces_dropped;
        if (d.last_delivery > n->last)
            n->last = d.last_delivery;
    }
    store_get_stats(rc->store, &n->ss);
    server_get_stats(rc->server, &n->sv);
}

static void status(struct relay_control *rc, struct ctl_client *c)
{
    struct ipc_builder b;
    struct relay_numbers n;

    relay_numbers_collect(rc, &n);

    ipc_begin(&b, IPC_STATUS_REPLY);
    ipc_put_kv(&b, "daemon", "mailrelayd");
    ipc_put_kv(&b, "pid", "%d", (int)getpid());
    ipc_put_kv(&b, "running_s", "%ld", (long)(n.now - rc->started));
    ipc_put_kv(&b, "queued", "%zu", n.queued);
    ipc_put_kv(&b, "held", "%zu", n.held);
    ipc_put_kv(&b, "deferred", "%zu", n.deferred);
    if (n.oldest >= 0)
        ipc_put_kv(&b, "oldest_age_s", "%lld", (long long)(n.now - n.oldest));
    else
        ipc_put_kv(&b, "oldest_age_s", "-");
    ipc_put_kv(&b, "messages_in", "%llu", (unsigned long long)n.ss.messages);
    ipc_put_kv(&b, "bytes_in", "%llu", (unsigned long long)n.ss.bytes);
    ipc_put_kv(&b, "commit_failures", "%llu", (unsigned long long)n.ss.failed);
    ipc_put_kv(&b, "commits_pending", "%zu", store_pending(rc->store));
    ipc_put_kv(&b, "messages_out", "%llu", (unsigned long long)n.ds.messages_done);
    ipc_put_kv(&b, "rcpt_sent", "%llu", (unsigned long long)n.ds.rcpt_sent);
    ipc_put_kv(&b, "rcpt_deferred", "%llu", (unsigned long long)n.ds.rcpt_deferred);
    ipc_put_kv(&b, "rcpt_bounced", "%llu", (unsigned long long)n.ds.rcpt_bounced);
    ipc_put_kv(&b, "bounces_queued", "%llu", (unsigned long long)n.ds.bounces_queued);
    ipc_put_kv(&b, "bounces_dropped", "%llu", (unsigned long long)n.ds.bounces_dropped);
    if (n.last)
        ipc_put_kv(&b, "last_delivery_s", "%lld", (long long)(n.now - n.last));
    else
        ipc_put_kv(&b, "last_delivery_s", "never");
    if (!rc->delivery[0])
        ipc_put_kv(&b, "delivery", "off");
    ipc_put_kv(&b, "sessions", "%zu", n.sv.sessions);
    ipc_put_kv(&b, "sessions_total", "%llu", (unsigned long long)n.sv.accepted);
    ipc_put_kv(&b, "sessions_refused", "%llu", (unsigned long long)n.sv.refused);
    ipc_put_kv(&b, "tls_sessions", "%llu", (unsigned long long)n.sv.tls);
    if (rc->link)
        link_events_status(rc->link, &b);
    else
        ipc_put_kv(&b, "link", "unknown");
    if (rc->etrn)
        etrn_status(rc->etrn, &b);
    send_or_error(c, &b);
}

/* ---- list / show ------------------------------------------------------------------------- */

static void entry_summary(const struct spool_entry *e, int64_t now, unsigned *pending,
                          unsigned *attempts)
{
    *pending = 0;
    *attempts = 0;
    for (size_t r = 0; r < e->env.nrcpt; r++) {
        if (e->env.rcpt[r].state == RCPT_PENDING)
            (*pending)++;
        if (e->env.rcpt[r].attempts > *attempts)
            *attempts = e->env.rcpt[r].attempts;
    }
}

static void list(struct relay_control *rc, struct ctl_client *c, const struct ipc_msg *m)
{
    struct ipc_builder b;
    size_t start = 0, n = spool_count(rc->spool), nattrs = 0, i;
    int64_t now = (int64_t)time(NULL);

    for (size_t a = 0; a < m->nattrs; a++) {
        char kv[64];
        if (m->attrs[a].type != ATTR_KV || m->attrs[a].len >= sizeof(kv))
            continue;
        memcpy(kv, m->attrs[a].val, m->attrs[a].len);
        kv[m->attrs[a].len] = '\0';
        if (strncmp(kv, "start=", 6) == 0)
            start = strtoul(kv + 6, NULL, 10);
    }
    ipc_begin(&b, IPC_OK);
    for (i = start; i < n; i++) {
        const struct spool_entry *e = spool_entry_at(rc->spool, i);
        unsigned pending, attempts;
        char next[32] = "-";
        if (!frame_has_room(&b, nattrs, 0))
            break;
        entry_summary(e, now, &pending, &attempts);
        if (e->place == SPOOL_QUEUED && e->due != INT64_MAX)
            snprintf(next, sizeof(next), "%lld", (long long)(e->due > now ? e->due - now : 0));
        ipc_put_kv(&b, e->env.qid, "%s size=%llu age=%lld nrcpt=%zu pending=%u attempts=%u next=%s from=<%.200s>",
                   e->place == SPOOL_HELD ? "held" : "queued", (unsigned long long)e->env.size,
                   (long long)(now - e->env.arrival), e->env.nrcpt, pending, attempts, next,
                   e->env.sender);
        nattrs++;
    }
    if (i < n)
        ipc_put_kv(&b, "next", "%zu", i);
    send_or_error(c, &b);
}

/* Finds "Name:" in the header block of buf and copies its unfolded, printable value. */
static void header_value(const char *buf, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name), pos = 0, o = 0;
    out[0] = '\0';
    while (pos < len) {
        const char *line = buf + pos;
        const char *eol = memchr(line, '\n', len - pos);
        size_t ll = eol ? (size_t)(eol - line) : len - pos;
        if (ll == 0 || (ll == 1 && line[0] == '\r'))
            return;                         /* end of the header */
        if (ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            size_t p = pos + nl + 1;
            /* the value, and its continuation lines (starting with blank) */
            for (;;) {
                for (; p < len && buf[p] != '\n'; p++) {
                    unsigned char ch = (unsigned char)buf[p];
                    if (ch == '\r')
                        continue;
                    if (o + 1 < outlen && (o || ch != ' ') && ch != '\t')
                        out[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
                    else if (ch == '\t' && o && o + 1 < outlen)
                        out[o++] = ' ';
                }
                if (p + 1 < len && (buf[p + 1] == ' ' || buf[p + 1] == '\t')) {
                    p++;
                    continue;
                }
                break;
            }
            out[o] = '\0';
            return;
        }
        if (!eol)
            return;
        pos += ll + 1;
    }
}

static void show(struct relay_control *rc, struct ctl_client *c, const char *qid)
{
    const struct spool_entry *e = spool_lookup(rc->spool, qid);
    struct ipc_builder b;
    int64_t now = (int64_t)time(NULL);
    char head[HEADER_SCAN], value[256];
    size_t nattrs = 0, r;
    ssize_t got = 0;
    int fd;

    if (!e) {
        char text[96];
        snprintf(text, sizeof(text), "no message %s in the queue", qid);
        ctl_client_error(c, text);
        return;
    }
    ipc_begin(&b, IPC_OK);
    ipc_put_kv(&b, "id", "%s", e->env.qid);
    ipc_put_kv(&b, "place", "%s", e->place == SPOOL_HELD ? "held" : "queued");
    ipc_put_kv(&b, "arrival", "%lld", (long long)e->env.arrival);
    ipc_put_kv(&b, "age_s", "%lld", (long long)(now - e->env.arrival));
    ipc_put_kv(&b, "direction", "%s", env_direction_name(e->env.direction));
    ipc_put_kv(&b, "client", "%.200s", e->env.client[0] ? e->env.client : "-");
    ipc_put_kv(&b, "helo", "%.255s", e->env.helo[0] ? e->env.helo : "-");
    ipc_put_kv(&b, "from", "<%.480s>", e->env.sender);
    ipc_put_kv(&b, "size", "%llu", (unsigned long long)e->env.size);
    ipc_put_kv(&b, "body", "%s%s%s", e->env.body_flags & ENV_BODY_8BITMIME ? "8bitmime " : "",
               e->env.body_flags & ENV_BODY_SMTPUTF8 ? "smtputf8 " : "",
               e->env.body_flags ? "" : "7bit");
    nattrs = 10;
    fd = spool_open_data(rc->spool, qid);
    if (fd >= 0) {
        /* the message's own octets only: the envelope trailer follows them */
        got = read(fd, head, e->env.size < sizeof(head) ? (size_t)e->env.size : sizeof(head));
        close(fd);
    }
    if (got > 0) {
        header_value(head, (size_t)got, "Message-ID", value, sizeof(value));
        ipc_put_kv(&b, "message_id", "%s", value[0] ? value : "-");
        header_value(head, (size_t)got, "Subject", value, sizeof(value));
        ipc_put_kv(&b, "subject", "%s", value[0] ? value : "-");
        nattrs += 2;
    }
    for (r = 0; r < e->env.nrcpt; r++) {
        const struct env_rcpt *rc_ = &e->env.rcpt[r];
        char next[32] = "-";
        if (!frame_has_room(&b, nattrs, 0))
            break;
        if (rc_->state == RCPT_PENDING)
            snprintf(next, sizeof(next), "%lld",
                     (long long)(rc_->next_attempt > now ? rc_->next_attempt - now : 0));
        ipc_put_kv(&b, "rcpt", "<%.300s> state=%s attempts=%u next=%s last=\"%.120s\"", rc_->addr,
                   rcpt_state_name(rc_->state), rc_->attempts, next, rc_->last_reply);
        nattrs++;
    }
    if (r < e->env.nrcpt)
        ipc_put_kv(&b, "rcpt_more", "%zu", e->env.nrcpt - r);
    send_or_error(c, &b);
}

/* ---- changes ----------------------------------------------------------------------------- */

/* Makes the pending recipients of one queued message due now; returns 1 if it changed. */
static int flush_one(struct relay_control *rc, const struct spool_entry *e, int64_t now, int *err)
{
    struct envelope env;
    int changed = 0, st;

    if (e->place != SPOOL_QUEUED || e->due == INT64_MAX || e->due <= now)
        return 0;
    if (envelope_copy(&env, &e->env) < 0) {
        *err = SPOOL_ERR_NOMEM;
        return 0;
    }
    for (size_t r = 0; r < env.nrcpt; r++)
        if (env.rcpt[r].state == RCPT_PENDING && env.rcpt[r].next_attempt > now) {
            env.rcpt[r].next_attempt = now;
            changed = 1;
        }
    if (changed && (st = spool_update(rc->spool, &env)) != SPOOL_OK) {
        *err = st;
        changed = 0;
    }
    envelope_free(&env);
    return changed;
}

static void flush(struct relay_control *rc, struct ctl_client *c, const char *qid)
{
    int64_t now = (int64_t)time(NULL);
    int err = 0;
    size_t n = 0;
    char text[160];

    if (qid) {
        const struct spool_entry *e = spool_lookup(rc->spool, qid);
        if (!e) {
            snprintf(text, sizeof(text), "no message %s in the queue", qid);
            ctl_client_error(c, text);
            return;
        }
        if (e->place == SPOOL_HELD) {
            snprintf(text, sizeof(text), "message %s is on hold: release it first", qid);
            ctl_client_error(c, text);
            return;
        }
        n = (size_t)flush_one(rc, e, now, &err);
    } else {
        /* spool_update() keeps the index order, so walking by index is safe. */
        for (size_t i = 0; i < spool_count(rc->spool); i++)
            n += (size_t)flush_one(rc, spool_entry_at(rc->spool, i), now, &err);
    }
    if (err) {
        snprintf(text, sizeof(text), "flush failed: %s", spool_strerror(err));
        ctl_client_error(c, text);
        return;
    }
    relay_control_kick(rc);
    log_notice("queue flush id=%s rescheduled=%zu uid=%d", qid ? qid : "all", n, (int)ctl_client_uid(c));
    snprintf(text, sizeof(text), "%zu message%s rescheduled, delivery %s", n, n == 1 ? "" : "s",
             rc->delivery[0] ? "kicked" : "is off");
    ctl_client_ok(c, text);
}

static void change(struct relay_control *rc, struct ctl_client *c, uint16_t type, const char *qid)
{
    const struct spool_entry *e = spool_lookup(rc->spool, qid);
    const char *verb = type == IPC_QUEUE_DELETE ? "delete" : type == IPC_QUEUE_HOLD ? "hold" : "release";
    char text[160];
    int st;

    if (!e) {
        snprintf(text, sizeof(text), "no message %s in the queue", qid);
        ctl_client_error(c, text);
        return;
    }
    if (type == IPC_QUEUE_HOLD && e->place == SPOOL_HELD) {
        snprintf(text, sizeof(text), "message %s is already on hold", qid);
        ctl_client_error(c, text);
        return;
    }
    if (type == IPC_QUEUE_RELEASE && e->place != SPOOL_HELD) {
        snprintf(text, sizeof(text), "message %s is not on hold", qid);
        ctl_client_error(c, text);
        return;
    }
    st = type == IPC_QUEUE_DELETE ? spool_delete(rc->spool, qid)
       : type == IPC_QUEUE_HOLD ? spool_hold(rc->spool, qid)
       : spool_release(rc->spool, qid);
    if (st != SPOOL_OK) {
        snprintf(text, sizeof(text), "%s %s failed: %s", verb, qid, spool_strerror(st));
        log_warnx("queue %s id=%s failed error=\"%s\" uid=%d", verb, qid, spool_strerror(st),
                  (int)ctl_client_uid(c));
        ctl_client_error(c, text);
        return;
    }
    log_notice("queue %s id=%s uid=%d", verb, qid, (int)ctl_client_uid(c));
    if (type == IPC_QUEUE_RELEASE)
        relay_control_kick(rc);
    snprintf(text, sizeof(text), "%s: %s", qid,
             type == IPC_QUEUE_DELETE ? "deleted" : type == IPC_QUEUE_HOLD ? "on hold" : "released");
    ctl_client_ok(c, text);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static int get_qid(struct ctl_client *c, const struct ipc_msg *m, char *qid, bool required)
{
    char raw[64];
    if (ipc_get_str(m, ATTR_QUEUE_ID, raw, sizeof(raw)) < 0) {
        if (required || ipc_find(m, ATTR_QUEUE_ID)) {
            ctl_client_error(c, required ? "a queue id is required" : "bad queue id");
            return -1;
        }
        return 0;
    }
    if (!queue_id_valid(raw)) {
        char text[128];
        snprintf(text, sizeof(text), "'%.40s' is not a queue id (20 hex digits)", raw);
        ctl_client_error(c, text);
        return -1;
    }
    memcpy(qid, raw, QUEUE_ID_SIZE);
    return 1;
}

void relay_control_on_msg(struct ctl_client *c, const struct ipc_msg *m, void *arg)
{
    struct relay_control *rc = arg;
    char qid[QUEUE_ID_SIZE], role[32];
    int have;

    switch (m->type) {
    case IPC_HELLO:
        if (ipc_get_str(m, ATTR_ROLE, role, sizeof(role)) == 0)
            log_debug("control hello role=%s pid=%d uid=%d", role, (int)ctl_client_pid(c),
                      (int)ctl_client_uid(c));
        ctl_client_ok(c, "mailrelayd");
        break;
    case IPC_STATUS:
        status(rc, c);
        break;
    case IPC_QUEUE_LIST:
        list(rc, c, m);
        break;
    case IPC_QUEUE_SHOW:
        if (get_qid(c, m, qid, true) > 0)
            show(rc, c, qid);
        break;
    case IPC_QUEUE_FLUSH:
        if ((have = get_qid(c, m, qid, false)) >= 0)
            flush(rc, c, have ? qid : NULL);
        break;
    case IPC_QUEUE_DELETE:
    case IPC_QUEUE_HOLD:
    case IPC_QUEUE_RELEASE:
        if (get_qid(c, m, qid, true) > 0)
            change(rc, c, m->type, qid);
        break;
    default:
        log_warnx("control request refused type=%s(%u) pid=%d", ipc_type_name(m->type), m->type,
                  (int)ctl_client_pid(c));
        ctl_client_error(c, "mailrelayd does not handle this request");
    }
}

void relay_control_on_gone(struct ctl_client *c, void *arg)
{
}

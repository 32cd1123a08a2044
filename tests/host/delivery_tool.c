/*
 * delivery_tool.c — drives mailrelay/deliver/delivery.c against a real server, for tests/host/delivery.sh.
 *
 *   delivery_tool [options] SPOOLDIR HOST PORT|unix
 *     -n N      spool N test messages first (default 0: deliver what is queued)
 *     -r R      recipients per message (default 1)
 *     -s BYTES  approximate body size (default small)
 *     -f ADDR   sender (default sender@example.org; "" for the null sender)
 *     -L        LMTP instead of SMTP
 *     -c N      connections (default 2)
 *     -B SECS   retry base (default 1), -M SECS max interval (default 2), -E SECS lifetime
 *     -t SECS   give up after this long (default 30)
 *     -T MODE   STARTTLS: opportunistic or verify;  -A FILE CA bundle, -N NAME expected name
 *     -F FLAGS  the messages need 8bitmime or smtputf8 (envelope flag, and an 8-bit body line)
 *     -v        debug log
 * Opens the spool, commits the messages with spool_commit(), runs the delivery loop until no
 * inbound message is left (or the timeout), and prints one line:
 *   sent=N deferred=N bounced=N done=N bounces=N inbound=N outbound=N
 * Exit 0 when the inbound queue is empty, 2 on timeout, 1 on errors.
 * Message bodies contain lines starting with "." and a bare LF, to exercise dot-stuffing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "delivery.h"
#include "spool.h"

static struct delivery *g_d;
static struct event_base *g_base;
static time_t g_deadline;
static int g_rc = 2;
static unsigned g_body_flags;        /* -F */

static void check(evutil_socket_t fd, short what, void *arg)
{
    if (delivery_idle(g_d)) {
        g_rc = 0;
        event_base_loopbreak(g_base);
    } else if (time(NULL) >= g_deadline) {
        event_base_loopbreak(g_base);
    }
}

static int spool_one(struct spool *sp, int i, int nrcpt, long size, const char *sender)
{
    struct spool_msg *m;
    struct envelope env;
    char buf[1024];
    int rc = spool_msg_begin(sp, &m);

    if (rc != SPOOL_OK)
        return rc;
    int n = snprintf(buf, sizeof(buf),
                     "From: <%s>\r\nTo: <rcpt0@example.com>\r\nSubject: delivery test %d\r\n"
                     "Message-ID: <test%d.%ld@example.org>\r\n\r\n"
                     "first line of message %d\r\n.a line starting with a dot\r\n..two dots\r\n"
                     "bare LF here\nend\r\n", sender, i, i, (long)time(NULL), i);
    spool_msg_write(m, buf, (size_t)n);
    if (g_body_flags)
        spool_msg_write(m, "Gr\xc3\xbc\xc3\x9f aus K\xc3\xb6ln\r\n", 18);
    for (long w = n; w < size; w += 78)
        spool_msg_write(m, "0123456789012345678901234567890123456789012345678901234567890123456789012345\r\n", 78);
    if (envelope_init(&env) || envelope_set(&env.sender, sender) || envelope_set(&env.client, "127.0.0.1") ||
        envelope_set(&env.helo, "test.example.org")) {
        spool_msg_abort(m);
        return SPOOL_ERR_NOMEM;
    }
    env.arrival = time(NULL);
    env.direction = ENV_INBOUND;
    env.body_flags = g_body_flags;
    for (int r = 0; r < nrcpt; r++) {
        snprintf(buf, sizeof(buf), "rcpt%d@example.com", r);
        envelope_add_rcpt(&env, buf, env.arrival);
    }
    rc = spool_commit(m, &env);
    envelope_free(&env);
    return rc;
}

int main(int argc, char **argv)
{
    struct delivery_config cfg;
    int nmsg = 0, nrcpt = 1, opt, timeout = 30;
    long size = 0;
    const char *sender = "sender@example.org";
    bool verbose = false;

    delivery_config_default(&cfg);
    cfg.retry.base = 1;
    cfg.retry.max_interval = 2;
    cfg.helo_name = "relay.test";
    cfg.connect_timeout_ms = 5000;
    cfg.greeting_timeout_ms = cfg.command_timeout_ms = cfg.dot_timeout_ms = 10000;
    cfg.data_timeout_ms = 10000;
    cfg.idle_timeout_ms = 2000;
    while ((opt = getopt(argc, argv, "n:r:s:f:Lc:B:M:E:t:T:A:N:F:v")) != -1) {
        switch (opt) {
        case 'n': nmsg = atoi(optarg); break;
        case 'r': nrcpt = atoi(optarg); break;
        case 's': size = atol(optarg); break;
        case 'f': sender = optarg; break;
        case 'L': cfg.lmtp = true; break;
        case 'c': cfg.connections = (unsigned)atoi(optarg); break;
        case 'B': cfg.retry.base = atol(optarg); break;
        case 'M': cfg.retry.max_interval = atol(optarg); break;
        case 'E': cfg.retry.max_lifetime = atol(optarg); break;
        case 't': timeout = atoi(optarg); break;
        case 'T': cfg.tls = strcmp(optarg, "verify") == 0 ? SMTPC_TLS_VERIFY : SMTPC_TLS_OPPORTUNISTIC; break;
        case 'A': cfg.tls_ca_file = optarg; break;
        case 'N': cfg.tls_name = optarg; break;
        case 'F': g_body_flags = strcmp(optarg, "smtputf8") == 0 ? ENV_BODY_SMTPUTF8 | ENV_BODY_8BITMIME
                                 : strcmp(optarg, "8bitmime") == 0 ? ENV_BODY_8BITMIME : 0; break;
        case 'v': verbose = true; break;
        default:
            fprintf(stderr, "usage: %s [-n N] [-r R] [-s BYTES] [-f ADDR] [-L] [-c N] [-B S] [-M S] [-E S] [-t S] [-T opportunistic|verify] [-A CA] [-N NAME] [-F 8bitmime|smtputf8] [-v] SPOOLDIR HOST PORT|unix\n", argv[0]);
            return 1;
        }
    }
    if (argc - optind != 3) {
        fprintf(stderr, "need SPOOLDIR HOST PORT|unix\n");
        return 1;
    }
    log_init("delivery_tool", LOG_TO_STDERR, verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
    signal(SIGPIPE, SIG_IGN);
    cfg.host = argv[optind + 1];
    cfg.port = strcmp(argv[optind + 2], "unix") == 0 ? -1 : atoi(argv[optind + 2]);

    struct spool *sp;
    char err[256];
    if (spool_open(argv[optind], &sp, NULL, err, sizeof(err)) != SPOOL_OK) {
        fprintf(stderr, "spool_open: %s\n", err);
        return 1;
    }
    for (int i = 0; i < nmsg; i++) {
        int rc = spool_one(sp, i, nrcpt, size, sender);
        if (rc != SPOOL_OK) {
            fprintf(stderr, "spool_commit: %s\n", spool_strerror(rc));
            return 1;
        }
    }
    g_base = event_base_new();
    g_d = delivery_new(g_base, sp, &cfg, err, sizeof(err));
    if (!g_base || !g_d) {
        fprintf(stderr, "delivery_new: %s\n", err);
        return 1;
    }
    g_deadline = time(NULL) + timeout;
    struct event *tick = event_new(g_base, -1, EV_PERSIST, check, NULL);
    struct timeval tv = { 0, 100000 };
    event_add(tick, &tv);
    event_base_dispatch(g_base);

    struct delivery_stats st;
    size_t in = 0, out = 0;
    delivery_get_stats(g_d, &st);
    for (size_t i = 0; i < spool_count(sp); i++) {
        const struct spool_entry *e = spool_entry_at(sp, i);
        if (e->env.direction == ENV_INBOUND)
            in++;
        else
            out++;
    }
    printf("sent=%llu deferred=%llu bounced=%llu done=%llu bounces=%llu inbound=%zu outbound=%zu\n",
           (unsigned long long)st.rcpt_sent, (unsigned long long)st.rcpt_deferred,
           (unsigned long long)st.rcpt_bounced, (unsigned long long)st.messages_done,
           (unsigned long long)st.bounces_queued, in, out);
    fflush(stdout);
    delivery_free(g_d);
    event_free(tick);
    event_base_free(g_base);
    spool_close(sp);
    return g_rc;
}

/*
 * smtp_session.c — one inbound SMTP conversation (RFC 5321, ESMTP with PIPELINING, SIZE,
 * 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS) as an explicit state machine.
 *
 * What comes in: received bytes, "TLS started", the store's commit result, timeouts.
 * What goes out: reply bytes in a buffer, actions (start TLS, close, wait), and calls to the
 * store and policy callbacks. session_goto() is the one place the state changes; it logs
 * every change once. Each log line carries the client and the queue id.
 *
 * Refusal choices: bare CR/LF or an over-long line inside DATA refuse the whole message with
 * "554 5.6.0" after reading up to the real CRLF.CRLF (so smuggled commands are swallowed as
 * text); in a command line they get "500 5.5.2". More than SMTP_MAX_HOPS Received: headers
 * refuse the message with "554 5.4.6" (a mail loop). The greeting, EHLO/HELO replies and 354
 * carry no enhanced status code (RFC 2034 section 3); every other reply does.
 */
#include "smtp_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp_reply.h"

#define OUT_HIGH_WATER  16384   /* stop reading while this much output is unsent */

struct smtp_session {
    const struct smtp_config *cfg;
    const struct smtp_callbacks *cb;
    enum smtp_state state;
    char client[64];
    bool tls;
    bool esmtp;
    char helo[SMTP_DOMAIN_MAX + 1];
    unsigned commands;
    unsigned errors;

    /* transaction */
    char mail_from[SMTP_PATH_MAX + 1];
    bool smtputf8;
    enum smtp_body_type body;
    uint64_t declared_size;
    char **rcpts;
    size_t nrcpts;
    void *msg;                  /* store handle while DATA is being received */
    enum smtp_store_result write_err;
    char qid[SMTP_QID_MAX];

    struct smtp_linebuf lb;
    struct smtp_cmd cmd;
    struct smtp_data data;
    struct smtp_hops hops;
    struct smtp_outbuf out;
};

/* ---- logging and replies ---------------------------------------------------------------- */

static void slog(const struct smtp_session *s, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void slog(const struct smtp_session *s, enum log_level lvl, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    if (lvl > log_get_level())
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *q = s->qid[0] ? s->qid : "-";
    switch (lvl) {
    case LOG_LVL_ERR:
    case LOG_LVL_WARN: log_warnx("%s client=%s id=%s", msg, s->client, q); break;
    case LOG_LVL_NOTICE: log_notice("%s client=%s id=%s", msg, s->client, q); break;
    case LOG_LVL_INFO: log_info("%s client=%s id=%s", msg, s->client, q); break;
    case LOG_LVL_DEBUG: log_debug("%s client=%s id=%s", msg, s->client, q); break;
    }
}

const char *smtp_state_name(enum smtp_state st)
{
    switch (st) {
    case SMTP_ST_GREETING: return "GREETING";
    case SMTP_ST_READY: return "READY";
    case SMTP_ST_MAIL: return "MAIL";
    case SMTP_ST_RCPT: return "RCPT";
    case SMTP_ST_DATA: return "DATA";
    case SMTP_ST_COMMIT: return "COMMIT";
    case SMTP_ST_TLS_PENDING: return "TLS_PENDING";
    case SMTP_ST_QUIT: return "QUIT";
    }
    return "?";
}

/* The one transition function. */
static void session_goto(struct smtp_session *s, enum smtp_state to, const char *why)
{
    if (s->state == to)
        return;
    slog(s, LOG_LVL_DEBUG, "smtp state from=%s to=%s why=%s", smtp_state_name(s->state),
         smtp_state_name(to), why);
    s->state = to;
}

static void reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    smtp_reply_vline(&s->out, code, enh, 1, fmt, ap);
    va_end(ap);
}

static void close_with(struct smtp_session *s, int code, const char *enh, const char *text,
                       const char *why);

/* A negative reply the client caused: counts towards max_errors. */
static void reply_err(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply_err(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    smtp_reply_line(&s->out, code, enh, 1, "%s", text);
    slog(s, LOG_LVL_INFO, "smtp reject code=%d enh=%s reason=\"%s\" state=%s", code, enh,
         text, smtp_state_name(s->state));
    if (++s->errors >= s->cfg->max_errors)
        close_with(s, 421, "4.7.0", "Too many errors, closing connection", "too many errors");
}

/* ---- transaction ------------------------------------------------------------------------ */

static void txn_reset(struct smtp_session *s)
{
    if (s->msg && s->cb->msg_abort)
        s->cb->msg_abort(s->cb->store_ctx, s->msg);
    s->msg = NULL;
    for (size_t i = 0; i < s->nrcpts; i++)
        free(s->rcpts[i]);
    s->nrcpts = 0;
    s->mail_from[0] = '\0';
    s->smtputf8 = false;
    s->body = SMTP_BODY_NONE;
    s->declared_size = 0;
    s->write_err = SMTP_STORE_OK;
}

/* Back to where a new transaction can start. */
static void txn_end(struct smtp_session *s, const char *why)
{
    txn_reset(s);
    s->qid[0] = '\0';
    session_goto(s, s->helo[0] ? SMTP_ST_READY : SMTP_ST_GREETING, why);
}

static void close_with(struct smtp_session *s, int code, const char *enh, const char *text,
                       const char *why)
{
    if (s->state == SMTP_ST_QUIT)
        return;
    smtp_reply_line(&s->out, code, enh, 1, "%s %s", s->cfg->hostname, text);
    slog(s, LOG_LVL_INFO, "smtp close code=%d reason=\"%s\"", code, why);
    if (s->state != SMTP_ST_COMMIT)     /* a pending commit belongs to the store */
        txn_reset(s);
    session_goto(s, SMTP_ST_QUIT, why);
}

/* ---- Received: header ------------------------------------------------------------------- */

size_t smtp_received_header(char *buf, size_t size, const char *helo, const char *client_addr,
                            const char *by_host, const char *with, const char *qid,
                            const char *rcpt, time_t when)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    char date[64], forp[SMTP_PATH_MAX + 16] = "";
    if (!localtime_r(&when, &tm))
        return 0;
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    snprintf(date, sizeof(date), "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec, sign, off / 60, off % 60);
    if (rcpt)
        snprintf(forp, sizeof(forp), "\r\n\tfor <%s>", rcpt);
    const char *v6 = strchr(client_addr, ':') ? "IPv6:" : "";
    int n = snprintf(buf, size, "Received: from %s ([%s%s])\r\n\tby %s (mailrelayd) with %s id %s%s;"
                     "\r\n\t%s\r\n", helo, v6, client_addr, by_host, with, qid, forp, date);
    if (n < 0 || (size_t)n >= size)
        return 0;
    return (size_t)n;
}

/* ---- store ------------------------------------------------------------------------------ */

static void store_write(struct smtp_session *s, const char *p, size_t n)
{
    if (!s->msg || s->write_err != SMTP_STORE_OK || n == 0)
        return;
    enum smtp_store_result r = s->cb->msg_write(s->cb->store_ctx, s->msg, p, n);
    if (r != SMTP_STORE_OK) {
        s->write_err = r == SMTP_STORE_NOSPACE ? r : SMTP_STORE_TEMPFAIL;
        slog(s, LOG_LVL_WARN, "smtp store write failed result=%s",
             r == SMTP_STORE_NOSPACE ? "nospace" : "tempfail");
    }
}

static void store_failed_reply(struct smtp_session *s, enum smtp_store_result r)
{
    if (r == SMTP_STORE_NOSPACE)
        reply(s, 452, "4.3.1", "Insufficient system storage, try again later");
    else
        reply(s, 451, "4.3.0", "Temporary failure storing the message, try again later");
}

static void commit_result(struct smtp_session *s, enum smtp_store_result r)
{
    if (r == SMTP_STORE_OK) {
        reply(s, 250, "2.0.0", "Ok: queued as %s", s->qid);
        slog(s, LOG_LVL_INFO, "smtp accepted from=<%s> nrcpt=%zu size=%llu tls=%s",
             s->mail_from, s->nrcpts, (unsigned long long)s->data.size, s->tls ? "yes" : "no");
    } else {
        store_failed_reply(s, r);
        slog(s, LOG_LVL_WARN, "smtp store commit failed result=%s",
             r == SMTP_STORE_NOSPACE ? "nospace" : "tempfail");
    }
    txn_end(s, "message done");
}

static void message_end(struct smtp_session *s)
{
    if (s->data.err != SMTP_DATA_OK) {
        txn_reset(s);           /* aborts the message in the store */
        if (s->data.err == SMTP_DATA_ERR_SIZE)
            reply_err(s, 552, "5.3.4", "Message size exceeds fixed maximum of %llu bytes",
                      (unsigned long long)s->cfg->max_size);
        else
            reply_err(s, 554, "5.6.0", "Message refused: %s (CRLF line ends only)",
                      smtp_data_error_str(s->data.err));
        if (s->state == SMTP_ST_DATA)
            txn_end(s, "message refused");
        return;
    }
    if (s->hops.count > SMTP_MAX_HOPS) {
        txn_reset(s);
        reply_err(s, 554, "5.4.6", "Too many hops: %u Received: headers (limit %d), a mail loop?",
                  s->hops.count, SMTP_MAX_HOPS);
        if (s->state == SMTP_ST_DATA)
            txn_end(s, "mail loop");
        return;
    }
    if (s->write_err != SMTP_STORE_OK) {
        enum smtp_store_result r = s->write_err;
        store_failed_reply(s, r);
        txn_end(s, "store failed");
        return;
    }
    void *msg = s->msg;
    s->msg = NULL;              /* the store owns it from now on */
    enum smtp_store_result r = s->cb->msg_commit(s->cb->store_ctx, msg);
    if (r == SMTP_STORE_PENDING) {
        session_goto(s, SMTP_ST_COMMIT, "waiting for commit");
        return;
    }
    commit_result(s, r);
}

/* ---- commands --------------------------------------------------------------------------- */

static void cmd_helo(struct smtp_session *s, bool ehlo)
{
    txn_reset(s);
    size_t hl = strnlen(s->cmd.arg, sizeof(s->helo) - 1);   /* validated: <= 255 */
    memcpy(s->helo, s->cmd.arg, hl);
    s->helo[hl] = '\0';
    s->esmtp = ehlo;
    session_goto(s, SMTP_ST_READY, ehlo ? "EHLO" : "HELO");
    if (!ehlo) {
        smtp_reply_line(&s->out, 250, NULL, 1, "%s", s->cfg->hostname);
        return;
    }
    smtp_reply_line(&s->out, 250, NULL, 0, "%s Hello %s [%s]", s->cfg->hostname, s->helo,
                    s->client);
    smtp_reply_line(&s->out, 250, NULL, 0, "PIPELINING");
    smtp_reply_line(&s->out, 250, NULL, 0, "SIZE %llu", (unsigned long long)s->cfg->max_size);
    smtp_reply_line(&s->out, 250, NULL, 0, "8BITMIME");
    smtp_reply_line(&s->out, 250, NULL, 0, "SMTPUTF8");
    bool tls = s->cfg->tls_available && !s->tls;
    smtp_reply_line(&s->out, 250, NULL, !tls, "ENHANCEDSTATUSCODES");
    if (tls)
        smtp_reply_line(&s->out, 250, NULL, 1, "STARTTLS");
}

static void cmd_mail(struct smtp_session *s)
{
    const struct smtp_cmd *c = &s->cmd;
    if (!s->esmtp && (c->has_size || c->body != SMTP_BODY_NONE || c->smtputf8)) {
        reply_err(s, 555, "5.5.4", "MAIL parameters need EHLO");
        return;
    }
    if (c->has_size && s->cfg->max_size && c->size > s->cfg->max_size) {
        reply_err(s, 552, "5.3.4", "Message size exceeds fixed maximum of %llu bytes",
                  (unsigned long long)s->cfg->max_size);
        return;
    }
    snprintf(s->mail_from, sizeof(s->mail_from), "%s", c->path.addr);
    s->smtputf8 = c->smtputf8;
    s->body = c->body;
    s->declared_size = c->has_size ? c->size : 0;
    s->qid[0] = '\0';
    reply(s, 250, "2.1.0", "Sender <%s> ok", s->mail_from);
    session_goto(s, SMTP_ST_MAIL, "MAIL");
}

static void cmd_rcpt(struct smtp_session *s)
{
    const char *addr = s->cmd.path.addr;
    if (s->nrcpts >= s->cfg->max_rcpts) {
        reply(s, 452, "4.5.3", "Too many recipients");
        slog(s, LOG_LVL_INFO, "smtp reject code=452 to=<%s> reason=\"too many recipients\"",
             addr);
        return;
    }
    enum smtp_verdict v = s->cb->rcpt_allowed ? s->cb->rcpt_allowed(s->cb->policy_ctx, addr)
                                              : SMTP_REJECT_RELAY;
    switch (v) {
    case SMTP_ACCEPT:
        break;
    case SMTP_REJECT_UNKNOWN_USER:
        reply_err(s, 550, "5.1.1", "<%s>: Recipient address rejected: User unknown", addr);
        return;
    case SMTP_TEMPFAIL:
        reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure, try again later", addr);
        return;
    case SMTP_REJECT_ROUTED:
        reply_err(s, 554, "5.7.1", "<%s>: Relay access denied: '%%', '!' and '@' are not allowed "
                  "in the local part", addr);
        return;
    case SMTP_REJECT_RELAY:
    case SMTP_REJECT_CLIENT:
    default:
        reply_err(s, 554, "5.7.1", "<%s>: Relay access denied", addr);
        return;
    }
    for (size_t i = 0; i < s->nrcpts; i++)
        if (strcmp(s->rcpts[i], addr) == 0)
            goto ok;            /* the same recipient twice gets one copy */
    char *copy = strdup(addr);
    if (!copy)
        fatal("smtp rcpt");
    s->rcpts[s->nrcpts++] = copy;
ok:
    reply(s, 250, "2.1.5", "Recipient <%s> ok", addr);
    session_goto(s, SMTP_ST_RCPT, "RCPT");
}

static void cmd_data(struct smtp_session *s)
{
    struct smtp_envelope env = {
        .client_addr = s->client,
        .helo = s->helo,
        .mail_from = s->mail_from,
        .rcpts = (const char *const *)s->rcpts,
        .nrcpts = s->nrcpts,
        .body = s->body,
        .smtputf8 = s->smtputf8,
        .tls = s->tls,
        .declared_size = s->declared_size,
    };
    void *msg = NULL;
    char qid[SMTP_QID_MAX] = "";
    enum smtp_store_result r = s->cb->msg_begin
        ? s->cb->msg_begin(s->cb->store_ctx, &env, qid, sizeof(qid), &msg)
        : SMTP_STORE_TEMPFAIL;
    if (r != SMTP_STORE_OK) {
        if (r == SMTP_STORE_PENDING && msg && s->cb->msg_abort)
            s->cb->msg_abort(s->cb->store_ctx, msg);
        slog(s, LOG_LVL_WARN, "smtp store begin failed result=%s",
             r == SMTP_STORE_NOSPACE ? "nospace" : "tempfail");
        store_failed_reply(s, r == SMTP_STORE_NOSPACE ? r : SMTP_STORE_TEMPFAIL);
        txn_end(s, "store begin failed");
        return;
    }
    s->msg = msg;
    qid[sizeof(qid) - 1] = '\0';
    memcpy(s->qid, qid, sizeof(qid));
    s->write_err = SMTP_STORE_OK;

    /* RFC 3848 / RFC 6531 "with" keywords. */
    const char *with = s->smtputf8 ? (s->tls ? "UTF8SMTPS" : "UTF8SMTP")
                     : s->esmtp ? (s->tls ? "ESMTPS" : "ESMTP")
                     : "SMTP";
    char hdr[1024];
    time_t now = s->cb->now ? s->cb->now(s->cb->store_ctx) : time(NULL);
    size_t hl = smtp_received_header(hdr, sizeof(hdr), s->helo, s->client, s->cfg->hostname,
                                     with, s->qid, s->nrcpts == 1 ? s->rcpts[0] : NULL, now);
    store_write(s, hdr, hl);
    if (s->write_err != SMTP_STORE_OK) {
        store_failed_reply(s, s->write_err);
        txn_end(s, "store write failed");
        return;
    }
    smtp_data_init(&s->data, s->cfg->max_line, s->cfg->max_size);
    smtp_hops_init(&s->hops);
    smtp_reply_line(&s->out, 354, NULL, 1, "End data with <CR><LF>.<CR><LF>");
    slog(s, LOG_LVL_DEBUG, "smtp data from=<%s> nrcpt=%zu", s->mail_from, s->nrcpts);
    session_goto(s, SMTP_ST_DATA, "DATA");
}

static void cmd_starttls(struct smtp_session *s)
{
    if (!s->cfg->tls_available) {
        reply_err(s, 502, "5.5.1", "STARTTLS not available");
        return;
    }
    if (s->tls) {
        reply_err(s, 503, "5.5.1", "TLS already active");
        return;
    }
    reply(s, 220, "2.0.0", "Ready to start TLS");
    session_goto(s, SMTP_ST_TLS_PENDING, "STARTTLS");
}

/* Which states accept which verb; anything else gets 503 5.5.1. */
#define ST(x) (1u << SMTP_ST_##x)
#define ST_CMD (ST(GREETING) | ST(READY) | ST(MAIL) | ST(RCPT))

static unsigned verb_states(enum smtp_verb v)
{
    switch (v) {
    case SMTP_VERB_MAIL: return ST(READY);
    case SMTP_VERB_RCPT: return ST(MAIL) | ST(RCPT);
    case SMTP_VERB_DATA: return ST(RCPT);
    case SMTP_VERB_STARTTLS: return ST(GREETING) | ST(READY);
    default: return ST_CMD;
    }
}

static void bad_sequence(struct smtp_session *s, enum smtp_verb v)
{
    if (v == SMTP_VERB_DATA && s->state == SMTP_ST_MAIL)
        reply_err(s, 554, "5.5.1", "No valid recipients");
    else if (s->state == SMTP_ST_GREETING)
        reply_err(s, 503, "5.5.1", "Send EHLO/HELO first");
    else if (v == SMTP_VERB_MAIL)
        reply_err(s, 503, "5.5.1", "Nested MAIL command");
    else if (v == SMTP_VERB_STARTTLS)
        reply_err(s, 503, "5.5.1", "STARTTLS not allowed within a transaction");
    else
        reply_err(s, 503, "5.5.1", "Bad sequence of commands: need %s first",
                  v == SMTP_VERB_DATA ? "RCPT" : "MAIL");
}

static void parse_error(struct smtp_session *s, enum smtp_parse_status st)
{
    const char *why = s->cmd.why ? s->cmd.why : "syntax error";
    const char *addr_enh = s->cmd.verb == SMTP_VERB_MAIL ? "5.1.7" : "5.1.3";
    switch (st) {
    case SMTP_PARSE_UNKNOWN: reply_err(s, 500, "5.5.1", "Command unrecognized"); break;
    case SMTP_PARSE_NO_PARAMS: reply_err(s, 501, "5.5.4", "Syntax error: %s", why); break;
    case SMTP_PARSE_BAD_PATH:
    case SMTP_PARSE_PATH_LENGTH:
        reply_err(s, 501, addr_enh, "Bad address syntax: %s", why);
        break;
    case SMTP_PARSE_NON_ASCII: reply_err(s, 553, "5.6.7", "%s", why); break;
    case SMTP_PARSE_PARAM: reply_err(s, 555, "5.5.4", "%s", why); break;
    case SMTP_PARSE_PARAM_SYNTAX: reply_err(s, 501, "5.5.4", "Syntax error: %s", why); break;
    case SMTP_PARSE_SYNTAX:
    default: reply_err(s, 501, "5.5.2", "Syntax error: %s", why); break;
    }
}

static void handle_line(struct smtp_session *s, enum smtp_line_status ls)
{
    if (++s->commands > s->cfg->max_commands) {
        close_with(s, 421, "4.7.0", "Too many commands, closing connection",
                   "too many commands");
        return;
    }
    if (ls == SMTP_LINE_TOO_LONG) {
        reply_err(s, 500, "5.5.2", "Line too long");
        return;
    }
    if (ls == SMTP_LINE_BARE_CR || ls == SMTP_LINE_BARE_LF) {
        reply_err(s, 500, "5.5.2", "%s in command refused: lines must end with CRLF",
                  ls == SMTP_LINE_BARE_CR ? "Bare CR" : "Bare LF");
        return;
    }
    enum smtp_parse_status ps = smtp_cmd_parse(s->lb.buf, s->lb.len, s->smtputf8, &s->cmd);
    enum smtp_verb v = s->cmd.verb;
    if (ps == SMTP_PARSE_UNKNOWN) {
        parse_error(s, ps);
        return;
    }
    if (!(verb_states(v) & (1u << s->state))) {
        bad_sequence(s, v);
        return;
    }
    if (ps != SMTP_PARSE_OK) {
        parse_error(s, ps);
        return;
    }
    switch (v) {
    case SMTP_VERB_HELO: cmd_helo(s, false); break;
    case SMTP_VERB_EHLO: cmd_helo(s, true); break;
    case SMTP_VERB_MAIL: cmd_mail(s); break;
    case SMTP_VERB_RCPT: cmd_rcpt(s); break;
    case SMTP_VERB_DATA: cmd_data(s); break;
    case SMTP_VERB_RSET:
        reply(s, 250, "2.0.0", "Ok");
        txn_end(s, "RSET");
        break;
    case SMTP_VERB_NOOP: reply(s, 250, "2.0.0", "Ok"); break;
    case SMTP_VERB_QUIT:
        reply(s, 221, "2.0.0", "Bye");
        txn_reset(s);
        session_goto(s, SMTP_ST_QUIT, "QUIT");
        break;
    case SMTP_VERB_VRFY:
        reply(s, 252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
        break;
    case SMTP_VERB_EXPN: reply_err(s, 502, "5.5.1", "EXPN not implemented"); break;
    case SMTP_VERB_HELP:
        reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP%s",
              s->cfg->tls_available && !s->tls ? " STARTTLS" : "");
        break;
    case SMTP_VERB_STARTTLS: cmd_starttls(s); break;
    case SMTP_VERB_UNKNOWN: parse_error(s, SMTP_PARSE_UNKNOWN); break;
    }
}

/* ---- input ------------------------------------------------------------------------------ */

static size_t data_input(struct smtp_session *s, const char *p, size_t n)
{
    size_t used = 0;
    while (used < n) {
        size_t c;
        enum smtp_data_status st = smtp_data_feed(&s->data, p + used, n - used, &c);
        used += c;
        if (st == SMTP_DATA_NEED_MORE)
            break;
        store_write(s, s->data.out, s->data.outlen);
        smtp_hops_feed(&s->hops, s->data.out, s->data.outlen);
        smtp_data_flushed(&s->data);
        if (st == SMTP_DATA_END) {
            message_end(s);
            break;
        }
    }
    return used;
}

size_t smtp_session_input(struct smtp_session *s, const char *data, size_t n)
{
    size_t off = 0;
    while (off < n) {
        if (s->state == SMTP_ST_QUIT || s->state == SMTP_ST_TLS_PENDING)
            return n;           /* nothing after QUIT/STARTTLS is ever read as a command */
        if (s->state == SMTP_ST_COMMIT || s->out.len >= OUT_HIGH_WATER)
            break;
        if (s->state == SMTP_ST_DATA) {
            off += data_input(s, data + off, n - off);
            continue;
        }
        enum smtp_line_status ls;
        off += smtp_line_feed(&s->lb, data + off, n - off, &ls);
        if (ls == SMTP_LINE_NEED_MORE)
            break;
        handle_line(s, ls);
        if (s->state == SMTP_ST_TLS_PENDING) {
            if (off < n)
                slog(s, LOG_LVL_NOTICE, "smtp discarded bytes=%zu reason=\"pipelined after "
                     "STARTTLS\"", n - off);
            smtp_line_reset(&s->lb);
            return n;
        }
    }
    return off;
}

/* ---- events from the caller ------------------------------------------------------------- */

void smtp_config_defaults(struct smtp_config *cfg)
{
    cfg->hostname = "localhost";
    cfg->max_rcpts = 100;
    cfg->max_size = 10 * 1024 * 1024;
    cfg->max_commands = 10000;
    cfg->max_errors = 20;
    cfg->max_line = SMTP_LINE_MAX;
    cfg->tls_available = false;
    cfg->cmd_timeout_ms = 300000;
    cfg->data_timeout_ms = 300000;
    cfg->commit_timeout_ms = 600000;
}

struct smtp_session *smtp_session_new(const struct smtp_config *cfg,
                                      const struct smtp_callbacks *cb,
                                      const char *client_addr, bool tls_active)
{
    struct smtp_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    size_t maxr = cfg->max_rcpts ? cfg->max_rcpts : 1;
    s->rcpts = calloc(maxr, sizeof(*s->rcpts));
    if (!s->rcpts) {
        free(s);
        return NULL;
    }
    s->cfg = cfg;
    s->cb = cb;
    s->tls = tls_active;
    snprintf(s->client, sizeof(s->client), "%s", client_addr ? client_addr : "unknown");
    smtp_line_init(&s->lb, cfg->max_line);
    smtp_outbuf_init(&s->out);
    s->state = SMTP_ST_GREETING;
    return s;
}

void smtp_session_free(struct smtp_session *s)
{
    if (!s)
        return;
    if (s->state == SMTP_ST_COMMIT)
        slog(s, LOG_LVL_WARN, "smtp session freed while commit pending");
    else if (s->state == SMTP_ST_DATA)
        slog(s, LOG_LVL_INFO, "smtp message aborted reason=\"connection closed in DATA\"");
    txn_reset(s);
    free(s->rcpts);
    smtp_outbuf_free(&s->out);
    free(s);
}

void smtp_session_start(struct smtp_session *s)
{
    enum smtp_verdict v = s->cb->client_allowed
        ? s->cb->client_allowed(s->cb->policy_ctx, s->client) : SMTP_ACCEPT;
    slog(s, LOG_LVL_INFO, "smtp connect tls=%s verdict=%s", s->tls ? "yes" : "no",
         v == SMTP_ACCEPT ? "accept" : "refuse");
    if (v == SMTP_TEMPFAIL) {
        close_with(s, 421, "4.3.0", "Service not available, try again later", "client tempfail");
        return;
    }
    if (v != SMTP_ACCEPT) {
        close_with(s, 554, "5.7.1", "Access denied", "client refused");
        return;
    }
    smtp_reply_line(&s->out, 220, NULL, 1, "%s ESMTP mailrelayd", s->cfg->hostname);
}

void smtp_session_tls_started(struct smtp_session *s)
{
    if (s->state != SMTP_ST_TLS_PENDING) {
        slog(s, LOG_LVL_WARN, "smtp tls started in wrong state=%s", smtp_state_name(s->state));
        return;
    }
    /* RFC 3207 4.2: forget everything learnt before TLS. */
    s->tls = true;
    s->esmtp = false;
    s->helo[0] = '\0';
    txn_reset(s);
    smtp_line_reset(&s->lb);
    slog(s, LOG_LVL_INFO, "smtp tls started");
    session_goto(s, SMTP_ST_GREETING, "TLS started");
}

void smtp_session_commit_done(struct smtp_session *s, enum smtp_store_result result)
{
    if (s->state != SMTP_ST_COMMIT) {
        slog(s, LOG_LVL_WARN, "smtp commit done in wrong state=%s", smtp_state_name(s->state));
        return;
    }
    commit_result(s, result == SMTP_STORE_PENDING ? SMTP_STORE_TEMPFAIL : result);
}

void smtp_session_timeout(struct smtp_session *s)
{
    if (s->state == SMTP_ST_QUIT)
        return;
    if (s->state == SMTP_ST_COMMIT) {
        /* The disk hangs: say so before the client gives up on its own; the commit stays
         * with the store and may still finish (a duplicate after the retry, never a loss). */
        slog(s, LOG_LVL_WARN, "smtp commit timeout after_ms=%u: answering 451",
             s->cfg->commit_timeout_ms);
        close_with(s, 451, "4.3.0", "Timeout writing the message to disk, try again later",
                   "commit timeout");
        return;
    }
    close_with(s, 421, "4.4.2", "Timeout exceeded, closing connection", "timeout");
}

unsigned smtp_session_timeout_ms(const struct smtp_session *s)
{
    switch (s->state) {
    case SMTP_ST_DATA: return s->cfg->data_timeout_ms;
    case SMTP_ST_COMMIT: return s->cfg->commit_timeout_ms;
    case SMTP_ST_TLS_PENDING:
    case SMTP_ST_QUIT: return 0;
    default: return s->cfg->cmd_timeout_ms;
    }
}

const char *smtp_session_output(const struct smtp_session *s, size_t *len)
{
    *len = s->out.len;
    return s->out.data;
}

void smtp_session_output_consume(struct smtp_session *s, size_t n)
{
    smtp_outbuf_consume(&s->out, n);
}

unsigned smtp_session_actions(const struct smtp_session *s)
{
    unsigned a = SMTP_ACT_NONE;
    if (s->state == SMTP_ST_TLS_PENDING)
        a |= SMTP_ACT_START_TLS;
    if (s->state == SMTP_ST_QUIT)
        a |= SMTP_ACT_CLOSE;
    if (s->state == SMTP_ST_COMMIT)
        a |= SMTP_ACT_WAIT;
    if (s->out.len >= OUT_HIGH_WATER)
        a |= SMTP_ACT_DRAIN;
    return a;
}

enum smtp_state smtp_session_state(const struct smtp_session *s)
{
    return s->state;
}

const char *smtp_session_qid(const struct smtp_session *s)
{
    return s->qid;
}

/* ---- default recipient policy ----------------------------------------------------------- */

enum smtp_verdict smtp_policy_domains(void *policy_ctx, const char *address)
{
    const struct smtp_policy_domains *p = policy_ctx;
    const char *at = strrchr(address, '@');
    if (!at)
        return strcasecmp(address, "postmaster") == 0 ? SMTP_ACCEPT : SMTP_REJECT_RELAY;
    /* The domain is after the last '@'; anything routing-like before it is refused. */
    for (const char *c = address; c < at; c++)
        if (*c == '%' || *c == '!' || *c == '@')
            return SMTP_REJECT_ROUTED;
    bool ours = false;
    for (size_t i = 0; p && i < p->ndomains && !ours; i++)
        ours = strcasecmp(at + 1, p->domains[i]) == 0;
    if (!ours)
        return SMTP_REJECT_RELAY;
    if (!p->nrecipients)
        return SMTP_ACCEPT;
    for (size_t i = 0; i < p->nrecipients; i++)
        if (strcasecmp(address, p->recipients[i]) == 0)
            return SMTP_ACCEPT;
    return SMTP_REJECT_UNKNOWN_USER;
}

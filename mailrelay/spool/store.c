/*
 * store.c — smtp_session's store callbacks on the spool, with group commit (see store.h).
 *
 * Ownership: a struct store_msg is created at msg_begin. Until msg_commit the session owns
 * it (it calls msg_abort on failure or when freed); from msg_commit on it belongs to the
 * store, which frees it in the spool's commit callback. The session side holds only
 * ss->pending, which store_session_free() clears, so a late callback never reaches a freed
 * session.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "spool.h"

#define STORE_WORKERS 4   /* batches being synced at once */

struct store_worker {
    struct store *st;
    pthread_t thread;
    struct spool_batch *todo;       /* loop -> worker */
    struct spool_batch *done;       /* worker -> loop */
    bool busy;                      /* has a batch the loop has not finished yet */
};

struct store {
    struct event_base *base;
    struct spool *sp;
    struct event *flush_ev;
    store_committed_fn *committed;
    void *committed_arg;
    size_t inflight;
    struct store_stats stats;
    /* the workers; todo/done of each and quit under mu */
    enum { WK_NONE, WK_RUNNING, WK_FAILED } workers;
    struct store_worker w[STORE_WORKERS];
    size_t nworkers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit;
    int efd;                        /* eventfd: a worker says "done" */
    struct event *done_ev;
};

struct store_session {
    struct store *st;
    enum env_direction direction;
    store_done_fn *done;
    void *arg;
    struct store_msg *pending;
};

struct store_msg {
    struct store *st;
    struct store_session *ss;       /* NULL once detached or before commit */
    struct spool_msg *sm;
    struct envelope env;
    char qid[QUEUE_ID_SIZE];
    uint64_t size;
    bool eight_bit;                 /* an octet >= 0x80 was written */
};

static enum smtp_store_result from_spool(int status)
{
    switch (status) {
    case SPOOL_OK: return SMTP_STORE_OK;
    case SPOOL_ERR_NOSPACE: return SMTP_STORE_NOSPACE;
    default: return SMTP_STORE_TEMPFAIL;
    }
}

static void msg_free(struct store_msg *m)
{
    envelope_free(&m->env);
    free(m);
}

/* ---- group commit ----------------------------------------------------------------------- */

static void batch_finished(struct store *st, struct spool_batch *b)
{
    uint64_t before = st->stats.messages;

    spool_batch_finish(st->sp, b);
    if (st->stats.messages != before) {
        st->stats.batches++;
        if (st->committed)
            st->committed(st->committed_arg);
    }
}

static void *worker_main(void *arg)
{
    struct store_worker *w = arg;
    struct store *st = w->st;
    uint64_t one = 1;

    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!w->todo && !st->quit)
            pthread_cond_wait(&st->cv, &st->mu);
        if (!w->todo)
            break;
        struct spool_batch *b = w->todo;
        w->todo = NULL;
        pthread_mutex_unlock(&st->mu);
        spool_batch_sync(b);
        pthread_mutex_lock(&st->mu);
        w->done = b;
        pthread_cond_broadcast(&st->cv);        /* store_free may be waiting */
        while (write(st->efd, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

static void done_cb(evutil_socket_t fd, short what, void *arg);

/* Starts the workers once; without any the store syncs on the loop from then on. */
static bool workers_start(struct store *st)
{
    sigset_t all, old;

    if (st->workers != WK_NONE)
        return st->workers == WK_RUNNING;
    st->workers = WK_FAILED;
    st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (st->efd < 0) {
        log_warn("store worker eventfd failed (syncing on the loop)");
        return false;
    }
    st->done_ev = event_new(st->base, st->efd, EV_READ | EV_PERSIST, done_cb, st);
    if (!st->done_ev || pthread_mutex_init(&st->mu, NULL)) {
        log_warnx("store worker setup failed (syncing on the loop)");
        return false;
    }
    if (pthread_cond_init(&st->cv, NULL)) {
        pthread_mutex_destroy(&st->mu);
        log_warnx("store worker setup failed (syncing on the loop)");
        return false;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* signals stay with the loop thread */
    for (size_t i = 0; i < STORE_WORKERS; i++) {
        struct store_worker *w = &st->w[st->nworkers];
        int rc;

        w->st = st;
        rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc) {
            errno = rc;
            log_warn("store worker thread %zu failed", i);
            break;
        }
        st->nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!st->nworkers) {
        pthread_cond_destroy(&st->cv);
        pthread_mutex_destroy(&st->mu);
        log_warnx("store: no worker threads (syncing on the loop)");
        return false;
    }
    st->workers = WK_RUNNING;
    event_add(st->done_ev, NULL);
    return true;
}

static struct store_worker *free_worker(struct store *st)
{
    for (size_t i = 0; i < st->nworkers; i++)
        if (!st->w[i].busy)
            return &st->w[i];
    return NULL;
}

/* Starts the next batch if there is one and a worker is free. */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store *st = arg;
    struct store_worker *w = NULL;
    struct spool_batch *b;

    if (st->workers == WK_RUNNING && !(w = free_worker(st)))
        return;                 /* a finishing batch takes the next one */
    b = spool_batch_take(st->sp);
    if (!b)
        return;
    if (!w && !workers_start(st)) {
        spool_batch_sync(b);
        batch_finished(st, b);
        return;
    }
    if (!w)
        w = free_worker(st);
    pthread_mutex_lock(&st->mu);
    w->todo = b;
    w->busy = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* Takes w's synced batch back; waits for it if wait is set. */
static struct spool_batch *take_done(struct store *st, struct store_worker *w, bool wait)
{
    struct spool_batch *b;

    pthread_mutex_lock(&st->mu);
    while (wait && !w->done)
        pthread_cond_wait(&st->cv, &st->mu);
    b = w->done;
    w->done = NULL;
    pthread_mutex_unlock(&st->mu);
    if (b)
        w->busy = false;
    return b;
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store *st = arg;
    uint64_t n;

    while (read(st->efd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
    for (size_t i = 0; i < st->nworkers; i++) {
        struct spool_batch *b = st->w[i].busy ? take_done(st, &st->w[i], false) : NULL;

        if (b)
            batch_finished(st, b);
    }
    if (spool_commits_pending(st->sp))
        flush_cb(-1, 0, st);
}

static void on_committed(void *arg, const char *qid, int status)
{
    struct store_msg *m = arg;
    struct store *st = m->st;
    enum smtp_store_result r = from_spool(status);

    st->inflight--;
    if (r == SMTP_STORE_OK) {
        st->stats.messages++;
        st->stats.bytes += m->size;
        st->stats.last_commit = (uint64_t)time(NULL);
        log_info("message id=%s from=<%s> size=%llu nrcpt=%zu", qid, m->env.sender,
                 (unsigned long long)m->size, m->env.nrcpt);
    } else {
        st->stats.failed++;
        log_warnx("message id=%s commit failed error=\"%s\"", qid, spool_strerror(status));
    }
    if (m->ss) {
        struct store_session *ss = m->ss;
        ss->pending = NULL;
        ss->done(ss->arg, r);
    } else {
        log_info("message id=%s result=%s session=gone", qid, r == SMTP_STORE_OK ? "durable" : "failed");
    }
    msg_free(m);
}

/* ---- smtp_callbacks --------------------------------------------------------------------- */

static int build_envelope(struct store_msg *m, enum env_direction dir, const struct smtp_envelope *e)
{
    int64_t now = (int64_t)time(NULL);
    if (envelope_init(&m->env) < 0)
        return -1;
    m->env.arrival = now;
    m->env.direction = dir;
    if (envelope_set(&m->env.client, e->client_addr ? e->client_addr : "") < 0 ||
        envelope_set(&m->env.helo, e->helo ? e->helo : "") < 0 ||
        envelope_set(&m->env.sender, e->mail_from ? e->mail_from : "") < 0)
        return -1;
    if (e->body == SMTP_BODY_8BITMIME)
        m->env.body_flags |= ENV_BODY_8BITMIME;
    if (e->smtputf8)
        m->env.body_flags |= ENV_BODY_SMTPUTF8;
    for (size_t i = 0; i < e->nrcpts; i++)
        if (envelope_add_rcpt(&m->env, e->rcpts[i], now) < 0)
            return -1;
    return 0;
}

static enum smtp_store_result cb_begin(void *ctx, const struct smtp_envelope *e, char *qid,
                                       size_t qid_size, void **out)
{
    struct store_session *ss = ctx;
    struct store_msg *m = calloc(1, sizeof(*m));
    int rc;

    if (!m)
        return SMTP_STORE_TEMPFAIL;
    m->st = ss->st;
    if (build_envelope(m, ss->direction, e) < 0) {
        log_warnx("message envelope failed client=%s error=\"out of memory or too many recipients\"",
                  e->client_addr);
        msg_free(m);
        return SMTP_STORE_TEMPFAIL;
    }
    rc = spool_msg_begin(ss->st->sp, &m->sm);
    if (rc != SPOOL_OK) {
        log_warnx("message begin failed client=%s error=\"%s\"", e->client_addr, spool_strerror(rc));
        msg_free(m);
        return from_spool(rc);
    }
    snprintf(m->qid, sizeof(m->qid), "%s", spool_msg_qid(m->sm));
    snprintf(qid, qid_size, "%s", m->qid);
    log_info("message id=%s client=%s helo=%s tls=%s", m->qid, e->client_addr,
             e->helo && *e->helo ? e->helo : "-", e->tls ? "yes" : "no");
    *out = m;
    return SMTP_STORE_OK;
}

static enum smtp_store_result cb_write(void *ctx, void *msg, const char *p, size_t n)
{
    struct store_msg *m = msg;
    for (size_t i = 0; i < n && !m->eight_bit; i++)
        m->eight_bit = (unsigned char)p[i] >= 0x80;
    return from_spool(spool_msg_write(m->sm, p, n));
}

static bool ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* The envelope's flags say what the message needs, not what the client declared: delivery
 * bounces a message whose next hop lacks a needed extension (no downgrade, RFC 6152 and
 * RFC 6531 3.4), and a plain ASCII message declared BODY=8BITMIME or SMTPUTF8 must not. */
static void needed_flags(struct store_msg *m)
{
    if (m->eight_bit)
        return;
    m->env.body_flags &= ~ENV_BODY_8BITMIME;
    bool utf8 = !ascii(m->env.sender);
    for (size_t i = 0; i < m->env.nrcpt && !utf8; i++)
        utf8 = !ascii(m->env.rcpt[i].addr);
    if (!utf8)
        m->env.body_flags &= ~ENV_BODY_SMTPUTF8;
}

static enum smtp_store_result cb_commit(void *ctx, void *msg)
{
    struct store_session *ss = ctx;
    struct store *st = ss->st;
    struct store_msg *m = msg;
    int rc;

    m->size = spool_msg_size(m->sm);
    needed_flags(m);
    rc = spool_commit_async(m->sm, &m->env, on_committed, m);
    m->sm = NULL;                       /* consumed either way */
    if (rc != SPOOL_OK) {
        st->stats.failed++;
        log_warnx("message id=%s commit refused error=\"%s\"", m->qid, spool_strerror(rc));
        msg_free(m);
        return from_spool(rc);
    }
    m->ss = ss;
    ss->pending = m;
    st->inflight++;
    if (spool_commits_pending(st->sp) == 1)
        event_active(st->flush_ev, EV_TIMEOUT, 0);
    return SMTP_STORE_PENDING;
}

static void cb_abort(void *ctx, void *msg)
{
    struct store_msg *m = msg;
    if (m->sm)
        spool_msg_abort(m->sm);
    log_info("message id=%s aborted", m->qid);
    msg_free(m);
}

/* ---- public ----------------------------------------------------------------------------- */

struct store *store_new(struct event_base *base, struct spool *sp)
{
    struct store *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->base = base;
    st->sp = sp;
    st->efd = -1;
    st->flush_ev = event_new(base, -1, 0, flush_cb, st);
    if (!st->flush_ev) {
        free(st);
        return NULL;
    }
    return st;
}

void store_free(struct store *st)
{
    if (!st)
        return;
    if (st->workers == WK_RUNNING) {
        for (size_t i = 0; i < st->nworkers; i++)      /* batches in flight: wait for the disk */
            if (st->w[i].busy)
                batch_finished(st, take_done(st, &st->w[i], true));
        pthread_mutex_lock(&st->mu);
        st->quit = true;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
        for (size_t i = 0; i < st->nworkers; i++)
            pthread_join(st->w[i].thread, NULL);
        pthread_cond_destroy(&st->cv);
        pthread_mutex_destroy(&st->mu);
    }
    /* what is still queued (detached sessions only by now), on this thread */
    while (spool_commits_pending(st->sp)) {
        struct spool_batch *b = spool_batch_take(st->sp);
        if (!b)
            break;
        spool_batch_sync(b);
        batch_finished(st, b);
    }
    if (st->done_ev)
        event_free(st->done_ev);
    if (st->efd >= 0)
        close(st->efd);
    event_free(st->flush_ev);
    free(st);
}

void store_set_committed(struct store *st, store_committed_fn *fn, void *arg)
{
    st->committed = fn;
    st->committed_arg = arg;
}

void store_get_stats(const struct store *st, struct store_stats *out)
{
    *out = st->stats;
}

size_t store_pending(const struct store *st)
{
    return st->inflight;
}

struct store_session *store_session_new(struct store *st, enum env_direction direction,
                                        store_done_fn *done, void *arg)
{
    struct store_session *ss = calloc(1, sizeof(*ss));
    if (!ss)
        return NULL;
    ss->st = st;
    ss->direction = direction;
    ss->done = done;
    ss->arg = arg;
    return ss;
}

void store_session_free(struct store_session *ss)
{
    if (!ss)
        return;
    if (ss->pending) {
        log_info("message id=%s session gone while commit pending: commit continues",
                 ss->pending->qid);
        ss->pending->ss = NULL;
    }
    free(ss);
}

int store_session_pending(const struct store_session *ss)
{
    return ss->pending != NULL;
}

void store_session_callbacks(struct store_session *ss, struct smtp_callbacks *cb)
{
    cb->store_ctx = ss;
    cb->msg_begin = cb_begin;
    cb->msg_write = cb_write;
    cb->msg_commit = cb_commit;
    cb->msg_abort = cb_abort;
    cb->now = NULL;
}

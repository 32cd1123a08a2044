/*
 * test_spool.c — the durable spool in a private temp directory: commit and recovery, crash
 * leftovers, the lock, group commit (also with the disk work on a thread), hold/release,
 * delete, due order, envelope updates, and disk-full handling.
 *
 * Disk full is simulated two ways: the spool's fault-injection hook (spool_test_fault: the
 * next write/fsync/rename "returns" ENOSPC, at each step of a commit), and a real kernel
 * failure from a small RLIMIT_FSIZE with SIGXFSZ ignored (write() then fails with EFBIG,
 * which the spool treats like ENOSPC). A root-only tmpfs is not needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

struct fx {
    char dir[64];
};

static char *path_in(const struct fx *f, const char *sub, const char *name)
{
    static char buf[4][256];
    static int k;

    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s%s%s", f->dir, sub, name ? "/" : "", name ? name : "");
    return buf[k];
}

static int count_files(const struct fx *f, const char *sub)
{
    DIR *d = opendir(path_in(f, sub, NULL));
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static bool exists(const struct fx *f, const char *sub, const char *name)
{
    return access(path_in(f, sub, name), F_OK) == 0;
}

static void rm_rf(const char *dir)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", dir);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/mailtun-spool-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    spool_test_fault(SPOOL_FAULT_WRITE, 0, 0);
    spool_test_fault(SPOOL_FAULT_FSYNC, 0, 0);
    spool_test_fault(SPOOL_FAULT_RENAME, 0, 0);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static struct spool *open_ok(const struct fx *f, struct spool_recovery *rec)
{
    struct spool *sp;
    char err[300];
    int rc = spool_open(f->dir, &sp, rec, err, sizeof(err));

    if (rc)
        fail_msg("spool_open: %s", err);
    return sp;
}

static void make_env(struct envelope *e, const char *sender, int64_t due)
{
    assert_int_equal(envelope_init(e), 0);
    e->arrival = time(NULL);
    assert_int_equal(envelope_set(&e->sender, sender), 0);
    assert_int_equal(envelope_set(&e->client, "192.0.2.9"), 0);
    assert_int_equal(envelope_set(&e->helo, "client.example"), 0);
    assert_int_equal(envelope_add_rcpt(e, "bob@example.com", due), 0);
    assert_int_equal(envelope_add_rcpt(e, "carol@example.com", due), 0);
}

static const char body[] = "Subject: test\r\n\r\nhello world\r\n";

/* Receives one message in pieces; returns its qid via out. */
static struct spool_msg *receive(struct spool *sp, size_t copies)
{
    struct spool_msg *m;

    assert_int_equal(spool_msg_begin(sp, &m), SPOOL_OK);
    for (size_t i = 0; i < copies; i++)
        assert_int_equal(spool_msg_write(m, body, sizeof(body) - 1), SPOOL_OK);
    return m;
}

static void commit_one(struct spool *sp, const char *sender, int64_t due, size_t copies,
                       char qid[QUEUE_ID_SIZE])
{
    struct spool_msg *m = receive(sp, copies);
    struct envelope e;

    make_env(&e, sender, due);
    memcpy(qid, spool_msg_qid(m), QUEUE_ID_SIZE);
    assert_int_equal(spool_commit(m, &e), SPOOL_OK);
    envelope_free(&e);
}

static void test_commit_and_recover(void **state)
{
    struct fx *f = *state;
    struct spool_recovery rec;
    struct spool *sp = open_ok(f, &rec);
    char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], name[64], buf[8192];
    const struct spool_entry *e;
    ssize_t n;
    int fd;

    assert_int_equal(rec.loaded, 0);
    commit_one(sp, "alice@example.org", 0, 1, a);
    commit_one(sp, "", 0, 200, b);        /* 6 KB, a bounce */
    assert_true(strcmp(a, b) < 0);
    assert_int_equal(spool_count(sp), 2);
    /* one file per message: the envelope is the data file's trailer, no .env yet */
    snprintf(name, sizeof(name), "%s.data", a);
    assert_true(exists(f, "queue", name));
    snprintf(name, sizeof(name), "%s.env", a);
    assert_false(exists(f, "queue", name));
    assert_int_equal(count_files(f, "queue"), 2);
    assert_int_equal(count_files(f, "incoming"), 0);
    spool_close(sp);

    sp = open_ok(f, &rec);
    assert_int_equal(rec.loaded, 2);
    assert_int_equal(rec.quarantined + rec.removed + rec.completed, 0);
    e = spool_lookup(sp, b);
    assert_non_null(e);
    assert_string_equal(e->env.sender, "");
    assert_int_equal(e->env.size, 200 * (sizeof(body) - 1));
    assert_int_equal(e->env.nrcpt, 2);
    assert_string_equal(e->env.rcpt[1].addr, "carol@example.com");
    fd = spool_open_data(sp, a);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    /* the message, then the envelope trailer and its footer */
    assert_true(n > (ssize_t)(sizeof(body) - 1 + 27));
    assert_memory_equal(buf, body, sizeof(body) - 1);
    assert_memory_equal(buf + sizeof(body) - 1, "mailtun-envelope 1", 18);
    assert_memory_equal(buf + n - 27, "envelope-length ", 16);
    assert_int_equal(spool_lookup(sp, a)->env.size, sizeof(body) - 1);
    /* a new ID sorts after everything recovered */
    commit_one(sp, "x@y", 0, 1, a);
    assert_true(strcmp(a, b) > 0);
    spool_close(sp);
}

static void write_file(const struct fx *f, const char *sub, const char *name, const char *text,
                       size_t len)
{
    FILE *fp = fopen(path_in(f, sub, name), "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
}

static char *read_whole(const struct fx *f, const char *sub, const char *name, size_t *len)
{
    FILE *fp = fopen(path_in(f, sub, name), "r");
    char *buf = malloc(1 << 16);

    assert_non_null(fp);
    *len = fread(buf, 1, 1 << 16, fp);
    fclose(fp);
    return buf;
}

/* Splits a committed data file (message + envelope trailer + footer) into its parts. */
static void split_committed(const struct fx *f, const char *qid, char **msg, size_t *msglen,
                            char **env, size_t *envlen)
{
    char name[64], *text;
    size_t len, l = 0;

    snprintf(name, sizeof(name), "%s.data", qid);
    text = read_whole(f, "queue", name, &len);
    assert_true(len > 27);
    assert_memory_equal(text + len - 27, "envelope-length ", 16);
    for (size_t i = len - 11; i < len - 1; i++)
        l = l * 10 + (size_t)(text[i] - '0');
    *msglen = len - 27 - l;
    *envlen = l;
    *msg = malloc(*msglen + 1);
    *env = malloc(l + 1);
    memcpy(*msg, text, *msglen);
    memcpy(*env, text + *msglen, l);
    free(text);
}

static void test_crash_leftovers(void **state)
{
    struct fx *f = *state;
    struct spool_recovery rec;
    struct spool *sp = open_ok(f, NULL);
    char good[QUEUE_ID_SIZE], trunc[QUEUE_ID_SIZE], mism[QUEUE_ID_SIZE], late[QUEUE_ID_SIZE];
    char badtr[QUEUE_ID_SIZE], n1[64], *text, *msg, *env, *p;
    size_t len, msglen, envlen;

    commit_one(sp, "a@x", 0, 1, good);
    commit_one(sp, "b@x", 0, 1, trunc);
    commit_one(sp, "c@x", 0, 1, mism);
    commit_one(sp, "d@x", 0, 1, late);
    commit_one(sp, "e@x", 0, 1, badtr);
    spool_close(sp);

    /* 1: a half-received message in incoming/ */
    write_file(f, "incoming", "0005f3a1c2d4e0001a2b.data", "partial", 7);
    /* 2: data with neither envelope nor trailer in queue/ (a removal cut short: removed) */
    write_file(f, "queue", "0005f3a1c2d4e0002a2b.data", "orphan", 6);
    /* 3: a rewritten envelope (.env beside the data) that was truncated */
    split_committed(f, trunc, &msg, &msglen, &env, &envlen);
    snprintf(n1, sizeof(n1), "%s.env", trunc);
    write_file(f, "queue", n1, env, envlen - 5);
    free(msg);
    free(env);
    /* 4: a trailer whose envelope does not decode (committed once: quarantined) */
    snprintf(n1, sizeof(n1), "%s.data", badtr);
    text = read_whole(f, "queue", n1, &len);
    p = memmem(text, len, "\nsender ", 8);
    assert_non_null(p);
    memcpy(p + 1, "sendxr", 6);
    write_file(f, "queue", n1, text, len);
    free(text);
    /* 5: the data is longer than the trailer's message size says */
    snprintf(n1, sizeof(n1), "%s.data", mism);
    text = read_whole(f, "queue", n1, &len);
    p = malloc(len + 1);
    p[0] = 'X';
    memcpy(p + 1, text, len);
    write_file(f, "queue", n1, p, len + 1);
    free(p);
    free(text);
    /* 6: a foreign file and a directory */
    write_file(f, "queue", "README.txt", "hi", 2);
    assert_int_equal(mkdir(path_in(f, "queue", "subdir"), 0700), 0);
    /* 7: a spool of the two-file layout (envelope in .env, data without trailer) whose
     *    envelope rename reached the disk while the data rename did not */
    split_committed(f, late, &msg, &msglen, &env, &envlen);
    snprintf(n1, sizeof(n1), "%s.data", late);
    assert_int_equal(unlink(path_in(f, "queue", n1)), 0);
    write_file(f, "incoming", n1, msg, msglen);
    snprintf(n1, sizeof(n1), "%s.env", late);
    write_file(f, "queue", n1, env, envlen);
    free(msg);
    free(env);

    sp = open_ok(f, &rec);
    assert_int_equal(rec.loaded, 2);          /* good + late */
    assert_int_equal(rec.completed, 1);
    assert_int_equal(rec.removed, 2);         /* the partial in incoming/, the orphan data */
    assert_int_equal(rec.quarantined, 2 + 1 + 1 + 2);
    assert_non_null(spool_lookup(sp, good));
    assert_non_null(spool_lookup(sp, late));
    assert_int_equal(spool_lookup(sp, late)->env.size, msglen);
    assert_null(spool_lookup(sp, trunc));
    assert_null(spool_lookup(sp, mism));
    assert_null(spool_lookup(sp, badtr));
    assert_int_equal(count_files(f, "incoming"), 0);
    assert_int_equal(count_files(f, "queue"), 3);    /* good.data, late.env + late.data */
    assert_int_equal(count_files(f, "quarantine"), 6);
    assert_true(exists(f, "quarantine", "README.txt"));
    assert_false(exists(f, "quarantine", "0005f3a1c2d4e0002a2b.data"));
    assert_false(exists(f, "queue", "0005f3a1c2d4e0002a2b.data"));
    spool_close(sp);

    /* a second start finds a clean spool */
    sp = open_ok(f, &rec);
    assert_int_equal(rec.loaded, 2);
    assert_int_equal(rec.quarantined + rec.removed + rec.completed, 0);
    spool_close(sp);
}

static void test_lock(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_ok(f, NULL), *sp2 = NULL;
    char err[300];

    assert_int_equal(spool_open(f->dir, &sp2, NULL, err, sizeof(err)), SPOOL_ERR_LOCKED);
    assert_null(sp2);
    assert_non_null(strstr(err, "in use by another mailrelayd"));
    spool_close(sp);
    sp2 = open_ok(f, NULL);      /* free again once the first is closed */
    spool_close(sp2);
}

struct cb_log {
    int calls[64];
    int status[64];
    char qid[64][QUEUE_ID_SIZE];
};

static void on_commit(void *arg, const char *qid, int status)
{
    struct cb_log *l = arg;
    int i;

    for (i = 0; i < 64 && strcmp(l->qid[i], qid) != 0; i++)
        ;
    assert_true(i < 64);
    l->calls[i]++;
    l->status[i] = status;
}

static void *sync_thread(void *b)
{
    spool_batch_sync(b);
    return NULL;
}

static void test_group_commit(void **state)
{
    struct fx *f = *state;
    struct spool_recovery rec;
    struct spool *sp = open_ok(f, NULL);
    struct cb_log *log = calloc(1, sizeof(*log));
    struct spool_batch *b;
    pthread_t th;
    enum { N = 40 };

    for (int i = 0; i < N; i++) {
        struct spool_msg *m = receive(sp, 1 + (size_t)i);
        struct envelope e;

        make_env(&e, "a@x", 0);
        memcpy(log->qid[i], spool_msg_qid(m), QUEUE_ID_SIZE);
        assert_int_equal(spool_commit_async(m, &e, on_commit, log), SPOOL_OK);
        envelope_free(&e);
    }
    assert_int_equal(spool_commits_pending(sp), N);
    for (int i = 0; i < N; i++)
        assert_int_equal(log->calls[i], 0);    /* never before the flush */
    assert_int_equal(count_files(f, "queue"), 0);
    /* half through flush_commits, half through a worker thread */
    assert_int_equal(spool_flush_commits(sp), N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(log->calls[i], 1);
        assert_int_equal(log->status[i], SPOOL_OK);
    }
    assert_int_equal(spool_commits_pending(sp), 0);
    assert_int_equal(spool_flush_commits(sp), 0);

    memset(log, 0, sizeof(*log));
    for (int i = 0; i < N / 2; i++) {
        struct spool_msg *m = receive(sp, 3);
        struct envelope e;

        make_env(&e, "b@x", 0);
        memcpy(log->qid[i], spool_msg_qid(m), QUEUE_ID_SIZE);
        assert_int_equal(spool_commit_async(m, &e, on_commit, log), SPOOL_OK);
        envelope_free(&e);
    }
    b = spool_batch_take(sp);
    assert_non_null(b);
    assert_int_equal(spool_commits_pending(sp), 0);
    assert_int_equal(pthread_create(&th, NULL, sync_thread, b), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(log->calls[0], 0);        /* callbacks only from finish */
    assert_int_equal(spool_batch_finish(sp, b), N / 2);
    for (int i = 0; i < N / 2; i++)
        assert_int_equal(log->calls[i] * 10 + log->status[i], 10);
    assert_int_equal(spool_count(sp), N + N / 2);
    spool_close(sp);

    sp = open_ok(f, &rec);
    assert_int_equal(rec.loaded, N + N / 2);
    spool_close(sp);
    free(log);
}

static void test_hold_release_delete(void **state)
{
    struct fx *f = *state;
    struct spool_recovery rec;
    struct spool *sp = open_ok(f, NULL);
    char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], ids[4][QUEUE_ID_SIZE], name[64];

    commit_one(sp, "a@x", 0, 1, a);
    commit_one(sp, "b@x", 0, 1, b);
    assert_int_equal(spool_hold(sp, a), SPOOL_OK);
    assert_int_equal(spool_hold(sp, a), SPOOL_ERR_NOTFOUND);   /* already held */
    assert_int_equal(spool_lookup(sp, a)->place, SPOOL_HELD);
    snprintf(name, sizeof(name), "%s.data", a);
    assert_true(exists(f, "hold", name));
    assert_false(exists(f, "queue", name));
    assert_int_equal(spool_due(sp, INT64_MAX, ids, 4), 1);      /* held is not due */
    assert_string_equal(ids[0], b);
    spool_close(sp);

    sp = open_ok(f, &rec);
    assert_int_equal(rec.held, 1);
    assert_int_equal(rec.loaded, 1);
    assert_int_equal(spool_release(sp, a), SPOOL_OK);
    assert_true(exists(f, "queue", name));
    assert_int_equal(spool_due(sp, INT64_MAX, ids, 4), 2);
    assert_int_equal(spool_delete(sp, a), SPOOL_OK);
    assert_false(exists(f, "queue", name));
    assert_int_equal(spool_delete(sp, a), SPOOL_ERR_NOTFOUND);
    assert_int_equal(spool_remove(sp, b, "delivered"), SPOOL_OK);
    assert_int_equal(spool_count(sp), 0);
    assert_int_equal(count_files(f, "queue"), 0);
    spool_close(sp);
    sp = open_ok(f, &rec);
    assert_int_equal(rec.loaded + rec.held, 0);
    spool_close(sp);
}

static void test_due_order_and_update(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_ok(f, NULL);
    char q[4][QUEUE_ID_SIZE], ids[4][QUEUE_ID_SIZE];
    struct envelope e;

    commit_one(sp, "a@x", 300, 1, q[0]);
    commit_one(sp, "b@x", 100, 1, q[1]);
    commit_one(sp, "c@x", 200, 1, q[2]);
    commit_one(sp, "d@x", 900, 1, q[3]);
    assert_int_equal(spool_next_due(sp), 100);
    assert_int_equal(spool_due(sp, 50, ids, 4), 0);
    assert_int_equal(spool_due(sp, 300, ids, 4), 3);
    /* arrival order, not due order */
    assert_string_equal(ids[0], q[0]);
    assert_string_equal(ids[1], q[1]);
    assert_string_equal(ids[2], q[2]);
    assert_int_equal(spool_due(sp, 300, ids, 2), 2);

    /* a delivery attempt: bob sent, carol deferred to 1000 */
    assert_int_equal(envelope_copy(&e, &spool_lookup(sp, q[1])->env), 0);
    e.rcpt[0].state = RCPT_SENT;
    e.rcpt[0].attempts = 1;
    e.rcpt[1].attempts = 1;
    e.rcpt[1].next_attempt = 1000;
    assert_int_equal(envelope_set(&e.rcpt[1].last_reply, "451 4.3.0 later"), 0);
    assert_int_equal(spool_update(sp, &e), SPOOL_OK);
    e.size++;
    assert_int_equal(spool_update(sp, &e), SPOOL_ERR_INVALID);
    envelope_free(&e);
    assert_int_equal(spool_next_due(sp), 200);
    assert_int_equal(count_files(f, "incoming"), 0);
    spool_close(sp);

    sp = open_ok(f, NULL);
    {
        const struct spool_entry *en = spool_lookup(sp, q[1]);

        assert_non_null(en);
        assert_int_equal(en->due, 1000);
        assert_int_equal(en->env.rcpt[0].state, RCPT_SENT);
        assert_string_equal(en->env.rcpt[1].last_reply, "451 4.3.0 later");
        assert_int_equal(en->env.size, sizeof(body) - 1);
    }
    /* the rewritten envelope (.env) travels with its data file into hold/ and back */
    assert_int_equal(spool_hold(sp, q[1]), SPOOL_OK);
    assert_int_equal(spool_hold(sp, q[0]), SPOOL_OK);     /* no .env: the data alone */
    assert_int_equal(count_files(f, "hold"), 3);
    spool_close(sp);
    sp = open_ok(f, NULL);
    assert_int_equal(spool_lookup(sp, q[1])->place, SPOOL_HELD);
    assert_int_equal(spool_lookup(sp, q[1])->env.rcpt[0].state, RCPT_SENT);
    assert_int_equal(spool_lookup(sp, q[0])->place, SPOOL_HELD);
    assert_int_equal(spool_release(sp, q[1]), SPOOL_OK);
    assert_int_equal(count_files(f, "hold"), 1);
    spool_close(sp);
}

static void assert_nothing_left(const struct fx *f, struct spool *sp, size_t count)
{
    assert_int_equal(count_files(f, "queue"), (int)count);   /* one file per message */
    assert_int_equal(count_files(f, "incoming"), 0);
    assert_int_equal(spool_count(sp), count);
}

static void test_enospc_injected(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_ok(f, NULL);
    struct spool_msg *m;
    struct envelope e;
    struct cb_log *log = calloc(1, sizeof(*log));
    char ok[QUEUE_ID_SIZE];
    /* each step of a commit: body write, envelope trailer write, footer write, fsync of
     * the data file, its rename, directory fsync */
    const struct { enum spool_fault_op op; unsigned nth; } steps[] = {
        { SPOOL_FAULT_WRITE, 2 }, { SPOOL_FAULT_WRITE, 3 }, { SPOOL_FAULT_FSYNC, 1 },
        { SPOOL_FAULT_FSYNC, 2 }, { SPOOL_FAULT_RENAME, 1 },
    };

    make_env(&e, "a@x", 0);
    /* while the body is being received: sticky, commit reports it */
    m = receive(sp, 1);
    spool_test_fault(SPOOL_FAULT_WRITE, 1, ENOSPC);
    assert_int_equal(spool_msg_write(m, body, 20000), SPOOL_ERR_NOSPACE);
    assert_int_equal(spool_msg_write(m, body, 1), SPOOL_ERR_NOSPACE);
    assert_int_equal(spool_commit(m, &e), SPOOL_ERR_NOSPACE);
    assert_nothing_left(f, sp, 0);

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        m = receive(sp, 1);
        spool_test_fault(steps[i].op, steps[i].nth, i % 2 ? EDQUOT : ENOSPC);
        assert_int_equal(spool_commit(m, &e), SPOOL_ERR_NOSPACE);
        assert_nothing_left(f, sp, 0);
    }
    /* an I/O error is a different temporary failure */
    m = receive(sp, 1);
    spool_test_fault(SPOOL_FAULT_FSYNC, 1, EIO);
    assert_int_equal(spool_commit(m, &e), SPOOL_ERR_IO);
    assert_nothing_left(f, sp, 0);

    /* group commit: the directory fsync fails -> every callback gets the failure */
    for (int i = 0; i < 3; i++) {
        m = receive(sp, 1);
        memcpy(log->qid[i], spool_msg_qid(m), QUEUE_ID_SIZE);
        assert_int_equal(spool_commit_async(m, &e, on_commit, log), SPOOL_OK);
    }
    spool_test_fault(SPOOL_FAULT_FSYNC, 4, ENOSPC);   /* 3 data files, then the directory */
    assert_int_equal(spool_flush_commits(sp), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(log->calls[i] * 10 - log->status[i], 10 + 1);
    assert_nothing_left(f, sp, 0);

    /* and the spool still works afterwards */
    commit_one(sp, "a@x", 0, 1, ok);
    assert_nothing_left(f, sp, 1);
    spool_close(sp);
    envelope_free(&e);
    free(log);
}

static void test_efbig_real(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_ok(f, NULL);
    struct rlimit old, small = { 64 * 1024, 0 };
    struct sigaction ign = { .sa_handler = SIG_IGN }, oldsa;
    struct spool_msg *m;
    struct envelope e;
    char *big = malloc(256 * 1024);
    int w, c;

    memset(big, 'x', 256 * 1024);
    make_env(&e, "a@x", 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_max = old.rlim_max;
    assert_int_equal(sigaction(SIGXFSZ, &ign, &oldsa), 0);
    assert_int_equal(spool_msg_begin(sp, &m), SPOOL_OK);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    w = spool_msg_write(m, big, 256 * 1024);
    c = spool_commit(m, &e);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    sigaction(SIGXFSZ, &oldsa, NULL);
    assert_int_equal(w, SPOOL_ERR_NOSPACE);
    assert_int_equal(c, SPOOL_ERR_NOSPACE);
    assert_nothing_left(f, sp, 0);
    spool_close(sp);
    envelope_free(&e);
    free(big);
}

static void test_bad_envelope_refused(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_ok(f, NULL);
    struct spool_msg *m = receive(sp, 1);
    struct envelope e;

    assert_int_equal(envelope_init(&e), 0);     /* no recipients */
    assert_int_equal(spool_commit_async(m, &e, on_commit, NULL), SPOOL_ERR_INVALID);
    assert_int_equal(spool_commits_pending(sp), 0);
    assert_nothing_left(f, sp, 0);
    m = receive(sp, 1);
    spool_msg_abort(m);
    assert_nothing_left(f, sp, 0);
    spool_close(sp);
    envelope_free(&e);
}

static void test_queue_id(void **state)
{
    struct queue_id_gen g = { 0 };
    char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], c[QUEUE_ID_SIZE];

    (void)state;
    queue_id_make(&g, 1700000000000000ull, 0xffff1234, a);
    queue_id_make(&g, 1700000000000000ull, 0, b);      /* same microsecond */
    queue_id_make(&g, 1600000000000000ull, 0, c);      /* clock stepped back */
    assert_true(queue_id_valid(a) && queue_id_valid(b) && queue_id_valid(c));
    assert_true(strcmp(a, b) < 0 && strcmp(b, c) < 0);
    assert_int_equal(queue_id_time(a), 1700000000);
    assert_false(queue_id_valid("../../etc/passwd"));
    assert_false(queue_id_valid("0005F3A1C2D4E0001A2B"));
    assert_false(queue_id_valid("0005f3a1c2d4e0001a2"));
    g = (struct queue_id_gen){ 0 };
    queue_id_seed(&g, c);
    queue_id_make(&g, 1000, 0, a);
    assert_true(strcmp(a, c) > 0);
    g = (struct queue_id_gen){ 0 };
    for (int i = 0; i < 5000; i++) {
        queue_id_make(&g, 42, (uint32_t)i, a);   /* overflow of the counter */
        if (i)
            assert_true(strcmp(b, a) < 0);
        memcpy(b, a, sizeof(a));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_id),
        cmocka_unit_test_setup_teardown(test_commit_and_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_release_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_order_and_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enospc_injected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_efbig_real, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_envelope_refused, setup, teardown),
    };

    log_init("test_spool", LOG_TO_STDERR, LOG_LVL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

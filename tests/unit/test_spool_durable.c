/*
 * test_spool_durable.c — the spool asks the kernel for durability of exactly what it
 * commits, in the order that makes a commit survive a power cut:
 *   fdatasync(the message file)  <  rename into queue/  <  fsync(queue/)  <  "committed"
 * for a single commit, for every message of a group commit, and for an envelope update.
 *
 * fdatasync, fsync and renameat are interposed: this executable defines them, so the
 * spool's calls land here; each is recorded by the inode it touched and then done for real
 * through syscall(2). What this proves is the spool's side of the contract (the right calls,
 * on the right files, in order, before success is reported). That the kernel and the disk
 * keep it across a power cut is the lab's concern, not a unit test's. SIGKILL tests cannot
 * see a missing fsync at all: the page cache survives the process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

enum ev_kind { EV_DATASYNC, EV_FSYNC, EV_RENAME };

struct ev {
    enum ev_kind kind;
    dev_t dev;
    ino_t ino;              /* the file synced, or the file renamed */
    ino_t to_dir;           /* rename: the directory it went into */
};

#define MAX_EV 4096
static struct ev evs[MAX_EV];
static int nev;

static void record(enum ev_kind kind, const struct stat *st, ino_t to_dir)
{
    if (nev < MAX_EV)
        evs[nev++] = (struct ev){ kind, st->st_dev, st->st_ino, to_dir };
}

/* Interposed (see the header). Declared here to keep -Wmissing-prototypes quiet. */
int fdatasync(int fd);
int fsync(int fd);
int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

int fdatasync(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0)
        record(EV_DATASYNC, &st, 0);
    return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0)
        record(EV_FSYNC, &st, 0);
    return (int)syscall(SYS_fsync, fd);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    struct stat st, dir;
    int rc = (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, 0);
    if (rc == 0 && fstatat(newdirfd, newpath, &st, AT_SYMLINK_NOFOLLOW) == 0 && fstat(newdirfd, &dir) == 0)
        record(EV_RENAME, &st, dir.st_ino);
    return rc;
}

/* --- checking the order ---------------------------------------------------------------- */

static char dir[64];

static void inode_of(const char *sub, const char *name, struct stat *st)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s%s%s", dir, sub, name ? "/" : "", name ? name : "");
    if (stat(p, st) != 0)
        fail_msg("stat %s failed", p);
}

/* Index of the last event of kind on ino before `before` (and, for renames, into to_dir). */
static int last_before(enum ev_kind kind, ino_t ino, ino_t to_dir, int before)
{
    for (int i = before - 1; i >= 0; i--)
        if (evs[i].kind == kind && evs[i].ino == ino && (kind != EV_RENAME || evs[i].to_dir == to_dir))
            return i;
    return -1;
}

/* The file sub/name was made durable before event index `done` (the commit's success):
 * its data synced, then renamed into sub/, then sub/ synced. */
static void assert_durable(const char *sub, const char *name, int done)
{
    struct stat f, d;
    inode_of(sub, name, &f);
    inode_of(sub, NULL, &d);
    int ren = last_before(EV_RENAME, f.st_ino, d.st_ino, done);
    if (ren < 0)
        fail_msg("%s/%s: never renamed into %s/ before the commit reported success", sub, name, sub);
    int ds = last_before(EV_DATASYNC, f.st_ino, 0, ren);
    int fs = last_before(EV_FSYNC, f.st_ino, 0, ren);
    if (ds < 0 && fs < 0)
        fail_msg("%s/%s: its data was never fdatasync()ed (or fsync()ed) before the rename", sub, name);
    int dirsync = last_before(EV_FSYNC, d.st_ino, 0, done);
    if (dirsync < ren)
        fail_msg("%s/%s: directory %s/ not fsync()ed after the rename and before success", sub, name, sub);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mailtun-durable-XXXXXX");
    nev = 0;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct spool *open_ok(void)
{
    struct spool *sp;
    char err[300];
    if (spool_open(dir, &sp, NULL, err, sizeof(err)) != 0)
        fail_msg("spool_open: %s", err);
    return sp;
}

static struct spool_msg *receive(struct spool *sp, struct envelope *e)
{
    static const char body[] = "Subject: durable\r\n\r\nhello\r\n";
    struct spool_msg *m;
    assert_int_equal(spool_msg_begin(sp, &m), SPOOL_OK);
    assert_int_equal(spool_msg_write(m, body, sizeof(body) - 1), SPOOL_OK);
    assert_int_equal(envelope_init(e), 0);
    e->arrival = time(NULL);
    assert_int_equal(envelope_set(&e->sender, "alice@example.org"), 0);
    assert_int_equal(envelope_set(&e->client, "192.0.2.9"), 0);
    assert_int_equal(envelope_set(&e->helo, "client.example"), 0);
    assert_int_equal(envelope_add_rcpt(e, "bob@example.com", 0), 0);
    return m;
}

static void test_single_commit(void **state)
{
    struct spool *sp = open_ok();
    struct envelope e;
    char qid[QUEUE_ID_SIZE], name[64];
    (void)state;

    struct spool_msg *m = receive(sp, &e);
    memcpy(qid, spool_msg_qid(m), QUEUE_ID_SIZE);
    nev = 0;
    assert_int_equal(spool_commit(m, &e), SPOOL_OK);
    int done = nev;
    envelope_free(&e);
    snprintf(name, sizeof(name), "%s.data", qid);
    assert_durable("queue", name, done);
    spool_close(sp);
}

struct cb { char qid[8][QUEUE_ID_SIZE]; int done[8]; };

static void on_commit(void *arg, const char *qid, int status)
{
    struct cb *c = arg;
    assert_int_equal(status, SPOOL_OK);
    for (int i = 0; i < 8; i++)
        if (strcmp(c->qid[i], qid) == 0)
            c->done[i] = nev;           /* what had happened when the 250 could be sent */
}

static void test_group_commit(void **state)
{
    struct spool *sp = open_ok();
    struct cb c;
    char name[64];
    (void)state;

    memset(&c, 0, sizeof(c));
    for (int i = 0; i < 8; i++) {
        struct envelope e;
        struct spool_msg *m = receive(sp, &e);
        memcpy(c.qid[i], spool_msg_qid(m), QUEUE_ID_SIZE);
        assert_int_equal(spool_commit_async(m, &e, on_commit, &c), SPOOL_OK);
        envelope_free(&e);
    }
    nev = 0;
    assert_int_equal(spool_flush_commits(sp), 8);
    for (int i = 0; i < 8; i++) {
        assert_true(c.done[i] > 0);
        snprintf(name, sizeof(name), "%s.data", c.qid[i]);
        assert_durable("queue", name, c.done[i]);
    }
    spool_close(sp);
}

static void test_envelope_update(void **state)
{
    struct spool *sp = open_ok();
    struct envelope e;
    char qid[QUEUE_ID_SIZE], name[64];
    (void)state;

    struct spool_msg *m = receive(sp, &e);
    memcpy(qid, spool_msg_qid(m), QUEUE_ID_SIZE);
    assert_int_equal(spool_commit(m, &e), SPOOL_OK);
    envelope_free(&e);

    const struct spool_entry *en = spool_lookup(sp, qid);
    assert_non_null(en);
    struct envelope up = en->env;       /* the index's copy; update only reads it */
    nev = 0;
    assert_int_equal(spool_update(sp, &up), SPOOL_OK);
    int done = nev;
    snprintf(name, sizeof(name), "%s.env", qid);
    assert_durable("queue", name, done);
    spool_close(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_update, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

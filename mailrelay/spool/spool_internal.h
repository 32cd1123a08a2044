/*
 * spool_internal.h — what the spool's files share; not for callers.
 *
 * Layers, each calling only those below it: spool.c (open, close, queue operations) on top;
 * spool_commit.c (receiving, group commit) and spool_recover.c (start-up recovery) beneath;
 * spool_index.c (the in-memory index) and spool_io.c (file primitives, fault injection) at the bottom.
 */
#ifndef MAILTUN_SPOOL_INTERNAL_H
#define MAILTUN_SPOOL_INTERNAL_H

#include "spool.h"

#define SPOOL_WBUF (16u * 1024)

enum spool_dir_idx { SD_INCOMING, SD_QUEUE, SD_HOLD, SD_QUARANTINE, SD_COUNT };

struct spool {
    char *path;
    int lockfd;
    int dirfd[SD_COUNT];
    struct queue_id_gen gen;
    struct spool_entry **idx;     /* sorted by qid = arrival order */
    size_t n, cap;
    struct spool_msg *pending;    /* queued commits, oldest first */
    struct spool_msg **pending_tail;
    size_t npending;
    bool queue_dirty;             /* removals in queue/ not yet fsynced */
};

struct spool_msg {
    struct spool *sp;
    char qid[QUEUE_ID_SIZE];
    int fd;
    char *buf;
    size_t buflen;
    uint64_t size;
    int status;                   /* sticky failure, or SPOOL_OK */
    struct envelope env;          /* set at commit */
    char *env_text;
    size_t env_len;
    spool_commit_cb *cb;
    void *arg;
    bool renamed_data;
    int fail_errno;            /* errno of the failure, for the log */
    struct spool_msg *next;
};

struct spool_batch {
    struct spool *sp;
    struct spool_msg *head;
    bool sync_queue;
    int dir_errno;
};

extern const char *const spool_dir_names[SD_COUNT];

/* errno -> spool_status */
int spool_errno_status(int e);
/* Returns the errno a test asked to inject for this op now, or 0. */
int spool_fault_take(enum spool_fault_op op);
int spool_write_all(int fd, const void *buf, size_t len);   /* 0 or errno */
int spool_fdatasync(int fd);                                 /* 0 or errno */
int spool_fsync_dir(int dirfd);                              /* 0 or errno */
int spool_renameat(int from, const char *a, int to, const char *b); /* 0 or errno */
/* Writes text to dir/name (create, truncate), fdatasyncs, closes. 0 or errno. */
int spool_write_file(int dirfd, const char *name, const char *text, size_t len);

/* Index: insert keeps order; the entry owns its envelope. */
int spool_index_add(struct spool *sp, struct spool_entry *e);
struct spool_entry *spool_index_find(const struct spool *sp, const char *qid, size_t *pos);
void spool_entry_free(struct spool_entry *e);
void spool_index_remove_at(struct spool *sp, size_t pos);   /* frees the entry */

/* Recovery of an opened, locked spool (spool_recover.c). */
int spool_recover(struct spool *sp, struct spool_recovery *rec);

#endif

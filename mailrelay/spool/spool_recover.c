/*
 * spool_recover.c — bring a spool found on disk into a known state at start-up.
 *
 * Rules (see spool.h): in queue/ and hold/, a message is its <qid>.env plus <qid>.data; the
 * envelope is the commit marker, so it decides which directory the message belongs to.
 * Complete and consistent messages are indexed; an envelope whose data is still in incoming/
 * (a commit cut short between its renames) or in the other directory (a hold/release cut
 * short) is completed; anything else is quarantined with the reason in the log. incoming/
 * is emptied: nothing there was ever acknowledged. Nothing here is fatal but a failing
 * directory read.
 * Needs: lib/log.h.
 */
#include "spool_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool_trailer.h"

#define NAME_LEN (QUEUE_ID_SIZE + 8)

struct item {
    char qid[QUEUE_ID_SIZE];
    unsigned env_in, data_in;   /* bit masks of 1 << SD_QUEUE / SD_HOLD */
};

struct names {
    char **v;
    size_t n, cap;
};

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    memset(ns, 0, sizeof(*ns));
}

/* Reads all entry names first, so renaming entries away cannot disturb readdir. */
static int list_dir(int dirfd, struct names *ns)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent *de;
    DIR *d;

    if (fd < 0 || !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return errno;
    }
    while ((errno = 0, de = readdir(d))) {
        char *copy;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (ns->n == ns->cap) {
            size_t cap = ns->cap ? ns->cap * 2 : 64;
            char **v = realloc(ns->v, cap * sizeof(*v));

            if (!v)
                break;
            ns->v = v;
            ns->cap = cap;
        }
        if (!(copy = strdup(de->d_name)))
            break;
        ns->v[ns->n++] = copy;
    }
    {
        int e = errno;

        closedir(d);
        return e;
    }
}

static bool is_regular(int dirfd, const char *name, off_t *size)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
        return false;
    if (size)
        *size = st.st_size;
    return true;
}

static void quarantine(struct spool *sp, int dir, const char *name, const char *qid,
                       const char *reason, struct spool_recovery *rec)
{
    char target[NAME_MAX + 16];
    int qfd = sp->dirfd[SD_QUARANTINE];

    snprintf(target, sizeof(target), "%s", name);
    for (int i = 1; faccessat(qfd, target, F_OK, AT_SYMLINK_NOFOLLOW) == 0 && i < 1000; i++)
        snprintf(target, sizeof(target), "%s.%d", name, i);
    if (renameat(sp->dirfd[dir], name, qfd, target) < 0) {
        log_warn("spool quarantine failed id=%s file=%s/%s", qid, spool_dir_names[dir], name);
        return;
    }
    rec->quarantined++;
    log_warnx("spool quarantined id=%s file=%s/%s as=quarantine/%s reason=\"%s\"", qid,
              spool_dir_names[dir], name, target, reason);
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->qid, ((const struct item *)b)->qid);
}

/* Classifies the names of queue/ or hold/ into items; quarantines what is foreign. */
static int collect(struct spool *sp, int dir, struct item **items, size_t *n, size_t *cap,
                   struct spool_recovery *rec)
{
    struct names ns = { 0 };
    int e = list_dir(sp->dirfd[dir], &ns);

    if (e) {
        names_free(&ns);
        errno = e;
        log_warn("spool cannot read id=- dir=%s", spool_dir_names[dir]);
        return spool_errno_status(e);
    }
    for (size_t i = 0; i < ns.n; i++) {
        const char *name = ns.v[i];
        const char *ext = name + QUEUE_ID_LEN;
        bool is_env, is_data;

        is_env = strlen(name) == QUEUE_ID_LEN + 4 && strcmp(ext, ".env") == 0;
        is_data = strlen(name) == QUEUE_ID_LEN + 5 && strcmp(ext, ".data") == 0;
        if (!(is_env || is_data) || !queue_id_prefix_valid(name)) {
            quarantine(sp, dir, name, "-", "foreign file name", rec);
            continue;
        }
        if (!is_regular(sp->dirfd[dir], name, NULL)) {
            quarantine(sp, dir, name, "-", "not a regular file", rec);
            continue;
        }
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            struct item *v = realloc(*items, c * sizeof(*v));

            if (!v) {
                names_free(&ns);
                return SPOOL_ERR_NOMEM;
            }
            *items = v;
            *cap = c;
        }
        memset(&(*items)[*n], 0, sizeof(**items));
        memcpy((*items)[*n].qid, name, QUEUE_ID_LEN);
        (*items)[*n].qid[QUEUE_ID_LEN] = '\0';
        if (is_env)
            (*items)[*n].env_in = 1u << dir;
        else
            (*items)[*n].data_in = 1u << dir;
        (*n)++;
    }
    names_free(&ns);
    return SPOOL_OK;
}

/* Reads and decodes dir/<qid>.env; 0 or -1 with why. */
static int load_envelope(int dirfd, const char *qid, struct envelope *env, char *why, size_t wl)
{
    char name[NAME_LEN];
    struct stat st;
    char *buf;
    ssize_t got = 0;
    int fd, rc;

    snprintf(name, sizeof(name), "%s.env", qid);
    if (envelope_init(env)) {
        snprintf(why, wl, "out of memory");
        return -1;
    }
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(why, wl, "cannot read envelope: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_size > (off_t)ENV_MAX_ENCODED) {
        close(fd);
        snprintf(why, wl, "envelope larger than %u octets", ENV_MAX_ENCODED);
        return -1;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        snprintf(why, wl, "out of memory");
        return -1;
    }
    while (got < st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)(st.st_size - got));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    close(fd);
    envelope_free(env);
    rc = envelope_decode(buf, (size_t)got, env, why, wl);
    free(buf);
    if (rc == 0 && strcmp(env->qid, qid) != 0) {
        snprintf(why, wl, "envelope names another queue id %s", env->qid);
        rc = -1;
    }
    return rc;
}

static int read_at(int fd, char *buf, size_t len, off_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, off + (off_t)got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/*
 * Reads the trailer of dir/<qid>.data (spool_trailer.h). 1: a trailer was found (env filled
 * when it decodes and matches: 0 in *bad, else the reason in why and *bad = 1); 0: no footer
 * at all (never committed); -1: the file cannot be read (why).
 */
static int load_trailer(int dirfd, const char *qid, struct envelope *env, off_t *env_start,
                        int *bad, char *why, size_t wl)
{
    char name[NAME_LEN], footer[SPOOL_FOOTER_LEN], *buf = NULL;
    size_t len;
    struct stat st;
    int fd;

    *bad = 1;
    snprintf(name, sizeof(name), "%s.data", qid);
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(why, wl, "cannot read data: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_size < (off_t)SPOOL_FOOTER_LEN ||
        read_at(fd, footer, sizeof(footer), st.st_size - (off_t)SPOOL_FOOTER_LEN) < 0 ||
        spool_footer_decode(footer, sizeof(footer), &len, why, wl) < 0) {
        close(fd);
        return 0;
    }
    if ((off_t)(len + SPOOL_FOOTER_LEN) > st.st_size) {
        snprintf(why, wl, "envelope trailer longer than the file");
    } else if (!(buf = malloc(len))) {
        snprintf(why, wl, "out of memory");
    } else if (read_at(fd, buf, len, st.st_size - (off_t)(SPOOL_FOOTER_LEN + len)) < 0) {
        snprintf(why, wl, "cannot read the envelope trailer: %s", strerror(errno));
    } else if (envelope_init(env) < 0) {
        snprintf(why, wl, "out of memory");
    } else {
        envelope_free(env);
        if (envelope_decode(buf, len, env, why, wl) < 0) {
            /* why says it */
        } else if (strcmp(env->qid, qid) != 0) {
            snprintf(why, wl, "envelope trailer names another queue id %s", env->qid);
        } else if (env->size + len + SPOOL_FOOTER_LEN != (uint64_t)st.st_size) {
            snprintf(why, wl, "data size %lld does not match the trailer's message size %llu",
                     (long long)st.st_size, (unsigned long long)env->size);
        } else {
            *bad = 0;
            *env_start = st.st_size - (off_t)(SPOOL_FOOTER_LEN + len);
        }
    }
    free(buf);
    close(fd);
    return 1;
}

static int bit_dir(unsigned mask)
{
    return (mask & (1u << SD_QUEUE)) ? SD_QUEUE : SD_HOLD;
}

/* A complete message found in dir d: into the index (which takes e), counted, logged. */
static void index_recovered(struct spool *sp, const char *qid, struct spool_entry *e, int d,
                            struct spool_recovery *rec, const char *note)
{
    e->place = d == SD_HOLD ? SPOOL_HELD : SPOOL_QUEUED;
    if (spool_index_add(sp, e) != SPOOL_OK) {
        spool_entry_free(e);
        return;
    }
    queue_id_seed(&sp->gen, qid);
    if (d == SD_HOLD)
        rec->held++;
    else
        rec->loaded++;
    log_debug("spool recovered id=%s dir=%s size=%llu rcpts=%zu%s", qid, spool_dir_names[d],
              (unsigned long long)e->env.size, e->env.nrcpt, note);
}

/* An envelope in <qid>.env beside a data file that carries a trailer: the data is the
 * message's env_size octets, then the (older) trailer. */
static bool trailer_follows(int dirfd, const char *qid, uint64_t env_size, off_t dsize)
{
    struct envelope old;
    off_t start;
    char why[200];
    int bad;

    memset(&old, 0, sizeof(old));
    if (load_trailer(dirfd, qid, &old, &start, &bad, why, sizeof(why)) != 1 || bad) {
        envelope_free(&old);
        return false;
    }
    envelope_free(&old);
    return (uint64_t)start == env_size && start <= dsize;
}

/*
 * A data file without <qid>.env: committed messages carry their envelope as the file's
 * trailer. Without a trailer it is a commit cut short (before the rename nothing was
 * acknowledged) or a removal cut short (envelope unlinked first): removed. A trailer that
 * is there but does not decode was committed once: quarantined for a human.
 */
static void recover_from_trailer(struct spool *sp, struct item *it, struct spool_recovery *rec)
{
    char datan[NAME_LEN], why[200];
    unsigned both = (1u << SD_QUEUE) | (1u << SD_HOLD);
    struct spool_entry *e;
    off_t start;
    int d, bad, found;

    snprintf(datan, sizeof(datan), "%s.data", it->qid);
    if (it->data_in == both) {
        /* cannot happen through our own renames; keep the queued copy */
        quarantine(sp, SD_HOLD, datan, it->qid, "second data file (also in queue/)", rec);
        it->data_in = 1u << SD_QUEUE;
    }
    d = bit_dir(it->data_in);
    e = calloc(1, sizeof(*e));
    if (!e)
        return;   /* stays on disk for the next start */
    found = load_trailer(sp->dirfd[d], it->qid, &e->env, &start, &bad, why, sizeof(why));
    if (found == 0) {
        spool_entry_free(e);
        if (unlinkat(sp->dirfd[d], datan, 0) == 0) {
            rec->removed++;
            log_notice("spool removed unfinished id=%s file=%s/%s reason=\"data without envelope\"",
                       it->qid, spool_dir_names[d], datan);
        }
        return;
    }
    if (found < 0 || bad) {
        quarantine(sp, d, datan, it->qid, why, rec);
        spool_entry_free(e);
        return;
    }
    index_recovered(sp, it->qid, e, d, rec, " (envelope from the trailer)");
}

static void resolve(struct spool *sp, struct item *it, struct spool_recovery *rec)
{
    char envn[NAME_LEN], datan[NAME_LEN], why[200];
    unsigned both = (1u << SD_QUEUE) | (1u << SD_HOLD);
    struct spool_entry *e;
    off_t dsize = -1;
    int d;

    snprintf(envn, sizeof(envn), "%s.env", it->qid);
    snprintf(datan, sizeof(datan), "%s.data", it->qid);
    if (it->env_in == both) {
        /* cannot happen through our own renames; keep the queued copy */
        quarantine(sp, SD_HOLD, envn, it->qid, "second envelope (also in queue/)", rec);
        it->env_in = 1u << SD_QUEUE;
    }
    if (!it->env_in) {
        recover_from_trailer(sp, it, rec);
        return;
    }
    d = bit_dir(it->env_in);
    if (it->data_in == both) {
        quarantine(sp, d == SD_QUEUE ? SD_HOLD : SD_QUEUE, datan, it->qid,
                   "second data file", rec);
        it->data_in = 1u << d;
    }
    e = calloc(1, sizeof(*e));
    if (!e)
        return;   /* stays on disk for the next start */
    if (load_envelope(sp->dirfd[d], it->qid, &e->env, why, sizeof(why)) < 0) {
        quarantine(sp, d, envn, it->qid, why, rec);
        if (it->data_in)
            quarantine(sp, bit_dir(it->data_in), datan, it->qid, "its envelope is corrupt", rec);
        spool_entry_free(e);
        return;
    }
    if (it->data_in && it->data_in != (1u << d)) {
        /* a hold or release cut short between its two renames */
        if (renameat(sp->dirfd[bit_dir(it->data_in)], datan, sp->dirfd[d], datan) == 0) {
            it->data_in = 1u << d;
            rec->completed++;
            log_notice("spool completed move id=%s dir=%s", it->qid, spool_dir_names[d]);
        }
    } else if (!it->data_in && is_regular(sp->dirfd[SD_INCOMING], datan, &dsize) &&
               (uint64_t)dsize == e->env.size) {
        /* the envelope rename reached the disk before the data rename did */
        if (renameat(sp->dirfd[SD_INCOMING], datan, sp->dirfd[d], datan) == 0) {
            it->data_in = 1u << d;
            rec->completed++;
            log_notice("spool completed commit id=%s", it->qid);
        }
    }
    if (it->data_in != (1u << d) || !is_regular(sp->dirfd[d], datan, &dsize)) {
        quarantine(sp, d, envn, it->qid, "envelope without data", rec);
        spool_entry_free(e);
        return;
    }
    if ((uint64_t)dsize != e->env.size && !trailer_follows(sp->dirfd[d], it->qid, e->env.size, dsize)) {
        snprintf(why, sizeof(why), "data size %lld differs from envelope size %llu",
                 (long long)dsize, (unsigned long long)e->env.size);
        quarantine(sp, d, envn, it->qid, why, rec);
        quarantine(sp, d, datan, it->qid, why, rec);
        spool_entry_free(e);
        return;
    }
    index_recovered(sp, it->qid, e, d, rec, "");
}

static void clean_incoming(struct spool *sp, struct spool_recovery *rec)
{
    struct names ns = { 0 };
    int fd = sp->dirfd[SD_INCOMING];

    if (list_dir(fd, &ns)) {
        log_warn("spool cannot read id=- dir=incoming");
        names_free(&ns);
        return;
    }
    for (size_t i = 0; i < ns.n; i++) {
        const char *qid = queue_id_prefix_valid(ns.v[i]) ? ns.v[i] : "-";

        if (!is_regular(fd, ns.v[i], NULL)) {
            quarantine(sp, SD_INCOMING, ns.v[i], "-", "not a regular file", rec);
            continue;
        }
        if (unlinkat(fd, ns.v[i], 0) < 0) {
            log_warn("spool cannot remove id=- file=incoming/%s", ns.v[i]);
            continue;
        }
        rec->removed++;
        log_notice("spool removed unfinished id=%.*s file=incoming/%s",
                   qid[0] == '-' ? 1 : QUEUE_ID_LEN, qid, ns.v[i]);
    }
    names_free(&ns);
}

int spool_recover(struct spool *sp, struct spool_recovery *rec)
{
    struct item *items = NULL;
    size_t n = 0, cap = 0, m = 0;
    int rc;

    rc = collect(sp, SD_QUEUE, &items, &n, &cap, rec);
    if (!rc)
        rc = collect(sp, SD_HOLD, &items, &n, &cap, rec);
    if (rc) {
        free(items);
        return rc;
    }
    if (n)
        qsort(items, n, sizeof(*items), cmp_item);
    /* merge the .env and .data rows of each queue ID */
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && strcmp(items[m - 1].qid, items[i].qid) == 0) {
            items[m - 1].env_in |= items[i].env_in;
            items[m - 1].data_in |= items[i].data_in;
        } else {
            items[m++] = items[i];
        }
    }
    for (size_t i = 0; i < m; i++)
        resolve(sp, &items[i], rec);
    free(items);
    clean_incoming(sp, rec);
    for (int d = 0; d < SD_COUNT; d++)
        if (fsync(sp->dirfd[d]) < 0)
            log_warn("spool fsync failed id=- dir=%s", spool_dir_names[d]);
    return SPOOL_OK;
}

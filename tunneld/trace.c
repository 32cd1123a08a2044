/*
 * trace.c — rotated, size-limited pcap capture of the tunnel's traffic (see trace.h).
 */
#include "trace.h"
#include "log.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

struct trace {
    pcap_t *pcap;
    pcap_dumper_t *dump;
    struct event *readable;
    int dirfd;                      /* the trace directory, opened once without following links */
    char dir[256];
    char file[320];
    long max_file_bytes;
    int max_files;
    unsigned long packets;
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keeps the newest max_files - 1 traces, so with the new one there are max_files. */
static void prune(struct trace *t)
{
    int fd = dup(t->dirfd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *e;
    char *names[256];
    size_t n = 0;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(d);
    while ((e = readdir(d)) && n < 256)
        if (strncmp(e->d_name, "trace-", 6) == 0 && strstr(e->d_name, ".pcap"))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (names[i] && n - i >= (size_t)t->max_files) {
            if (unlinkat(t->dirfd, names[i], 0) == 0)
                log_info("trace removed old file=%s/%s", t->dir, names[i]);
        }
        free(names[i]);
    }
}

/*
 * A new file, never an existing name: O_EXCL|O_NOFOLLOW, so nothing planted in the directory
 * (a symlink to /etc/shadow, say) is written through; the mode is set on the descriptor.
 */
static int open_file(struct trace *t, char *err, size_t errlen)
{
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32], name[64];
    static unsigned seq;
    FILE *f;
    int fd = -1;

    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    prune(t);
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(name, sizeof(name), "trace-%s-%02u.pcap", stamp, seq++ % 100);
        fd = openat(t->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
        if (fd < 0)
            log_warnx("trace file exists, not reused file=%s/%s", t->dir, name);
    }
    snprintf(t->file, sizeof(t->file), "%s/%s", t->dir, name);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", t->file, strerror(errno));
        return -1;
    }
    if (fchmod(fd, 0600) < 0 || !(f = fdopen(fd, "wb"))) {
        snprintf(err, errlen, "cannot set up %s: %s", t->file, strerror(errno));
        close(fd);
        return -1;
    }
    t->dump = pcap_dump_fopen(t->pcap, f);
    if (!t->dump) {
        snprintf(err, errlen, "cannot write %s: %s", t->file, pcap_geterr(t->pcap));
        fclose(f);
        return -1;
    }
    log_info("trace file=%s", t->file);
    return 0;
}

/* The directory is root's alone: made 0700 if missing, refused if it is a link or belongs
 * to someone else, its mode forced back to 0700 on the descriptor. */
static int open_dir(struct trace *t, const char *dir, char *err, size_t errlen)
{
    struct stat st;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    t->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (t->dirfd < 0) {
        snprintf(err, errlen, "cannot open trace directory %s: %s", dir,
                 errno == ENOTDIR || errno == ELOOP ? "not a directory (a symlink?)" : strerror(errno));
        return -1;
    }
    if (fstat(t->dirfd, &st) < 0 || st.st_uid != geteuid()) {
        snprintf(err, errlen, "trace directory %s is not owned by root: refused", dir);
        return -1;
    }
    if ((st.st_mode & 07777) != 0700 && fchmod(t->dirfd, 0700) < 0) {
        snprintf(err, errlen, "cannot make %s root-only: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct trace *t = (struct trace *)user;
    pcap_dump((u_char *)t->dump, h, bytes);
    t->packets++;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct trace *t = arg;
    char err[400];

    if (pcap_dispatch(t->pcap, 64, on_packet, (u_char *)t) < 0) {
        log_warnx("trace read failed reason=\"%s\"", pcap_geterr(t->pcap));
        return;
    }
    pcap_dump_flush(t->dump);
    if (pcap_dump_ftell(t->dump) >= t->max_file_bytes) {
        pcap_dump_close(t->dump);
        t->dump = NULL;
        if (open_file(t, err, sizeof(err)) < 0) {
            log_warnx("trace stopped reason=\"%s\"", err);
            event_del(t->readable);
        }
    }
}

struct trace *trace_start(struct event_base *base, const char *ifname, struct in_addr server,
                          const char *proto_filter, const char *dir, long max_file_bytes, int max_files,
                          char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "", filter[320], addr[INET_ADDRSTRLEN];
    struct bpf_program prog;
    struct trace *t = calloc(1, sizeof(*t));
    int fd;

    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->dirfd = -1;
    snprintf(t->dir, sizeof(t->dir), "%s", dir);
    t->max_file_bytes = max_file_bytes;
    t->max_files = max_files;
    if (open_dir(t, dir, err, errlen) < 0)
        goto fail;
    t->pcap = pcap_create(ifname, ebuf);
    if (!t->pcap || pcap_set_snaplen(t->pcap, TRACE_SNAPLEN) != 0 || pcap_set_timeout(t->pcap, 100) != 0 ||
        pcap_set_immediate_mode(t->pcap, 1) != 0 || pcap_activate(t->pcap) < 0) {
        snprintf(err, errlen, "cannot capture on %s: %s", ifname, t->pcap ? pcap_geterr(t->pcap) : ebuf);
        goto fail;
    }
    inet_ntop(AF_INET, &server, addr, sizeof(addr));
    snprintf(filter, sizeof(filter), "host %s and (%s)", addr, proto_filter);
    if (pcap_compile(t->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(t->pcap, &prog) < 0) {
        snprintf(err, errlen, "capture filter '%s': %s", filter, pcap_geterr(t->pcap));
        goto fail;
    }
    pcap_freecode(&prog);
    if (pcap_setnonblock(t->pcap, 1, ebuf) < 0 || (fd = pcap_get_selectable_fd(t->pcap)) < 0) {
        snprintf(err, errlen, "capture on %s cannot be polled", ifname);
        goto fail;
    }
    if (open_file(t, err, errlen) < 0)
        goto fail;
    t->readable = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, t);
    if (!t->readable || event_add(t->readable, NULL) < 0) {
        snprintf(err, errlen, "capture event setup failed");
        goto fail;
    }
    log_notice("trace started ifname=%s filter=\"%s\" file=%s", ifname, filter, t->file);
    return t;
fail:
    trace_stop(t);
    return NULL;
}

const char *trace_current_file(const struct trace *t) { return t->file; }
unsigned long trace_packets(const struct trace *t) { return t->packets; }

void trace_stop(struct trace *t)
{
    if (!t)
        return;
    if (t->readable) {
        event_free(t->readable);
        log_notice("trace stopped file=%s packets=%lu", t->file, t->packets);
    }
    if (t->dump)
        pcap_dump_close(t->dump);
    if (t->pcap)
        pcap_close(t->pcap);
    if (t->dirfd >= 0)
        close(t->dirfd);
    free(t);
}

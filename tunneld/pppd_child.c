/*
 * pppd_child.c — pppd's command line (pure), and starting, stopping and reaping pppd.
 *
 * Why the argv is this way: see pppd_child.h. Values go to pppd as separate argv words
 * (never through a shell or an options file), and a value with whitespace, a control
 * character or a leading '-' is refused outright rather than quoted: such a value is
 * a configuration mistake or an attack, and pppd logs and passes some of them on to
 * ip-up scripts as environment.
 *
 * Needs: POSIX fork/exec/waitpid; close_range(2) where the kernel has it.
 */
#include "pppd_child.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void
pppd_config_init(struct pppd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->unit = -1;
}

/* ---- argv ------------------------------------------------------------------------------ */

struct builder {
    struct pppd_argv *a;
    char *err;
    size_t errlen;
    int failed;
};

static void
push(struct builder *b, const char *word)
{
    if (b->failed)
        return;
    if (b->a->argc >= PPPD_ARGV_MAX) {
        seterr(b->err, b->errlen, "pppd command line too long");
        b->failed = 1;
        return;
    }
    b->a->argv[b->a->argc++] = word;
    b->a->argv[b->a->argc] = NULL;
}

/* A config value is one plain word: printable, no whitespace, not empty, no leading '-'. */
static int
safe_value(struct builder *b, const char *what, const char *v)
{
    const unsigned char *p;

    if (v == NULL || *v == '\0') {
        seterr(b->err, b->errlen, "pppd %s is empty", what);
        return 0;
    }
    if (*v == '-') {
        seterr(b->err, b->errlen, "pppd %s must not start with '-'", what);
        return 0;
    }
    for (p = (const unsigned char *)v; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            seterr(b->err, b->errlen, "pppd %s contains whitespace or a control character", what);
            return 0;
        }
    }
    return 1;
}

/* "option value", value checked. */
static void
push_opt(struct builder *b, const char *opt, const char *value)
{
    if (b->failed)
        return;
    if (!safe_value(b, opt, value)) {
        b->failed = 1;
        return;
    }
    push(b, opt);
    push(b, value);
}

/* Formats into the argv's own store; returns the string or NULL. */
static const char *
stored(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *
stored(struct builder *b, const char *fmt, ...)
{
    struct pppd_argv *a = b->a;
    size_t room = sizeof(a->store) - a->used;
    char *s = a->store + a->used;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(s, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        seterr(b->err, b->errlen, "pppd command line too long");
        b->failed = 1;
        return NULL;
    }
    a->used += (size_t)n + 1;
    return s;
}

static void
push_num(struct builder *b, const char *opt, int value, int min, int max)
{
    const char *s;

    if (b->failed || value == 0)
        return;
    if (value < min || value > max) {
        seterr(b->err, b->errlen, "pppd %s %d out of range %d..%d", opt, value, min, max);
        b->failed = 1;
        return;
    }
    if ((s = stored(b, "%d", value)) != NULL) {
        push(b, opt);
        push(b, s);
    }
}

int
pppd_build_argv(const struct pppd_config *cfg, struct pppd_argv *out, char *err, size_t errlen)
{
    static const char *const defaults[] = {
        "noauth",           /* the server need not authenticate to us; we authenticate to it */
        "refuse-pap", "refuse-chap", "refuse-mschap", "refuse-eap",  /* MS-CHAPv2 only: MPPE keys */
        "require-mppe-128", "nobsdcomp", "nodeflate",
        "nodefaultroute",   /* routes.c does routing with a source rule */
        /* One Terminate-Request: pppd's goodbye then lasts at most lcp-restart (3 s), inside
         * mailtund's grace for it. With pppd's default of 2 a lost Terminate-Ack (a provider
         * that hangs up once it has its own) kept pppd 6 s, and mailtund killed it. */
        "lcp-max-terminate", "1",
    };
    struct builder b = { out, err, errlen, 0 };
    size_t i;

    memset(out, 0, sizeof(*out));
    if (cfg->plugin_path == NULL || cfg->user == NULL) {
        seterr(err, errlen, "pppd %s not configured", cfg->plugin_path == NULL ? "plugin" : "user name");
        return -1;
    }
    if (!safe_value(&b, "path", cfg->pppd_path ? cfg->pppd_path : PPPD_DEFAULT_PATH))
        return -1;
    push(&b, cfg->pppd_path ? cfg->pppd_path : PPPD_DEFAULT_PATH);
    push_opt(&b, "plugin", cfg->plugin_path);
    if (cfg->ipc_socket != NULL)
        push_opt(&b, "mailtun-socket", cfg->ipc_socket);

    for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        push(&b, defaults[i]);
    push_num(&b, "lcp-echo-interval", cfg->lcp_echo_interval, 1, 3600);
    push_num(&b, "lcp-echo-failure", cfg->lcp_echo_failure, 1, 1000);
    push_num(&b, "mtu", cfg->mtu, 128, 16384);
    push_num(&b, "mru", cfg->mru, 128, 16384);
    push_num(&b, "mailtun-timeout", cfg->call_timeout, 1, 300);
    if (cfg->options_file != NULL)
        push_opt(&b, "file", cfg->options_file);

    /* After the admin's file, so it cannot undo them. */
    push(&b, "nodetach");
    push(&b, "nopersist");
    push_opt(&b, "name", cfg->user);
    if (cfg->remotename != NULL)
        push_opt(&b, "remotename", cfg->remotename);
    push(&b, "ipparam");
    push(&b, PPPD_IPPARAM);
    if (cfg->fixed.s_addr != 0) {
        char a[INET_ADDRSTRLEN];
        const char *s;
        inet_ntop(AF_INET, &cfg->fixed, a, sizeof(a));
        if ((s = stored(&b, "%s:", a)) != NULL)
            push(&b, s);
        /* Take whatever the server assigns, so a wrong address reaches ip-up, where mailtund
         * refuses it by name; without this pppd argues with the server's Naks until it
         * gives up with a vague "peer refused to agree to our IP address". */
        push(&b, "ipcp-accept-local");
    }
    if (cfg->logfile != NULL)
        push_opt(&b, "logfile", cfg->logfile);
    if (cfg->linkname != NULL)
        push_opt(&b, "linkname", cfg->linkname);
    if (cfg->unit >= 0) {
        const char *s = cfg->unit > 9999 ? NULL : stored(&b, "%d", cfg->unit);
        if (s == NULL && !b.failed) {
            seterr(err, errlen, "pppd unit %d out of range 0..9999", cfg->unit);
            b.failed = 1;
        }
        if (s != NULL) {
            push(&b, "unit");
            push(&b, s);
        }
    }
    if (cfg->debug)
        push(&b, "debug");
    if (b.failed) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return 0;
}

/* ---- exit status ------------------------------------------------------------------------- */

const char *
pppd_exit_code_text(int code)
{
    /* pppd(8), EXIT STATUS, for a plugin channel without a tty */
    static const char *const text[] = {
        [0] = "link established and terminated by the peer",
        [1] = "fatal error",
        [2] = "error in options",
        [3] = "not run as root",
        [4] = "no PPP support in the kernel",
        [5] = "terminated by a signal",
        [6] = "could not lock the device",
        [7] = "could not open the device",
        [8] = "connect failed (the plugin could not set up the call)",
        [9] = "pty command failed",
        [10] = "PPP negotiation failed",
        [11] = "peer failed to authenticate",
        [12] = "idle timeout",
        [13] = "connect time limit reached",
        [14] = "callback negotiated",
        [15] = "peer not responding to echo requests",
        [16] = "hangup: the link was terminated by the peer",
        [17] = "loopback detected",
        [18] = "init script failed",
        [19] = "authentication to the peer failed (user name or password)",
        [20] = "traffic limit reached",
        [21] = "CNID authentication failed",
    };

    if (code < 0 || (size_t)code >= sizeof(text) / sizeof(text[0]) || text[code] == NULL)
        return "unknown exit code";
    return text[code];
}

void
pppd_exit_decode(int wstatus, struct pppd_exit *out)
{
    memset(out, 0, sizeof(*out));
    if (WIFEXITED(wstatus)) {
        out->exited = 1;
        out->code = WEXITSTATUS(wstatus);
        snprintf(out->text, sizeof(out->text), "exit %d (%s)", out->code,
                 pppd_exit_code_text(out->code));
    } else if (WIFSIGNALED(wstatus)) {
        out->signo = WTERMSIG(wstatus);
        snprintf(out->text, sizeof(out->text), "killed by signal %d (%s)%s", out->signo,
                 strsignal(out->signo), WCOREDUMP(wstatus) ? ", core dumped" : "");
    } else {
        snprintf(out->text, sizeof(out->text), "unexpected wait status 0x%x", (unsigned)wstatus);
    }
}

/* ---- process ------------------------------------------------------------------------------ */

/* In the child, between fork and exec: only async-signal-safe calls. */
static void
child_setup(int out_fd, int report_fd, pid_t parent)
{
    sigset_t none;
    int devnull, high, sig, e;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);   /* SIG_IGN would survive exec (e.g. SIGPIPE) */
    setsid();
    /* If mailtund dies (even by SIGKILL), pppd hangs up too: a restarted mailtund must not
     * find an orphaned pppd holding the call. The check closes the race with a parent that
     * died before the prctl. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        _exit(127);

    /* Lift both fds above 0-3 first so the dup2s below cannot clobber them. */
    if ((high = fcntl(report_fd, F_DUPFD_CLOEXEC, 10)) < 0)
        goto fail;
    report_fd = high;
    if (out_fd >= 0 && (out_fd = fcntl(out_fd, F_DUPFD, 10)) < 0)
        goto fail;
    if ((devnull = open("/dev/null", O_RDWR)) < 0)
        goto fail;
    if (out_fd < 0)
        out_fd = devnull;
    if (dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        goto fail;
    /* report_fd is close-on-exec: it closes itself when exec succeeds. At 3, a single
     * close_range clears everything above it. */
    if (dup3(report_fd, 3, O_CLOEXEC) < 0)
        goto fail;
    report_fd = 3;
    if (close_range(4, ~0U, 0) < 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (int fd = 4; fd < (max > 0 ? max : 1024); fd++)
            close(fd);
    }
    return;
fail:
    e = errno;
    (void)!write(report_fd, &e, sizeof(e));
    _exit(127);
}

int
pppd_child_spawn(struct pppd_child *c, const struct pppd_argv *a, int out_fd, char *err, size_t errlen)
{
    static char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
    int report[2], child_errno = 0;
    ssize_t n;
    pid_t pid, parent;

    if (a->argc < 1 || a->argv[0] == NULL) {
        seterr(err, errlen, "pppd spawn: empty command line");
        return -1;
    }
    if (pipe2(report, O_CLOEXEC) < 0) {
        seterr(err, errlen, "pppd spawn: pipe: %s", strerror(errno));
        return -1;
    }
    parent = getpid();
    if ((pid = fork()) < 0) {
        seterr(err, errlen, "pppd spawn: fork: %s", strerror(errno));
        close(report[0]);
        close(report[1]);
        return -1;
    }
    if (pid == 0) {
        close(report[0]);
        child_setup(out_fd, report[1], parent);
        execve(a->argv[0], (char *const *)a->argv, env);
        child_errno = errno;
        (void)!write(3, &child_errno, sizeof(child_errno));
        _exit(127);
    }
    close(report[1]);
    do
        n = read(report[0], &child_errno, sizeof(child_errno));
    while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n > 0) {
        int st;
        waitpid(pid, &st, 0);
        seterr(err, errlen, "pppd spawn %s: %s", a->argv[0], strerror(child_errno));
        return -1;
    }
    memset(c, 0, sizeof(*c));
    c->pid = pid;
    return 0;
}

int
pppd_child_terminate(struct pppd_child *c)
{
    if (c->pid <= 0)
        return -1;
    if (!c->term_sent) {
        kill(c->pid, SIGTERM);
        c->term_sent = 1;
        clock_gettime(CLOCK_MONOTONIC, &c->term_at);
    }
    return 0;
}

static long
ms_since(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000L + (now.tv_nsec - t->tv_nsec) / 1000000L;
}

int
pppd_child_escalate(struct pppd_child *c, int grace_ms)
{
    if (c->pid <= 0 || !c->term_sent || ms_since(&c->term_at) < grace_ms)
        return 0;
    /* Its own session (setsid): the group takes pppd's scripts along. */
    if (kill(-c->pid, SIGKILL) < 0)
        kill(c->pid, SIGKILL);
    return 1;
}

int
pppd_child_reap(struct pppd_child *c, struct pppd_exit *out)
{
    int st;
    pid_t r;

    if (c->pid <= 0)
        return 0;
    do
        r = waitpid(c->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -1;
    if (r == 0)
        return 0;
    pppd_exit_decode(st, out);
    memset(c, 0, sizeof(*c));
    return 1;
}

int
pppd_child_stop(struct pppd_child *c, int grace_ms, struct pppd_exit *out)
{
    struct timespec pause = { 0, 20 * 1000000L };
    int killed = 0;

    if (pppd_child_terminate(c) < 0)
        return -1;
    for (;;) {
        int r = pppd_child_reap(c, out);
        if (r != 0)
            return r > 0 ? 0 : -1;
        if (!killed)
            killed = pppd_child_escalate(c, grace_ms);
        nanosleep(&pause, NULL);
    }
}

/*
 * test_pppd_child.c — pppd's command line word for word, option injection refused,
 * exit statuses decoded, and the process part (spawn, clean env/fds, reap, stop).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pppd_child.h"

static void
full_config(struct pppd_config *c)
{
    pppd_config_init(c);
    c->pppd_path = "/usr/sbin/pppd";
    c->plugin_path = "/usr/lib/pppd/2.4.9/mailtun.so";
    c->ipc_socket = "/run/mailtun/mailtund.sock";
    c->user = "ACME\\mailgw";
    c->remotename = "provider";
    inet_pton(AF_INET, "203.0.113.77", &c->fixed);
    c->options_file = "/etc/mailtun/pppd-options";
    c->logfile = "/var/log/mailtun-pppd.log";
    c->linkname = "mailtun";
    c->unit = 7;
    c->lcp_echo_interval = 10;
    c->lcp_echo_failure = 3;
    c->mtu = 1400;
    c->mru = 1400;
    c->debug = 1;
}

static void
assert_argv(const struct pppd_argv *a, const char *const *want)
{
    int i;

    for (i = 0; want[i] != NULL; i++) {
        assert_true(i < a->argc);
        assert_string_equal(a->argv[i], want[i]);
    }
    assert_int_equal(a->argc, i);
    assert_null(a->argv[a->argc]);
}

static void
assert_no_persist(const struct pppd_argv *a)
{
    for (int i = 0; i < a->argc; i++) {
        assert_string_not_equal(a->argv[i], "persist");
        assert_string_not_equal(a->argv[i], "demand");
    }
}

static void
argv_full(void **state)
{
    static const char *const want[] = {
        "/usr/sbin/pppd", "plugin", "/usr/lib/pppd/2.4.9/mailtun.so",
        "mailtun-socket", "/run/mailtun/mailtund.sock",
        "noauth", "refuse-pap", "refuse-chap", "refuse-mschap", "refuse-eap",
        "require-mppe-128", "nobsdcomp", "nodeflate", "nodefaultroute", "lcp-max-terminate", "1",
        "lcp-echo-interval", "10", "lcp-echo-failure", "3", "mtu", "1400", "mru", "1400",
        "file", "/etc/mailtun/pppd-options",
        "nodetach", "nopersist", "name", "ACME\\mailgw", "remotename", "provider",
        "ipparam", "mailtun", "203.0.113.77:", "ipcp-accept-local", "logfile", "/var/log/mailtun-pppd.log",
        "linkname", "mailtun", "unit", "7", "debug", NULL,
    };
    struct pppd_config c;
    struct pppd_argv a;
    char err[128] = "";

    (void)state;
    full_config(&c);
    assert_int_equal(pppd_build_argv(&c, &a, err, sizeof(err)), 0);
    assert_argv(&a, want);
    assert_no_persist(&a);
}

static void
argv_minimal(void **state)
{
    static const char *const want[] = {
        PPPD_DEFAULT_PATH, "plugin", "mailtun.so",
        "noauth", "refuse-pap", "refuse-chap", "refuse-mschap", "refuse-eap",
        "require-mppe-128", "nobsdcomp", "nodeflate", "nodefaultroute", "lcp-max-terminate", "1",
        "nodetach", "nopersist", "name", "gw", "ipparam", "mailtun", NULL,
    };
    struct pppd_config c;
    struct pppd_argv a;
    char err[128] = "";

    (void)state;
    pppd_config_init(&c);
    c.plugin_path = "mailtun.so";
    c.user = "gw";
    assert_int_equal(pppd_build_argv(&c, &a, err, sizeof(err)), 0);
    assert_argv(&a, want);
    assert_no_persist(&a);
}

/* The admin's file comes before the options it must not override. */
static void
argv_file_before_enforced(void **state)
{
    struct pppd_config c;
    struct pppd_argv a;
    int file_at = -1, nodetach_at = -1, nopersist_at = -1;

    (void)state;
    full_config(&c);
    assert_int_equal(pppd_build_argv(&c, &a, NULL, 0), 0);
    for (int i = 0; i < a.argc; i++) {
        if (strcmp(a.argv[i], "file") == 0)
            file_at = i;
        if (strcmp(a.argv[i], "nodetach") == 0)
            nodetach_at = i;
        if (strcmp(a.argv[i], "nopersist") == 0)
            nopersist_at = i;
    }
    assert_true(file_at > 0);
    assert_true(nodetach_at > file_at);
    assert_true(nopersist_at > file_at);
}

/* Each bad value in each string field is refused, with a reason, and no argv is left. */
static void
argv_injection_refused(void **state)
{
    static const char *const bad[] = {
        "bob persist", "bob\npersist", "bob\rpersist", "bob\tpersist", "-persist", "",
        "bob\x7f", "bob\x1b[0m", " bob", "bob ",
    };
    const char **fields[7];
    struct pppd_config c;
    struct pppd_argv a;
    char err[128];
    size_t f, i;

    (void)state;
    for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            full_config(&c);
            fields[0] = &c.pppd_path;
            fields[1] = &c.plugin_path;
            fields[2] = &c.ipc_socket;
            fields[3] = &c.user;
            fields[4] = &c.remotename;
            fields[5] = &c.options_file;
            fields[6] = &c.logfile;
            *fields[f] = bad[i];
            err[0] = '\0';
            assert_int_equal(pppd_build_argv(&c, &a, err, sizeof(err)), -1);
            assert_true(strlen(err) > 0);
            assert_int_equal(a.argc, 0);
            assert_null(a.argv[0]);
        }
    }
    full_config(&c);
    c.linkname = "x\ny";
    assert_int_equal(pppd_build_argv(&c, &a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "linkname"));
}

static void
argv_ranges(void **state)
{
    struct pppd_config c;
    struct pppd_argv a;
    char err[128];

    (void)state;
    full_config(&c);
    c.mtu = 20;
    assert_int_equal(pppd_build_argv(&c, &a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "mtu"));
    full_config(&c);
    c.lcp_echo_interval = -1;
    assert_int_equal(pppd_build_argv(&c, &a, err, sizeof(err)), -1);
    full_config(&c);
    c.unit = 100000;
    assert_int_equal(pppd_build_argv(&c, &a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unit"));
    full_config(&c);
    c.user = NULL;
    assert_int_equal(pppd_build_argv(&c, &a, err, sizeof(err)), -1);
    full_config(&c);
    c.plugin_path = NULL;
    assert_int_equal(pppd_build_argv(&c, &a, err, sizeof(err)), -1);
}

static void
exit_texts(void **state)
{
    struct pppd_exit e;

    (void)state;
    pppd_exit_decode(19 << 8, &e);      /* exit(19), as waitpid() encodes it */
    assert_int_equal(e.exited, 1);
    assert_int_equal(e.code, 19);
    assert_string_equal(e.text, "exit 19 (authentication to the peer failed (user name or password))");
    pppd_exit_decode(8 << 8, &e);
    assert_non_null(strstr(e.text, "connect failed"));
    pppd_exit_decode(99 << 8, &e);
    assert_string_equal(e.text, "exit 99 (unknown exit code)");
    pppd_exit_decode(SIGKILL, &e);
    assert_int_equal(e.exited, 0);
    assert_int_equal(e.signo, SIGKILL);
    assert_non_null(strstr(e.text, "signal 9"));
    assert_string_equal(pppd_exit_code_text(15), "peer not responding to echo requests");
    assert_string_equal(pppd_exit_code_text(-1), "unknown exit code");
}

/* ---- process part, with /bin/sh standing in for pppd -------------------------------------- */

static void
sh_argv(struct pppd_argv *a, const char *script)
{
    memset(a, 0, sizeof(*a));
    a->argv[0] = "/bin/sh";
    a->argv[1] = "-c";
    a->argv[2] = script;
    a->argc = 3;
}

static int
reap_wait(struct pppd_child *c, struct pppd_exit *e)
{
    for (int i = 0; i < 500; i++) {
        int r = pppd_child_reap(c, e);
        if (r != 0)
            return r;
        usleep(10000);
    }
    return 0;
}

static void
spawn_and_reap(void **state)
{
    struct pppd_child c;
    struct pppd_argv a;
    struct pppd_exit e;
    char err[128];

    (void)state;
    sh_argv(&a, "exit 16");
    assert_int_equal(pppd_child_spawn(&c, &a, -1, err, sizeof(err)), 0);
    assert_true(c.pid > 0);
    assert_int_equal(reap_wait(&c, &e), 1);
    assert_int_equal(c.pid, 0);
    assert_int_equal(e.code, 16);
    assert_string_equal(e.text, "exit 16 (hangup: the link was terminated by the peer)");
    assert_int_equal(pppd_child_reap(&c, &e), 0);   /* nothing left to reap */
}

static void
spawn_missing_binary(void **state)
{
    struct pppd_child c = { 0 };
    struct pppd_argv a;
    char err[128] = "";

    (void)state;
    memset(&a, 0, sizeof(a));
    a.argv[0] = "/nonexistent/pppd";
    a.argc = 1;
    assert_int_equal(pppd_child_spawn(&c, &a, -1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(c.pid, 0);
}

/* Only PATH in the environment, no inherited fds, SIGPIPE back to default. */
static void
spawn_clean(void **state)
{
    struct pppd_child c;
    struct pppd_argv a;
    struct pppd_exit e;
    char script[256], out[512] = "", err[128];
    int pipefd[2], leak;
    ssize_t n, got = 0;

    (void)state;
    setenv("MAILTUN_TEST_LEAK", "1", 1);
    signal(SIGPIPE, SIG_IGN);
    leak = open("/dev/null", O_RDONLY);     /* not close-on-exec on purpose */
    assert_true(leak > 2);
    assert_int_equal(pipe(pipefd), 0);
    snprintf(script, sizeof(script),
             "env | grep -c MAILTUN_TEST_LEAK; "
             "if [ -e /proc/self/fd/%d ] || [ -e /proc/self/fd/%d ]; then echo leaked; else echo clean; fi; "
             "grep SigIgn /proc/self/status",
             leak, pipefd[0]);
    sh_argv(&a, script);
    assert_int_equal(pppd_child_spawn(&c, &a, pipefd[1], err, sizeof(err)), 0);
    close(pipefd[1]);
    while ((n = read(pipefd[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
        got += n;
    close(pipefd[0]);
    close(leak);
    signal(SIGPIPE, SIG_DFL);
    unsetenv("MAILTUN_TEST_LEAK");
    assert_int_equal(reap_wait(&c, &e), 1);
    assert_non_null(strstr(out, "0\nclean\n"));
    /* Signals 1..31 must all be back at their defaults. 32 and 33 are glibc's own (NPTL
     * cancellation and setxid): glibc refuses to change them, so an ignore inherited from
     * whoever started the test survives there; pppd uses no threads. */
    {
        const char *ign = strstr(out, "SigIgn:\t");
        unsigned long long mask;
        if (!ign || sscanf(ign, "SigIgn:\t%llx", &mask) != 1 || (mask & 0x7fffffffULL) != 0)
            fail_msg("pppd's child ignores standard signals; it reported:\n%s", out);
    }
}

static void
stop_escalates_to_kill(void **state)
{
    struct pppd_child c;
    struct pppd_argv a;
    struct pppd_exit e;
    char err[128];
    int pipefd[2];
    char buf[8];

    (void)state;
    assert_int_equal(pipe(pipefd), 0);
    /* Says "ready" once the TERM trap is set, then ignores SIGTERM. */
    sh_argv(&a, "trap '' TERM; echo ready; while :; do sleep 0.05; done");
    assert_int_equal(pppd_child_spawn(&c, &a, pipefd[1], err, sizeof(err)), 0);
    close(pipefd[1]);
    assert_true(read(pipefd[0], buf, sizeof(buf)) > 0);
    close(pipefd[0]);
    assert_int_equal(pppd_child_escalate(&c, 0), 0);    /* no SIGTERM yet: nothing to escalate */
    assert_int_equal(pppd_child_stop(&c, 200, &e), 0);
    assert_int_equal(e.exited, 0);
    assert_int_equal(e.signo, SIGKILL);
    assert_int_equal(c.pid, 0);
    assert_int_equal(pppd_child_stop(&c, 200, &e), -1); /* none running */
}

static void
stop_polite(void **state)
{
    struct pppd_child c;
    struct pppd_argv a;
    struct pppd_exit e;
    char err[128];

    (void)state;
    memset(&a, 0, sizeof(a));
    a.argv[0] = "/bin/sleep";
    a.argv[1] = "30";
    a.argc = 2;
    assert_int_equal(pppd_child_spawn(&c, &a, -1, err, sizeof(err)), 0);
    assert_int_equal(pppd_child_stop(&c, 5000, &e), 0);
    assert_int_equal(e.signo, SIGTERM);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(argv_full),
        cmocka_unit_test(argv_minimal),
        cmocka_unit_test(argv_file_before_enforced),
        cmocka_unit_test(argv_injection_refused),
        cmocka_unit_test(argv_ranges),
        cmocka_unit_test(exit_texts),
        cmocka_unit_test(spawn_and_reap),
        cmocka_unit_test(spawn_missing_binary),
        cmocka_unit_test(spawn_clean),
        cmocka_unit_test(stop_escalates_to_kill),
        cmocka_unit_test(stop_polite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

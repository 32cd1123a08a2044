/* test_sample_conf.c — conf/mailtun.conf loads in both daemons, and every key it mentions
 * (set or commented out) exists in their tables, so the sample cannot drift from the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "config.h"
#include "tunnel_conf.h"
#include "relay_conf.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

static void test_sample_loads(void **state)
{
    struct tunnel_conf t;
    struct relay_conf r;
    char err[CONF_ERR_LEN];
    char addr[INET_ADDRSTRLEN];

    if (tunnel_conf_load(SRCDIR "/conf/mailtun.conf", &t, err) != 0)
        fail_msg("tunnel: %s", err);
    inet_ntop(AF_INET, &t.fixed_address, addr, sizeof(addr));
    assert_string_equal(addr, "192.0.2.10");
    assert_int_equal(t.port, 0);                 /* the transport's own port */
    assert_string_equal(t.transport, "pptp");
    assert_int_equal(t.reconnect_at, -1);
    tunnel_conf_free(&t);

    if (relay_conf_load(SRCDIR "/conf/mailtun.conf", &r, err) != 0)
        fail_msg("relay: %s", err);
    assert_int_equal(r.listen.n, 1);
    assert_string_equal(r.domains.v[0], "example.net");
    assert_int_equal(r.timeout_command_ms, 5 * 60 * 1000);
    assert_int_equal(r.inside.port, 25);
    relay_conf_free(&r);
}

static int key_known(const char *section, const char *name)
{
    for (size_t i = 0; i < tunnel_conf_nkeys; i++)
        if (!strcmp(tunnel_conf_keys[i].section, section) && !strcmp(tunnel_conf_keys[i].name, name))
            return 1;
    for (size_t i = 0; i < relay_conf_nkeys; i++)
        if (!strcmp(relay_conf_keys[i].section, section) && !strcmp(relay_conf_keys[i].name, name))
            return 1;
    return 0;
}

/* Calls fn(section, key, arg) for every "key = value" or ";key = value" (a default shown,
 * not set) line of the sample, with the [section] it is in; returns how many. */
static int each_sample_key(void (*fn)(const char *, const char *, void *), void *arg)
{
    FILE *f = fopen(SRCDIR "/conf/mailtun.conf", "r");
    char line[512], section[64] = "", name[64];
    int n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "[%63[^]]]", section) == 1)
            continue;
        if (sscanf(line, ";%63[a-z_0-9] =", name) == 1 || sscanf(line, "%63[a-z_0-9] =", name) == 1) {
            fn(section, name, arg);
            n++;
        }
    }
    fclose(f);
    return n;
}

static void check_known(const char *section, const char *name, void *arg)
{
    (void)arg;
    if (!key_known(section, name))
        fail_msg("conf/mailtun.conf mentions [%s] %s, which no daemon knows", section, name);
}

struct want { const char *section, *name; int found; };

static void match_key(const char *section, const char *name, void *arg)
{
    struct want *w = arg;
    if (!strcmp(section, w->section) && !strcmp(name, w->name))
        w->found = 1;
}

static void test_every_sample_key_exists(void **state)
{
    assert_true(each_sample_key(check_known, NULL) > 40);
    /* and the other way round: every declared key is shown in the sample, in its section
     * (a whole key name, not a substring of another: "timeout" is not "echo_timeout") */
    for (int pass = 0; pass < 2; pass++) {
        const struct conf_key *keys = pass ? relay_conf_keys : tunnel_conf_keys;
        size_t n = pass ? relay_conf_nkeys : tunnel_conf_nkeys;
        for (size_t i = 0; i < n; i++) {
            struct want w = { keys[i].section, keys[i].name, 0 };
            each_sample_key(match_key, &w);
            if (!w.found)
                fail_msg("[%s] %s is not documented in its section of conf/mailtun.conf", keys[i].section, keys[i].name);
        }
    }
}

/* man/mailtun.conf.5 documents every key, in its section (between its .SS and the next .SS
 * or .SH). */
static void test_man_page_lists_every_key(void **state)
{
    FILE *f = fopen(SRCDIR "/man/mailtun.conf.5", "r");
    static char text[131072];
    size_t len;

    assert_non_null(f);
    len = fread(text, 1, sizeof(text) - 1, f);
    assert_true(len < sizeof(text) - 1);        /* the whole page, not its first part */
    text[len] = '\0';
    fclose(f);
    for (int pass = 0; pass < 2; pass++) {
        const struct conf_key *keys = pass ? relay_conf_keys : tunnel_conf_keys;
        size_t n = pass ? relay_conf_nkeys : tunnel_conf_nkeys;
        for (size_t i = 0; i < n; i++) {
            char section[64], entry[128];
            const char *at, *end, *hit;
            snprintf(section, sizeof(section), "\n.SS [%s]", keys[i].section);
            snprintf(entry, sizeof(entry), "\n.B %s\n", keys[i].name);
            at = strstr(text, section);
            if (!at)
                fail_msg("man/mailtun.conf.5 has no section [%s] (for %s)", keys[i].section, keys[i].name);
            at += strlen(section);
            end = strstr(at, "\n.SS ");
            const char *sh = strstr(at, "\n.SH ");
            if (!end || (sh && sh < end))
                end = sh ? sh : text + len;
            hit = strstr(at, entry);
            if (!hit || hit >= end)
                fail_msg("man/mailtun.conf.5 does not document [%s] %s in its section", keys[i].section, keys[i].name);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_loads),
        cmocka_unit_test(test_every_sample_key_exists),
        cmocka_unit_test(test_man_page_lists_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

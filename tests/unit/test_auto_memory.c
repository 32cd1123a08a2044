/*
 * test_auto_memory.c — tunneld/auto_memory: transport = auto's memory of the transport that last
 * brought the link up survives a restart, and a file that does not hold one of auto's two
 * transports is ignored with its path named, never followed through a symlink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "auto_memory.h"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_auto_memory.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *text)
{
    char path[128];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, AUTO_MEMORY_FILE);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_round_trip(void **state)
{
    char name[32] = "", err[256] = "";

    assert_int_equal(auto_memory_load(dir, name, sizeof(name), err, sizeof(err)), 0);
    assert_int_equal(auto_memory_save(dir, "l2tp-ipsec", err, sizeof(err)), 0);
    assert_int_equal(auto_memory_load(dir, name, sizeof(name), err, sizeof(err)), 1);
    assert_string_equal(name, "l2tp-ipsec");
    assert_int_equal(auto_memory_save(dir, "pptp", err, sizeof(err)), 0);
    assert_int_equal(auto_memory_load(dir, name, sizeof(name), err, sizeof(err)), 1);
    assert_string_equal(name, "pptp");
    /* no temporary file left behind */
    {
        char tmp[128];
        snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, AUTO_MEMORY_FILE);
        assert_int_not_equal(access(tmp, F_OK), 0);
    }
}

static void test_only_autos_transports(void **state)
{
    static const char *const bad[] = { "l2tp\n", "gre\n", "", "\n", "pptp\nl2tp-ipsec\n",
                                       "l2tp-ipsec \n", "PPTP\n", "l2tp-ipsec-but-longer-than-that\n" };
    char name[32], err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put(bad[i]);
        strcpy(name, "untouched");
        err[0] = '\0';
        assert_int_equal(auto_memory_load(dir, name, sizeof(name), err, sizeof(err)), -1);
        assert_string_equal(name, "untouched");
        assert_non_null(strstr(err, dir));
        assert_non_null(strstr(err, "not a transport auto uses"));
    }
    put("l2tp-ipsec");          /* without the newline: still the name */
    assert_int_equal(auto_memory_load(dir, name, sizeof(name), err, sizeof(err)), 1);
    assert_string_equal(name, "l2tp-ipsec");
    /* saving something auto does not choose is refused */
    assert_int_equal(auto_memory_save(dir, "l2tp", err, sizeof(err)), -1);
}

static void test_symlink_not_followed(void **state)
{
    char path[128], target[128], name[32], err[256];
    FILE *f;

    snprintf(target, sizeof(target), "%s/elsewhere", dir);
    f = fopen(target, "w");
    assert_non_null(f);
    fputs("l2tp-ipsec\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s", dir, AUTO_MEMORY_FILE);
    unlink(path);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(auto_memory_load(dir, name, sizeof(name), err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_autos_transports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_not_followed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fuzz_config.c — libFuzzer target: mailtun.conf parsing against a table of every key type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_conf {
    char *s, *p;
    long i, d, z, t;
    int b;
    struct in_addr a;
    struct conf_hostport hp;
    struct conf_cidrs c;
    struct conf_list l;
};

static const struct conf_key keys[] = {
    { "a", "s", CONF_STRING, "x", NULL, offsetof(struct fuzz_conf, s), 0, 0, 0, "" },
    { "a", "p", CONF_PATH, "/x", NULL, offsetof(struct fuzz_conf, p), 0, 0, 0, "" },
    { "a", "i", CONF_INT, "1", NULL, offsetof(struct fuzz_conf, i), 0, 100, 0, "" },
    { "a", "d", CONF_DURATION, "1s", NULL, offsetof(struct fuzz_conf, d), 0, 0, 0, "" },
    { "a", "z", CONF_SIZE, "1k", NULL, offsetof(struct fuzz_conf, z), 0, 0, 0, "" },
    { "b", "t", CONF_TIMEOFDAY, NULL, NULL, offsetof(struct fuzz_conf, t), 0, 0, 0, "" },
    { "b", "b", CONF_BOOL, "no", NULL, offsetof(struct fuzz_conf, b), 0, 0, 0, "" },
    { "b", "a", CONF_IPV4, NULL, NULL, offsetof(struct fuzz_conf, a), 0, 0, 0, "" },
    { "b", "hp", CONF_HOSTPORT, NULL, NULL, offsetof(struct fuzz_conf, hp), 0, 0, 0, "" },
    { "b", "c", CONF_CIDRS, NULL, NULL, offsetof(struct fuzz_conf, c), 0, 0, 0, "" },
    { "b", "l", CONF_LIST, NULL, NULL, offsetof(struct fuzz_conf, l), 0, 0, 0, "" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const foreign[] = { "other", NULL };
    struct fuzz_conf cfg;
    char err[CONF_ERR_LEN];
    char *text = malloc(size + 1);

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&cfg, 0, sizeof(cfg));
    conf_load_string("fuzz.conf", text, keys, sizeof(keys) / sizeof(keys[0]), foreign, &cfg, err);
    conf_free(keys, sizeof(keys) / sizeof(keys[0]), &cfg);
    free(text);
    return 0;
}

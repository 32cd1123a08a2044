/*
 * config.h — mailtun.conf: one INI file, a section per daemon, every key declared once.
 *
 * A daemon describes its keys in a table of struct conf_key (name, type, default, unit,
 * bounds, where the value goes in its own struct, one line of help). conf_load() sets every
 * default, parses the file (libinih), checks each value, and fails on the first problem with
 * "FILE:LINE: [section] key: reason". Sections owned by the other daemons (foreign) are
 * skipped; any other section or key is an error, so typos never pass silently.
 */
#ifndef MAILTUN_CONFIG_H
#define MAILTUN_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <netinet/in.h>

enum conf_type {
    CONF_STRING,    /* char *, malloc'd (NULL if default is NULL) */
    CONF_PATH,      /* char *, must be absolute */
    CONF_INT,       /* long, within [min, max] */
    CONF_BOOL,      /* int: yes/no/true/false/on/off/1/0 */
    CONF_DURATION,  /* long milliseconds: "30s", "5m", "2h", "1d", "250ms"; bare number = seconds */
    CONF_SIZE,      /* long bytes: "10M", "512k", "1G"; bare number = bytes */
    CONF_IPV4,      /* struct in_addr */
    CONF_HOSTPORT,  /* struct conf_hostport: "host:port", "[v6]:port", "/unix/path" or "host" */
    CONF_CIDRS,     /* struct conf_cidrs: comma/space separated "a.b.c.d/n" or IPv6 ones */
    CONF_LIST,      /* struct conf_list: comma/space separated words */
    CONF_TIMEOFDAY, /* long minutes after midnight "HH:MM", -1 = unset */
};

struct conf_hostport {
    char *host;     /* NULL if unset; for a Unix socket, the path */
    int port;       /* 0 if none given (caller's default), -1 for a Unix socket */
};

struct conf_cidr {
    int family;     /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int prefix;
};

struct conf_cidrs {
    size_t n;
    struct conf_cidr *v;
};

struct conf_list {
    size_t n;
    char **v;
};

struct conf_key {
    const char *section;
    const char *name;
    enum conf_type type;
    const char *def;        /* default as text, parsed like the file; NULL = unset */
    const char *unit;       /* shown in help: "seconds", "bytes", ... ; NULL if none */
    size_t offset;          /* offsetof() into the daemon's config struct */
    long min, max;          /* bounds for INT / DURATION (ms) / SIZE; both 0 = unbounded */
    int required;           /* the file must set it */
    const char *help;
};

#define CONF_ERR_LEN 512

/*
 * Loads path into cfg (a struct the keys' offsets describe). foreign: NULL-terminated list
 * of sections other daemons own. Returns 0, or -1 with err filled. A missing file is an
 * error unless missing_ok (then defaults apply and required keys still fail).
 */
int conf_load(const char *path, const struct conf_key *keys, size_t nkeys,
              const char *const *foreign, void *cfg, int missing_ok, char err[CONF_ERR_LEN]);

/* Same, from a string (tests, fuzzing); name is used in error messages. */
int conf_load_string(const char *name, const char *text, const struct conf_key *keys,
                     size_t nkeys, const char *const *foreign, void *cfg,
                     char err[CONF_ERR_LEN]);

/* Frees what conf_load allocated in cfg. */
void conf_free(const struct conf_key *keys, size_t nkeys, void *cfg);

/* Writes the table as a commented sample config (mailtunctl check --defaults, docs). */
void conf_print_defaults(const struct conf_key *keys, size_t nkeys, FILE *out);

/* Value parsers, shared with the CLI. Return 0 or -1 with why set to a static string. */
int conf_parse_duration(const char *s, long *ms, const char **why);
int conf_parse_size(const char *s, long *bytes, const char **why);
int conf_parse_bool(const char *s, int *v, const char **why);
int conf_parse_cidrs(const char *s, struct conf_cidrs *out, const char **why);
int conf_cidrs_match(const struct conf_cidrs *c, int family, const void *addr);

#endif

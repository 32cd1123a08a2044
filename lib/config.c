/*
 * config.c — loads mailtun.conf against a daemon's declared key table (see config.h).
 *
 * libinih does the INI syntax; this file does everything a daemon relies on: defaults,
 * typed values with units and bounds, unknown sections and keys, keys set twice, required
 * keys, and errors that name file, line, section and key. The file is read whole into
 * memory and fed to inih line by line so every line number is ours to report.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONF_MAX_FILE (1024 * 1024)

struct loader {
    const char *name;               /* file name for messages */
    const char *text;               /* remaining input */
    int line;                       /* line the reader handed out last */
    const struct conf_key *keys;
    size_t nkeys;
    const char *const *foreign;
    void *cfg;
    unsigned char *seen;            /* per key: set by the file */
    char *err;                      /* first error wins */
};

static void set_err(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct loader *l, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (l->err[0])
        return;
    n = snprintf(l->err, CONF_ERR_LEN, "%s:%d: ", l->name, l->line);
    if (n < 0 || n >= CONF_ERR_LEN)
        return;
    va_start(ap, fmt);
    vsnprintf(l->err + n, CONF_ERR_LEN - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ---- value parsers ------------------------------------------------------------------ */

static int parse_number(const char *s, long *v, const char **rest)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s) && *s != '-')
        return -1;
    *v = strtol(s, &end, 10);
    if (errno || end == s)
        return -1;
    *rest = end;
    return 0;
}

static int scale(long v, long mult, long *out)
{
    if (v < 0 || (mult && v > LONG_MAX / mult))
        return -1;
    *out = v * mult;
    return 0;
}

int conf_parse_duration(const char *s, long *ms, const char **why)
{
    static const struct { const char *suffix; long mult; } units[] = {
        { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
    };
    const char *rest;
    long v;
    if (parse_number(s, &v, &rest) < 0)
        return *why = "not a duration (examples: 30s, 5m, 2h, 1d, 250ms)", -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(rest, units[i].suffix) == 0) {
            if (scale(v, units[i].mult, ms) < 0)
                return *why = "duration out of range", -1;
            return 0;
        }
    return *why = "unknown duration unit (use ms, s, m, h or d)", -1;
}

int conf_parse_size(const char *s, long *bytes, const char **why)
{
    static const struct { const char *suffix; long mult; } units[] = {
        { "", 1 }, { "k", 1024 }, { "K", 1024 }, { "M", 1024L * 1024 }, { "G", 1024L * 1024 * 1024 },
    };
    const char *rest;
    long v;
    if (parse_number(s, &v, &rest) < 0)
        return *why = "not a size (examples: 512k, 10M, 1G)", -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(rest, units[i].suffix) == 0) {
            if (scale(v, units[i].mult, bytes) < 0)
                return *why = "size out of range", -1;
            return 0;
        }
    return *why = "unknown size unit (use k, M or G)", -1;
}

int conf_parse_bool(const char *s, int *v, const char **why)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *v = 1, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *v = 0, 0;
    }
    return *why = "not a boolean (yes or no)", -1;
}

/* Splits s at commas and white space; calls fn for each word. */
static int each_word(const char *s, int (*fn)(const char *word, void *arg), void *arg)
{
    char word[512];
    while (*s) {
        size_t n = 0;
        while (*s == ',' || isspace((unsigned char)*s))
            s++;
        while (*s && *s != ',' && !isspace((unsigned char)*s)) {
            if (n + 1 >= sizeof(word))
                return -1;
            word[n++] = *s++;
        }
        word[n] = '\0';
        if (n && fn(word, arg) < 0)
            return -1;
    }
    return 0;
}

static int parse_one_cidr(const char *w, struct conf_cidr *c)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(w, '/');
    size_t alen = slash ? (size_t)(slash - w) : strlen(w);
    long prefix;
    const char *rest;

    if (alen >= sizeof(addr))
        return -1;
    memcpy(addr, w, alen);
    addr[alen] = '\0';
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, addr, c->addr) == 1)
        c->family = AF_INET, c->prefix = 32;
    else if (inet_pton(AF_INET6, addr, c->addr) == 1)
        c->family = AF_INET6, c->prefix = 128;
    else
        return -1;
    if (slash) {
        if (parse_number(slash + 1, &prefix, &rest) < 0 || *rest || prefix < 0 || prefix > c->prefix)
            return -1;
        c->prefix = (int)prefix;
    }
    return 0;
}

static int add_cidr(const char *w, void *arg)
{
    struct conf_cidrs *cs = arg;
    struct conf_cidr c, *v;
    if (parse_one_cidr(w, &c) < 0)
        return -1;
    v = realloc(cs->v, (cs->n + 1) * sizeof(*v));
    if (!v)
        return -1;
    cs->v = v;
    cs->v[cs->n++] = c;
    return 0;
}

int conf_parse_cidrs(const char *s, struct conf_cidrs *out, const char **why)
{
    struct conf_cidrs tmp = { 0 };
    if (each_word(s, add_cidr, &tmp) < 0) {
        free(tmp.v);
        return *why = "not a list of networks (example: 192.0.2.0/24, 2001:db8::/32)", -1;
    }
    free(out->v);
    *out = tmp;
    return 0;
}

int conf_cidrs_match(const struct conf_cidrs *c, int family, const void *addr)
{
    const uint8_t *a = addr;
    for (size_t i = 0; i < c->n; i++) {
        const struct conf_cidr *n = &c->v[i];
        int full = n->prefix / 8, bits = n->prefix % 8;
        if (n->family != family)
            continue;
        if (memcmp(n->addr, a, (size_t)full) != 0)
            continue;
        if (bits && ((n->addr[full] ^ a[full]) & (0xff << (8 - bits))))
            continue;
        return 1;
    }
    return 0;
}

static int add_word(const char *w, void *arg)
{
    struct conf_list *l = arg;
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v)
        return -1;
    l->v = v;
    if (!(l->v[l->n] = strdup(w)))
        return -1;
    l->n++;
    return 0;
}

static void free_list(struct conf_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int parse_hostport(const char *s, struct conf_hostport *hp, const char **why)
{
    const char *colon;
    char *host;
    long port = 0;
    const char *rest;

    if (s[0] == '/') {                          /* Unix socket */
        host = strdup(s);
        port = -1;
    } else if (s[0] == '[') {                   /* [v6] or [v6]:port */
        const char *close = strchr(s, ']');
        if (!close)
            return *why = "missing ] in address", -1;
        if (close[1] == ':') {
            if (parse_number(close + 2, &port, &rest) < 0 || *rest)
                return *why = "bad port", -1;
        } else if (close[1]) {
            return *why = "junk after ]", -1;
        }
        host = strndup(s + 1, (size_t)(close - s - 1));
    } else if ((colon = strrchr(s, ':')) != NULL) {
        if (parse_number(colon + 1, &port, &rest) < 0 || *rest)
            return *why = "bad port (expected host:port)", -1;
        host = strndup(s, (size_t)(colon - s));
    } else {
        host = strdup(s);
    }
    if (!host)
        return *why = "out of memory", -1;
    if (port != -1 && (port < 0 || port > 65535)) {
        free(host);
        return *why = "port out of range 1..65535", -1;
    }
    if (!host[0]) {
        free(host);
        return *why = "empty host", -1;
    }
    free(hp->host);
    hp->host = host;
    hp->port = (int)port;
    return 0;
}

static int parse_timeofday(const char *s, long *min, const char **why)
{
    int h, m;
    char extra;
    if (sscanf(s, "%2d:%2d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
        return *why = "not a time of day (HH:MM, 00:00 to 23:59)", -1;
    *min = h * 60 + m;
    return 0;
}

static int check_bounds(const struct conf_key *k, long v, const char **why)
{
    static char msg[128];
    if ((k->min || k->max) && (v < k->min || v > k->max)) {
        snprintf(msg, sizeof(msg), "out of range %ld..%ld%s%s", k->min, k->max,
                 k->unit ? " " : "", k->unit ? k->unit : "");
        *why = msg;
        return -1;
    }
    return 0;
}

/* Stores value into the key's field; returns 0 or -1 with *why. */
static int set_value(const struct conf_key *k, void *cfg, const char *value, const char **why)
{
    void *field = (char *)cfg + k->offset;
    long v;

    switch (k->type) {
    case CONF_PATH:
        if (value[0] != '/')
            return *why = "must be an absolute path", -1;
        /* fall through */
    case CONF_STRING: {
        char *dup = strdup(value);
        if (!dup)
            return *why = "out of memory", -1;
        free(*(char **)field);
        *(char **)field = dup;
        return 0;
    }
    case CONF_INT: {
        const char *rest;
        if (parse_number(value, &v, &rest) < 0 || *rest)
            return *why = "not a whole number", -1;
        if (check_bounds(k, v, why) < 0)
            return -1;
        *(long *)field = v;
        return 0;
    }
    case CONF_BOOL:
        return conf_parse_bool(value, (int *)field, why);
    case CONF_DURATION:
        if (conf_parse_duration(value, &v, why) < 0 || check_bounds(k, v, why) < 0)
            return -1;
        *(long *)field = v;
        return 0;
    case CONF_SIZE:
        if (conf_parse_size(value, &v, why) < 0 || check_bounds(k, v, why) < 0)
            return -1;
        *(long *)field = v;
        return 0;
    case CONF_IPV4:
        if (inet_pton(AF_INET, value, field) != 1)
            return *why = "not an IPv4 address", -1;
        return 0;
    case CONF_HOSTPORT:
        return parse_hostport(value, field, why);
    case CONF_CIDRS:
        return conf_parse_cidrs(value, field, why);
    case CONF_LIST: {
        struct conf_list tmp = { 0 };
        if (each_word(value, add_word, &tmp) < 0) {
            free_list(&tmp);
            return *why = "bad list (words up to 511 characters, comma separated)", -1;
        }
        free_list(field);
        *(struct conf_list *)field = tmp;
        return 0;
    }
    case CONF_TIMEOFDAY:
        if (parse_timeofday(value, &v, why) < 0)
            return -1;
        *(long *)field = v;
        return 0;
    }
    return *why = "internal: unknown key type", -1;
}

/* ---- inih glue ------------------------------------------------------------------------ */

static int is_foreign(const struct loader *l, const char *section)
{
    for (const char *const *f = l->foreign; f && *f; f++)
        if (strcmp(*f, section) == 0)
            return 1;
    return 0;
}

static int section_known(const struct loader *l, const char *section)
{
    for (size_t i = 0; i < l->nkeys; i++)
        if (strcmp(l->keys[i].section, section) == 0)
            return 1;
    return 0;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct loader *l = user;
    const char *why = NULL;

    if (is_foreign(l, section))
        return 1;
    if (!section[0]) {
        set_err(l, "%s: key outside any [section]", name);
        return 0;
    }
    if (!section_known(l, section)) {
        set_err(l, "[%s]: unknown section", section);
        return 0;
    }
    for (size_t i = 0; i < l->nkeys; i++) {
        const struct conf_key *k = &l->keys[i];
        if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
            continue;
        if (l->seen[i]) {
            set_err(l, "[%s] %s: set twice", section, name);
            return 0;
        }
        l->seen[i] = 1;
        if (!value[0]) {
            set_err(l, "[%s] %s: empty value", section, name);
            return 0;
        }
        if (set_value(k, l->cfg, value, &why) < 0) {
            set_err(l, "[%s] %s: %s: '%s'", section, name, why, value);
            return 0;
        }
        return 1;
    }
    set_err(l, "[%s] %s: unknown key", section, name);
    return 0;
}

/* inih reader: hands out one line at a time and notices lines inih would truncate. */
static char *next_line(char *str, int num, void *stream)
{
    struct loader *l = stream;
    const char *nl;
    size_t len;

    if (!*l->text)
        return NULL;
    l->line++;
    nl = strchr(l->text, '\n');
    len = nl ? (size_t)(nl - l->text) + 1 : strlen(l->text);
    if (len >= (size_t)num) {
        set_err(l, "line longer than %d characters", num - 2);
        len = (size_t)num - 1;
        l->text = nl ? nl + 1 : l->text + strlen(l->text);
        memcpy(str, "\n", 2);           /* feed inih an empty line instead */
        return str;
    }
    memcpy(str, l->text, len);
    str[len] = '\0';
    l->text += len;
    return str;
}

static int apply_defaults(const struct conf_key *keys, size_t nkeys, void *cfg, char *err)
{
    for (size_t i = 0; i < nkeys; i++) {
        const char *why;
        if (keys[i].type == CONF_TIMEOFDAY)
            *(long *)((char *)cfg + keys[i].offset) = -1;
        if (!keys[i].def)
            continue;
        if (set_value(&keys[i], cfg, keys[i].def, &why) < 0) {
            snprintf(err, CONF_ERR_LEN, "internal: default of [%s] %s: %s", keys[i].section,
                     keys[i].name, why);
            return -1;
        }
    }
    return 0;
}

int conf_load_string(const char *name, const char *text, const struct conf_key *keys,
                     size_t nkeys, const char *const *foreign, void *cfg, char err[CONF_ERR_LEN])
{
    struct loader l = { .name = name, .text = text, .keys = keys, .nkeys = nkeys,
                        .foreign = foreign, .cfg = cfg, .err = err };
    int rc;

    err[0] = '\0';
    if (apply_defaults(keys, nkeys, cfg, err) < 0)
        return -1;
    if (!(l.seen = calloc(nkeys ? nkeys : 1, 1))) {
        snprintf(err, CONF_ERR_LEN, "%s: out of memory", name);
        return -1;
    }
    rc = ini_parse_stream(next_line, &l, on_key, &l);
    if (rc > 0 && !err[0]) {
        l.line = rc;
        set_err(&l, "syntax error (expected '[section]' or 'key = value')");
    }
    for (size_t i = 0; i < nkeys && !err[0]; i++)
        if (keys[i].required && !l.seen[i])
            snprintf(err, CONF_ERR_LEN, "%s: [%s] %s: required but not set", name,
                     keys[i].section, keys[i].name);
    free(l.seen);
    return err[0] ? -1 : 0;
}

int conf_load(const char *path, const struct conf_key *keys, size_t nkeys,
              const char *const *foreign, void *cfg, int missing_ok, char err[CONF_ERR_LEN])
{
    FILE *f = fopen(path, "re");
    char *text;
    size_t n;
    int rc;

    if (!f) {
        if (errno == ENOENT && missing_ok)
            return conf_load_string(path, "", keys, nkeys, foreign, cfg, err);
        snprintf(err, CONF_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    text = malloc(CONF_MAX_FILE + 1);
    if (!text) {
        fclose(f);
        snprintf(err, CONF_ERR_LEN, "%s: out of memory", path);
        return -1;
    }
    n = fread(text, 1, CONF_MAX_FILE + 1, f);
    if (ferror(f) || n > CONF_MAX_FILE) {
        snprintf(err, CONF_ERR_LEN, "%s: %s", path, ferror(f) ? "read error" : "larger than 1 MiB");
        fclose(f);
        free(text);
        return -1;
    }
    fclose(f);
    text[n] = '\0';
    if (strlen(text) != n) {
        snprintf(err, CONF_ERR_LEN, "%s: contains a NUL byte", path);
        free(text);
        return -1;
    }
    rc = conf_load_string(path, text, keys, nkeys, foreign, cfg, err);
    free(text);
    return rc;
}

void conf_free(const struct conf_key *keys, size_t nkeys, void *cfg)
{
    for (size_t i = 0; i < nkeys; i++) {
        void *field = (char *)cfg + keys[i].offset;
        switch (keys[i].type) {
        case CONF_STRING:
        case CONF_PATH:
            free(*(char **)field);
            *(char **)field = NULL;
            break;
        case CONF_HOSTPORT:
            free(((struct conf_hostport *)field)->host);
            ((struct conf_hostport *)field)->host = NULL;
            break;
        case CONF_CIDRS:
            free(((struct conf_cidrs *)field)->v);
            ((struct conf_cidrs *)field)->v = NULL;
            ((struct conf_cidrs *)field)->n = 0;
            break;
        case CONF_LIST:
            free_list(field);
            break;
        default:
            break;
        }
    }
}

void conf_print_defaults(const struct conf_key *keys, size_t nkeys, FILE *out)
{
    const char *section = "";
    for (size_t i = 0; i < nkeys; i++) {
        const struct conf_key *k = &keys[i];
        if (strcmp(section, k->section) != 0) {
            fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        fprintf(out, "# %s", k->help ? k->help : "");
        if (k->unit)
            fprintf(out, " (%s)", k->unit);
        if (k->required)
            fprintf(out, " Required.");
        /* Commented out: the sample shows the default without setting it. */
        fprintf(out, "\n;%s = %s\n", k->name, k->def ? k->def : "");
    }
}

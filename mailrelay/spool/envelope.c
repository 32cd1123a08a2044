/*
 * envelope.c — envelope struct helpers and its line-based text codec (see envelope.h).
 *
 * Pure: no I/O, no logging; errors come back as text for the caller to log with the queue ID.
 */
#include "envelope.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_MAGIC "mailtun-envelope 1"

static const char *const direction_names[] = { "inbound", "outbound" };
static const char *const state_names[] = { "pending", "sent", "bounced" };
static const struct { const char *name; unsigned flag; } body_names[] = {
    { "8bitmime", ENV_BODY_8BITMIME },
    { "smtputf8", ENV_BODY_SMTPUTF8 },
    { "binarymime", ENV_BODY_BINARYMIME },
};
#define N_BODY (sizeof(body_names) / sizeof(body_names[0]))

const char *env_direction_name(enum env_direction d)
{
    return (unsigned)d < 2 ? direction_names[d] : "?";
}

const char *rcpt_state_name(enum rcpt_state s)
{
    return (unsigned)s < 3 ? state_names[s] : "?";
}

int envelope_set(char **field, const char *val)
{
    char *c = strdup(val ? val : "");

    if (!c)
        return -1;
    free(*field);
    *field = c;
    return 0;
}

int envelope_init(struct envelope *env)
{
    memset(env, 0, sizeof(*env));
    if (envelope_set(&env->client, "") || envelope_set(&env->helo, "") ||
        envelope_set(&env->sender, "")) {
        envelope_free(env);
        return -1;
    }
    return 0;
}

void envelope_free(struct envelope *env)
{
    for (size_t i = 0; i < env->nrcpt; i++) {
        free(env->rcpt[i].addr);
        free(env->rcpt[i].last_reply);
    }
    free(env->rcpt);
    free(env->client);
    free(env->helo);
    free(env->sender);
    memset(env, 0, sizeof(*env));
}

static struct env_rcpt *grow_rcpt(struct envelope *env)
{
    struct env_rcpt *v;

    if (env->nrcpt >= ENV_MAX_RCPT) {
        errno = E2BIG;
        return NULL;
    }
    v = realloc(env->rcpt, (env->nrcpt + 1) * sizeof(*v));
    if (!v)
        return NULL;
    env->rcpt = v;
    memset(&v[env->nrcpt], 0, sizeof(*v));
    return &v[env->nrcpt++];
}

int envelope_add_rcpt(struct envelope *env, const char *addr, int64_t next_attempt)
{
    struct env_rcpt *r = grow_rcpt(env);

    if (!r)
        return -1;
    r->state = RCPT_PENDING;
    r->next_attempt = next_attempt;
    if (envelope_set(&r->addr, addr) || envelope_set(&r->last_reply, "")) {
        free(r->addr);
        free(r->last_reply);
        env->nrcpt--;
        return -1;
    }
    return 0;
}

int envelope_copy(struct envelope *dst, const struct envelope *src)
{
    if (envelope_init(dst))
        return -1;
    memcpy(dst->qid, src->qid, sizeof(dst->qid));
    dst->arrival = src->arrival;
    dst->direction = src->direction;
    dst->body_flags = src->body_flags;
    dst->size = src->size;
    if (envelope_set(&dst->client, src->client) || envelope_set(&dst->helo, src->helo) ||
        envelope_set(&dst->sender, src->sender))
        goto fail;
    for (size_t i = 0; i < src->nrcpt; i++) {
        const struct env_rcpt *s = &src->rcpt[i];
        struct env_rcpt *d;

        if (envelope_add_rcpt(dst, s->addr, s->next_attempt))
            goto fail;
        d = &dst->rcpt[dst->nrcpt - 1];
        d->state = s->state;
        d->attempts = s->attempts;
        if (envelope_set(&d->last_reply, s->last_reply))
            goto fail;
    }
    return 0;
fail:
    envelope_free(dst);
    return -1;
}

int64_t envelope_next_due(const struct envelope *env)
{
    int64_t due = INT64_MAX;

    for (size_t i = 0; i < env->nrcpt; i++)
        if (env->rcpt[i].state == RCPT_PENDING && env->rcpt[i].next_attempt < due)
            due = env->rcpt[i].next_attempt;
    return due;
}

size_t envelope_count(const struct envelope *env, enum rcpt_state state)
{
    size_t n = 0;

    for (size_t i = 0; i < env->nrcpt; i++)
        n += env->rcpt[i].state == state;
    return n;
}

/* ---- encoding --------------------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void buf_reserve(struct buf *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->failed || b->len + more + 1 <= b->cap)
        return;
    cap = b->cap ? b->cap : 512;
    while (cap < b->len + more + 1)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->failed = 1;
        return;
    }
    buf_add(b, tmp, (size_t)n);
}

static bool needs_escape(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || c == '%';
}

static void buf_token(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    buf_add(b, " ", 1);
    if (*s == '\0') {
        buf_add(b, "-", 1);
        return;
    }
    if (strcmp(s, "-") == 0) {
        buf_add(b, "%2D", 3);
        return;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[3] = { '%', hex[c >> 4], hex[c & 15] };

        if (needs_escape(c))
            buf_add(b, e, 3);
        else
            buf_add(b, s, 1);
    }
}

static int check_len(const char *what, const char *s, size_t max, char *err, size_t errlen)
{
    if (strlen(s) > max) {
        snprintf(err, errlen, "%s longer than %zu octets", what, max);
        return -1;
    }
    return 0;
}

char *envelope_encode(const struct envelope *env, size_t *len, char *err, size_t errlen)
{
    struct buf b = { 0 };
    char flags[64] = "";

    if (!queue_id_valid(env->qid)) {
        snprintf(err, errlen, "bad queue id");
        return NULL;
    }
    if (env->nrcpt == 0 || env->nrcpt > ENV_MAX_RCPT) {
        snprintf(err, errlen, "%zu recipients (1..%d allowed)", env->nrcpt, ENV_MAX_RCPT);
        return NULL;
    }
    if ((unsigned)env->direction > ENV_OUTBOUND || env->arrival < 0 ||
        (env->body_flags & ~(ENV_BODY_8BITMIME | ENV_BODY_SMTPUTF8 | ENV_BODY_BINARYMIME))) {
        snprintf(err, errlen, "bad direction, arrival or body flags");
        return NULL;
    }
    if (check_len("client", env->client, ENV_MAX_TEXT, err, errlen) ||
        check_len("helo", env->helo, ENV_MAX_TEXT, err, errlen) ||
        check_len("sender", env->sender, ENV_MAX_ADDR, err, errlen))
        return NULL;
    for (size_t i = 0; i < env->nrcpt; i++) {
        const struct env_rcpt *r = &env->rcpt[i];

        if (check_len("recipient", r->addr, ENV_MAX_ADDR, err, errlen) ||
            check_len("reply", r->last_reply, ENV_MAX_TEXT, err, errlen))
            return NULL;
        if (r->addr[0] == '\0' || (unsigned)r->state > RCPT_BOUNCED || r->next_attempt < 0) {
            snprintf(err, errlen, "recipient %zu: empty address, bad state or time", i + 1);
            return NULL;
        }
    }
    for (size_t i = 0; i < N_BODY; i++)
        if (env->body_flags & body_names[i].flag) {
            if (flags[0])
                strcat(flags, ",");
            strcat(flags, body_names[i].name);
        }

    buf_printf(&b, "%s\nid %s\narrival %lld\ndirection %s\nclient", ENV_MAGIC, env->qid,
               (long long)env->arrival, env_direction_name(env->direction));
    buf_token(&b, env->client);
    buf_add(&b, "\nhelo", 5);
    buf_token(&b, env->helo);
    buf_add(&b, "\nsender", 7);
    buf_token(&b, env->sender);
    buf_printf(&b, "\nbody %s\nsize %llu\n", flags[0] ? flags : "-",
               (unsigned long long)env->size);
    for (size_t i = 0; i < env->nrcpt; i++) {
        const struct env_rcpt *r = &env->rcpt[i];

        buf_printf(&b, "rcpt %s %u %lld", rcpt_state_name(r->state), r->attempts,
                   (long long)r->next_attempt);
        buf_token(&b, r->addr);
        buf_token(&b, r->last_reply);
        buf_add(&b, "\n", 1);
    }
    buf_add(&b, "end\n", 4);
    if (b.failed) {
        free(b.p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* ---- decoding --------------------------------------------------------------------------- */

struct cursor {
    const char *p, *end;
    unsigned lineno;
    char *err;
    size_t errlen;
};

static int fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cursor *c, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "line %u: %s", c->lineno, msg);
    return -1;
}

/* Copies the next line (without LF) into line; fails on a missing LF or an overlong line. */
static int next_line(struct cursor *c, char *line, size_t cap)
{
    const char *nl;
    size_t n;

    c->lineno++;
    if (c->p >= c->end)
        return fail(c, "unexpected end of envelope (truncated?)");
    nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    if (!nl)
        return fail(c, "last line has no newline (truncated?)");
    n = (size_t)(nl - c->p);
    if (n >= cap)
        return fail(c, "line longer than %zu octets", cap - 1);
    memcpy(line, c->p, n);
    line[n] = '\0';
    if (memchr(line, '\0', n))
        return fail(c, "NUL byte");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
            return fail(c, "control or non-ASCII octet 0x%02x", (unsigned char)line[i]);
    c->p = nl + 1;
    return 0;
}

/* Splits off the next space-separated token of *s (single spaces only). */
static char *token(char **s)
{
    char *t = *s, *sp;

    if (!t || *t == '\0')
        return NULL;
    sp = strchr(t, ' ');
    if (sp) {
        *sp = '\0';
        *s = sp + 1;
    } else {
        *s = NULL;
    }
    return t;
}

static int hexval(char h)
{
    if (h >= '0' && h <= '9')
        return h - '0';
    if (h >= 'A' && h <= 'F')
        return h - 'A' + 10;
    if (h >= 'a' && h <= 'f')
        return h - 'a' + 10;
    return -1;
}

/* Decodes a %XX token into a malloc'd string in *out. */
static int decode_token(struct cursor *c, const char *what, const char *t, size_t max, char **out)
{
    size_t n = 0;
    char *d;

    if (!t)
        return fail(c, "%s missing", what);
    if (strcmp(t, "-") == 0)
        return envelope_set(out, "") ? fail(c, "out of memory") : 0;
    d = malloc(strlen(t) + 1);
    if (!d)
        return fail(c, "out of memory");
    for (const char *s = t; *s; s++) {
        int hi, lo;

        if (*s != '%') {
            d[n++] = *s;
            continue;
        }
        hi = hexval(s[1]);
        lo = hi < 0 ? -1 : hexval(s[2]);
        if (lo < 0 || (hi == 0 && lo == 0)) {
            free(d);
            return fail(c, "%s: bad %%-escape", what);
        }
        d[n++] = (char)(hi * 16 + lo);
        s += 2;
    }
    d[n] = '\0';
    if (n > max) {
        free(d);
        return fail(c, "%s longer than %zu octets", what, max);
    }
    free(*out);
    *out = d;
    return 0;
}

static int parse_u64(struct cursor *c, const char *what, const char *t, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;

    if (!t || !*t)
        return fail(c, "%s missing", what);
    if (strlen(t) > 19 || (t[0] == '0' && t[1]))
        return fail(c, "%s: bad number", what);
    for (const char *s = t; *s; s++) {
        if (*s < '0' || *s > '9')
            return fail(c, "%s: bad number", what);
        x = x * 10 + (uint64_t)(*s - '0');
    }
    if (x > max)
        return fail(c, "%s: %llu out of range", what, (unsigned long long)x);
    *v = x;
    return 0;
}

/* Reads a line that must be "<key> <rest>" and returns rest (in line). */
static char *keyed_line(struct cursor *c, const char *key, char *line, size_t cap)
{
    size_t k = strlen(key);

    if (next_line(c, line, cap))
        return NULL;
    if (strncmp(line, key, k) != 0 || line[k] != ' ') {
        fail(c, "expected \"%s\"", key);
        return NULL;
    }
    return line + k + 1;
}

static int no_more(struct cursor *c, char *rest)
{
    return rest ? fail(c, "trailing data") : 0;
}

static int parse_body(struct cursor *c, char *v, unsigned *flags)
{
    *flags = 0;
    if (strcmp(v, "-") == 0)
        return 0;
    char *save = NULL;

    for (char *name = strtok_r(v, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        size_t i;

        for (i = 0; i < N_BODY && strcmp(name, body_names[i].name) != 0; i++)
            ;
        if (i == N_BODY)
            return fail(c, "unknown body flag");
        *flags |= body_names[i].flag;
    }
    return 0;
}

static int parse_rcpt(struct cursor *c, char *rest, struct envelope *env)
{
    char *st = token(&rest), *att = token(&rest), *next = token(&rest);
    char *addr = token(&rest), *reply = token(&rest);
    struct env_rcpt *r;
    uint64_t v;
    int s;

    for (s = 0; s < 3 && !(st && strcmp(st, state_names[s]) == 0); s++)
        ;
    if (s == 3)
        return fail(c, "bad recipient state");
    r = grow_rcpt(env);
    if (!r)
        return fail(c, errno == E2BIG ? "more than %d recipients" : "out of memory", ENV_MAX_RCPT);
    r->state = (enum rcpt_state)s;
    if (parse_u64(c, "attempts", att, 1000000, &v))
        return -1;
    r->attempts = (unsigned)v;
    if (parse_u64(c, "next attempt", next, INT64_MAX, &v))
        return -1;
    r->next_attempt = (int64_t)v;
    if (decode_token(c, "recipient", addr, ENV_MAX_ADDR, &r->addr) ||
        decode_token(c, "reply", reply, ENV_MAX_TEXT, &r->last_reply))
        return -1;
    if (r->addr[0] == '\0')
        return fail(c, "empty recipient");
    return no_more(c, rest);
}

int envelope_decode(const char *buf, size_t len, struct envelope *env, char *err, size_t errlen)
{
    /* a line holds at most a few escaped fields of ENV_MAX_TEXT octets */
    enum { LINE_CAP = 3 * (ENV_MAX_ADDR + ENV_MAX_TEXT) + 128 };
    struct cursor c = { buf, buf + len, 0, err, errlen };
    char *line, *v;
    uint64_t n;
    int rc = -1;

    snprintf(err, errlen, "ok");
    if (envelope_init(env)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (len > ENV_MAX_ENCODED) {
        snprintf(err, errlen, "envelope larger than %u octets", ENV_MAX_ENCODED);
        return -1;
    }
    line = malloc(LINE_CAP);
    if (!line) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (next_line(&c, line, LINE_CAP))
        goto out;
    if (strcmp(line, ENV_MAGIC) != 0) {
        fail(&c, "not a mailtun envelope (version 1)");
        goto out;
    }
    if (!(v = keyed_line(&c, "id", line, LINE_CAP)))
        goto out;
    if (!queue_id_valid(v)) {
        fail(&c, "bad queue id");
        goto out;
    }
    memcpy(env->qid, v, QUEUE_ID_SIZE);
    if (!(v = keyed_line(&c, "arrival", line, LINE_CAP)) ||
        parse_u64(&c, "arrival", v, INT64_MAX, &n))
        goto out;
    env->arrival = (int64_t)n;
    if (!(v = keyed_line(&c, "direction", line, LINE_CAP)))
        goto out;
    if (strcmp(v, "inbound") == 0) {
        env->direction = ENV_INBOUND;
    } else if (strcmp(v, "outbound") == 0) {
        env->direction = ENV_OUTBOUND;
    } else {
        fail(&c, "bad direction");
        goto out;
    }
    if (!(v = keyed_line(&c, "client", line, LINE_CAP)) ||
        decode_token(&c, "client", token(&v), ENV_MAX_TEXT, &env->client) || no_more(&c, v))
        goto out;
    if (!(v = keyed_line(&c, "helo", line, LINE_CAP)) ||
        decode_token(&c, "helo", token(&v), ENV_MAX_TEXT, &env->helo) || no_more(&c, v))
        goto out;
    if (!(v = keyed_line(&c, "sender", line, LINE_CAP)) ||
        decode_token(&c, "sender", token(&v), ENV_MAX_ADDR, &env->sender) || no_more(&c, v))
        goto out;
    if (!(v = keyed_line(&c, "body", line, LINE_CAP)) || parse_body(&c, v, &env->body_flags))
        goto out;
    if (!(v = keyed_line(&c, "size", line, LINE_CAP)) ||
        parse_u64(&c, "size", v, INT64_MAX, &env->size))
        goto out;
    for (;;) {
        if (next_line(&c, line, LINE_CAP))
            goto out;
        if (strcmp(line, "end") == 0)
            break;
        if (strncmp(line, "rcpt ", 5) != 0) {
            fail(&c, "expected \"rcpt\" or \"end\"");
            goto out;
        }
        if (parse_rcpt(&c, line + 5, env))
            goto out;
    }
    if (env->nrcpt == 0) {
        fail(&c, "no recipients");
        goto out;
    }
    if (c.p != c.end) {
        c.lineno++;
        fail(&c, "data after \"end\"");
        goto out;
    }
    snprintf(err, errlen, "ok");
    rc = 0;
out:
    free(line);
    return rc;
}

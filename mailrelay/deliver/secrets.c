/*
 * secrets.c — reads the smarthost's SMTP AUTH credentials (see secrets.h).
 *
 * The checks happen on the open file (fstat after open with O_NOFOLLOW), so what is checked
 * is what is read. Error texts name the file and never quote its content.
 *
 * Needs: libc only.
 */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

int secrets_parse(const char *text, size_t len, struct smtp_secret *s, char *err, size_t errlen)
{
    size_t pos = 0, lineno = 0;
    bool found = false;

    memset(s, 0, sizeof(*s));
    while (pos < len) {
        const char *l = text + pos;
        const char *nl = memchr(l, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - l) : len - pos;

        pos += n + (nl ? 1 : 0);
        lineno++;
        if (n && l[n - 1] == '\r')
            n--;
        size_t i = 0;
        while (i < n && blank(l[i]))
            i++;
        if (i == n || l[i] == '#')
            continue;
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)l[k] < 0x20 && l[k] != '\t') {
                seterr(err, errlen, "line %zu: control character in the line", lineno);
                goto bad;
            }
        if (found) {
            seterr(err, errlen, "line %zu: more than one 'user password' line", lineno);
            goto bad;
        }
        size_t us = i;
        while (i < n && !blank(l[i]))
            i++;
        size_t ul = i - us;
        while (i < n && blank(l[i]))
            i++;
        size_t pe = n;
        while (pe > i && blank(l[pe - 1]))
            pe--;
        if (i >= pe) {
            seterr(err, errlen, "line %zu: expected 'user password', the password is missing", lineno);
            goto bad;
        }
        if (ul > SECRETS_MAX_FIELD || pe - i > SECRETS_MAX_FIELD) {
            seterr(err, errlen, "line %zu: user name or password longer than %d octets", lineno,
                   SECRETS_MAX_FIELD);
            goto bad;
        }
        memcpy(s->user, l + us, ul);
        memcpy(s->pass, l + i, pe - i);
        found = true;
    }
    if (!found) {
        seterr(err, errlen, "no 'user password' line");
        goto bad;
    }
    return 0;
bad:
    secrets_wipe(s);
    return -1;
}

int secrets_load(const char *path, struct smtp_secret *s, char *err, size_t errlen)
{
    char buf[SECRETS_MAX_FILE + 1], why[160];
    struct stat st;
    size_t n = 0;
    int fd, rc;

    memset(s, 0, sizeof(*s));
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        seterr(err, errlen, "secrets file %s: %s%s", path, strerror(errno),
               errno == ELOOP ? " (a symbolic link is not accepted)" : "");
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        seterr(err, errlen, "secrets file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        seterr(err, errlen, "secrets file %s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        seterr(err, errlen, "secrets file %s is owned by uid %d, not by root: fix with "
               "'chown root:root %s; chmod 600 %s'", path, (int)st.st_uid, path, path);
        close(fd);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        seterr(err, errlen, "secrets file %s is open to group or others (mode %04o): it holds a "
               "password; fix with 'chmod 600 %s'", path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            seterr(err, errlen, "secrets file %s: %s", path, strerror(errno));
            close(fd);
            explicit_bzero(buf, sizeof(buf));
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof(buf))
            break;
    }
    close(fd);
    if (n > SECRETS_MAX_FILE) {
        seterr(err, errlen, "secrets file %s is larger than %d octets", path, SECRETS_MAX_FILE);
        explicit_bzero(buf, sizeof(buf));
        return -1;
    }
    rc = secrets_parse(buf, n, s, why, sizeof(why));
    explicit_bzero(buf, sizeof(buf));
    if (rc < 0)
        seterr(err, errlen, "secrets file %s: %s", path, why);
    return rc;
}

void secrets_wipe(struct smtp_secret *s)
{
    explicit_bzero(s, sizeof(*s));
}

/*
 * log.c — syslog or stderr logging shared by every mailtun program.
 *
 * Never blocks the daemon for long: syslog(3) is datagram-based, stderr is line-buffered.
 * stderr lines carry a timestamp and the ident so test logs read like syslog.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "mailtun";
static enum log_target log_target = LOG_TO_STDERR;
static enum log_level log_level = LOG_LVL_INFO;

static const char *const level_names[] = { "err", "warn", "notice", "info", "debug" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

void log_init(const char *ident, enum log_target target, enum log_level level)
{
    log_ident = ident;
    log_target = target;
    log_level = level;
    if (target == LOG_TO_SYSLOG)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
    else
        setvbuf(stderr, NULL, _IOLBF, 0);
}

void log_set_level(enum log_level level) { log_level = level; }
enum log_level log_get_level(void) { return log_level; }

int log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

void log_vmsg(enum log_level level, int errnum, const char *fmt, va_list ap)
{
    char msg[1024];
    int n;

    if (level > log_level)
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        return;
    if (errnum && (size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(errnum));
    /* Control characters from remote input must not forge log lines. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';

    if (log_target == LOG_TO_SYSLOG) {
        syslog(syslog_prio[level], "%s", msg);
    } else {
        struct timespec ts;
        struct tm tm;
        char when[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ld %s[%d]: %s: %s\n", when, ts.tv_nsec / 1000000, log_ident,
                (int)getpid(), level_names[level], msg);
    }
}

#define LOG_FN(name, level, with_errno)                 \
    void name(const char *fmt, ...)                     \
    {                                                   \
        int saved = errno;                              \
        va_list ap;                                     \
        va_start(ap, fmt);                              \
        log_vmsg(level, with_errno ? saved : 0, fmt, ap); \
        va_end(ap);                                     \
        errno = saved;                                  \
    }

LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_notice, LOG_LVL_NOTICE, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_errx, LOG_LVL_ERR, 0)

void fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LOG_LVL_ERR, saved, fmt, ap);
    va_end(ap);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LOG_LVL_ERR, 0, fmt, ap);
    va_end(ap);
    exit(1);
}

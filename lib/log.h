/*
 * log.h — one logging vocabulary for every mailtun daemon and tool.
 *
 * Lines go to syslog (daemons) or stderr (foreground, tests). A line says what happened,
 * to whom and why, as "event key=value ..." so it greps well, e.g.
 *   log_info("link up ifname=%s local=%s peer=%s", ...);
 * log_warn() appends strerror(errno); log_warnx() does not. fatal()/fatalx() log and exit(1).
 */
#ifndef MAILTUN_LOG_H
#define MAILTUN_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_NOTICE, LOG_LVL_INFO, LOG_LVL_DEBUG };

enum log_target { LOG_TO_STDERR, LOG_TO_SYSLOG };

/* ident: program name shown in every line; level: lines above it are dropped. */
void log_init(const char *ident, enum log_target target, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "err|warn|notice|info|debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Lower-level entry used by the above; errnum 0 means "no errno suffix". */
void log_vmsg(enum log_level level, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif

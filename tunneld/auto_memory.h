/*
 * auto_memory.h — transport = auto remembers which transport last brought the link up.
 *
 * The memory is one line in <state_dir>/auto-transport ("pptp" or "l2tp-ipsec"), so a
 * mailtund restarted behind a NAT that drops GRE (a package upgrade, a crash, a reboot when
 * state_dir is on disk) dials L2TP/IPsec first instead of paying PPTP's dead-path detection
 * again. The file is advice, never trusted: anything but one of the two names is ignored and
 * reported, and auto starts with PPTP as without it.
 */
#ifndef MAILTUN_AUTO_MEMORY_H
#define MAILTUN_AUTO_MEMORY_H

#include <stddef.h>

#define AUTO_MEMORY_FILE "auto-transport"

/* The transport name remembered in state_dir: 1 and name set, 0 when there is none, -1 when the
 * file is there but unusable (err says what and where). */
int auto_memory_load(const char *state_dir, char *name, size_t len, char *err, size_t errlen);

/* Remember name (written to a temporary file and renamed: never half a name); 0 or -1 with err. */
int auto_memory_save(const char *state_dir, const char *name, char *err, size_t errlen);

#endif

/*
 * ipc_io.h — blocking helpers for short request/answer exchanges on a control socket.
 *
 * For clients that may block briefly (the pppd plugin, mailtunctl). Daemons use their
 * event loop and ipc_decode() directly. Every call has a timeout; none can hang.
 */
#ifndef MAILTUN_IPC_IO_H
#define MAILTUN_IPC_IO_H

#include "ipc.h"

/* Connects to a Unix stream socket; returns fd or -1 (errno set). */
int ipc_connect(const char *path);
/* Sends a whole frame; 0 or -1 (errno set; ETIMEDOUT on timeout). */
int ipc_send(int fd, const struct ipc_builder *b, int timeout_ms);
/*
 * Receives one frame into buf (IPC_MAX_FRAME bytes) and decodes it into msg.
 * Returns 0, or -1 with *why set ("timeout", "connection closed", a decode reason, ...).
 * Reads byte-exact frames, so no data of a following frame is consumed.
 */
int ipc_recv(int fd, uint8_t *buf, struct ipc_msg *msg, int timeout_ms, const char **why);
/*
 * The same with an absolute deadline (ipc_now_ms() clock), so a caller waiting for one
 * answer across several frames keeps one deadline for the whole wait. A signal that
 * interrupts the wait ends it ("interrupted") when stop() says so; stop may be NULL
 * (signals are then retried).
 */
int ipc_recv_until(int fd, uint8_t *buf, struct ipc_msg *msg, long deadline_ms,
                   int (*stop)(void), const char **why);
/* Milliseconds of CLOCK_MONOTONIC. */
long ipc_now_ms(void);

#endif

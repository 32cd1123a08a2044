/*
 * vici_conn.h — a client connection to charon's VICI socket (a Unix stream socket), on
 * libevent: requests answered in order, event registrations, events as they come.
 *
 * charon answers requests strictly in the order they were sent (CMD_RESPONSE or CMD_UNKNOWN for
 * a command, EVENT_CONFIRM or EVENT_UNKNOWN for a registration); events it has been asked
 * for arrive between them at any time. Each request's callback runs exactly once: with the
 * answer, or with an error when the connection ends first. "closed" is reported once, from a
 * zero-delay timer (never from inside a callback of ours), after which the owner frees us.
 * Bounds: at most VICI_CONN_PENDING requests outstanding, a packet over VICI_MAX_PACKET from
 * charon closes the connection with a named reason.
 */
#ifndef MAILTUN_VICI_CONN_H
#define MAILTUN_VICI_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "vici_codec.h"

#define VICI_CONN_PENDING 8

struct event_base;
struct vici_conn;

/* p is the answer (CMD_RESPONSE, CMD_UNKNOWN, EVENT_CONFIRM, EVENT_UNKNOWN), or NULL with err. */
typedef void vici_reply_cb(void *arg, const struct vici_packet *p, const char *err);

struct vici_conn_events {
    void (*event)(void *arg, const char *name, const uint8_t *msg, size_t len);
    void (*closed)(void *arg, const char *reason);
    void *arg;
};

/* Connects to path (a "unix://" prefix is allowed). NULL with why in err. */
struct vici_conn *vici_conn_open(struct event_base *base, const char *path,
                                 const struct vici_conn_events *ev, char *err, size_t errlen);
/* Sends a finished packet (vici_finish); 0, or -1 when too many are outstanding or the
 * connection is closed (cb is then not called). */
int vici_conn_send(struct vici_conn *c, const struct vici_builder *b, vici_reply_cb *cb, void *arg);
/* Writes what is queued now, without the event loop: for requests that must reach charon
 * even when the daemon exits right after (terminate, unload-conn on shutdown). */
void vici_conn_flush(struct vici_conn *c);
/* Frees at once; outstanding callbacks are not called. */
void vici_conn_free(struct vici_conn *c);

#endif

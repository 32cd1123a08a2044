/*
 * ctl_server.h — the daemons' control socket: a Unix stream listener on libevent that
 * speaks the ipc.h codec.
 *
 * Serves pppd's plugin, mailrelayd and mailtunctl. The socket is made mode 0660, owned by
 * root and the configured group, so only root and that group reach it; every client's
 * credentials (SO_PEERCRED) are kept for the handler to check. Limits: a bounded number of
 * clients, of which CTL_RESERVED_ROOT are kept for root (pppd's plugin, the admin) and at
 * most CTL_MAX_PER_UID go to any other user; a client that sends no frame within
 * CTL_FIRST_FRAME_MS is dropped (every client speaks first: HELLO or its request); a client
 * whose unread output grows past a bound is dropped, so a stuck subscriber cannot grow the
 * daemon's memory.
 */
#ifndef MAILTUN_CTL_SERVER_H
#define MAILTUN_CTL_SERVER_H

#include <sys/types.h>
#include "ipc.h"

struct event_base;
struct ctl_server;
struct ctl_client;

/* Called for every complete frame a client sends. */
typedef void (*ctl_msg_fn)(struct ctl_client *c, const struct ipc_msg *m, void *arg);
/* Called once when a client goes away (EOF, error, protocol violation, ctl_client_close). */
typedef void (*ctl_gone_fn)(struct ctl_client *c, void *arg);

#define CTL_MAX_CLIENTS 64
#define CTL_RESERVED_ROOT 8         /* of CTL_MAX_CLIENTS, only for uid 0 */
#define CTL_MAX_PER_UID 8           /* clients at once of one non-root uid */
#define CTL_FIRST_FRAME_MS 5000     /* a client that says nothing this long is dropped */
#define CTL_MAX_BACKLOG (256 * 1024)

/* group: -1 keeps the process's group. Returns NULL with err filled. */
struct ctl_server *ctl_server_open(struct event_base *base, const char *path, gid_t group,
                                   ctl_msg_fn on_msg, ctl_gone_fn on_gone, void *arg,
                                   char *err, size_t errlen);
void ctl_server_close(struct ctl_server *s);
/* Overrides CTL_FIRST_FRAME_MS (tests). */
void ctl_server_set_first_frame_timeout(struct ctl_server *s, long ms);

/* Sends a finished frame; returns 0, or -1 if the client is being dropped. */
int ctl_client_send(struct ctl_client *c, const struct ipc_builder *b);
/* Convenience answers. */
void ctl_client_ok(struct ctl_client *c, const char *text);
void ctl_client_error(struct ctl_client *c, const char *text);
/* Closes after pending output is written. */
void ctl_client_close(struct ctl_client *c);

/* Per-client flags the daemon uses (roles, subscriptions). */
void ctl_client_set_flags(struct ctl_client *c, unsigned flags);
unsigned ctl_client_flags(const struct ctl_client *c);
void ctl_client_set_data(struct ctl_client *c, void *data);
void *ctl_client_data(const struct ctl_client *c);
uid_t ctl_client_uid(const struct ctl_client *c);
pid_t ctl_client_pid(const struct ctl_client *c);

/* Sends b to every client with all bits of flags set. */
void ctl_server_broadcast(struct ctl_server *s, unsigned flags, const struct ipc_builder *b);
size_t ctl_server_nclients(const struct ctl_server *s);

#endif

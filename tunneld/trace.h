/*
 * trace.h — a packet capture of the tunnel's traffic on the uplink, for the provider.
 *
 * libpcap on the uplink interface, filtered to the server and what the transport speaks
 * (proto_filter, from transport_capture_filter: PPTP TCP 1723 and GRE, L2TP UDP 1701, each on
 * the port actually dialled). Files go to <dir>/trace-<YYYYmmdd-HHMMSS>-NN.pcap and rotate at
 * a size limit, keeping a bounded number, so a forgotten trace cannot fill the disk. <dir> is root's
 * alone (0700, never a symlink); files are created new (O_EXCL|O_NOFOLLOW), mode 0600. Packets are
 * read from the event loop (non-blocking), never in a thread of their own.
 */
#ifndef MAILTUN_TRACE_H
#define MAILTUN_TRACE_H

#include <netinet/in.h>
#include <stddef.h>

struct event_base;
struct trace;

#define TRACE_MAX_FILE_BYTES (10L * 1024 * 1024)
#define TRACE_MAX_FILES      5
#define TRACE_SNAPLEN        256     /* headers and the control message; PPP payload is MPPE-encrypted anyway */

struct trace *trace_start(struct event_base *base, const char *ifname, struct in_addr server,
                          const char *proto_filter, const char *dir, long max_file_bytes, int max_files,
                          char *err, size_t errlen);
/* Path of the file being written, packets so far. */
const char *trace_current_file(const struct trace *t);
unsigned long trace_packets(const struct trace *t);
void trace_stop(struct trace *t);

#endif

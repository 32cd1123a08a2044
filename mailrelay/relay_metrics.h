/*
 * relay_metrics.h — mailrelayd's numbers for node_exporter's textfile collector.
 *
 * Written whole to a temporary file and renamed over [relay] metrics_file, every few
 * seconds from the event loop (cheap: one pass over the in-memory queue index).
 */
#ifndef MAILTUN_RELAY_METRICS_H
#define MAILTUN_RELAY_METRICS_H

#include "relay_control.h"

/* link_up: 1 up, 0 down, -1 unknown (no word from mailtund). 0, or -1 with errno. */
int relay_metrics_write(const char *path, const struct relay_numbers *n, int link_up);

#endif

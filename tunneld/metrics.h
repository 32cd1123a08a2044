/*
 * metrics.h — mailtund's numbers for node_exporter's textfile collector.
 *
 * Written whole to a temporary file and renamed over the target, so the collector never
 * reads half a file. Called on every state change; cheap (a few hundred bytes).
 */
#ifndef MAILTUN_METRICS_H
#define MAILTUN_METRICS_H

#include <time.h>

struct tunnel_metrics {
    const char *state;          /* tunnel_state_name() */
    const char *const *states;  /* every state's name, for one series each */
    size_t nstates;
    int link_up;
    time_t up_since;            /* 0 if down */
    unsigned long dials;
    unsigned long reconnects;
    unsigned long failures_total;
};

/* Returns 0, or -1 with errno (logged by the caller). path NULL: nothing to do. */
int metrics_write(const char *path, const struct tunnel_metrics *m);

#endif

/*
 * metrics.c — Prometheus text format for mailtund (see metrics.h).
 */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int metrics_write(const char *path, const struct tunnel_metrics *m)
{
    char tmp[512];
    FILE *f;

    if (!path)
        return 0;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w")))
        return -1;
    fprintf(f, "# HELP mailtun_link_up 1 while the tunnel holds the fixed address.\n"
               "# TYPE mailtun_link_up gauge\nmailtun_link_up %d\n", m->link_up);
    fprintf(f, "# HELP mailtun_link_up_since_seconds Unix time the link came up, 0 while down.\n"
               "# TYPE mailtun_link_up_since_seconds gauge\nmailtun_link_up_since_seconds %ld\n",
            (long)m->up_since);
    fprintf(f, "# HELP mailtun_tunnel_state Current state of the tunnel supervisor.\n"
               "# TYPE mailtun_tunnel_state gauge\n");
    for (size_t i = 0; i < m->nstates; i++)
        fprintf(f, "mailtun_tunnel_state{state=\"%s\"} %d\n", m->states[i],
                m->state && strcmp(m->states[i], m->state) == 0);
    fprintf(f, "# HELP mailtun_dials_total Dial attempts since start.\n"
               "# TYPE mailtun_dials_total counter\nmailtun_dials_total %lu\n", m->dials);
    fprintf(f, "# HELP mailtun_reconnects_total Times the link came back after having been up.\n"
               "# TYPE mailtun_reconnects_total counter\nmailtun_reconnects_total %lu\n", m->reconnects);
    fprintf(f, "# HELP mailtun_failures_total Failed dials and lost links since start.\n"
               "# TYPE mailtun_failures_total counter\nmailtun_failures_total %lu\n", m->failures_total);
    if (fclose(f) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return rename(tmp, path);
}

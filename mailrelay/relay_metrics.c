/*
 * relay_metrics.c — Prometheus text format for mailrelayd (see relay_metrics.h).
 */
#include "relay_metrics.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int relay_metrics_write(const char *path, const struct relay_numbers *n, int link_up)
{
    char tmp[512];
    FILE *f;

    if (!path)
        return 0;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w")))
        return -1;
    fprintf(f, "# HELP mailtun_relay_queue_messages Messages in the spool, by state.\n"
               "# TYPE mailtun_relay_queue_messages gauge\n"
               "mailtun_relay_queue_messages{state=\"queued\"} %zu\n"
               "mailtun_relay_queue_messages{state=\"deferred\"} %zu\n"
               "mailtun_relay_queue_messages{state=\"held\"} %zu\n", n->queued, n->deferred, n->held);
    fprintf(f, "# HELP mailtun_relay_oldest_message_age_seconds Age of the oldest message in the spool, 0 if empty.\n"
               "# TYPE mailtun_relay_oldest_message_age_seconds gauge\n"
               "mailtun_relay_oldest_message_age_seconds %lld\n",
            n->oldest >= 0 ? (long long)(n->now - n->oldest) : 0LL);
    fprintf(f, "# HELP mailtun_relay_messages_received_total Messages accepted (250 after commit).\n"
               "# TYPE mailtun_relay_messages_received_total counter\n"
               "mailtun_relay_messages_received_total %llu\n", (unsigned long long)n->ss.messages);
    fprintf(f, "# HELP mailtun_relay_messages_delivered_total Messages finished (every recipient delivered or bounced).\n"
               "# TYPE mailtun_relay_messages_delivered_total counter\n"
               "mailtun_relay_messages_delivered_total %llu\n", (unsigned long long)n->ds.messages_done);
    fprintf(f, "# HELP mailtun_relay_recipients_total Recipient results of delivery attempts.\n"
               "# TYPE mailtun_relay_recipients_total counter\n"
               "mailtun_relay_recipients_total{result=\"sent\"} %llu\n"
               "mailtun_relay_recipients_total{result=\"deferred\"} %llu\n"
               "mailtun_relay_recipients_total{result=\"bounced\"} %llu\n",
            (unsigned long long)n->ds.rcpt_sent, (unsigned long long)n->ds.rcpt_deferred,
            (unsigned long long)n->ds.rcpt_bounced);
    /* A summary's sum and count: rate(sum)/rate(count) is the mean delivery latency. */
    fprintf(f, "# HELP mailtun_relay_delivery_delay_seconds Arrival to successful delivery, per recipient.\n"
               "# TYPE mailtun_relay_delivery_delay_seconds summary\n"
               "mailtun_relay_delivery_delay_seconds_sum %.3f\n"
               "mailtun_relay_delivery_delay_seconds_count %llu\n",
            n->ds.sent_delay_sum, (unsigned long long)n->ds.rcpt_sent);
    fprintf(f, "# HELP mailtun_relay_last_delivery_timestamp_seconds Unix time of the last successful delivery, 0 if none.\n"
               "# TYPE mailtun_relay_last_delivery_timestamp_seconds gauge\n"
               "mailtun_relay_last_delivery_timestamp_seconds %lld\n", (long long)n->last);
    fprintf(f, "# HELP mailtun_relay_sessions Open SMTP sessions.\n"
               "# TYPE mailtun_relay_sessions gauge\nmailtun_relay_sessions %zu\n", n->sv.sessions);
    if (link_up >= 0)
        fprintf(f, "# HELP mailtun_relay_link_up The tunnel as mailtund last reported it.\n"
                   "# TYPE mailtun_relay_link_up gauge\nmailtun_relay_link_up %d\n", link_up);
    if (fclose(f) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return rename(tmp, path);
}

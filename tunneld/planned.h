/*
 * planned.h — when the next planned daily reconnect ([tunnel] reconnect_at) is due.
 *
 * Pure: from the wall-clock time broken down in local time to the wait in milliseconds, so
 * it is tested without waiting. The reconnect happens at the start of the configured minute;
 * at or after it, the next one is tomorrow's. Across a DST change the wait is off by the
 * shift for that one day (it is re-armed daily).
 */
#ifndef MAILTUN_PLANNED_H
#define MAILTUN_PLANNED_H

#include <time.h>

/* at_minute: minutes after midnight (0..1439); now: local time. */
long planned_delay_ms(long at_minute, const struct tm *now);

#endif

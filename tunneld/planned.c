/*
 * planned.c — the wait until the next planned reconnect (see planned.h).
 */
#include "planned.h"

long planned_delay_ms(long at_minute, const struct tm *now)
{
    long now_s = (long)now->tm_hour * 3600 + now->tm_min * 60 + now->tm_sec;
    long at_s = at_minute * 60;
    long wait = at_s - now_s;
    if (wait <= 0)
        wait += 24 * 3600;
    return wait * 1000;
}

/*
 * queue_id.c — time-ordered, collision-resistant queue IDs (see queue_id.h).
 *
 * Needs: clock_gettime(), getrandom(). The core (queue_id_make) is pure so tests drive it
 * with chosen clocks.
 */
#include "queue_id.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define TIME_DIGITS 13
#define COUNTER_DIGITS 3
#define COUNTER_MAX 0xfffu
#define TIME_MAX 0xfffffffffffffull

void queue_id_make(struct queue_id_gen *g, uint64_t now_us, uint32_t rnd, char out[QUEUE_ID_SIZE])
{
    uint64_t t = now_us & TIME_MAX;

    if (t > g->last_us) {
        g->last_us = t;
        g->counter = 0;
    } else if (g->counter < COUNTER_MAX) {
        /* same microsecond, or the clock went back: stay above the last ID */
        g->counter++;
    } else {
        g->last_us++;
        g->counter = 0;
    }
    snprintf(out, QUEUE_ID_SIZE, "%013llx%03x%04x", (unsigned long long)g->last_us,
             g->counter, (unsigned)(rnd & 0xffffu));
}

void queue_id_next(struct queue_id_gen *g, char out[QUEUE_ID_SIZE])
{
    struct timespec ts;
    uint32_t rnd = 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
        rnd = (uint32_t)ts.tv_nsec ^ (uint32_t)g->counter;
    queue_id_make(g, (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u, rnd, out);
}

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool queue_id_prefix_valid(const char *s)
{
    for (int i = 0; i < QUEUE_ID_LEN; i++)
        if (!is_lower_hex(s[i]))
            return false;
    return true;
}

bool queue_id_valid(const char *s)
{
    return queue_id_prefix_valid(s) && s[QUEUE_ID_LEN] == '\0';
}

static uint64_t hex_field(const char *s, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v * 16 + (uint64_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
    return v;
}

void queue_id_seed(struct queue_id_gen *g, const char *qid)
{
    uint64_t t;
    unsigned c;

    if (!queue_id_prefix_valid(qid))
        return;
    t = hex_field(qid, TIME_DIGITS);
    c = (unsigned)hex_field(qid + TIME_DIGITS, COUNTER_DIGITS);
    if (t > g->last_us || (t == g->last_us && c > g->counter)) {
        g->last_us = t;
        g->counter = c;
    }
}

int64_t queue_id_time(const char *qid)
{
    return (int64_t)(hex_field(qid, TIME_DIGITS) / 1000000u);
}

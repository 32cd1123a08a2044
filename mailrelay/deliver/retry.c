/*
 * retry.c — the retry schedule (see retry.h). Pure arithmetic, no clock, no randomness.
 */
#include "retry.h"

static const int64_t steps[] = { 1, 5, 15, 30, 60 };
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

void retry_policy_default(struct retry_policy *p)
{
    p->base = RETRY_DEFAULT_BASE;
    p->max_interval = RETRY_DEFAULT_MAX_INTERVAL;
    p->max_lifetime = RETRY_DEFAULT_MAX_LIFETIME;
    p->jitter_pct = 0;
}

int64_t retry_delay(const struct retry_policy *p, unsigned attempts)
{
    int64_t base = p->base > 0 ? p->base : 1;
    int64_t max = p->max_interval >= base ? p->max_interval : base;
    int64_t d;

    if (attempts == 0)
        return 0;
    if (attempts > N_STEPS)
        return max;
    /* base is bounded by max, so the product cannot overflow for sane configs */
    d = base > max / steps[attempts - 1] ? max : base * steps[attempts - 1];
    return d < max ? d : max;
}

int64_t retry_expiry(const struct retry_policy *p, int64_t arrival)
{
    return arrival + (p->max_lifetime > 0 ? p->max_lifetime : 0);
}

bool retry_expired(const struct retry_policy *p, int64_t arrival, int64_t now)
{
    return now >= retry_expiry(p, arrival);
}

int64_t retry_next(const struct retry_policy *p, unsigned attempts, int64_t now, int64_t arrival,
                   uint32_t rnd)
{
    int64_t d = retry_delay(p, attempts), next, exp;
    unsigned pct = p->jitter_pct > 50 ? 50 : p->jitter_pct;

    if (pct > 0 && d > 0) {
        /* rnd maps onto [-span, +span] */
        int64_t span = d * pct / 100;

        if (span > 0)
            d += (int64_t)(rnd % (uint64_t)(2 * span + 1)) - span;
    }
    if (d < 1)
        d = 1;
    next = now + d;
    exp = retry_expiry(p, arrival);
    if (next > exp)
        next = exp > now ? exp : now;
    return next;
}

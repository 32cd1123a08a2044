/*
 * retry.h — when to try a deferred delivery again, and when to give up (pure).
 *
 * The delays grow like Postfix's and sendmail's do: base x {1, 5, 15, 30, 60}, never more
 * than max_interval, then every max_interval (defaults: 1 min, 5 min, 15 min, 30 min, then
 * hourly). A message older than max_lifetime (default 5 days) expires: its pending
 * recipients bounce. No attempt is scheduled past the expiry, so the last one happens at it.
 * Jitter spreads retries of many messages deferred together: the caller passes a random
 * value, so tests stay deterministic.
 */
#ifndef MAILTUN_RETRY_H
#define MAILTUN_RETRY_H

#include <stdbool.h>
#include <stdint.h>

struct retry_policy {
    int64_t base;          /* seconds; first retry delay (default 60) */
    int64_t max_interval;  /* seconds; longest delay between attempts (default 3600) */
    int64_t max_lifetime;  /* seconds after arrival a message expires (default 5 days) */
    unsigned jitter_pct;   /* 0..50: delay varies by up to +-this percent (default 0) */
};

#define RETRY_DEFAULT_BASE 60
#define RETRY_DEFAULT_MAX_INTERVAL 3600
#define RETRY_DEFAULT_MAX_LIFETIME (5 * 86400)

/* Fills the defaults above. */
void retry_policy_default(struct retry_policy *p);

/* Delay after the attempts-th failed attempt (attempts >= 1), without jitter. */
int64_t retry_delay(const struct retry_policy *p, unsigned attempts);

/* Time of the next attempt after attempts failures, the last at now. rnd: any random value
 * (used only when jitter_pct > 0). Never later than retry_expiry(); never before now. */
int64_t retry_next(const struct retry_policy *p, unsigned attempts, int64_t now, int64_t arrival,
                   uint32_t rnd);

/* When a message that arrived at arrival expires. */
int64_t retry_expiry(const struct retry_policy *p, int64_t arrival);

/* True if a message that arrived at arrival has expired at now. */
bool retry_expired(const struct retry_policy *p, int64_t arrival, int64_t now);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* sched.c: probe timing with jitter and the in-flight bound. */
#include "config.h"

#include "health/sched.h"

#include <errno.h>
#include <stdlib.h>

void health_rng_seed(struct health_rng *rng, uint64_t seed)
{
	rng->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t health_rng_next(struct health_rng *rng)
{
	uint64_t x = rng->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

uint32_t health_rng_below(struct health_rng *rng, uint32_t n)
{
	if (n == 0)
		return 0;
	/* the top 32 bits are the best ones; the multiply-shift avoids modulo bias
	 * well enough for timers */
	return (uint32_t)(((health_rng_next(rng) >> 32) * (uint64_t)n) >> 32);
}

uint32_t health_sched_first_delay(struct health_rng *rng, const struct check_config *cfg)
{
	return health_rng_below(rng, cfg->interval_ms);
}

uint32_t health_sched_period(struct health_rng *rng, const struct check_config *cfg,
                             enum health_status status)
{
	uint32_t base = cfg->interval_ms;
	uint32_t spread;

	if (status == HEALTH_FAILING && cfg->unhealthy_interval_ms)
		base = cfg->unhealthy_interval_ms;
	spread = (uint32_t)((uint64_t)base * HEALTH_JITTER_PERCENT / 100);
	/* uniform in [base - spread, base + spread] */
	return base - spread + health_rng_below(rng, 2 * spread + 1);
}

int64_t health_sched_next_due(struct health_rng *rng, const struct check_config *cfg,
                              enum health_status status, int64_t started_ms, int64_t now_ms)
{
	int64_t due = started_ms + health_sched_period(rng, cfg, status);

	return due < now_ms ? now_ms : due;
}

int health_limiter_init(struct health_limiter *lim, size_t max, size_t cap)
{
	lim->max = max ? max : 1;
	lim->in_flight = 0;
	lim->head = lim->count = 0;
	lim->cap = cap ? cap : 1;
	lim->ring = calloc(lim->cap, sizeof(*lim->ring));
	return lim->ring ? 0 : -ENOMEM;
}

void health_limiter_free(struct health_limiter *lim)
{
	free(lim->ring);
	lim->ring = NULL;
	lim->cap = lim->count = 0;
}

int health_limiter_admit(struct health_limiter *lim, uint32_t id)
{
	if (lim->in_flight < lim->max) {
		lim->in_flight++;
		return 1;
	}
	if (lim->count == lim->cap)
		return -1;
	lim->ring[(lim->head + lim->count) % lim->cap] = id;
	lim->count++;
	return 0;
}

int health_limiter_done(struct health_limiter *lim, uint32_t *next)
{
	if (lim->in_flight > 0)
		lim->in_flight--;
	if (lim->count == 0)
		return 0;
	*next = lim->ring[lim->head];
	lim->head = (lim->head + 1) % lim->cap;
	lim->count--;
	lim->in_flight++;
	return 1;
}

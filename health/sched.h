/* SPDX-License-Identifier: BSD-3-Clause */
/* sched.h: when probes run (README "Health checks"), as pure functions of an RNG
 * state and the time, plus the queue that bounds probes in flight.
 *
 * Every checked instance starts at a random offset in [0, interval), then
 * runs every interval (unhealthy_interval while FAILING) with +-10 %
 * jitter, so thousands of instances spread out instead of firing together.
 * The period counts from the start of the previous probe, so a slow probe
 * does not stretch the cadence (it only delays the next start until it is
 * over).
 */
#ifndef SRVD_HEALTH_SCHED_H
#define SRVD_HEALTH_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"
#include "common/state.h"

#define HEALTH_JITTER_PERCENT 10

/* xorshift64* state: cheap, good enough to spread timers; not for secrets. */
struct health_rng {
	uint64_t s;
};

/* Seeds rng; any seed works (0 is replaced by a constant). */
void health_rng_seed(struct health_rng *rng, uint64_t seed);
uint64_t health_rng_next(struct health_rng *rng);

/* A uniform draw in [0, n); 0 when n is 0. */
uint32_t health_rng_below(struct health_rng *rng, uint32_t n);

/* Delay of an instance's first probe after start: uniform in [0, interval). */
uint32_t health_sched_first_delay(struct health_rng *rng, const struct check_config *cfg);

/* The period before the next probe of an instance in `status`: interval,
 * or unhealthy_interval (0 = interval) while FAILING, with +-10 % jitter. */
uint32_t health_sched_period(struct health_rng *rng, const struct check_config *cfg,
                             enum health_status status);

/* Absolute (same clock as the arguments) time of the next probe of an
 * instance whose last probe started at started_ms and ended at now_ms:
 * started_ms + period, but never before now_ms. */
int64_t health_sched_next_due(struct health_rng *rng, const struct check_config *cfg,
                              enum health_status status, int64_t started_ms, int64_t now_ms);

/* The bound on probes in flight: probes that are due while `max` run wait
 * in a FIFO of instance ids (each id at most once: an instance's next probe
 * is scheduled only after its current one ended). */
struct health_limiter {
	size_t max, in_flight;
	uint32_t *ring; /* owned */
	size_t cap, head, count;
};

/* Sets up lim for at most max probes at once (at least 1) and cap waiting
 * ids. Returns 0 or -ENOMEM. Free with health_limiter_free(). */
int health_limiter_init(struct health_limiter *lim, size_t max, size_t cap);
void health_limiter_free(struct health_limiter *lim); /* accepts a zeroed lim */

/* A probe of id is due. Returns 1 if it may start now (it then counts as in
 * flight), 0 if it was queued, -1 if the queue is full (a caller bug). */
int health_limiter_admit(struct health_limiter *lim, uint32_t id);

/* A probe ended. Returns 1 and sets *next to the next waiting id, which now
 * counts as in flight and must be started, or 0 if none waits. */
int health_limiter_done(struct health_limiter *lim, uint32_t *next);

#endif

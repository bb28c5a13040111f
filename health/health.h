/* SPDX-License-Identifier: BSD-3-Clause */
/* health.h: the active health checker (SPEC section 4) on the main thread's
 * event base.
 *
 * A struct health owns one struct health_inst per instance and one struct
 * health_svc per service of a registry, indexed by service and instance
 * index in registry order. DNS workers read them lock-free (state.h); only
 * the main thread's event loop writes them. Probes (tcp, http) run on that
 * base, at most HEALTH_MAX_INFLIGHT at a time; the others wait in a queue.
 */
#ifndef SRVD_HEALTH_HEALTH_H
#define SRVD_HEALTH_HEALTH_H

#include <stddef.h>

#include "health/state.h"

struct event_base;
struct registry;
struct health;

#define HEALTH_MAX_INFLIGHT 256 /* default bound on probes in flight (file descriptors) */

/* Called on the main thread after the served set or a panic flag changed
 * (e.g. to bump the SOA serial). */
typedef void (*health_change_fn)(void *arg);

/* Creates a checker for reg on base. Instances of services with
 * `check.type: none` start PASSING and served (checked = 0); the others
 * start UNCHECKED and unserved. Borrows reg for the call only: the checker
 * copies the addresses, names and checks it needs. Borrows base, which must
 * outlive it. on_change may be NULL. Returns 0 and sets *out (caller frees
 * with health_free()), or a negative errno code. Starts no probe. */
int health_create(struct event_base *base, const struct registry *reg, health_change_fn on_change,
                  void *arg, struct health **out);

/* Sets the bound on probes in flight (default HEALTH_MAX_INFLIGHT, at least
 * 1). Call before health_start(). */
void health_set_max_inflight(struct health *h, size_t max);

/* Schedules the probes: each checked instance at a random offset within its
 * interval, then every interval (unhealthy_interval while failing) with
 * +-10 % jitter. Returns 0 or a negative errno code. */
int health_start(struct health *h);

/* Returns 1 once every checked instance has a first result (always 1 when
 * nothing is checked), else 0. */
int health_first_round_done(const struct health *h);

/* The state of instance inst of service svc (registry order), or NULL when
 * out of range. The pointers stay valid until health_free(). */
struct health_inst *health_instance(struct health *h, size_t svc, size_t inst);
struct health_svc *health_service(struct health *h, size_t svc);

/* Frees the checker, cancelling the probes in flight (no callback runs
 * after it); accepts NULL. */
void health_free(struct health *h);

#endif

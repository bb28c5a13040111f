/* SPDX-License-Identifier: BSD-3-Clause */
/* health.h: the active health checker (README "Health checks") on the main thread's
 * event base.
 *
 * A struct health owns one struct health_inst per instance and one struct
 * health_svc per service of a registry, indexed by service and instance
 * index in registry order, in one block per service, which a change
 * (health_update()) keeps for the services it did not touch. DNS workers read them lock-free
 * (state.h); only the main thread's event loop writes them. Probes (tcp, http) run on that base, at
 * most HEALTH_MAX_INFLIGHT at a time; the others wait in a queue.
 */
#ifndef SRVD_HEALTH_HEALTH_H
#define SRVD_HEALTH_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"
#include "common/state.h"

struct event_base;
struct registry;
struct health;

#define HEALTH_MAX_INFLIGHT 256 /* default bound on probes in flight (file descriptors) */

/* Called on the main thread after an instance's status, the served set or
 * a panic flag changed (e.g. to bump the SOA serial, or to tell those who
 * follow the events). */
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

/* The cells the answer table reads (dns_table_bind()) of service svc
 * (registry order): its instances' (*n) and its own. Valid until
 * health_free(), or until the garbage of the health_update() that dropped
 * the service is freed. Returns the number of the block that holds them:
 * never 0, never given to another block. */
uint64_t health_service_cells(struct health *h, size_t svc, const struct health_inst **inst,
                              size_t *n, const struct health_svc **cell);
/* Only the number of the block of service svc (a binding asks it of every
 * service, and reads no block for it). */
uint64_t health_service_block(const struct health *h, size_t svc);
size_t health_n_services(const struct health *h);
size_t health_n_instances(const struct health *h);

/* The served set (which instances are served and which services are in
 * panic), as a 64-bit hash of their names the checker keeps up to date at
 * every change (not a scan): equal hashes, the same set (up to a 2^-64
 * collision). For the serial (daemon/serial.c). Main thread. */
uint64_t health_served_hash(const struct health *h);

/* Moves h to reg, a change of the registry it checks: each service that
 * is the same as before (the same registry object, or the same name and
 * registry_service_digest()) keeps its block (state, probes, schedule and
 * the cells tables point at); the others get new blocks, whose instances
 * of the same name, address and port as one of the block they replace
 * (with the same check config) take over its state (served flag, status,
 * consecutive counts, last result and change), schedule and probe in
 * flight; the others keep their start state (UNCHECKED, unserved until a
 * first pass; or PASSING for check type none). New blocks start at once if
 * h did. The blocks dropped stop probing; their cells stay readable in
 * *gone until health_garbage_free() (once no table reads them). *kept:
 * instances that kept or took over their state. Returns 0, or -ENOMEM with
 * h unchanged. Main thread. */
struct health_garbage;
int health_update(struct health *h, const struct registry *reg, size_t *kept,
                  struct health_garbage **gone);
void health_garbage_free(struct health_garbage *g); /* accepts NULL */

/* The state of instance inst of service svc (registry order), or NULL when
 * out of range. The pointers stay valid until health_free(). */
struct health_inst *health_instance(struct health *h, size_t svc, size_t inst);
struct health_svc *health_service(struct health *h, size_t svc);

/* Told, on the main thread, that an instance of a service with
 * check.deregister_after has been failing that long (failing_ms), and is
 * not drained: the checker tells once per failing spell (and once more
 * after a reload); what to do (remove it through the registry source) is
 * the caller's. Names are borrowed for the call; the callee must not free
 * or replace the checker from inside it. */
typedef void (*health_expire_fn)(void *arg, const char *service, const char *instance,
                                 int64_t failing_ms);

/* Sets the callback of deregister_after; call before health_start(). The
 * checker looks once a second. */
void health_set_expire(struct health *h, health_expire_fn fn, void *arg);

/* A heartbeat of instance inst of service svc (registry order), whose check
 * is of type ttl: pass restores it at once and starts its deadline afresh
 * (check.ttl; missing it fails the instance with "ttl: no heartbeat for
 * 30s"); fail withdraws it at once and stops the deadline. note (NULL or
 * "": "ttl: pass" / "ttl: fail") becomes its last result. A ttl instance
 * is unchecked until its first heartbeat, or failing once check.ttl passed
 * without one. Returns 0, -ENOENT (no such instance) or -EINVAL (its check
 * is not ttl). Main thread. */
int health_heartbeat(struct health *h, size_t svc, size_t inst, int pass, const char *note);

/* Probe results by check type and outcome, for /metrics. They count from
 * the daemon's start: a reload carries them into the new checker. */
enum health_outcome {
	HEALTH_OUTCOME_PASS = 0,
	HEALTH_OUTCOME_FAIL,    /* refused, bad status, connection error */
	HEALTH_OUTCOME_TIMEOUT, /* no result within check.timeout */
	HEALTH_OUTCOME_ERROR,   /* srvd could not probe (e.g. out of file descriptors) */
	HEALTH_OUTCOMES
};

struct health_counters {
	uint64_t probes[CHECK_TYPES][HEALTH_OUTCOMES]; /* [enum check_type][outcome] */
};

/* One instance's status change, for the status page (GET /v1/events). */
#define HEALTH_EVENTS_MAX 50
struct health_event {
	int64_t time_ms; /* CLOCK_REALTIME */
	char service[64];
	char instance[64];
	uint8_t from, to; /* enum health_status */
	char result[HEALTH_RESULT_MAX];
};

/* Copies the last HEALTH_EVENTS_MAX status changes (kept across reloads),
 * oldest first, into out (room for max); returns how many. Main thread. */
size_t health_get_events(const struct health *h, struct health_event *out, size_t max);

/* How many status changes were recorded since start (kept across reloads):
 * those who follow them compare it with the count they saw. Main thread. */
uint64_t health_events_total(const struct health *h);

/* Copies the probe counters of h into *out. Main thread only. */
void health_get_counters(const struct health *h, struct health_counters *out);

/* Returns "pass", "fail", "timeout" or "error". */
const char *health_outcome_name(enum health_outcome outcome);

/* Frees the checker, cancelling the probes in flight (no callback runs
 * after it); accepts NULL. */
void health_free(struct health *h);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* machine.h: the rise/fall state machine of one instance and the panic rule
 * of a service (README "Health checks"), pure functions over state.h with the clock
 * passed in, so unit tests drive them without sockets or timers.
 */
#ifndef SRVD_HEALTH_MACHINE_H
#define SRVD_HEALTH_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/state.h"

/* Bits returned by health_machine_apply(). */
#define HEALTH_CHANGED_STATUS 1 /* status moved: log it */
#define HEALTH_CHANGED_SERVED 2 /* served flag moved: the answers change */

/* Sets inst and its service counters to the start state. A checked
 * instance starts UNCHECKED and unserved; an unchecked one (check type
 * none) PASSING and served. svc's counts (n_served, n_passing, n_failing)
 * follow every change. now_ms is the
 * CLOCK_REALTIME time in ms. */
void health_machine_init(struct health_inst *inst, struct health_svc *svc, int checked,
                         int64_t now_ms);

/* Drains inst (drained 1: out of answers whatever its status, still
 * checked) or ends its drain, keeping svc->n_served in step. Init and copy
 * keep the flag; set it after them. Returns HEALTH_CHANGED_SERVED or 0. */
int health_machine_drain(struct health_inst *inst, struct health_svc *svc, int drained);

/* Applies one probe result (pass 1/0, text e.g. "http: status 503") to
 * inst at now_ms, keeping svc->n_served in step. The first result decides
 * (UNCHECKED -> PASSING or FAILING); after that `fall` consecutive failures
 * withdraw a passing instance and `rise` consecutive passes restore a
 * failing one (0 counts as 1). Returns HEALTH_CHANGED_* bits; *from (may be
 * NULL) receives the status before. Borrows text for the call. */
int health_machine_apply(struct health_inst *inst, struct health_svc *svc, uint32_t rise,
                         uint32_t fall, int pass, const char *text, int64_t now_ms,
                         enum health_status *from);

/* Gives inst the state of from (an instance of the previous checker at a
 * reload): status, counts, last result and change, keeping svc's counts in
 * step; served follows from the status and inst's own drained flag. */
void health_machine_copy(struct health_inst *inst, struct health_svc *svc,
                         const struct health_inst *from);

/* Recomputes svc->panic: on while fewer than threshold * n_instances
 * of the instances not drained are served (drained ones are never counted),
 * off when threshold is 0 or while `pending`
 * instances still wait for their first result (so a starting service is
 * not in panic merely because nothing has been checked yet). Returns 1 when
 * the flag changed, else 0. */
int health_machine_panic(struct health_svc *svc, size_t n_instances, double threshold,
                         size_t pending);

#endif

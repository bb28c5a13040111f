/* SPDX-License-Identifier: BSD-3-Clause */
/* machine.c: rise/fall transitions and the panic rule, without I/O. */
#include "config.h"

#include "health/machine.h"

/* The service's count of instances in status st, or NULL for unchecked. */
static _Atomic uint32_t *status_count(struct health_svc *svc, enum health_status st)
{
	switch (st) {
	case HEALTH_PASSING:
		return &svc->n_passing;
	case HEALTH_FAILING:
		return &svc->n_failing;
	case HEALTH_UNCHECKED:
		break;
	}
	return NULL;
}

/* Moves inst to status, keeping the service's counts in step. */
static void set_status(struct health_inst *inst, struct health_svc *svc, enum health_status status,
                       int64_t now_ms)
{
	enum health_status old = atomic_load_explicit(&inst->status, memory_order_relaxed);
	_Atomic uint32_t *from = status_count(svc, old), *to = status_count(svc, status);

	if (from && old != status)
		atomic_fetch_sub_explicit(from, 1, memory_order_relaxed);
	if (to && old != status)
		atomic_fetch_add_explicit(to, 1, memory_order_relaxed);
	atomic_store_explicit(&inst->status, (uint8_t)status, memory_order_release);
	atomic_store_explicit(&inst->last_change_ms, now_ms, memory_order_release);
}

/* Raises a service's time of its latest change to ms (ttl_min). */
static void svc_latest(_Atomic int64_t *at, int64_t ms)
{
	if (atomic_load_explicit(at, memory_order_relaxed) < ms)
		atomic_store_explicit(at, ms, memory_order_relaxed);
}

/* Returns HEALTH_CHANGED_SERVED when the flag moved. */
static int set_served(struct health_inst *inst, struct health_svc *svc, int served)
{
	if (atomic_load_explicit(&inst->served, memory_order_relaxed) == served)
		return 0;
	if (served)
		atomic_fetch_add_explicit(&svc->n_served, 1, memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(&svc->n_served, 1, memory_order_relaxed);
	/* release: a worker that sees the flag also sees the result text */
	atomic_store_explicit(&inst->served, (uint8_t)served, memory_order_release);
	return HEALTH_CHANGED_SERVED;
}

void health_machine_init(struct health_inst *inst, struct health_svc *svc, int checked,
                         int64_t now_ms)
{
	atomic_store(&inst->served, 0);
	atomic_store(&inst->status, HEALTH_UNCHECKED); /* counted in no status yet */
	atomic_store(&inst->checked, (uint8_t)(checked != 0));
	atomic_store(&inst->successes, 0);
	atomic_store(&inst->failures, 0);
	atomic_store(&inst->last_check_ms, 0);
	health_inst_set_result(inst, checked ? "not checked yet" : "no check (type none)");
	set_status(inst, svc, checked ? HEALTH_UNCHECKED : HEALTH_PASSING, now_ms);
	if (!checked)
		set_served(inst, svc, !atomic_load(&inst->drained));
}

int health_machine_drain(struct health_inst *inst, struct health_svc *svc, int drained)
{
	drained = drained != 0;
	if (atomic_load_explicit(&inst->drained, memory_order_relaxed) != drained) {
		if (drained)
			atomic_fetch_add_explicit(&svc->n_drained, 1, memory_order_relaxed);
		else
			atomic_fetch_sub_explicit(&svc->n_drained, 1, memory_order_relaxed);
	}
	atomic_store_explicit(&inst->drained, (uint8_t)drained, memory_order_relaxed);
	return set_served(inst, svc,
	                  !drained && atomic_load_explicit(&inst->status, memory_order_relaxed) ==
	                                  HEALTH_PASSING);
}

static uint32_t inc_sat(_Atomic uint32_t *v)
{
	uint32_t n = atomic_load_explicit(v, memory_order_relaxed);

	if (n != UINT32_MAX)
		n++;
	atomic_store_explicit(v, n, memory_order_relaxed);
	return n;
}

int health_machine_apply(struct health_inst *inst, struct health_svc *svc, uint32_t rise,
                         uint32_t fall, int pass, const char *text, int64_t now_ms,
                         enum health_status *from)
{
	enum health_status old = atomic_load_explicit(&inst->status, memory_order_relaxed);
	enum health_status next = old;
	uint32_t run;
	int changed = 0;

	if (from)
		*from = old;
	if (rise == 0)
		rise = 1;
	if (fall == 0)
		fall = 1;
	health_inst_set_result(inst, text);
	atomic_store_explicit(&inst->last_check_ms, now_ms, memory_order_relaxed);
	if (pass) {
		atomic_store_explicit(&inst->failures, 0, memory_order_relaxed);
		run = inc_sat(&inst->successes);
		if (old == HEALTH_UNCHECKED || (old == HEALTH_FAILING && run >= rise))
			next = HEALTH_PASSING;
	} else {
		atomic_store_explicit(&inst->successes, 0, memory_order_relaxed);
		run = inc_sat(&inst->failures);
		if (old == HEALTH_UNCHECKED || (old == HEALTH_PASSING && run >= fall))
			next = HEALTH_FAILING;
	}
	if (next != old) {
		/* slow_start ramps from here: a return, not a first pass */
		if (old == HEALTH_FAILING && next == HEALTH_PASSING) {
			atomic_store_explicit(&inst->restored_ms, now_ms, memory_order_relaxed);
			svc_latest(&svc->last_restored_ms, now_ms);
		}
		svc_latest(&svc->last_change_ms, now_ms);
		set_status(inst, svc, next, now_ms);
		changed |= HEALTH_CHANGED_STATUS;
	}
	changed |= set_served(inst, svc,
	                      next == HEALTH_PASSING &&
	                          !atomic_load_explicit(&inst->drained, memory_order_relaxed));
	return changed;
}

void health_machine_copy(struct health_inst *inst, struct health_svc *svc,
                         const struct health_inst *from)
{
	char text[HEALTH_RESULT_MAX];

	set_status(inst, svc, atomic_load(&from->status), atomic_load(&from->last_change_ms));
	set_served(inst, svc,
	           atomic_load(&from->status) == HEALTH_PASSING && !atomic_load(&inst->drained));
	atomic_store(&inst->successes, atomic_load(&from->successes));
	atomic_store(&inst->failures, atomic_load(&from->failures));
	atomic_store(&inst->last_check_ms, atomic_load(&from->last_check_ms));
	atomic_store(&inst->restored_ms, atomic_load(&from->restored_ms));
	/* a reload keeps what ttl_min knows of the instance's last changes */
	if (atomic_load(&from->successes) || atomic_load(&from->failures))
		svc_latest(&svc->last_change_ms, atomic_load(&from->last_change_ms));
	svc_latest(&svc->last_restored_ms, atomic_load(&from->restored_ms));
	health_inst_result(from, text, sizeof(text));
	health_inst_set_result(inst, text);
}

int health_machine_panic(struct health_svc *svc, size_t n_instances, double threshold,
                         size_t pending)
{
	uint32_t served = atomic_load_explicit(&svc->n_served, memory_order_relaxed);
	uint32_t drained = atomic_load_explicit(&svc->n_drained, memory_order_relaxed);
	uint8_t old = atomic_load_explicit(&svc->panic, memory_order_relaxed);
	uint8_t panic = 0;

	/* drained instances are the operator's: never served, even in panic,
	 * and not counted, so a service drained whole answers NODATA */
	n_instances = drained < n_instances ? n_instances - drained : 0;
	if (threshold > 0 && pending == 0 && n_instances > 0)
		panic = (double)served < threshold * (double)n_instances;
	if (panic == old)
		return 0;
	atomic_store_explicit(&svc->panic, panic, memory_order_release);
	return 1;
}

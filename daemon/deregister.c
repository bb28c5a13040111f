/* SPDX-License-Identifier: BSD-3-Clause */
/* deregister.c: check.deregister_after (README "Health checks"): an
 * instance the API registered that keeps failing is removed through the
 * registry source, as DELETE /v1/services/S/instances/I does, then the
 * registry is reloaded.
 *
 * The checker only tells (from its once-a-second look); the removal runs
 * from an event of its own, because a reload replaces the checker that
 * is telling. Instances of registry files are left alone: srvd does not
 * edit what an operator wrote; it says so once per failing spell.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "daemon/daemon_int.h"
#include "health/health.h"
#include "registry/registry.h"
#include "registry/source.h"

struct daemon_expiry {
	struct daemon_expiry *next;
	int64_t failing_ms;
	char service[64], instance[64];
};

/* 1 if instance of service is in the current registry. */
static int present(const struct registry *reg, const char *service, const char *instance)
{
	const struct reg_service *s = registry_find_service(reg, service);

	for (size_t k = 0; s && k < s->n_instances; k++)
		if (strcmp(s->instances[k].name, instance) == 0)
			return 1;
	return 0;
}

static void remove_one(struct daemon *d, const struct daemon_expiry *e)
{
	struct reg_errors errs = {NULL, 0};
	struct reg_source_report shared;
	struct reg_write w;

	if (!present(d->reg, e->service, e->instance))
		return;
	if (reg_source_report(d->src, &shared) == 0) {
		/* a fleet (etcd): one srvd with a network fault of its own must not
		 * remove an instance for every srvd; its lease does that */
		log_warn("%s/%s: failing for %llds, over check.deregister_after, but not removed: "
		         "with a shared registry (%s) only the instance's lease removes it",
		         e->service, e->instance, (long long)(e->failing_ms / 1000), shared.name);
		return;
	}
	reg_source_delete_instance(d->src, d->reg, e->service, e->instance, &w);
	switch (w.result) {
	case REG_WRITE_OK:
		log_info("%s/%s: failing for %llds, over check.deregister_after: removed (%s)",
		         e->service, e->instance, (long long)(e->failing_ms / 1000), w.where);
		if (daemon_reload(d, "deregister_after", &errs) < 0)
			reg_source_undo(d->src, &w);
		break;
	case REG_WRITE_CONFLICT:
		log_warn("%s/%s: failing for %llds, over check.deregister_after, but not removed: "
		         "%s",
		         e->service, e->instance, (long long)(e->failing_ms / 1000), w.message);
		break;
	case REG_WRITE_NOT_FOUND:
		break;
	case REG_WRITE_INVALID:
	case REG_WRITE_FAILED:
	case REG_WRITE_LOST:
		log_err("%s/%s: deregister_after: cannot remove it: %s", e->service, e->instance,
		        w.message);
		break;
	}
	reg_write_clear(&w);
	registry_errors_clear(&errs);
}

static void on_expiries(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	while (d->expiries) {
		struct daemon_expiry *e = d->expiries;

		d->expiries = e->next;
		remove_one(d, e);
		free(e);
	}
}

void daemon_on_expire(void *arg, const char *service, const char *instance, int64_t failing_ms)
{
	struct daemon *d = arg;
	struct daemon_expiry *e = calloc(1, sizeof(*e));

	if (!e || (!d->ev_expire && !(d->ev_expire = event_new(d->base, -1, 0, on_expiries, d)))) {
		free(e);
		log_err("%s/%s: deregister_after: out of memory", service, instance);
		return;
	}
	snprintf(e->service, sizeof(e->service), "%s", service);
	snprintf(e->instance, sizeof(e->instance), "%s", instance);
	e->failing_ms = failing_ms;
	e->next = d->expiries;
	d->expiries = e;
	event_active(d->ev_expire, EV_TIMEOUT, 0);
}

void daemon_expiries_free(struct daemon *d)
{
	while (d->expiries) {
		struct daemon_expiry *e = d->expiries;

		d->expiries = e->next;
		free(e);
	}
	if (d->ev_expire)
		event_free(d->ev_expire);
	d->ev_expire = NULL;
}

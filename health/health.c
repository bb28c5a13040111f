/* SPDX-License-Identifier: BSD-3-Clause */
/* health.c: the checker's libevent glue: one timer per checked instance,
 * the in-flight bound, probes wired to the state machine, and the logs.
 *
 * Everything runs on the one event base given to health_create() (the main
 * thread's); DNS workers only read the struct health_inst / health_svc
 * arrays. An instance's timer is re-armed only once its probe reported, so
 * an instance has at most one probe in flight or waiting.
 */
#include "config.h"

#include "health/health.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <event2/event.h>

#include "common/log.h"
#include "health/machine.h"
#include "health/probe.h"
#include "health/sched.h"
#include "registry/registry.h"

struct hsvc {
	char *name;
	struct check_config cfg;
	double panic_threshold;
	size_t first, n; /* its instances: insts[first .. first + n) */
	size_t pending;  /* checked instances without a first result */
};

struct hinst {
	struct health *h;
	uint32_t id; /* index in insts[] */
	uint32_t svc;
	char *name;
	struct sockaddr_storage addr; /* with the port to probe */
	socklen_t addr_len;
	struct event *timer; /* NULL for check type none */
	struct health_probe *probe;
	int64_t started_ms; /* monotonic */
	int has_result;
};

struct health {
	struct event_base *base;
	health_change_fn on_change;
	void *arg;
	struct health_rng rng;
	struct health_limiter lim;
	size_t max_inflight;
	struct hsvc *svcs;
	size_t n_svcs;
	struct hinst *insts;
	size_t n_insts;
	struct health_inst *inst_state; /* read by workers */
	struct health_svc *svc_state;   /* read by workers */
	size_t pending;                 /* over all services */
	int started;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm(struct hinst *in, int64_t delay_ms)
{
	struct timeval tv;

	if (delay_ms < 0)
		delay_ms = 0;
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	if (evtimer_add(in->timer, &tv) < 0)
		log_err("%s/%s: cannot schedule the next check", in->h->svcs[in->svc].name,
		        in->name);
}

static void on_probe(int pass, const char *text, void *arg);

/* Starts the probe of an instance the limiter admitted. */
static void start_probe(struct hinst *in)
{
	struct health *h = in->h;
	struct hsvc *s = &h->svcs[in->svc];
	int r;

	in->started_ms = mono_ms();
	r = health_probe_start(h->base, &s->cfg, (struct sockaddr *)&in->addr, in->addr_len,
	                       on_probe, in, &in->probe);
	if (r == 0)
		return;
	/* out of memory: no result to judge the backend by; try again later */
	log_err("%s/%s: cannot start a check: %s", s->name, in->name, strerror(-r));
	in->probe = NULL;
	arm(in, health_sched_period(&h->rng, &s->cfg, HEALTH_PASSING));
	{
		uint32_t next;
		if (health_limiter_done(&h->lim, &next))
			start_probe(&h->insts[next]);
	}
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
	struct hinst *in = arg;

	if (health_limiter_admit(&in->h->lim, in->id) == 1)
		start_probe(in);
}

static void log_panic(struct health *h, struct hsvc *s, struct health_svc *st)
{
	uint32_t served = atomic_load(&st->n_served);

	if (atomic_load(&st->panic))
		log_info("%s: panic: %u of %zu instances passing, below %.2f: answering with all",
		         s->name, served, s->n, s->panic_threshold);
	else
		log_info("%s: panic over: %u of %zu instances passing", s->name, served, s->n);
}

static void on_probe(int pass, const char *text, void *arg)
{
	struct hinst *in = arg;
	struct health *h = in->h;
	struct hsvc *s = &h->svcs[in->svc];
	struct health_inst *st = &h->inst_state[in->id];
	struct health_svc *sst = &h->svc_state[in->svc];
	enum health_status from, to;
	int64_t now = mono_ms();
	int changed, notify = 0;
	uint32_t next;

	in->probe = NULL;
	changed =
	    health_machine_apply(st, sst, s->cfg.rise, s->cfg.fall, pass, text, real_ms(), &from);
	to = atomic_load(&st->status);
	log_debug("%s/%s: %s %s (%lld ms)", s->name, in->name, pass ? "pass" : "fail", text,
	          (long long)(now - in->started_ms));
	if (changed & HEALTH_CHANGED_STATUS)
		log_info("%s/%s: %s -> %s: %s", s->name, in->name, health_status_name(from),
		         health_status_name(to), text);
	if (!in->has_result) {
		in->has_result = 1;
		s->pending--;
		h->pending--;
		if (h->pending == 0)
			log_info("health: first round of checks done");
	}
	if (changed & HEALTH_CHANGED_SERVED)
		notify = 1;
	if (health_machine_panic(sst, s->n, s->panic_threshold, s->pending)) {
		log_panic(h, s, sst);
		notify = 1;
	}
	arm(in, health_sched_next_due(&h->rng, &s->cfg, to, in->started_ms, now) - now);
	if (notify && h->on_change)
		h->on_change(h->arg);
	if (health_limiter_done(&h->lim, &next))
		start_probe(&h->insts[next]);
}

static int sockaddr_of(const struct reg_instance *ri, uint16_t port, struct sockaddr_storage *ss,
                       socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (ri->addr.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_addr = ri->addr.u.v4;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (ri->addr.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = ri->addr.u.v6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

static uint64_t random_seed(void)
{
	uint64_t seed = 0;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)real_ms() ^ ((uint64_t)(uintptr_t)&seed << 16);
	return seed;
}

int health_create(struct event_base *base, const struct registry *reg, health_change_fn on_change,
                  void *arg, struct health **out)
{
	struct health *h;
	int64_t now = real_ms();
	size_t n = 0, k = 0;
	int r = -ENOMEM;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->base = base;
	h->on_change = on_change;
	h->arg = arg;
	h->max_inflight = HEALTH_MAX_INFLIGHT;
	health_rng_seed(&h->rng, random_seed());
	for (size_t i = 0; i < reg->n_services; i++)
		n += reg->services[i].n_instances;
	h->n_svcs = reg->n_services;
	h->n_insts = n;
	/* +1: calloc(0) may return NULL */
	h->svcs = calloc(h->n_svcs + 1, sizeof(*h->svcs));
	h->svc_state = calloc(h->n_svcs + 1, sizeof(*h->svc_state));
	h->insts = calloc(n + 1, sizeof(*h->insts));
	h->inst_state = calloc(n + 1, sizeof(*h->inst_state));
	if (!h->svcs || !h->svc_state || !h->insts || !h->inst_state)
		goto fail;
	for (size_t i = 0; i < reg->n_services; i++) {
		const struct reg_service *rs = &reg->services[i];
		struct hsvc *s = &h->svcs[i];
		int checked = rs->check.type != CHECK_NONE;

		s->name = strdup(rs->name);
		if (!s->name)
			goto fail;
		s->cfg = rs->check;
		s->panic_threshold = rs->panic_threshold;
		s->first = k;
		s->n = rs->n_instances;
		for (size_t j = 0; j < rs->n_instances; j++, k++) {
			const struct reg_instance *ri = &rs->instances[j];
			struct hinst *in = &h->insts[k];

			in->h = h;
			in->id = (uint32_t)k;
			in->svc = (uint32_t)i;
			in->name = strdup(ri->name);
			if (!in->name)
				goto fail;
			health_machine_init(&h->inst_state[k], &h->svc_state[i], checked, now);
			if (!checked)
				continue;
			r = sockaddr_of(ri, rs->check.port ? rs->check.port : ri->port, &in->addr,
			                &in->addr_len);
			if (r < 0)
				goto fail;
			r = -ENOMEM;
			in->timer = evtimer_new(base, on_due, in);
			if (!in->timer)
				goto fail;
			s->pending++;
			h->pending++;
		}
		health_machine_panic(&h->svc_state[i], s->n, s->panic_threshold, s->pending);
	}
	*out = h;
	return 0;
fail:
	health_free(h);
	return r;
}

void health_set_max_inflight(struct health *h, size_t max)
{
	h->max_inflight = max ? max : 1;
}

int health_start(struct health *h)
{
	int r;

	if (h->started)
		return 0;
	r = health_limiter_init(&h->lim, h->max_inflight, h->n_insts);
	if (r < 0)
		return r;
	h->started = 1;
	for (size_t i = 0; i < h->n_insts; i++) {
		struct hinst *in = &h->insts[i];

		if (in->timer)
			arm(in, health_sched_first_delay(&h->rng, &h->svcs[in->svc].cfg));
	}
	return 0;
}

int health_first_round_done(const struct health *h)
{
	return h->pending == 0;
}

struct health_inst *health_instance(struct health *h, size_t svc, size_t inst)
{
	if (svc >= h->n_svcs || inst >= h->svcs[svc].n)
		return NULL;
	return &h->inst_state[h->svcs[svc].first + inst];
}

struct health_svc *health_service(struct health *h, size_t svc)
{
	return svc < h->n_svcs ? &h->svc_state[svc] : NULL;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	for (size_t i = 0; h->insts && i < h->n_insts; i++) {
		struct hinst *in = &h->insts[i];

		health_probe_cancel(in->probe);
		if (in->timer)
			event_free(in->timer);
		free(in->name);
	}
	for (size_t i = 0; h->svcs && i < h->n_svcs; i++)
		free(h->svcs[i].name);
	health_limiter_free(&h->lim);
	free(h->insts);
	free(h->inst_state);
	free(h->svcs);
	free(h->svc_state);
	free(h);
}

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
#include <stdint.h>
#include <stdio.h>
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

/* The callback argument of a probe, with its own copy of the check: a
 * reload may hand a probe in flight to the instance's successor in a new
 * checker, and the old checker (whose config the probe would otherwise
 * borrow) may be freed before the probe ends. */
struct probe_ticket {
	struct hinst *in;
	struct check_config cfg;
};

struct hinst {
	struct health *h;
	uint32_t id; /* index in insts[] */
	uint32_t svc;
	char *name;
	struct reg_addr raddr; /* identity across reloads, with port */
	uint16_t port;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} addr; /* with the port to probe; not sockaddr_storage: 100 bytes x a million */
	socklen_t addr_len;
	struct event *timer; /* NULL for check type none */
	struct health_probe *probe;
	struct probe_ticket *ticket; /* with probe */
	int64_t started_ms;          /* monotonic */
	int64_t due_ms;              /* monotonic time the timer fires, -1 if not armed */
	int64_t first_due_ms;        /* for health_start(): FIRST_* or a monotonic time */
	int has_result;
	int expired_told; /* deregister_after reported for this failing spell */
};

#define FIRST_RANDOM -1 /* a random offset within the interval */
#define FIRST_NONE   -2 /* a probe taken over is in flight: it arms the timer */

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
	struct health_counters counters;
	struct health_event events[HEALTH_EVENTS_MAX]; /* a ring: events[n_events % MAX] next */
	uint64_t n_events;
	/* probes that could not get a socket in the current shortage, which
	 * ends HEALTH_LOCAL_QUIET_MS after the last of them: logged when it
	 * starts and when it ends, not per probe, as probes and TCP clients
	 * take turns at the last descriptors */
	uint64_t local_failures;
	int64_t local_last_ms; /* monotonic */
	/* deregister_after: who is told, and the once-a-second look */
	health_expire_fn expire_fn;
	void *expire_arg;
	struct event *expire_timer;
};

#define HEALTH_LOCAL_QUIET_MS 2000

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void record_event(struct health *h, const struct hsvc *s, const struct hinst *in,
                         enum health_status from, enum health_status to, const char *text)
{
	struct health_event *e = &h->events[h->n_events++ % HEALTH_EVENTS_MAX];

	e->time_ms = real_ms();
	snprintf(e->service, sizeof(e->service), "%s", s->name);
	snprintf(e->instance, sizeof(e->instance), "%s", in->name);
	e->from = (uint8_t)from;
	e->to = (uint8_t)to;
	snprintf(e->result, sizeof(e->result), "%s", text ? text : "");
}

size_t health_get_events(const struct health *h, struct health_event *out, size_t max)
{
	uint64_t n = h->n_events < HEALTH_EVENTS_MAX ? h->n_events : HEALTH_EVENTS_MAX;
	size_t k = 0;

	if (n > max)
		n = max;
	for (uint64_t i = h->n_events - n; i < h->n_events; i++)
		out[k++] = h->events[i % HEALTH_EVENTS_MAX];
	return k;
}

uint64_t health_events_total(const struct health *h)
{
	return h->n_events;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm(struct hinst *in, int64_t delay_ms)
{
	struct timeval tv;

	if (delay_ms < 0)
		delay_ms = 0;
	in->due_ms = mono_ms() + delay_ms;
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
	struct probe_ticket *t = malloc(sizeof(*t));
	int r = -ENOMEM;

	in->started_ms = mono_ms();
	if (t) {
		t->in = in;
		check_config_copy(&t->cfg, &s->cfg);
		r = health_probe_start(h->base, &t->cfg, (struct sockaddr *)&in->addr, in->addr_len,
		                       on_probe, t, &in->probe);
	}
	if (r == 0) {
		in->ticket = t;
		return;
	}
	if (t)
		check_config_release(&t->cfg);
	free(t);
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

	in->due_ms = -1;
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

static void count_result(struct health *h, enum check_type type, int pass, const char *text)
{
	enum health_outcome o = HEALTH_OUTCOME_FAIL;

	if ((unsigned)type >= CHECK_TYPES)
		return;
	if (pass == HEALTH_PROBE_LOCAL)
		o = HEALTH_OUTCOME_ERROR;
	else if (pass)
		o = HEALTH_OUTCOME_PASS;
	else if (strncmp(text, "timeout", 7) == 0)
		o = HEALTH_OUTCOME_TIMEOUT;
	h->counters.probes[type][o]++;
}

/* srvd could not probe (EMFILE, ...): no verdict on the backend, no log
 * line per probe; the instance keeps its state and tries again after its
 * period, so a shortage neither withdraws backends nor spins. */
static void on_local_failure(struct health *h, struct hinst *in, const char *text)
{
	struct hsvc *s = &h->svcs[in->svc];
	uint32_t next;

	h->local_last_ms = mono_ms();
	if (h->local_failures++ == 0)
		log_warn("health: %s/%s: cannot probe: %s; probes that cannot get a socket are "
		         "retried after their interval and leave the health state as it is "
		         "(logged again once they get sockets for %d s)",
		         s->name, in->name, text, HEALTH_LOCAL_QUIET_MS / 1000);
	log_debug("%s/%s: not probed: %s", s->name, in->name, text);
	arm(in, health_sched_period(&h->rng, &s->cfg, atomic_load(&h->inst_state[in->id].status)));
	if (health_limiter_done(&h->lim, &next))
		start_probe(&h->insts[next]);
}

/* Applies one result to an instance: the state machine, the logs, the
 * first round, panic, and the change callback. Returns the status after. */
static enum health_status judge(struct health *h, struct hinst *in, uint32_t rise, uint32_t fall,
                                int pass, const char *text, int64_t took_ms)
{
	struct hsvc *s = &h->svcs[in->svc];
	struct health_inst *st = &h->inst_state[in->id];
	struct health_svc *sst = &h->svc_state[in->svc];
	enum health_status from, to;
	int changed, notify = 0;

	changed = health_machine_apply(st, sst, rise, fall, pass, text, real_ms(), &from);
	to = atomic_load(&st->status);
	log_debug("%s/%s: %s %s (%lld ms)", s->name, in->name, pass ? "pass" : "fail", text,
	          (long long)took_ms);
	if (changed & HEALTH_CHANGED_STATUS) {
		log_info("%s/%s: %s -> %s: %s", s->name, in->name, health_status_name(from),
		         health_status_name(to), text);
		record_event(h, s, in, from, to, text);
		notify = 1;
	}
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
	if (notify && h->on_change)
		h->on_change(h->arg);
	return to;
}

static void on_probe(int pass, const char *text, void *arg)
{
	struct probe_ticket *t = arg;
	struct hinst *in = t->in;
	struct health *h = in->h;
	struct hsvc *s = &h->svcs[in->svc];
	enum health_status to;
	int64_t now = mono_ms();
	uint32_t next;

	in->probe = NULL;
	in->ticket = NULL;
	check_config_release(&t->cfg);
	free(t);
	count_result(h, s->cfg.type, pass, text);
	if (pass == HEALTH_PROBE_LOCAL) {
		on_local_failure(h, in, text);
		return;
	}
	if (h->local_failures && now - h->local_last_ms >= HEALTH_LOCAL_QUIET_MS) {
		log_info("health: probes get sockets again (%llu could not start)",
		         (unsigned long long)h->local_failures);
		h->local_failures = 0;
	}
	to = judge(h, in, s->cfg.rise, s->cfg.fall, pass, text, now - in->started_ms);
	arm(in, health_sched_next_due(&h->rng, &s->cfg, to, in->started_ms, now) - now);
	if (health_limiter_done(&h->lim, &next))
		start_probe(&h->insts[next]);
}

/* "30s", or "1500ms" when not whole seconds. */
static void ttl_text(uint32_t ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%us", ms / 1000);
	else
		snprintf(buf, len, "%ums", ms);
}

/* A ttl instance's deadline passed with no heartbeat: it fails at once (a
 * heartbeat is the service's own word, there is nothing to retry), and the
 * timer stays off until the next heartbeat. */
static void on_ttl_due(evutil_socket_t fd, short what, void *arg)
{
	struct hinst *in = arg;
	struct health *h = in->h;
	char ttl[32], text[64];

	in->due_ms = -1;
	ttl_text(h->svcs[in->svc].cfg.ttl_ms, ttl, sizeof(ttl));
	snprintf(text, sizeof(text), "ttl: no heartbeat for %s", ttl);
	h->counters.probes[CHECK_TTL][HEALTH_OUTCOME_TIMEOUT]++;
	judge(h, in, 1, 1, 0, text, 0);
}

int health_heartbeat(struct health *h, size_t svc, size_t inst, int pass, const char *note)
{
	struct hinst *in;
	const char *text = note && note[0] ? note : pass ? "ttl: pass" : "ttl: fail";

	if (svc >= h->n_svcs || inst >= h->svcs[svc].n)
		return -ENOENT;
	if (h->svcs[svc].cfg.type != CHECK_TTL)
		return -EINVAL;
	in = &h->insts[h->svcs[svc].first + inst];
	h->counters.probes[CHECK_TTL][pass ? HEALTH_OUTCOME_PASS : HEALTH_OUTCOME_FAIL]++;
	if (pass) {
		arm(in, h->svcs[svc].cfg.ttl_ms);
	} else {
		/* failed by its own word: stays failing (with its note) until it
		 * passes again, so no deadline runs meanwhile */
		event_del(in->timer);
		in->due_ms = -1;
	}
	judge(h, in, 1, 1, pass, text, 0);
	return 0;
}

static int sockaddr_of(const struct reg_instance *ri, uint16_t port, struct hinst *in,
                       socklen_t *len)
{
	/* the primary address, or the one check_address names (dual-stack) */
	const struct reg_addr *a = registry_check_addr(ri);

	memset(&in->addr, 0, sizeof(in->addr));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = &in->addr.v4;
		s4->sin_family = AF_INET;
		s4->sin_addr = a->u.v4;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = &in->addr.v6;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a->u.v6;
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
		check_config_copy(&s->cfg, &rs->check);
		if (check_tls_unverified(&s->cfg))
			log_warn("%s: check.tls.verify is false: its instances' certificates are "
			         "not verified",
			         s->name);
		s->panic_threshold = rs->panic_threshold;
		s->first = k;
		s->n = rs->n_instances;
		for (size_t j = 0; j < rs->n_instances; j++, k++) {
			const struct reg_instance *ri = &rs->instances[j];
			struct hinst *in = &h->insts[k];

			in->h = h;
			in->id = (uint32_t)k;
			in->svc = (uint32_t)i;
			in->raddr = *registry_check_addr(ri);
			in->port = ri->port;
			in->due_ms = -1;
			in->first_due_ms = FIRST_RANDOM;
			in->name = strdup(ri->name);
			if (!in->name)
				goto fail;
			health_machine_init(&h->inst_state[k], &h->svc_state[i], checked, now);
			/* drained: still checked, never served */
			health_machine_drain(&h->inst_state[k], &h->svc_state[i],
			                     registry_maintenance_of(rs, ri) != NULL);
			if (!checked)
				continue;
			r = sockaddr_of(ri, rs->check.port ? rs->check.port : ri->port, in,
			                &in->addr_len);
			if (r < 0)
				goto fail;
			r = -ENOMEM;
			in->timer = evtimer_new(
			    base, rs->check.type == CHECK_TTL ? on_ttl_due : on_due, in);
			if (!in->timer)
				goto fail;
			s->pending++;
			h->pending++;
		}
		health_machine_panic(&h->svc_state[i], s->n, s->panic_threshold, s->pending);
	}
	/* here rather than in health_start(): a reload must not fail after it
	 * took the old checker's probes */
	r = health_limiter_init(&h->lim, h->max_inflight, h->n_insts);
	if (r < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	health_free(h);
	return r;
}

void health_set_max_inflight(struct health *h, size_t max)
{
	h->max_inflight = max ? max : 1;
	h->lim.max = h->max_inflight;
}

void health_set_expire(struct health *h, health_expire_fn fn, void *arg)
{
	h->expire_fn = fn;
	h->expire_arg = arg;
}

/* Tells of instances failing longer than their deregister_after. A drained
 * instance is exempt (maintenance is not a failure to clean up). */
static void on_expire_look(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;
	int64_t now = real_ms();

	for (size_t i = 0; i < h->n_svcs && h->expire_fn; i++) {
		const struct hsvc *s = &h->svcs[i];

		for (size_t j = 0; s->cfg.deregister_after_ms && j < s->n; j++) {
			struct hinst *in = &h->insts[s->first + j];
			const struct health_inst *st = &h->inst_state[in->id];
			int64_t failing = now - atomic_load(&st->last_change_ms);

			if (atomic_load(&st->status) != HEALTH_FAILING) {
				in->expired_told = 0;
				continue;
			}
			if (in->expired_told || atomic_load(&st->drained) ||
			    failing < (int64_t)s->cfg.deregister_after_ms)
				continue;
			in->expired_told = 1;
			h->expire_fn(h->expire_arg, s->name, in->name, failing);
		}
	}
}

int health_start(struct health *h)
{
	int64_t now = mono_ms();
	int expiring = 0;

	if (h->started)
		return 0;
	h->started = 1;
	for (size_t i = 0; i < h->n_svcs; i++)
		expiring |= h->svcs[i].cfg.deregister_after_ms != 0;
	if (expiring && h->expire_fn) {
		struct timeval second = {1, 0};

		h->expire_timer = event_new(h->base, -1, EV_PERSIST, on_expire_look, h);
		if (!h->expire_timer || event_add(h->expire_timer, &second) < 0)
			log_err(
			    "health: cannot schedule deregister_after; instances are not removed");
	}
	for (size_t i = 0; i < h->n_insts; i++) {
		struct hinst *in = &h->insts[i];

		if (!in->timer || in->first_due_ms == FIRST_NONE)
			continue;
		if (in->first_due_ms == FIRST_RANDOM && h->svcs[in->svc].cfg.type == CHECK_TTL)
			arm(in, h->svcs[in->svc].cfg.ttl_ms); /* its first heartbeat is due */
		else if (in->first_due_ms == FIRST_RANDOM)
			arm(in, health_sched_first_delay(&h->rng, &h->svcs[in->svc].cfg));
		else
			arm(in, in->first_due_ms - now);
	}
	return 0;
}

static int same_addr(const struct hinst *a, const struct hinst *b)
{
	return a->port == b->port && registry_addr_cmp(&a->raddr, &b->raddr) == 0;
}

/* An index of the old checker for health_take_over(), built once so that a
 * reload costs O(services + instances) rather than a scan of the old
 * registry per instance. Open addressing, load at most 1/2; a slot holds an
 * index + 1, 0 when empty. Only the first of equal keys is indexed, which is
 * the one a scan in registry order would find. Built only when a guess
 * fails (see health_take_over()). */
struct old_index {
	int built;
	uint32_t *svc; /* old->svcs, by name; NULL: scan instead */
	size_t svc_mask;
	uint32_t *inst; /* old->insts, by (service index, name) */
	size_t inst_mask;
};

#define OLD_NONE SIZE_MAX

static uint64_t hash_name(const char *name, uint64_t h)
{
	/* FNV-1a, then a splitmix64 finalizer so the low bits (the slot) mix well */
	h ^= 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static size_t index_slots(size_t n)
{
	size_t cap = 2;

	while (cap < 2 * n)
		cap *= 2;
	return cap;
}

/* The slot of the old service named name, or of the empty slot ending its probe. */
static uint32_t *svc_slot(const struct old_index *ix, const struct health *old, const char *name)
{
	size_t i = hash_name(name, 0) & ix->svc_mask;

	while (ix->svc[i] && strcmp(old->svcs[ix->svc[i] - 1].name, name) != 0)
		i = (i + 1) & ix->svc_mask;
	return &ix->svc[i];
}

static uint32_t *inst_slot(const struct old_index *ix, const struct health *old, size_t svc,
                           const char *name)
{
	size_t i = hash_name(name, svc + 1) & ix->inst_mask;

	for (;;) {
		const struct hinst *oi;

		if (!ix->inst[i])
			break;
		oi = &old->insts[ix->inst[i] - 1];
		if (oi->svc == svc && strcmp(oi->name, name) == 0)
			break;
		i = (i + 1) & ix->inst_mask;
	}
	return &ix->inst[i];
}

/* Indexes old; leaves ix->svc NULL (callers then scan) when out of memory,
 * as a reload must not fail here. */
static void old_index_build(struct old_index *ix, const struct health *old)
{
	size_t ns = index_slots(old->n_svcs), ni = index_slots(old->n_insts);

	if (ix->built)
		return;
	ix->built = 1;
	ix->svc = calloc(ns, sizeof(*ix->svc));
	ix->inst = calloc(ni, sizeof(*ix->inst));
	if (!ix->svc || !ix->inst) {
		log_warn("health: out of memory for the reload index; scanning instead");
		goto fail;
	}
	ix->svc_mask = ns - 1;
	ix->inst_mask = ni - 1;
	for (size_t i = 0; i < old->n_svcs; i++) {
		uint32_t *slot = svc_slot(ix, old, old->svcs[i].name);

		if (!*slot)
			*slot = (uint32_t)i + 1;
	}
	for (size_t i = 0; i < old->n_insts; i++) {
		const struct hinst *oi = &old->insts[i];
		uint32_t *slot = inst_slot(ix, old, oi->svc, oi->name);

		if (!*slot)
			*slot = (uint32_t)i + 1;
	}
	return;
fail:
	free(ix->svc);
	free(ix->inst);
	ix->svc = NULL;
	ix->inst = NULL;
}

static void old_index_free(struct old_index *ix)
{
	free(ix->svc);
	free(ix->inst);
}

/* The index of the first old service named name, or OLD_NONE. guess is
 * where it most likely is: names are unique in a registry (load.c refuses
 * duplicates) and a change keeps the order of what it does not touch, so
 * the one after the last found nearly always matches, and the index is
 * built only when one does not. */
static size_t find_old_svc(struct old_index *ix, const struct health *old, size_t guess,
                           const char *name)
{
	if (guess < old->n_svcs && strcmp(old->svcs[guess].name, name) == 0)
		return guess;
	old_index_build(ix, old);
	if (ix->svc) {
		uint32_t v = *svc_slot(ix, old, name);
		return v ? v - 1 : OLD_NONE;
	}
	for (size_t i = 0; i < old->n_svcs; i++)
		if (strcmp(old->svcs[i].name, name) == 0)
			return i;
	return OLD_NONE;
}

/* The first instance named name of old service svc, or NULL; guess: its
 * likely position in the service (as for find_old_svc()). */
static struct hinst *find_old_inst(struct old_index *ix, struct health *old, size_t svc,
                                   size_t guess, const char *name)
{
	const struct hsvc *os = &old->svcs[svc];

	if (guess < os->n && strcmp(old->insts[os->first + guess].name, name) == 0)
		return &old->insts[os->first + guess];
	old_index_build(ix, old);
	if (ix->inst) {
		uint32_t v = *inst_slot(ix, old, svc, name);
		return v ? &old->insts[v - 1] : NULL;
	}
	for (size_t j = 0; j < os->n; j++)
		if (strcmp(old->insts[os->first + j].name, name) == 0)
			return &old->insts[os->first + j];
	return NULL;
}

/* Moves the state, schedule and probe of oi into in (not yet started). */
static void carry(struct health *h, struct hinst *in, struct health *old, struct hinst *oi,
                  int64_t now)
{
	health_machine_copy(&h->inst_state[in->id], &h->svc_state[in->svc],
	                    &old->inst_state[oi->id]);
	in->expired_told = oi->expired_told;
	if (!in->timer)
		return;
	in->started_ms = oi->started_ms;
	if (oi->has_result && !in->has_result) {
		in->has_result = 1;
		h->svcs[in->svc].pending--;
		h->pending--;
	}
	if (oi->probe) {
		in->probe = oi->probe;
		in->ticket = oi->ticket;
		in->ticket->in = in;
		oi->probe = NULL;
		oi->ticket = NULL;
		in->first_due_ms = FIRST_NONE;
		h->lim.in_flight++;
	} else if (oi->due_ms >= 0) {
		in->first_due_ms = oi->due_ms;
	} else if (h->svcs[in->svc].cfg.type == CHECK_TTL) {
		/* a ttl instance without a deadline failed by its own word */
		in->first_due_ms = FIRST_NONE;
	} else {
		/* it waited for a probe slot: due now */
		in->first_due_ms = now;
	}
}

size_t health_take_over(struct health *h, struct health *old)
{
	int64_t now = mono_ms();
	size_t n = 0;
	struct old_index ix = {0};

	h->counters = old->counters;
	memcpy(h->events, old->events, sizeof(h->events));
	h->n_events = old->n_events;
	h->local_failures = old->local_failures;
	h->local_last_ms = old->local_last_ms;
	health_set_max_inflight(h, old->max_inflight);
	for (size_t i = 0, guess = 0; i < h->n_svcs; i++) {
		struct hsvc *s = &h->svcs[i];
		size_t os = find_old_svc(&ix, old, guess, s->name), ij = 0;

		if (os != OLD_NONE)
			guess = os + 1;
		/* a changed check starts the service's instances afresh */
		if (os != OLD_NONE && !registry_check_equal(&old->svcs[os].cfg, &s->cfg))
			os = OLD_NONE;
		for (size_t j = 0; os != OLD_NONE && j < s->n; j++) {
			struct hinst *in = &h->insts[s->first + j];
			struct hinst *oi = find_old_inst(&ix, old, os, ij, in->name);

			if (oi)
				ij = oi->id - old->svcs[os].first + 1;
			if (oi && same_addr(oi, in)) {
				carry(h, in, old, oi, now);
				n++;
			}
		}
		health_machine_panic(&h->svc_state[i], s->n, s->panic_threshold, s->pending);
	}
	old_index_free(&ix);
	/* old keeps its state arrays for a table that may still read them,
	 * but runs nothing more */
	old->on_change = NULL;
	old->expire_fn = NULL;
	if (old->expire_timer)
		event_del(old->expire_timer);
	for (size_t i = 0; i < old->n_insts; i++) {
		struct hinst *oi = &old->insts[i];

		health_probe_cancel(oi->probe);
		if (oi->ticket)
			check_config_release(&oi->ticket->cfg);
		free(oi->ticket);
		oi->probe = NULL;
		oi->ticket = NULL;
		if (oi->timer)
			event_del(oi->timer);
		oi->due_ms = -1;
	}
	return n;
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

void health_cells(struct health *h, const struct health_inst **inst, size_t *n_inst,
                  const struct health_svc **svc, size_t *n_svc)
{
	*inst = h->inst_state;
	*n_inst = h->n_insts;
	*svc = h->svc_state;
	*n_svc = h->n_svcs;
}

struct health_svc *health_service(struct health *h, size_t svc)
{
	return svc < h->n_svcs ? &h->svc_state[svc] : NULL;
}

void health_get_counters(const struct health *h, struct health_counters *out)
{
	*out = h->counters;
}

const char *health_outcome_name(enum health_outcome outcome)
{
	switch (outcome) {
	case HEALTH_OUTCOME_PASS:
		return "pass";
	case HEALTH_OUTCOME_FAIL:
		return "fail";
	case HEALTH_OUTCOME_TIMEOUT:
		return "timeout";
	case HEALTH_OUTCOME_ERROR:
		return "error";
	case HEALTH_OUTCOMES:
		break;
	}
	return "?";
}

void health_free(struct health *h)
{
	if (!h)
		return;
	for (size_t i = 0; h->insts && i < h->n_insts; i++) {
		struct hinst *in = &h->insts[i];

		health_probe_cancel(in->probe);
		if (in->ticket)
			check_config_release(&in->ticket->cfg);
		free(in->ticket);
		if (in->timer)
			event_free(in->timer);
		free(in->name);
	}
	for (size_t i = 0; h->svcs && i < h->n_svcs; i++) {
		free(h->svcs[i].name);
		check_config_release(&h->svcs[i].cfg);
	}
	health_limiter_free(&h->lim);
	if (h->expire_timer)
		event_free(h->expire_timer);
	free(h->insts);
	free(h->inst_state);
	free(h->svcs);
	free(h->svc_state);
	free(h);
}

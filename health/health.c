/* SPDX-License-Identifier: BSD-3-Clause */
/* health.c: the checker's libevent glue: one timer per checked instance,
 * the in-flight bound, probes wired to the state machine, and the logs.
 *
 * Everything runs on the one event base given to health_create() (the main
 * thread's); DNS workers only read the struct health_inst / health_svc
 * cells. An instance's timer is re-armed only once its probe reported, so
 * an instance has at most one probe in flight or waiting.
 *
 * Each service is a block of its own (struct hsvc: its instances, their
 * cells and its own), so that a change keeps the blocks of the services it
 * did not touch, with their cells where the answer table points and their
 * probes running, and builds only the others (health_update()).
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

struct hinst;

struct hsvc {
	struct health *h;
	char *name;
	struct check_config cfg;
	double panic_threshold;
	uint64_t digest;                /* registry_service_digest() it was made from */
	const struct reg_service *from; /* the registry's service: held, compared, not read */
	size_t n;                       /* instances */
	size_t pending;                 /* checked instances without a first result */
	struct hinst *insts;            /* n */
	struct health_inst *cells;      /* n, read by workers */
	struct health_svc cell;         /* read by workers */
	struct hsvc *hash_next;         /* h->by_name chain */
	uint64_t number;                /* unique: which block a table is bound to */
	int started;
	int pending_counted; /* its pending are in h->pending */
	uint64_t kept_gen;   /* kept by name by update number kept_gen */
	/* the served set's share of this block: the XOR of the keys of its
	 * served instances, and of its panic key while in panic; in
	 * h->served_hash while in_served */
	uint64_t served_hash;
	int in_served;
};

/* The callback argument of a probe, with its own copy of the check: a
 * change may hand a probe in flight to the instance's successor in a new
 * service block, and the old block (whose config the probe would otherwise
 * borrow) may be freed before the probe ends. */
struct probe_ticket {
	struct hinst *in;
	struct check_config cfg;
};

struct hinst {
	struct hsvc *s;
	uint64_t key;             /* served-set key: a hash of the service's and its name */
	struct health_inst *cell; /* &s->cells[its index] */
	char *name;
	struct reg_addr raddr; /* identity across changes, with port */
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
	int64_t first_due_ms;        /* for starting: FIRST_* or a monotonic time */
	int has_result;
	int expired_told; /* deregister_after reported for this failing spell */
	/* waiting for a probe slot (the in-flight bound): a FIFO */
	struct hinst *wait_prev, *wait_next;
	int waiting;
};

#define FIRST_RANDOM -1 /* a random offset within the interval */
#define FIRST_NONE   -2 /* a probe taken over is in flight: it arms the timer */

struct health {
	struct event_base *base;
	health_change_fn on_change;
	void *arg;
	struct health_rng rng;
	size_t max_inflight, in_flight;
	struct hinst *wait_head, *wait_tail; /* due, waiting for a slot */
	struct hsvc **svcs;                  /* in registry order */
	const struct reg_service **froms;    /* svcs[i]->from, side by side: compared by updates */
	uint64_t *numbers;                   /* svcs[i]->number, side by side: read by bindings */
	size_t n_svcs;
	uint64_t update_gen;
	size_t n_expiring; /* blocks with deregister_after */
	size_t n_insts;
	struct hsvc **by_name; /* chains through hash_next */
	size_t by_name_mask;
	size_t pending; /* over all services */
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
	int expiring;    /* some service has deregister_after */
	uint64_t blocks; /* service blocks made, to number them */
	/* the served set (which instances are served, which services in
	 * panic) as a hash kept up to date by every change: the daemon
	 * compares it instead of every instance (health_served_hash()) */
	uint64_t served_hash;
};

/* Service blocks a change dropped: probing nothing, their cells still
 * readable until health_garbage_free(). */
struct health_garbage {
	struct hsvc **svcs;
	size_t n;
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
		log_err("%s/%s: cannot schedule the next check", in->s->name, in->name);
}

/* The in-flight bound (HEALTH_MAX_INFLIGHT): a due probe starts if a slot
 * is free, else waits in a FIFO; one ending starts the first waiting. */
static void wait_remove(struct health *h, struct hinst *in)
{
	if (!in->waiting)
		return;
	if (in->wait_prev)
		in->wait_prev->wait_next = in->wait_next;
	else
		h->wait_head = in->wait_next;
	if (in->wait_next)
		in->wait_next->wait_prev = in->wait_prev;
	else
		h->wait_tail = in->wait_prev;
	in->wait_prev = in->wait_next = NULL;
	in->waiting = 0;
}

static void start_probe(struct hinst *in);

/* A probe ended (or never started): the first waiting one takes its slot. */
static void slot_done(struct health *h)
{
	struct hinst *next = h->wait_head;

	if (h->in_flight > 0)
		h->in_flight--;
	if (!next)
		return;
	wait_remove(h, next);
	h->in_flight++;
	start_probe(next);
}

static void on_probe(int pass, const char *text, void *arg);
static uint64_t served_key(const char *svc, const char *inst);

/* Starts the probe of an instance that has a slot. */
static void start_probe(struct hinst *in)
{
	struct hsvc *s = in->s;
	struct health *h = s->h;
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
	slot_done(h);
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
	struct hinst *in = arg;
	struct health *h = in->s->h;

	(void)fd;
	(void)what;
	in->due_ms = -1;
	if (h->in_flight < h->max_inflight) {
		h->in_flight++;
		start_probe(in);
		return;
	}
	in->waiting = 1;
	in->wait_prev = h->wait_tail;
	in->wait_next = NULL;
	if (h->wait_tail)
		h->wait_tail->wait_next = in;
	else
		h->wait_head = in;
	h->wait_tail = in;
}

static void log_panic(struct hsvc *s)
{
	uint32_t served = atomic_load(&s->cell.n_served);

	if (atomic_load(&s->cell.panic))
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
	struct hsvc *s = in->s;

	h->local_last_ms = mono_ms();
	if (h->local_failures++ == 0)
		log_warn("health: %s/%s: cannot probe: %s; probes that cannot get a socket are "
		         "retried after their interval and leave the health state as it is "
		         "(logged again once they get sockets for %d s)",
		         s->name, in->name, text, HEALTH_LOCAL_QUIET_MS / 1000);
	log_debug("%s/%s: not probed: %s", s->name, in->name, text);
	arm(in, health_sched_period(&h->rng, &s->cfg, atomic_load(&in->cell->status)));
	slot_done(h);
}

/* Applies one result to an instance: the state machine, the logs, the
 * first round, panic, and the change callback. Returns the status after. */
static enum health_status judge(struct health *h, struct hinst *in, uint32_t rise, uint32_t fall,
                                int pass, const char *text, int64_t took_ms)
{
	struct hsvc *s = in->s;
	struct health_inst *st = in->cell;
	enum health_status from, to;
	int changed, notify = 0;

	changed = health_machine_apply(st, &s->cell, rise, fall, pass, text, real_ms(), &from);
	if (changed & HEALTH_CHANGED_SERVED) {
		s->served_hash ^= in->key;
		if (s->in_served)
			h->served_hash ^= in->key;
	}
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
	if (health_machine_panic(&s->cell, s->n, s->panic_threshold, s->pending)) {
		uint64_t k = served_key(s->name, NULL);

		s->served_hash ^= k;
		if (s->in_served)
			h->served_hash ^= k;
		log_panic(s);
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
	struct hsvc *s = in->s;
	struct health *h = s->h;
	enum health_status to;
	int64_t now = mono_ms();

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
	slot_done(h);
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
	struct health *h = in->s->h;
	char ttl[32], text[64];

	(void)fd;
	(void)what;
	in->due_ms = -1;
	ttl_text(in->s->cfg.ttl_ms, ttl, sizeof(ttl));
	snprintf(text, sizeof(text), "ttl: no heartbeat for %s", ttl);
	h->counters.probes[CHECK_TTL][HEALTH_OUTCOME_TIMEOUT]++;
	judge(h, in, 1, 1, 0, text, 0);
}

int health_heartbeat(struct health *h, size_t svc, size_t inst, int pass, const char *note)
{
	struct hsvc *s;
	struct hinst *in;
	const char *text = note && note[0] ? note : pass ? "ttl: pass" : "ttl: fail";

	if (svc >= h->n_svcs || inst >= h->svcs[svc]->n)
		return -ENOENT;
	s = h->svcs[svc];
	if (s->cfg.type != CHECK_TTL)
		return -EINVAL;
	in = &s->insts[inst];
	h->counters.probes[CHECK_TTL][pass ? HEALTH_OUTCOME_PASS : HEALTH_OUTCOME_FAIL]++;
	if (pass) {
		arm(in, s->cfg.ttl_ms);
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

/* The served set's key of an instance (inst) or a service's panic (NULL):
 * by names, so that a block that replaces another with the same served
 * instances adds the same. */
static uint64_t served_key(const char *svc, const char *inst)
{
	uint64_t x = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)svc; *p; p++)
		x = (x ^ *p) * 0x100000001b3ULL;
	x = (x ^ 0xff) * 0x100000001b3ULL; /* no name has this byte */
	for (const unsigned char *p = (const unsigned char *)(inst ? inst : ""); *p; p++)
		x = (x ^ *p) * 0x100000001b3ULL;
	if (!inst)
		x = (x ^ 0xfe) * 0x100000001b3ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Recomputes s's share of the served set (after a take-over, at its
 * creation) and keeps h's in step. */
static void svc_served_rehash(struct hsvc *s)
{
	uint64_t x = atomic_load(&s->cell.panic) ? served_key(s->name, NULL) : 0;

	for (size_t i = 0; i < s->n; i++)
		if (atomic_load(&s->cells[i].served))
			x ^= s->insts[i].key;
	if (s->in_served)
		s->h->served_hash ^= s->served_hash ^ x;
	s->served_hash = x;
}

/* s joins (1) or leaves (0) the served set h counts. */
static void svc_served_count(struct hsvc *s, int in)
{
	if (s->in_served == in)
		return;
	s->h->served_hash ^= s->served_hash;
	s->in_served = in;
}

uint64_t health_served_hash(const struct health *h)
{
	return h->served_hash;
}

/* Stops everything s runs: probes cancelled, timers off, out of the FIFO
 * (a probe moved to a successor is no longer s's). */
static void svc_stop(struct hsvc *s)
{
	struct health *h = s->h;

	for (size_t i = 0; i < s->n; i++) {
		struct hinst *in = &s->insts[i];

		if (in->probe) {
			health_probe_cancel(in->probe);
			if (h->in_flight > 0)
				h->in_flight--;
		}
		if (in->ticket)
			check_config_release(&in->ticket->cfg);
		free(in->ticket);
		in->probe = NULL;
		in->ticket = NULL;
		wait_remove(h, in);
		if (in->timer)
			event_del(in->timer);
		in->due_ms = -1;
	}
}

static void svc_free(struct hsvc *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->insts && i < s->n; i++) {
		struct hinst *in = &s->insts[i];

		health_probe_cancel(in->probe);
		if (in->ticket)
			check_config_release(&in->ticket->cfg);
		free(in->ticket);
		if (in->timer)
			event_free(in->timer);
		free(in->name);
	}
	free(s->name);
	check_config_release(&s->cfg);
	registry_service_unref((struct reg_service *)s->from);
	free(s->insts);
	free(s->cells);
	free(s);
}

/* The block of service rs, in its start state: unchecked (or passing for
 * check type none), not started. NULL on out of memory. */
static struct hsvc *svc_new(struct health *h, const struct reg_service *rs, int64_t now)
{
	struct hsvc *s = calloc(1, sizeof(*s));
	int checked = rs->check.type != CHECK_NONE;

	if (!s)
		return NULL;
	s->h = h;
	s->number = ++h->blocks;
	s->n = rs->n_instances;
	/* held, so that no other service can take its address while the
	 * block compares itself with it (health_update()) */
	registry_service_ref((struct reg_service *)rs);
	s->from = rs;
	s->digest = registry_service_digest(rs);
	s->panic_threshold = rs->panic_threshold;
	s->name = strdup(rs->name);
	s->insts = calloc(s->n + 1, sizeof(*s->insts));
	s->cells = calloc(s->n + 1, sizeof(*s->cells));
	check_config_copy(&s->cfg, &rs->check);
	if (!s->name || !s->insts || !s->cells)
		goto fail;
	for (size_t j = 0; j < rs->n_instances; j++) {
		const struct reg_instance *ri = &rs->instances[j];
		struct hinst *in = &s->insts[j];

		in->s = s;
		in->cell = &s->cells[j];
		in->raddr = *registry_check_addr(ri);
		in->port = ri->port;
		in->due_ms = -1;
		in->first_due_ms = FIRST_RANDOM;
		in->name = strdup(ri->name);
		if (!in->name)
			goto fail;
		in->key = served_key(rs->name, ri->name);
		health_machine_init(in->cell, &s->cell, checked, now);
		/* drained: still checked, never served */
		health_machine_drain(in->cell, &s->cell, registry_maintenance_of(rs, ri) != NULL);
		if (!checked)
			continue;
		if (sockaddr_of(ri, rs->check.port ? rs->check.port : ri->port, in, &in->addr_len) <
		    0)
			goto fail;
		in->timer =
		    evtimer_new(h->base, rs->check.type == CHECK_TTL ? on_ttl_due : on_due, in);
		if (!in->timer)
			goto fail;
		s->pending++;
	}
	health_machine_panic(&s->cell, s->n, s->panic_threshold, s->pending);
	svc_served_rehash(s);
	return s;
fail:
	svc_free(s);
	return NULL;
}

/* Arms the timers of a service block not started yet. */
static void svc_start(struct hsvc *s)
{
	struct health *h = s->h;
	int64_t now = mono_ms();

	if (s->started)
		return;
	s->started = 1;
	for (size_t i = 0; i < s->n; i++) {
		struct hinst *in = &s->insts[i];

		if (!in->timer || in->first_due_ms == FIRST_NONE)
			continue;
		if (in->first_due_ms == FIRST_RANDOM && s->cfg.type == CHECK_TTL)
			arm(in, s->cfg.ttl_ms); /* its first heartbeat is due */
		else if (in->first_due_ms == FIRST_RANDOM)
			arm(in, health_sched_first_delay(&h->rng, &s->cfg));
		else
			arm(in, in->first_due_ms - now);
	}
}

/* The services by name (the blocks of h->svcs). */
static size_t name_hash(const char *name)
{
	uint64_t x = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		x = (x ^ *p) * 0x100000001b3ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	return (size_t)(x ^ (x >> 31));
}

/* Indexes svcs[0..n) by name; 0 or -ENOMEM (then h keeps its index). */
static int index_names(struct health *h, struct hsvc **svcs, size_t n)
{
	size_t size = 16;
	struct hsvc **slots;

	while (size < 2 * n)
		size *= 2;
	if (h->by_name && size == h->by_name_mask + 1) {
		memset(h->by_name, 0, size * sizeof(*slots));
		slots = h->by_name;
	} else if (!(slots = calloc(size, sizeof(*slots)))) {
		return -ENOMEM;
	}
	if (slots != h->by_name)
		free(h->by_name);
	h->by_name = slots;
	h->by_name_mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		struct hsvc **b = &slots[name_hash(svcs[i]->name) & h->by_name_mask];

		svcs[i]->hash_next = *b;
		*b = svcs[i];
	}
	return 0;
}

static struct hsvc *find_name(const struct health *h, const char *name)
{
	struct hsvc *s;

	if (!h->by_name)
		return NULL;
	for (s = h->by_name[name_hash(name) & h->by_name_mask]; s; s = s->hash_next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

int health_create(struct event_base *base, const struct registry *reg, health_change_fn on_change,
                  void *arg, struct health **out)
{
	struct health *h;
	int64_t now = real_ms();
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
	h->svcs = calloc(reg->n_services + 1, sizeof(*h->svcs));
	h->froms = calloc(reg->n_services + 1, sizeof(*h->froms));
	h->numbers = calloc(reg->n_services + 1, sizeof(*h->numbers));
	if (!h->svcs || !h->froms || !h->numbers)
		goto fail;
	for (size_t i = 0; i < reg->n_services; i++) {
		struct hsvc *s = svc_new(h, reg->services[i], now);

		if (!s) {
			r = reg->services[i]->n_instances ? -ENOMEM : -ENOMEM;
			goto fail;
		}
		if (check_tls_unverified(&s->cfg))
			log_warn("%s: check.tls.verify is false: its instances' certificates are "
			         "not verified",
			         s->name);
		h->froms[h->n_svcs] = reg->services[i];
		h->numbers[h->n_svcs] = s->number;
		h->svcs[h->n_svcs++] = s;
		svc_served_count(s, 1);
		h->n_expiring += s->cfg.deregister_after_ms != 0;
		h->n_insts += s->n;
		h->pending += s->pending;
		s->pending_counted = 1;
		h->expiring |= s->cfg.deregister_after_ms != 0;
	}
	if (index_names(h, h->svcs, h->n_svcs) < 0)
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

	(void)fd;
	(void)what;
	for (size_t i = 0; i < h->n_svcs && h->expire_fn; i++) {
		struct hsvc *s = h->svcs[i];

		for (size_t j = 0; s->cfg.deregister_after_ms && j < s->n; j++) {
			struct hinst *in = &s->insts[j];
			const struct health_inst *st = in->cell;
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
			/* the callee may have changed h (a removal): look again next second */
			return;
		}
	}
}

/* The once-a-second look for deregister_after, while a service has one. */
static void expire_timer_set(struct health *h)
{
	struct timeval second = {1, 0};

	if (!h->started || !h->expiring || !h->expire_fn || h->expire_timer)
		return;
	h->expire_timer = event_new(h->base, -1, EV_PERSIST, on_expire_look, h);
	if (!h->expire_timer || event_add(h->expire_timer, &second) < 0)
		log_err("health: cannot schedule deregister_after; instances are not removed");
}

int health_start(struct health *h)
{
	if (h->started)
		return 0;
	h->started = 1;
	expire_timer_set(h);
	for (size_t i = 0; i < h->n_svcs; i++)
		svc_start(h->svcs[i]);
	return 0;
}

static int same_addr(const struct hinst *a, const struct hinst *b)
{
	return a->port == b->port && registry_addr_cmp(&a->raddr, &b->raddr) == 0;
}

/* Moves the state, schedule and probe of oi into in (not yet started). */
static void carry(struct hinst *in, struct hinst *oi, int64_t now)
{
	struct hsvc *s = in->s;

	health_machine_copy(in->cell, &s->cell, oi->cell);
	in->expired_told = oi->expired_told;
	if (!in->timer)
		return;
	in->started_ms = oi->started_ms;
	if (oi->has_result && !in->has_result) {
		in->has_result = 1;
		s->pending--; /* not in h->pending yet: health_update() adds it */
	}
	if (oi->probe) {
		in->probe = oi->probe;
		in->ticket = oi->ticket;
		in->ticket->in = in;
		oi->probe = NULL;
		oi->ticket = NULL;
		in->first_due_ms = FIRST_NONE; /* still in flight: its slot stays taken */
	} else if (oi->due_ms >= 0 || oi->waiting) {
		/* waiting for a slot: due now */
		in->first_due_ms = oi->waiting ? now : oi->due_ms;
	} else if (s->cfg.type == CHECK_TTL) {
		/* a ttl instance without a deadline failed by its own word */
		in->first_due_ms = FIRST_NONE;
	} else {
		in->first_due_ms = now;
	}
}

/* The first instance of os named name; guess: its likely index. */
static struct hinst *find_inst(struct hsvc *os, size_t guess, const char *name)
{
	if (guess < os->n && strcmp(os->insts[guess].name, name) == 0)
		return &os->insts[guess];
	for (size_t j = 0; j < os->n; j++)
		if (strcmp(os->insts[j].name, name) == 0)
			return &os->insts[j];
	return NULL;
}

/* s (new) takes over what it can of os (the block of the same name it
 * replaces): each instance of the same name, address and port, as long as
 * the check is the same. Returns how many. */
static size_t take_over_svc(struct hsvc *s, struct hsvc *os, int64_t now)
{
	size_t n = 0, guess = 0;

	if (!os || !registry_check_equal(&os->cfg, &s->cfg))
		return 0; /* a changed check starts the service's instances afresh */
	/* few instances per service; many: their own index would pay */
	for (size_t j = 0; j < s->n; j++) {
		struct hinst *in = &s->insts[j];
		struct hinst *oi = find_inst(os, guess, in->name);

		if (oi)
			guess = (size_t)(oi - os->insts) + 1;
		if (oi && same_addr(oi, in)) {
			carry(in, oi, now);
			n++;
		}
	}
	health_machine_panic(&s->cell, s->n, s->panic_threshold, s->pending);
	svc_served_rehash(s);
	return n;
}

/* Takes s out of its h->by_name chain. */
static void unindex_name(struct health *h, struct hsvc *s)
{
	struct hsvc **p;

	if (!h->by_name)
		return;
	for (p = &h->by_name[name_hash(s->name) & h->by_name_mask]; *p; p = &(*p)->hash_next)
		if (*p == s) {
			*p = s->hash_next;
			return;
		}
}

static void index_name(struct health *h, struct hsvc *s)
{
	struct hsvc **b = &h->by_name[name_hash(s->name) & h->by_name_mask];

	s->hash_next = *b;
	*b = s;
}

int health_update(struct health *h, const struct registry *reg, size_t *kept,
                  struct health_garbage **gone)
{
	struct hsvc **svcs = calloc(reg->n_services + 1, sizeof(*svcs));
	const struct reg_service **froms = calloc(reg->n_services + 1, sizeof(*froms));
	uint64_t *numbers = calloc(reg->n_services + 1, sizeof(*numbers));
	struct hsvc **fresh = calloc(reg->n_services + 1, sizeof(*fresh));
	struct health_garbage *g = calloc(1, sizeof(*g));
	uint8_t *used = calloc(h->n_svcs + 1, 1);
	int64_t now = real_ms(), mono = mono_ms();
	size_t cursor = 0, n_fresh = 0, n_gone = 0, fresh_insts = 0, carried = 0, misses = 0;
	uint64_t gen = ++h->update_gen;

	*gone = NULL;
	*kept = 0;
	if (!svcs || !froms || !numbers || !fresh || !g || !used)
		goto oom;
	/* 1. the blocks that stay: the same service of the registry, in
	 * order (a change keeps the others' order: the next one nearly
	 * always; compared in h->froms, not in the blocks, so that a change
	 * reads no block it keeps), else one of the same name and digest (a
	 * full load); the others are built anew */
	for (size_t j = 0; j < reg->n_services; j++) {
		const struct reg_service *rs = reg->services[j];
		struct hsvc *s;

		froms[j] = rs;
		/* past blocks the change dropped (a file's services leave
		 * together): a look a little further, while it keeps finding */
		for (size_t k = cursor, end = misses > 8 ? cursor + 1 : cursor + 1024;
		     k < end && k < h->n_svcs; k++)
			if (h->froms[k] == rs) {
				cursor = k;
				break;
			}
		if (cursor < h->n_svcs && h->froms[cursor] == rs) {
			used[cursor] = 1;
			numbers[j] = h->numbers[cursor];
			svcs[j] = h->svcs[cursor++];
			misses = 0;
			continue;
		}
		misses++;
		s = find_name(h, rs->name);
		if (s && s->kept_gen != gen && s->digest == registry_service_digest(rs)) {
			s->kept_gen = gen;
			numbers[j] = s->number;
			svcs[j] = s;
			continue;
		}
		if (!(svcs[j] = svc_new(h, rs, now)))
			goto oom;
		numbers[j] = svcs[j]->number;
		fresh[n_fresh++] = svcs[j];
		fresh_insts += svcs[j]->n;
	}
	if (!(g->svcs = calloc(h->n_svcs + 1, sizeof(*g->svcs))))
		goto oom;
	/* 2. nothing fails from here on: each new block takes over from the
	 * block of its name (which no other service of reg can keep: names
	 * are unique), then the blocks left stop */
	for (size_t k = 0; k < n_fresh; k++) {
		struct hsvc *os = find_name(h, fresh[k]->name);

		if (os && os->kept_gen != gen)
			carried += take_over_svc(fresh[k], os, mono);
	}
	for (size_t i = 0; i < h->n_svcs; i++) {
		struct hsvc *s = h->svcs[i];

		if (used[i] || s->kept_gen == gen)
			continue;
		svc_stop(s);
		svc_served_count(s, 0);
		unindex_name(h, s);
		h->pending -= s->pending;
		h->n_insts -= s->n;
		h->n_expiring -= s->cfg.deregister_after_ms != 0;
		g->svcs[n_gone++] = s;
	}
	g->n = n_gone;
	/* a block found by name holds the registry's service it now stands for */
	for (size_t j = 0; j < reg->n_services; j++) {
		struct hsvc *s = svcs[j];

		if (s->kept_gen == gen && s->from != froms[j]) {
			registry_service_ref((struct reg_service *)froms[j]);
			registry_service_unref((struct reg_service *)s->from);
			s->from = froms[j];
		}
	}
	free(h->svcs);
	free(h->froms);
	free(h->numbers);
	h->svcs = svcs;
	h->froms = froms;
	h->numbers = numbers;
	h->n_svcs = reg->n_services;
	for (size_t k = 0; k < n_fresh; k++) {
		struct hsvc *s = fresh[k];

		h->n_insts += s->n;
		h->n_expiring += s->cfg.deregister_after_ms != 0;
		h->pending += s->pending;
		s->pending_counted = 1;
		svc_served_count(s, 1);
		if (check_tls_unverified(&s->cfg))
			log_warn("%s: check.tls.verify is false: its instances' certificates are "
			         "not verified",
			         s->name);
		if (h->started)
			svc_start(s);
	}
	/* the index of names: the new blocks join, growing it when full */
	if (h->n_svcs > h->by_name_mask + 1) {
		if (index_names(h, h->svcs, h->n_svcs) < 0)
			log_warn("health: out of memory for the index of services");
	} else {
		for (size_t k = 0; k < n_fresh; k++)
			index_name(h, fresh[k]);
	}
	h->expiring = h->n_expiring > 0;
	expire_timer_set(h);
	*kept = h->n_insts - fresh_insts + carried;
	free(fresh);
	free(used);
	*gone = g;
	return 0;
oom:
	for (size_t k = 0; fresh && k < n_fresh; k++)
		svc_free(fresh[k]);
	free(svcs);
	free(froms);
	free(numbers);
	free(fresh);
	free(used);
	if (g)
		free(g->svcs);
	free(g);
	return -ENOMEM;
}

void health_garbage_free(struct health_garbage *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		svc_free(g->svcs[i]);
	free(g->svcs);
	free(g);
}

int health_first_round_done(const struct health *h)
{
	return h->pending == 0;
}

struct health_inst *health_instance(struct health *h, size_t svc, size_t inst)
{
	if (svc >= h->n_svcs || inst >= h->svcs[svc]->n)
		return NULL;
	return &h->svcs[svc]->cells[inst];
}

struct health_svc *health_service(struct health *h, size_t svc)
{
	return svc < h->n_svcs ? &h->svcs[svc]->cell : NULL;
}

size_t health_n_services(const struct health *h)
{
	return h->n_svcs;
}

size_t health_n_instances(const struct health *h)
{
	return h->n_insts;
}

uint64_t health_service_block(const struct health *h, size_t svc)
{
	return h->numbers[svc];
}

uint64_t health_service_cells(struct health *h, size_t svc, const struct health_inst **inst,
                              size_t *n, const struct health_svc **cell)
{
	*inst = h->svcs[svc]->cells;
	*n = h->svcs[svc]->n;
	*cell = &h->svcs[svc]->cell;
	return h->svcs[svc]->number;
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
	for (size_t i = 0; h->svcs && i < h->n_svcs; i++)
		svc_free(h->svcs[i]);
	if (h->expire_timer)
		event_free(h->expire_timer);
	free(h->svcs);
	free(h->froms);
	free(h->numbers);
	free(h->by_name);
	free(h);
}

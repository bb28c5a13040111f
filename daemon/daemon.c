/* SPDX-License-Identifier: BSD-3-Clause */
/* daemon.c: the running srvd: start-up, signals, readiness, reclamation of
 * retired tables, and the accessors of daemon.h.
 *
 * Health checker and answer table for one registry go together: the table
 * points at the checker's per-instance state. A reload (reload.c) retires
 * the old pair as one, and the pair is freed once no DNS worker holds the
 * table (checked every DAEMON_RECLAIM_MS, see the scheme in dns/server.c),
 * so a worker never reads freed table or health memory.
 */
#include "config.h"

#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>

#include "common/log.h"
#include "daemon/daemon_int.h"
#include "dns/listen/server.h"
#include "dns/listen/stats.h"
#include "dns/answer/table.h"
#include "health/health.h"
#include "registry/registry.h"
#include "registry/source.h"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG  2

int64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t daemon_count_instances(const struct registry *reg)
{
	size_t n = 0;

	for (size_t i = 0; i < reg->n_services; i++)
		n += reg->services[i]->n_instances;
	return n;
}

void daemon_apply_logging(const struct registry *reg)
{
	static const int facilities[] = {LOG_DAEMON, LOG_USER,   LOG_LOCAL0, LOG_LOCAL1,
	                                 LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5,
	                                 LOG_LOCAL6, LOG_LOCAL7};
	int s = reg->server.syslog;

	if (s > REG_SYSLOG_OFF && (size_t)(s - 1) < sizeof(facilities) / sizeof(facilities[0]))
		log_set_syslog(facilities[s - 1]);
	else
		log_set_syslog(-1);
	log_set_queries(reg->server.log_queries);
}

static uint64_t cells_of(void *arg, size_t j, const struct health_inst **inst, size_t *n,
                         const struct health_svc **svc)
{
	return inst ? health_service_cells(arg, j, inst, n, svc) : health_service_block(arg, j);
}

int daemon_bind_cells(struct dns_table *table, struct health *h)
{
	return dns_table_bind(table, health_n_instances(h), health_n_services(h), cells_of, h);
}

/* The served set changed: SOA serial up (coalesced, serial.c), so
 * secondaries and caches notice; a status change alone is news for the
 * observer only. */
void daemon_on_health_change(void *arg)
{
	daemon_serial_health_changed(arg);
	daemon_changed(arg);
}

void daemon_changed(struct daemon *d)
{
	if (d->observer)
		d->observer(d->observer_arg);
}

void daemon_observe(struct daemon *d, void (*fn)(void *arg), void *arg)
{
	d->observer = fn;
	d->observer_arg = arg;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopbreak(d->base);
}

/* A SIGHUP schedules one reload and signals until it runs join it: each
 * reload is a full parse and build on the main thread, and libevent calls
 * this once per signal caught, so 30 signals (queued while one reload ran)
 * were 30 reloads back to back, stalling the API, the health checks and
 * NOTIFY. The timer is not restarted, so a steady stream of signals still
 * reloads every DAEMON_HUP_DELAY_MS. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	const struct timeval tv = {DAEMON_HUP_DELAY_MS / 1000, (DAEMON_HUP_DELAY_MS % 1000) * 1000};

	if (evtimer_pending(d->ev_hup_reload, NULL)) {
		log_debug("SIGHUP: joins the reload already scheduled");
		return;
	}
	log_debug("SIGHUP: reload in %d ms", DAEMON_HUP_DELAY_MS);
	evtimer_add(d->ev_hup_reload, &tv);
}

static void on_hup_reload(evutil_socket_t fd, short what, void *arg)
{
	daemon_reload_full(arg); /* SIGHUP: every file, whatever changed */
	daemon_reload(arg, "SIGHUP", NULL);
}

/* The source saw its files change (after its debounce). The change names
 * what changed (the source logged which); the reload loads that alone where
 * it can (reg_source_update()). */
static void on_source_change(void *arg, const struct reg_change *change)
{
	struct daemon *d = arg;

	/* the SIGHUP reload due soon reads the files as they are then */
	if (evtimer_pending(d->ev_hup_reload, NULL))
		return;
	daemon_reload(d, change->why ? change->why : "file change", NULL);
}

/* `_ready` answers once every checked instance has a first result. */
static void on_ready_poll(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct reg_source_report shared;

	if (!health_first_round_done(d->health))
		return;
	/* a shared registry (etcd) not read yet, nor its cache: what is served
	 * is not the registry yet */
	if (reg_source_report(d->src, &shared) == 0 && !shared.synced)
		return;
	d->ready = 1;
	dns_table_set_ready(d->table, 1);
	event_del(d->ev_ready);
	daemon_serial_ready(d);
}

static void free_retired(struct daemon_retired *r)
{
	dns_table_free(r->table);
	health_garbage_free(r->garbage);
	free(r);
}

void daemon_give_back(void)
{
#ifdef HAVE_MALLOC_TRIM
	/* glibc keeps freed memory in its arenas unless the top of the heap is
	 * free: without this RSS climbed to 2.2 x steady after 80 changes of a
	 * large registry, each change's free pages held for the next one */
	malloc_trim(0);
#endif
}

static void on_reclaim(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct daemon_retired **pp = &d->retired;
	int freed = 0;

	while (*pp) {
		struct daemon_retired *r = *pp;

		if (dns_server_table_in_use(d->srv, r->table)) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		log_debug("reload: freed a retired table");
		free_retired(r);
		freed = 1;
	}
	if (freed)
		daemon_give_back();
	if (!d->retired)
		event_del(d->ev_reclaim);
}

void daemon_retire(struct daemon *d, struct dns_table *table, struct health_garbage *garbage)
{
	const struct timeval tv = {0, DAEMON_RECLAIM_MS * 1000};
	struct daemon_retired *r = calloc(1, sizeof(*r));

	if (!r) {
		/* cannot track it: leaking is safe, freeing is not */
		log_err("reload: out of memory; the old table is not freed");
		return;
	}
	r->table = table;
	r->garbage = garbage;
	r->next = d->retired;
	d->retired = r;
	if (!event_pending(d->ev_reclaim, EV_TIMEOUT, NULL))
		event_add(d->ev_reclaim, &tv);
}

const struct registry *daemon_registry(const struct daemon *d)
{
	return d->reg;
}

struct health *daemon_health(struct daemon *d)
{
	return d->health;
}

struct reg_source *daemon_source(struct daemon *d)
{
	return d->src;
}

struct dns_table *daemon_table(struct daemon *d)
{
	return d->table;
}

void daemon_dns_stats(const struct daemon *d, struct dns_server_stats *out)
{
	if (d->srv)
		dns_server_get_stats(d->srv, out);
	else
		memset(out, 0, sizeof(*out));
}

int daemon_dns_query_stats(const struct daemon *d, struct dns_stats *out)
{
	if (!d->srv)
		return -1;
	dns_server_query_stats(d->srv, out);
	return 0;
}

void daemon_reload_stats(const struct daemon *d, struct daemon_reload_stats *out)
{
	*out = d->stats;
}

void daemon_notify_stats(const struct daemon *d, struct dns_notify_stats *out)
{
	dns_notify_get_stats(d->notify, out);
}

int64_t daemon_started_ms(const struct daemon *d)
{
	return d->started_ms;
}

/* 1024 descriptors, a common default soft limit, do not hold 1024 TCP
 * clients and 256 probes: take what the hard limit allows (nginx and Knot
 * do the same), up to a bound that keeps poll-style costs sane. */
#define NOFILE_WANT 65536

static void raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want =
	    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_WANT ? NOFILE_WANT : rl.rlim_max;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_debug("cannot raise the file descriptor limit to %llu",
		          (unsigned long long)want);
}

/* Probes must leave descriptors to DNS over TCP and the API: at most a
 * quarter of the limit is spent on them, so a low `ulimit -n` slows the
 * checks down instead of starving the listeners. */
static size_t probe_bound(void)
{
	struct rlimit rl;
	size_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return HEALTH_MAX_INFLIGHT;
	n = (size_t)(rl.rlim_cur / 4);
	if (n < HEALTH_MAX_INFLIGHT)
		log_info("file descriptor limit %llu: at most %zu probes in flight",
		         (unsigned long long)rl.rlim_cur, n ? n : 1);
	return n < 1 ? 1 : n > HEALTH_MAX_INFLIGHT ? HEALTH_MAX_INFLIGHT : n;
}

/* A ttl check's result another srvd of the fleet got: applied here too. */
static void on_shared_result(void *arg, const char *service, const char *instance, int pass,
                             const char *note)
{
	struct daemon *d = arg;

	for (size_t i = 0; i < d->reg->n_services; i++) {
		const struct reg_service *s = d->reg->services[i];

		if (strcmp(s->name, service) != 0)
			continue;
		for (size_t k = 0; k < s->n_instances; k++)
			if (strcmp(s->instances[k].name, instance) == 0)
				health_heartbeat(d->health, i, k, pass, note);
		return;
	}
}

/* Puts the etcd source in front of the files source and loads through it. */
static int use_etcd(struct daemon *d, struct reg_errors *errs)
{
	struct reg_source *files = d->src;
	char err[512];

	d->src = NULL;
	if (reg_source_etcd_create(files, d->opt->config, d->reg, d->base, on_source_change, d,
	                           &d->src, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", d->opt->config, err);
		return -1;
	}
	d->src->on_result = on_shared_result;
	registry_free(d->reg);
	d->reg = NULL;
	if (reg_source_load(d->src, &d->reg, errs) < 0) {
		for (size_t i = 0; i < errs->n; i++)
			fprintf(stderr, "%s\n", errs->lines[i]);
		return -1;
	}
	return 0;
}

/* Loads the registry and builds what serves it. Returns 0 or an exit status. */
static int load_first(struct daemon *d)
{
	struct reg_errors errs = {NULL, 0};
	char err[512];
	int status = EXIT_CONFIG;

	if (reg_source_files_create(d->opt->config, d->base, on_source_change, d, &d->src) < 0) {
		log_err("out of memory");
		goto finish;
	}
	if (reg_source_load(d->src, &d->reg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		if (errs.n == 0)
			fprintf(stderr, "%s: cannot load\n", d->opt->config);
		goto finish;
	}
	/* server.registry.etcd: the etcd source serves the files and etcd */
	if (d->reg->server.n_etcd_endpoints && use_etcd(d, &errs) < 0)
		goto finish;
	/* before anything is served: root must not load what others may write */
	if (daemon_unsafe_files(d->reg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		goto finish;
	}
	daemon_apply_logging(d->reg);
	if (daemon_user_lookup(d->reg->server.user, &d->user, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto finish;
	}
	d->digest = registry_digest(d->reg);
	if (dns_table_build(d->reg, (uint32_t)time(NULL), &d->table, err, sizeof(err)) < 0) {
		log_err("%s: %s", d->opt->config, err);
		goto finish;
	}
	status = EXIT_RUNTIME;
	/* probes run on this (the main) base, never in a DNS worker; the table
	 * reads their state, so bind it before any worker answers */
	if (health_create(d->base, d->reg, daemon_on_health_change, d, &d->health) < 0) {
		log_err("cannot set up health checks: out of memory");
		goto finish;
	}
	health_set_max_inflight(d->health, probe_bound());
	health_set_expire(d->health, daemon_on_expire, d);
	if (daemon_bind_cells(d->table, d->health) < 0) {
		log_err("health state does not match the answer table");
		goto finish;
	}
	status = 0;
finish:
	registry_errors_clear(&errs);
	return status;
}

static int setup_events(struct daemon *d)
{
	const struct timeval poll_tv = {0, 20000};

	d->ev_ready = event_new(d->base, -1, EV_PERSIST, on_ready_poll, d);
	d->ev_reclaim = event_new(d->base, -1, EV_PERSIST, on_reclaim, d);
	d->ev_hup_reload = evtimer_new(d->base, on_hup_reload, d);
	if (!d->ev_ready || !d->ev_reclaim || !d->ev_hup_reload ||
	    event_add(d->ev_ready, &poll_tv) < 0) {
		log_err("out of memory");
		return -1;
	}
	/* Signals first: once a worker answers, a test or an init system may
	 * already send SIGTERM, and it must find our handler. */
	d->ev_term = evsignal_new(d->base, SIGTERM, on_stop, d);
	d->ev_int = evsignal_new(d->base, SIGINT, on_stop, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	if (!d->ev_term || !d->ev_int || !d->ev_hup || event_add(d->ev_term, NULL) < 0 ||
	    event_add(d->ev_int, NULL) < 0 || event_add(d->ev_hup, NULL) < 0) {
		log_err("cannot set up signal handling");
		return -1;
	}
	reg_source_watch(d->src, d->reg);
	return 0;
}

static void free_event(struct event *ev)
{
	if (ev)
		event_free(ev);
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	/* workers are gone after this: nothing reads any table any more */
	dns_server_free(d->srv);
	while (d->retired) {
		struct daemon_retired *r = d->retired;
		d->retired = r->next;
		free_retired(r);
	}
	reg_source_free(d->src);
	free_event(d->ev_ready);
	free_event(d->ev_reclaim);
	health_free(d->health);
	daemon_expiries_free(d);
	free_event(d->ev_term);
	free_event(d->ev_int);
	free_event(d->ev_hup);
	free_event(d->ev_hup_reload);
	daemon_serial_free(d);
	if (d->base)
		event_base_free(d->base);
	dns_table_free(d->table);
	registry_free(d->reg);
	free(d);
}

int daemon_create(const struct daemon_options *o, struct daemon **out)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct dns_server_config cfg = {0};
	char err[512];
	int status = EXIT_RUNTIME;

	*out = NULL;
	if (!d) {
		log_err("out of memory");
		return EXIT_RUNTIME;
	}
	d->opt = o;
	raise_nofile();
	d->base = event_base_new();
	if (!d->base) {
		log_err("out of memory");
		goto fail;
	}
	status = load_first(d);
	if (status != 0)
		goto fail;
	status = EXIT_RUNTIME;
	if (setup_events(d) < 0)
		goto fail;
	if (daemon_serial_init(d) < 0) {
		log_err("out of memory");
		goto fail;
	}
	cfg.listen = o->n_listen ? o->listen : d->reg->server.listen;
	cfg.n_listen = o->n_listen ? o->n_listen : d->reg->server.n_listen;
	cfg.n_workers = o->workers;
	cfg.table = d->table;
	cfg.forward = d->reg->server.forward;
	cfg.n_forward = d->reg->server.n_forward;
	cfg.forward_timeout_ms = d->reg->server.forward_timeout_ms;
	cfg.transfer_allow = d->reg->server.transfer_allow;
	cfg.n_transfer_allow = d->reg->server.n_transfer_allow;
	cfg.xfr_history = d->xfr_history; /* serial.c records a version per serial; NULL: off */
	cfg.tsig_name = d->reg->server.tsig_name;
	cfg.tsig_algorithm = d->reg->server.tsig_algorithm;
	cfg.tsig_secret = d->reg->server.tsig_secret;
	/* every socket is bound before root is dropped (daemon_serve()), and
	 * no worker, probe or reload runs before it */
	if (dns_server_create(&cfg, &d->srv, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto fail;
	}
	*out = d;
	return 0;
fail:
	daemon_free(d);
	return status;
}

struct event_base *daemon_base(struct daemon *d)
{
	return d->base;
}

int daemon_serve(struct daemon *d)
{
	char err[512];

	if (daemon_user_drop(&d->user, err, sizeof(err)) < 0 ||
	    dns_server_start(d->srv, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return EXIT_RUNTIME;
	}
	d->started_ms = daemon_now_ms();
	log_info("srvd %s serving %s: %zu services, %zu instances, %u workers", PACKAGE_VERSION,
	         d->reg->server.zone, d->reg->n_services, daemon_count_instances(d->reg),
	         d->opt->workers);
	if (health_start(d->health) < 0) {
		log_err("cannot start health checks: out of memory");
		return EXIT_RUNTIME;
	}
	on_ready_poll(-1, 0, d); /* nothing checked: ready at once */
	if (event_base_dispatch(d->base) < 0) {
		log_err("main event loop failed");
		return EXIT_RUNTIME;
	}
	dns_server_stop(d->srv);
	log_info("stopped");
	return 0;
}

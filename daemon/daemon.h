/* SPDX-License-Identifier: BSD-3-Clause */
/* daemon.h: the running srvd, the front door that wires the rooms together:
 * the registry, the answer table snapshot, the health checker, the DNS
 * server, reloads (SIGHUP, API, file watch) and signals. It knows nothing
 * of the control API: main.c creates that and hands it what it reads.
 *
 * Everything here runs on the main thread's event base; only the DNS workers
 * run elsewhere, and they see the daemon only through the published table.
 */
#ifndef SRVD_DAEMON_H
#define SRVD_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "dns/listen/server.h"
#include "dns/transfer/notify.h"

struct daemon;
struct registry;
struct reg_errors;
struct health;
struct dns_table;

/* What the command line decides (README "Command line", srvd(8)). */
struct daemon_options {
	const char *config;              /* registry YAML */
	const struct reg_listen *listen; /* -l, replacing server.listen; NULL: the file's */
	size_t n_listen;
	unsigned workers; /* DNS worker threads, 1..DNS_SERVER_WORKERS_MAX */
};

/* Loads the registry (exit 2 on errors, printed), builds the table and the
 * checker, sets up signals and the file watch, and binds every DNS socket,
 * still with the privileges srvd started with: the caller binds its own
 * sockets (the control API) before daemon_serve(). Returns 0 and sets *out
 * (free with daemon_free()), or the exit status: 1 runtime failure, 2
 * invalid configuration. Call from the main thread, after
 * evthread_use_pthreads(); o is borrowed until daemon_free(). */
int daemon_create(const struct daemon_options *o, struct daemon **out);

/* The main thread's event base: reloads, probes, signals (and whatever the
 * caller adds, such as the control API) run on it. */
struct event_base *daemon_base(struct daemon *d);

/* Drops root (server.user), starts the DNS workers and the health checks,
 * and serves until SIGTERM or SIGINT, with reloads on SIGHUP and file
 * changes. Returns the exit status: 0 clean stop, 1 runtime failure. */
int daemon_serve(struct daemon *d);

/* Stops what runs and frees; accepts NULL. */
void daemon_free(struct daemon *d);

/* Reload counters and the last outcome, for /metrics and the API. */
struct daemon_reload_stats {
	uint64_t ok;           /* reloads that published a new registry */
	uint64_t unchanged;    /* reloads that found nothing that alters an answer */
	uint64_t failed;       /* rejected: the old registry kept serving */
	int64_t last_ok_ms;    /* CLOCK_REALTIME ms, 0 = never */
	int64_t last_fail_ms;  /* CLOCK_REALTIME ms, 0 = never */
	char last_error[1024]; /* first error line of the last failed reload, "" if none */
};

/* Re-reads the registry file (and its includes and zone files), builds a new
 * table off the workers and publishes it with one atomic swap; instances
 * that survive (same service, name, address, port) keep their health state.
 * `why` names the trigger for the log ("SIGHUP", "api", "watch"). On success
 * returns 0. On failure returns -1, fills errs (may be NULL) with the same
 * lines as `srvd -t`, logs them and counts the failure; the old registry
 * keeps serving. Main thread only. */
int daemon_reload(struct daemon *d, const char *why, struct reg_errors *errs);

/* The next daemon_reload() loads every file, not only what the source saw
 * change (SIGHUP, POST /v1/reload: files edited with the watcher off). */
void daemon_reload_full(struct daemon *d);

/* The current registry, health checker and table. Valid on the main thread
 * until the next reload; borrowed. Registry and health are indexed alike
 * (service i, instance j). */
const struct registry *daemon_registry(const struct daemon *d);
struct health *daemon_health(struct daemon *d);
struct dns_table *daemon_table(struct daemon *d);
/* Where the registry comes from (registry/source.h). */
struct reg_source *daemon_source(struct daemon *d);

/* Summed counters of the DNS workers. */
void daemon_dns_stats(const struct daemon *d, struct dns_server_stats *out);

/* Summed query counters of the DNS workers (dns/stats.h: by transport and
 * qtype, malformed, latency). Returns 0, or -1 (out untouched) before the
 * workers exist. */
struct dns_stats;
int daemon_dns_query_stats(const struct daemon *d, struct dns_stats *out);

void daemon_reload_stats(const struct daemon *d, struct daemon_reload_stats *out);

/* NOTIFY counters since start (dns/transfer/notify.h), for /metrics. */
void daemon_notify_stats(const struct daemon *d, struct dns_notify_stats *out);

/* CLOCK_REALTIME ms when the daemon started serving. */
int64_t daemon_started_ms(const struct daemon *d);

/* Calls fn(arg) on the main thread after a change that others may follow:
 * the SOA serial changed (a reload, a change of the served set) or an
 * instance's health status changed. One observer (main.c hands it to the
 * control API); fn NULL removes it. Borrows arg. */
void daemon_observe(struct daemon *d, void (*fn)(void *arg), void *arg);

#endif

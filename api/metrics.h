/* SPDX-License-Identifier: BSD-3-Clause */
/* metrics.h: the Prometheus text exposition (format 0.0.4) of srvd's
 * counters, from plain snapshots so it can be tested without a daemon. */
#ifndef SRVD_API_METRICS_H
#define SRVD_API_METRICS_H

#include <stdint.h>

struct evbuffer;
struct registry;
struct health;
struct health_counters;
struct http_server_stats;
struct api_figures;
struct reg_source_report;

/* Everything /metrics shows; all borrowed for the call. NULL members leave
 * their families out (reg and health go together). */
struct metrics_input {
	const char *version;
	const struct api_figures *fig; /* DNS counters, reloads, NOTIFY, start time */
	const struct health_counters *probes;
	const struct registry *reg; /* instances by service and state */
	struct health *health;
	uint32_t serial;
	const struct http_server_stats *api;    /* the control API's connections and limits */
	const struct reg_source_report *source; /* a shared store (etcd), or NULL: the files */
};

/* Appends the exposition to out. Returns 0 or -1 on out of memory. */
int metrics_write(struct evbuffer *out, const struct metrics_input *in);

#endif

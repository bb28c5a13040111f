/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_int.h: what probe.c (the core: timeout, result delivery, the table
 * of check types) and the probe of each check type share; not for other
 * modules.
 *
 * A check type is a struct probe_ops in its own file (probe_tcp.c,
 * probe_http.c, ...) and one case in probe_ops_of() (probe.c). Its start()
 * opens what it needs, keeping it in p->priv, and ends with exactly one
 * probe_finish(); its release() closes all of it, whether a result came or
 * the probe was cancelled or timed out.
 */
#ifndef SRVD_HEALTH_PROBE_INT_H
#define SRVD_HEALTH_PROBE_INT_H

#include <sys/socket.h>

#include "common/check.h"
#include "common/state.h"
#include "health/probe.h"

struct event;
struct event_base;

struct health_probe {
	struct event_base *base;
	const struct check_config *cfg;
	const struct probe_ops *ops;
	health_probe_cb cb;
	void *arg;
	struct event *timer;
	void *priv; /* the type's own state, NULL once released */
	/* the result, once known */
	int done, pass;
	char text[HEALTH_RESULT_MAX];
};

struct probe_ops {
	/* Starts probing sa (salen bytes): results go through probe_finish(),
	 * possibly from inside start(). Returns 0, or -ENOMEM with nothing
	 * left open. */
	int (*start)(struct health_probe *p, const struct sockaddr *sa, socklen_t salen);
	/* Closes and frees p->priv (may be NULL) and sets it NULL. */
	void (*release)(struct health_probe *p);
};

extern const struct probe_ops probe_tcp_ops;
extern const struct probe_ops probe_http_ops;

/* Records the result (the first one wins) and schedules its delivery from
 * the event loop. */
void probe_finish(struct health_probe *p, int pass, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* socket() failed with err: srvd's own shortage (HEALTH_PROBE_LOCAL) or a
 * failure to report. */
void probe_socket_failed(struct health_probe *p, int err);

/* Closes a probe's TCP socket with a reset rather than a FIN, so that no
 * TIME_WAIT is left behind per check (HAProxy's checks do the same). */
void probe_close_socket(int fd);

#endif

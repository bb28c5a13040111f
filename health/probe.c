/* SPDX-License-Identifier: BSD-3-Clause */
/* probe.c: the core of a probe, whatever its check type: the timeout, the
 * one result, its delivery, and the table of check types (probe_int.h).
 *
 * Each probe owns one timer. It first bounds the probe by the timeout; once
 * a result is known the timer is re-armed to fire at once, and the result is
 * delivered and everything freed from there. That keeps the caller's
 * callback out of the type's callbacks (a bufferevent or an HTTP/2 session
 * must not be freed from inside its own) and out of health_probe_start().
 */
#include "config.h"

#include "health/probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "health/probe_int.h"

/* The probe of a check type; NULL for types that are never probed. A new
 * type without a case here fails the build (-Wswitch). */
static const struct probe_ops *probe_ops_of(enum check_type type)
{
	switch (type) {
	case CHECK_TCP:
		return &probe_tcp_ops;
	case CHECK_HTTP:
		return &probe_http_ops;
	case CHECK_HTTPS:
		return &probe_https_ops;
	case CHECK_TLS:
		return &probe_tls_ops;
	case CHECK_GRPC:
		return &probe_grpc_ops;
	case CHECK_DNS:
		return &probe_dns_ops;
	case CHECK_EXEC:
		return &probe_exec_ops;
	case CHECK_TTL: /* heartbeats through the API: health_heartbeat() */
	case CHECK_NONE:
	case CHECK_TYPES:
		return NULL;
	}
	return NULL;
}

int health_probe_type_probed(enum check_type type)
{
	return probe_ops_of(type) != NULL;
}

static void release(struct health_probe *p)
{
	if (p->priv)
		p->ops->release(p);
}

static void destroy(struct health_probe *p)
{
	release(p);
	if (p->timer)
		event_free(p->timer);
	free(p);
}

void probe_finish(struct health_probe *p, int pass, const char *fmt, ...)
{
	va_list ap;

	if (p->done)
		return;
	p->done = 1;
	p->pass = pass;
	va_start(ap, fmt);
	vsnprintf(p->text, sizeof(p->text), fmt, ap);
	va_end(ap);
	event_del(p->timer);
	event_active(p->timer, EV_TIMEOUT, 0);
}

int health_probe_local_errno(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

void probe_socket_failed(struct health_probe *p, int err)
{
	probe_finish(p, health_probe_local_errno(err) ? HEALTH_PROBE_LOCAL : HEALTH_PROBE_FAIL,
	             "socket: %s", strerror(err));
}

void probe_close_socket(int fd)
{
	struct linger lg = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

int health_probe_self_connected(int fd)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return 0;
	return llen == plen && memcmp(&local, &peer, llen) == 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *p = arg;

	if (!p->done) {
		p->done = 1;
		p->pass = 0;
		snprintf(p->text, sizeof(p->text), "timeout after %u ms", p->cfg->timeout_ms);
	}
	release(p);
	p->cb(p->pass, p->text, p->arg);
	destroy(p);
}

int health_probe_start(struct event_base *base, const struct check_config *cfg,
                       const struct sockaddr *sa, socklen_t salen, health_probe_cb cb, void *arg,
                       struct health_probe **out)
{
	const struct probe_ops *ops = probe_ops_of(cfg->type);
	struct health_probe *p;
	struct timeval tv;
	int r;

	*out = NULL;
	if (!ops || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base = base;
	p->cfg = cfg;
	p->ops = ops;
	p->cb = cb;
	p->arg = arg;
	p->timer = evtimer_new(base, on_timer, p);
	tv.tv_sec = cfg->timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(cfg->timeout_ms % 1000) * 1000;
	if (!p->timer || evtimer_add(p->timer, &tv) < 0) {
		destroy(p);
		return -ENOMEM;
	}
	r = ops->start(p, sa, salen);
	if (r < 0) {
		destroy(p);
		return r;
	}
	*out = p;
	return 0;
}

void health_probe_cancel(struct health_probe *p)
{
	if (p)
		destroy(p);
}

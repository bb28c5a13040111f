/* SPDX-License-Identifier: BSD-3-Clause */
/* probe.c: tcp (non-blocking connect) and http (libevent's HTTP client)
 * probes.
 *
 * Each probe owns one timer. It first bounds the probe by the timeout; once
 * a result is known the timer is re-armed to fire at once, and the result is
 * delivered and everything freed from there. That keeps the caller's
 * callback out of libevent's HTTP callbacks (where the connection may not be
 * freed) and out of health_probe_start().
 */
#include "config.h"

#include "health/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "health/state.h"

#define HTTP_MAX_HEADERS (16 * 1024) /* status line and headers of a probe's response */
#define HTTP_MAX_BODY    (4 * 1024)

struct health_probe {
	struct event_base *base;
	const struct check_config *cfg;
	health_probe_cb cb;
	void *arg;
	struct event *timer;
	/* tcp */
	evutil_socket_t fd;
	struct event *io;
	/* http */
	struct evhttp_connection *evcon;
	enum evhttp_request_error http_error;
	int have_http_error;
	bufferevent_event_cb http_eventcb; /* libevent's, while we listen in */
	void *http_eventarg;
	int connect_errno; /* socket error seen while connecting, 0 = none */
	/* the result, once known */
	int done, pass;
	char text[HEALTH_RESULT_MAX];
};

static void release(struct health_probe *p)
{
	if (p->io)
		event_free(p->io);
	p->io = NULL;
	if (p->fd >= 0) {
		/* a reset instead of a FIN leaves no TIME_WAIT behind per check
		 * (HAProxy's checks do the same) */
		struct linger lg = {1, 0};
		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(p->fd);
	}
	p->fd = -1;
	if (p->evcon)
		evhttp_connection_free(p->evcon); /* frees a pending request, without callback */
	p->evcon = NULL;
}

static void destroy(struct health_probe *p)
{
	release(p);
	if (p->timer)
		event_free(p->timer);
	free(p);
}

/* Records the result (the first one wins) and schedules its delivery. */
static void finish(struct health_probe *p, int pass, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(struct health_probe *p, int pass, const char *fmt, ...)
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

/* socket() failed with err: the backend is not to blame when srvd is out of
 * descriptors or memory. */
static void socket_failed(struct health_probe *p, int err)
{
	finish(p, health_probe_local_errno(err) ? HEALTH_PROBE_LOCAL : HEALTH_PROBE_FAIL,
	       "socket: %s", strerror(err));
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

int health_probe_self_connected(int fd)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return 0;
	return llen == plen && memcmp(&local, &peer, llen) == 0;
}

/* A connect to a closed loopback port in the ephemeral range can pick that
 * very port as its source and connect to itself (TCP simultaneous open):
 * nothing listens there, so it is a refusal, not a pass. */
static void tcp_connected(struct health_probe *p)
{
	if (health_probe_self_connected(p->fd))
		finish(p, 0, "connect: Connection refused (connected to itself)");
	else
		finish(p, 1, "tcp: connected");
}

static void on_tcp_writable(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *p = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		finish(p, 0, "connect: %s", strerror(err));
	else
		tcp_connected(p);
}

/* Starts a non-blocking connect; results go through finish(). */
static int tcp_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	p->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		socket_failed(p, errno);
		return 0;
	}
	if (connect(p->fd, sa, salen) == 0) {
		tcp_connected(p);
		return 0;
	}
	if (errno != EINPROGRESS) {
		finish(p, 0, "connect: %s", strerror(errno));
		return 0;
	}
	p->io = event_new(p->base, p->fd, EV_WRITE, on_tcp_writable, p);
	if (!p->io || event_add(p->io, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static int on_http_headers(struct evhttp_request *req, void *arg)
{
	struct health_probe *p = arg;
	int code = evhttp_request_get_response_code(req);

	/* the status line decides; the body is not needed */
	finish(p, check_status_expected(p->cfg, (unsigned)code), "http: status %d", code);
	return 0;
}

static void on_http_error(enum evhttp_request_error error, void *arg)
{
	struct health_probe *p = arg;

	p->http_error = error;
	p->have_http_error = 1;
}

static void on_http_done(struct evhttp_request *req, void *arg)
{
	struct health_probe *p = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	if (code > 0) {
		finish(p, check_status_expected(p->cfg, (unsigned)code), "http: status %d", code);
		return;
	}
	if (p->connect_errno) {
		finish(p, 0, "connect: %s", strerror(p->connect_errno));
		return;
	}
	if (!p->have_http_error) {
		finish(p, 0, "http: connection failed");
		return;
	}
	switch (p->http_error) {
	case EVREQ_HTTP_TIMEOUT:
		finish(p, 0, "timeout after %u ms", p->cfg->timeout_ms);
		break;
	case EVREQ_HTTP_EOF:
		finish(p, 0, "http: connection closed");
		break;
	case EVREQ_HTTP_INVALID_HEADER:
		/* libevent reports headers over HTTP_MAX_HEADERS this way too */
		finish(p, 0, "http: malformed response");
		break;
	case EVREQ_HTTP_DATA_TOO_LONG:
		finish(p, 0, "http: response over %d bytes", HTTP_MAX_HEADERS);
		break;
	default:
		finish(p, 0, "http: request failed");
		break;
	}
}

/* Listens in on the connection's events while it connects: libevent's
 * HTTP client resets the socket before it reports a failed connect, losing
 * errno, so the reason ("Connection refused") is taken from here. */
static void on_http_bev_event(struct bufferevent *bev, short what, void *arg)
{
	struct health_probe *p = arg;

	if ((what & BEV_EVENT_ERROR) && !p->connect_errno)
		p->connect_errno = EVUTIL_SOCKET_ERROR();
	p->http_eventcb(bev, what, p->http_eventarg);
}

static int http_start(struct health_probe *p, const struct sockaddr *sa)
{
	char addr[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN + 8];
	struct evhttp_request *req;
	struct evkeyvalq *hdr;
	struct bufferevent *bev;
	bufferevent_data_cb readcb, writecb;
	struct timeval tv;
	uint16_t port;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		port = ntohs(s6->sin6_port);
		snprintf(host, sizeof(host), "[%s]:%u", addr, port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		port = ntohs(s4->sin_port);
		snprintf(host, sizeof(host), "%s:%u", addr, port);
	}
	/* libevent's HTTP client reports a socket() failure only as a failed
	 * request, with a warning logged per probe: find out first, on this
	 * (the only probing) thread, whether a descriptor is there */
	{
		int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			socket_failed(p, errno);
			return 0;
		}
		close(fd);
	}
	/* no DNS base: a numeric address is parsed, never looked up */
	p->evcon = evhttp_connection_base_new(p->base, NULL, addr, port);
	if (!p->evcon)
		return -ENOMEM;
	evhttp_connection_set_family(p->evcon, sa->sa_family);
	evhttp_connection_set_retries(p->evcon, 0);
	/* libevent's client takes headers and body of any size by default: a
	 * backend must not make the checker buffer megabytes. The status line
	 * decides; the body is never needed. */
	evhttp_connection_set_max_headers_size(p->evcon, HTTP_MAX_HEADERS);
	evhttp_connection_set_max_body_size(p->evcon, HTTP_MAX_BODY);
	tv.tv_sec = p->cfg->timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(p->cfg->timeout_ms % 1000) * 1000;
	evhttp_connection_set_timeout_tv(p->evcon, &tv);
	req = evhttp_request_new(on_http_done, p);
	if (!req)
		return -ENOMEM;
	evhttp_request_set_header_cb(req, on_http_headers);
	evhttp_request_set_error_cb(req, on_http_error);
	hdr = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(hdr, "Host", host) < 0 ||
	    evhttp_add_header(hdr, "User-Agent", "srvd-health") < 0 ||
	    evhttp_add_header(hdr, "Connection", "close") < 0) {
		evhttp_request_free(req);
		return -ENOMEM;
	}
	if (evhttp_make_request(p->evcon, req, EVHTTP_REQ_GET, p->cfg->path) < 0) {
		finish(p, 0, "http: cannot start request: %s", strerror(errno));
		return 0;
	}
	bev = evhttp_connection_get_bufferevent(p->evcon);
	bufferevent_getcb(bev, &readcb, &writecb, &p->http_eventcb, &p->http_eventarg);
	/* only while connecting: once connected libevent sets its callbacks anew */
	if (p->http_eventcb)
		bufferevent_setcb(bev, readcb, writecb, on_http_bev_event, p);
	return 0;
}

int health_probe_start(struct event_base *base, const struct check_config *cfg,
                       const struct sockaddr *sa, socklen_t salen, health_probe_cb cb, void *arg,
                       struct health_probe **out)
{
	struct health_probe *p;
	struct timeval tv;
	int r = -EINVAL;

	*out = NULL;
	if (cfg->type == CHECK_NONE || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base = base;
	p->cfg = cfg;
	p->cb = cb;
	p->arg = arg;
	p->fd = -1;
	p->timer = evtimer_new(base, on_timer, p);
	if (!p->timer) {
		r = -ENOMEM;
		goto fail;
	}
	tv.tv_sec = cfg->timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(cfg->timeout_ms % 1000) * 1000;
	if (evtimer_add(p->timer, &tv) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = cfg->type == CHECK_HTTP ? http_start(p, sa) : tcp_start(p, sa, salen);
	if (r < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	destroy(p);
	return r;
}

void health_probe_cancel(struct health_probe *p)
{
	if (p)
		destroy(p);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_http.c: check type http: GET check.path with libevent's HTTP client;
 * the status line decides (check.expect). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "health/probe_int.h"

#define HTTP_MAX_HEADERS (16 * 1024) /* status line and headers of a probe's response */
#define HTTP_MAX_BODY    (4 * 1024)

struct http_probe {
	struct evhttp_connection *evcon;
	enum evhttp_request_error error;
	int have_error;
	bufferevent_event_cb eventcb; /* libevent's, while we listen in */
	void *eventarg;
	int connect_errno; /* socket error seen while connecting, 0 = none */
};

static void http_release(struct health_probe *p)
{
	struct http_probe *h = p->priv;

	if (h->evcon)
		evhttp_connection_free(h->evcon); /* frees a pending request, without callback */
	free(h);
	p->priv = NULL;
}

static int on_headers(struct evhttp_request *req, void *arg)
{
	struct health_probe *p = arg;
	int code = evhttp_request_get_response_code(req);

	/* the status line decides; the body is not needed */
	probe_finish(p, check_status_expected(p->cfg, (unsigned)code), "http: status %d", code);
	return 0;
}

static void on_error(enum evhttp_request_error error, void *arg)
{
	struct health_probe *p = arg;
	struct http_probe *h = p->priv;

	h->error = error;
	h->have_error = 1;
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct health_probe *p = arg;
	struct http_probe *h = p->priv;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	if (code > 0) {
		probe_finish(p, check_status_expected(p->cfg, (unsigned)code), "http: status %d",
		             code);
		return;
	}
	if (h->connect_errno) {
		probe_finish(p, 0, "connect: %s", strerror(h->connect_errno));
		return;
	}
	if (!h->have_error) {
		probe_finish(p, 0, "http: connection failed");
		return;
	}
	switch (h->error) {
	case EVREQ_HTTP_TIMEOUT:
		probe_finish(p, 0, "timeout after %u ms", p->cfg->timeout_ms);
		break;
	case EVREQ_HTTP_EOF:
		probe_finish(p, 0, "http: connection closed");
		break;
	case EVREQ_HTTP_INVALID_HEADER:
		/* libevent reports headers over HTTP_MAX_HEADERS this way too */
		probe_finish(p, 0, "http: malformed response");
		break;
	case EVREQ_HTTP_DATA_TOO_LONG:
		probe_finish(p, 0, "http: response over %d bytes", HTTP_MAX_HEADERS);
		break;
	case EVREQ_HTTP_BUFFER_ERROR:
	case EVREQ_HTTP_REQUEST_CANCEL:
		probe_finish(p, 0, "http: request failed");
		break;
	}
}

/* Listens in on the connection's events while it connects: libevent's
 * HTTP client resets the socket before it reports a failed connect, losing
 * errno, so the reason ("Connection refused") is taken from here. */
static void on_bev_event(struct bufferevent *bev, short what, void *arg)
{
	struct health_probe *p = arg;
	struct http_probe *h = p->priv;

	if ((what & BEV_EVENT_ERROR) && !h->connect_errno)
		h->connect_errno = EVUTIL_SOCKET_ERROR();
	h->eventcb(bev, what, h->eventarg);
}

static int http_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	char addr[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN + 8];
	struct http_probe *h;
	struct evhttp_request *req;
	struct evkeyvalq *hdr;
	struct bufferevent *bev;
	bufferevent_data_cb readcb, writecb;
	struct timeval tv;
	uint16_t port;

	(void)salen;
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
	if (!(h = calloc(1, sizeof(*h))))
		return -ENOMEM;
	p->priv = h;
	/* libevent's HTTP client reports a socket() failure only as a failed
	 * request, with a warning logged per probe: find out first, on this
	 * (the only probing) thread, whether a descriptor is there */
	{
		int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			probe_socket_failed(p, errno);
			return 0;
		}
		close(fd);
	}
	/* no DNS base: a numeric address is parsed, never looked up */
	h->evcon = evhttp_connection_base_new(p->base, NULL, addr, port);
	if (!h->evcon)
		goto nomem;
	evhttp_connection_set_family(h->evcon, sa->sa_family);
	evhttp_connection_set_retries(h->evcon, 0);
	/* libevent's client takes headers and body of any size by default: a
	 * backend must not make the checker buffer megabytes. The status line
	 * decides; the body is never needed. */
	evhttp_connection_set_max_headers_size(h->evcon, HTTP_MAX_HEADERS);
	evhttp_connection_set_max_body_size(h->evcon, HTTP_MAX_BODY);
	tv.tv_sec = p->cfg->timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(p->cfg->timeout_ms % 1000) * 1000;
	evhttp_connection_set_timeout_tv(h->evcon, &tv);
	req = evhttp_request_new(on_done, p);
	if (!req)
		goto nomem;
	evhttp_request_set_header_cb(req, on_headers);
	evhttp_request_set_error_cb(req, on_error);
	hdr = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(hdr, "Host", host) < 0 ||
	    evhttp_add_header(hdr, "User-Agent", "srvd-health") < 0 ||
	    evhttp_add_header(hdr, "Connection", "close") < 0) {
		evhttp_request_free(req);
		goto nomem;
	}
	if (evhttp_make_request(h->evcon, req, EVHTTP_REQ_GET, p->cfg->path) < 0) {
		probe_finish(p, 0, "http: cannot start request: %s", strerror(errno));
		return 0;
	}
	bev = evhttp_connection_get_bufferevent(h->evcon);
	bufferevent_getcb(bev, &readcb, &writecb, &h->eventcb, &h->eventarg);
	/* only while connecting: once connected libevent sets its callbacks anew */
	if (h->eventcb)
		bufferevent_setcb(bev, readcb, writecb, on_bev_event, p);
	return 0;
nomem:
	http_release(p);
	return -ENOMEM;
}

const struct probe_ops probe_http_ops = {.start = http_start, .release = http_release};

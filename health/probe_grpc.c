/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_grpc.c: check type grpc: grpc.health.v1.Health/Check over HTTP/2
 * (nghttp2), cleartext (h2c with prior knowledge) or, with check.tls:, over
 * TLS with ALPN h2. SERVING passes; NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN,
 * a grpc-status other than 0, or no answer within the timeout fail.
 *
 * The two messages are tiny protobufs, encoded and decoded here by hand:
 * HealthCheckRequest{string service = 1} and
 * HealthCheckResponse{enum ServingStatus status = 1}.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "health/probe_int.h"

#define GRPC_PATH     "/grpc.health.v1.Health/Check"
#define GRPC_RESP_MAX 512 /* a health response is 2 bytes; more is not one */
#define GRPC_REQ_MAX  (5 + 1 + 2 + 1024)

/* --- the messages --- */

size_t probe_grpc_request(const char *service, unsigned char *out, size_t cap)
{
	size_t n = service ? strlen(service) : 0, len = 0;

	if (n > 0x3fff || cap < 5 + 3 + n)
		return 0;
	/* an empty service is the default value: proto3 sends no field at all */
	if (n) {
		out[5 + len++] = 0x0a; /* field 1, length-delimited */
		if (n < 0x80) {
			out[5 + len++] = (unsigned char)n;
		} else {
			out[5 + len++] = (unsigned char)(0x80 | (n & 0x7f));
			out[5 + len++] = (unsigned char)(n >> 7);
		}
		memcpy(out + 5 + len, service, n);
		len += n;
	}
	out[0] = 0; /* not compressed */
	out[1] = (unsigned char)(len >> 24);
	out[2] = (unsigned char)(len >> 16);
	out[3] = (unsigned char)(len >> 8);
	out[4] = (unsigned char)len;
	return 5 + len;
}

static int varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -1;
		*v |= (uint64_t)(**p & 0x7f) << shift;
		if (!(*(*p)++ & 0x80))
			return 0;
	}
	return -1;
}

int probe_grpc_response(const unsigned char *msg, size_t len, int *status)
{
	const unsigned char *p, *end;
	uint32_t n;

	*status = 0;
	if (len < 5 || msg[0] != 0)
		return -1; /* truncated, or compressed (never asked for) */
	n = (uint32_t)msg[1] << 24 | (uint32_t)msg[2] << 16 | (uint32_t)msg[3] << 8 | msg[4];
	if (n != len - 5)
		return -1;
	p = msg + 5;
	end = p + n;
	while (p < end) {
		uint64_t key, v;

		if (varint(&p, end, &key) < 0)
			return -1;
		switch (key & 7) {
		case 0: /* varint */
			if (varint(&p, end, &v) < 0)
				return -1;
			if (key >> 3 == 1)
				*status = v > 0x7fffffff ? -1 : (int)v;
			break;
		case 1: /* 64-bit */
			if (end - p < 8)
				return -1;
			p += 8;
			break;
		case 2: /* length-delimited: a field of a later version */
			if (varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
				return -1;
			p += v;
			break;
		case 5: /* 32-bit */
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static const char *serving_name(int status)
{
	switch (status) {
	case 0:
		return "UNKNOWN";
	case 1:
		return "SERVING";
	case 2:
		return "NOT_SERVING";
	case 3:
		return "SERVICE_UNKNOWN";
	default:
		return NULL;
	}
}

static const char *const grpc_codes[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

/* --- the probe --- */

struct grpc_probe {
	struct probe_stream *st;
	struct bufferevent *bev;
	nghttp2_session *session;
	int32_t stream_id;
	unsigned char req[GRPC_REQ_MAX];
	size_t req_len, req_sent;
	unsigned char resp[GRPC_RESP_MAX];
	size_t resp_len;
	int too_long;
	int http_status;  /* -1: none */
	int grpc_status;  /* -1: none */
	char message[64]; /* grpc-message */
	char authority[300];
};

static void grpc_release(struct health_probe *p)
{
	struct grpc_probe *g = p->priv;

	if (g->session)
		nghttp2_session_del(g->session);
	probe_stream_free(g->st);
	free(g);
	p->priv = NULL;
}

static void judge(struct health_probe *p, uint32_t error_code)
{
	struct grpc_probe *g = p->priv;
	const char *name;
	int status;

	if (g->http_status != 200 && g->http_status != -1) {
		probe_finish(p, 0, "grpc: http status %d", g->http_status);
		return;
	}
	if (g->grpc_status < 0) {
		if (error_code)
			probe_finish(p, 0, "grpc: stream reset: %s",
			             nghttp2_http2_strerror(error_code));
		else
			probe_finish(p, 0, "grpc: no grpc-status in the response");
		return;
	}
	if (g->grpc_status != 0) {
		probe_finish(p, 0, "grpc: status %d (%s)%s%s", g->grpc_status,
		             g->grpc_status < (int)(sizeof(grpc_codes) / sizeof(grpc_codes[0]))
		                 ? grpc_codes[g->grpc_status]
		                 : "?",
		             g->message[0] ? ": " : "", g->message);
		return;
	}
	if (g->too_long || probe_grpc_response(g->resp, g->resp_len, &status) < 0) {
		probe_finish(p, 0, "grpc: not a HealthCheckResponse");
		return;
	}
	name = serving_name(status);
	if (name)
		probe_finish(p, status == 1, "grpc: %s", name);
	else
		probe_finish(p, 0, "grpc: serving status %d", status);
}

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t len, int flags,
                       void *arg)
{
	struct health_probe *p = arg;
	struct grpc_probe *g = p->priv;

	if (evbuffer_add(bufferevent_get_output(g->bev), data, len) < 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return (ssize_t)len;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *arg)
{
	struct health_probe *p = arg;
	struct grpc_probe *g = p->priv;
	char num[16];

	if (frame->hd.stream_id != g->stream_id)
		return 0;
	if (valuelen < sizeof(num)) {
		memcpy(num, value, valuelen);
		num[valuelen] = '\0';
	} else {
		num[0] = '\0';
	}
	if (namelen == 7 && memcmp(name, ":status", 7) == 0)
		g->http_status = atoi(num);
	else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
		g->grpc_status = num[0] ? atoi(num) : 2;
	else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
		snprintf(g->message, sizeof(g->message), "%.*s", (int)valuelen,
		         (const char *)value);
	return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                   size_t len, void *arg)
{
	struct health_probe *p = arg;
	struct grpc_probe *g = p->priv;

	if (stream_id != g->stream_id)
		return 0;
	if (len > sizeof(g->resp) - g->resp_len) {
		g->too_long = 1;
		return 0;
	}
	memcpy(g->resp + g->resp_len, data, len);
	g->resp_len += len;
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *arg)
{
	struct health_probe *p = arg;
	struct grpc_probe *g = p->priv;

	if (stream_id == g->stream_id)
		judge(p, error_code);
	return 0;
}

static ssize_t read_request(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *source, void *arg)
{
	struct health_probe *p = arg;
	struct grpc_probe *g = p->priv;
	size_t n = g->req_len - g->req_sent;

	if (n > len)
		n = len;
	memcpy(buf, g->req + g->req_sent, n);
	g->req_sent += n;
	if (g->req_sent == g->req_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* Writes what the session has to send; 0, or -1 with the probe finished. */
static int flush(struct health_probe *p)
{
	struct grpc_probe *g = p->priv;
	int rv = nghttp2_session_send(g->session);

	if (rv != 0) {
		probe_finish(p, 0, "grpc: http/2: %s", nghttp2_strerror(rv));
		return -1;
	}
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct health_probe *p = arg;
	struct grpc_probe *g = p->priv;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in) && !p->done) {
		struct evbuffer_iovec v;
		ssize_t n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = nghttp2_session_mem_recv(g->session, v.iov_base, v.iov_len);
		if (n < 0) {
			probe_finish(p, 0, "grpc: http/2: %s", nghttp2_strerror((int)n));
			return;
		}
		evbuffer_drain(in, (size_t)n);
	}
	if (!p->done)
		flush(p);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct health_probe *p = arg;
	struct grpc_probe *g = p->priv;
	char why[HEALTH_RESULT_MAX - 16];

	if (what & BEV_EVENT_EOF) {
		probe_finish(p, 0, "grpc: connection closed");
	} else if (what & BEV_EVENT_ERROR) {
		probe_stream_error(g->st, why, sizeof(why));
		probe_finish(p, 0, "grpc: %s", why);
	}
}

#define NV(n, v)                                                                                   \
	{                                                                                          \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE     \
	}

static void on_ready(struct health_probe *p, struct bufferevent *bev)
{
	struct grpc_probe *g = p->priv;
	nghttp2_session_callbacks *cb;
	nghttp2_data_provider data = {.read_callback = read_request};
	char timeout[24];
	int rv;

	g->bev = bev;
	snprintf(timeout, sizeof(timeout), "%um", p->cfg->timeout_ms);
	const nghttp2_nv hdrs[] = {
	    NV(":method", "POST"),
	    NV(":scheme", check_uses_tls(p->cfg) ? "https" : "http"),
	    NV(":path", GRPC_PATH),
	    NV(":authority", g->authority),
	    NV("content-type", "application/grpc"),
	    NV("te", "trailers"),
	    NV("grpc-timeout", timeout),
	    NV("user-agent", "srvd-health"),
	};
	if (nghttp2_session_callbacks_new(&cb) != 0) {
		probe_finish(p, HEALTH_PROBE_LOCAL, "grpc: out of memory");
		return;
	}
	nghttp2_session_callbacks_set_send_callback(cb, on_send);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	rv = nghttp2_session_client_new(&g->session, cb, p);
	nghttp2_session_callbacks_del(cb);
	if (rv != 0) {
		probe_finish(p, HEALTH_PROBE_LOCAL, "grpc: out of memory");
		return;
	}
	nghttp2_submit_settings(g->session, NGHTTP2_FLAG_NONE, NULL, 0);
	g->stream_id = nghttp2_submit_request(g->session, NULL, hdrs,
	                                      sizeof(hdrs) / sizeof(hdrs[0]), &data, p);
	if (g->stream_id < 0) {
		probe_finish(p, HEALTH_PROBE_LOCAL, "grpc: %s", nghttp2_strerror(g->stream_id));
		return;
	}
	bufferevent_setcb(bev, on_read, NULL, on_event, p);
	if (bufferevent_enable(bev, EV_READ | EV_WRITE) < 0) {
		probe_finish(p, HEALTH_PROBE_LOCAL, "grpc: cannot read");
		return;
	}
	flush(p);
}

static int grpc_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	static const unsigned char alpn_h2[] = {2, 'h', '2'};
	const struct check_more *m = check_more_of(p->cfg);
	struct grpc_probe *g = calloc(1, sizeof(*g));
	char addr[INET6_ADDRSTRLEN];
	uint16_t port;
	int tls = check_uses_tls(p->cfg);

	if (!g)
		return -ENOMEM;
	p->priv = g;
	g->http_status = -1;
	g->grpc_status = -1;
	probe_addr_text(sa, addr, sizeof(addr), &port, g->authority, sizeof(g->authority));
	if (m->tls.server_name)
		snprintf(g->authority, sizeof(g->authority), "%s:%u", m->tls.server_name, port);
	g->req_len = probe_grpc_request(m->grpc_service, g->req, sizeof(g->req));
	if (probe_stream_start(p, sa, salen, tls, tls ? alpn_h2 : NULL, tls ? sizeof(alpn_h2) : 0,
	                       on_ready, &g->st) < 0) {
		grpc_release(p);
		return -ENOMEM;
	}
	return 0;
}

const struct probe_ops probe_grpc_ops = {.start = grpc_start, .release = grpc_release};

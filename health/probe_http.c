/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_http.c: check types http and https (probe_https.c): one HTTP/1.1
 * request (check.method, path, headers) over a probe stream, plain or TLS;
 * the status decides (check.expect), and with check.body_match the first
 * CHECK_BODY_MAX bytes of the body must hold that text.
 *
 * A small client of its own rather than libevent's evhttp: it runs over
 * any bufferevent (TLS included), reads no more of a response than the
 * verdict needs (the head, at most 16 KiB; then at most 4 KiB of body,
 * chunked or not), and keeps the connect's errno for the result text.
 */
#include "config.h"

#include <ctype.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "health/probe_int.h"

/* --- the response parser --- */

void probe_http_resp_init(struct probe_http_resp *r, int want_body)
{
	memset(r, 0, sizeof(*r));
	r->want_body = want_body;
	r->length = -1;
}

/* "HTTP/1.x NNN ...": the status, or -1. */
static int status_of(const char *line)
{
	if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) ||
	    line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]) ||
	    (line[12] != ' ' && line[12] != '\0'))
		return -1;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

/* The value of header line if its name is name (case-insensitive), else NULL. */
static const char *header_value(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* The head ended: where the body starts, if it is wanted at all. */
static void head_done(struct probe_http_resp *r)
{
	if (r->status >= 100 && r->status < 200) {
		/* an interim response (100 Continue, 103 Early Hints): the real one follows */
		r->state = PROBE_HTTP_STATUS;
		r->chunked = 0;
		r->length = -1;
		return;
	}
	if (!r->want_body || r->status == 204 || r->status == 304)
		r->state = PROBE_HTTP_DONE;
	else if (r->chunked)
		r->state = PROBE_HTTP_CHUNK_SIZE;
	else if (r->length == 0)
		r->state = PROBE_HTTP_DONE;
	else {
		r->state = PROBE_HTTP_BODY;
		r->left = r->length > 0 ? (uint64_t)r->length : UINT64_MAX;
	}
}

/* One complete line (without its CRLF) in r->line. */
static void line_done(struct probe_http_resp *r)
{
	const char *v;

	switch (r->state) {
	case PROBE_HTTP_STATUS:
		r->status = status_of(r->line);
		r->state = r->status < 0 ? PROBE_HTTP_BAD : PROBE_HTTP_HEADERS;
		break;
	case PROBE_HTTP_HEADERS:
		if (r->line_len == 0) {
			head_done(r);
		} else if ((v = header_value(r->line, "Content-Length"))) {
			char *end;
			long long n = strtoll(v, &end, 10);

			if (end == v || n < 0)
				r->state = PROBE_HTTP_BAD;
			else
				r->length = n;
		} else if ((v = header_value(r->line, "Transfer-Encoding"))) {
			/* chunked is the last coding whenever it is there (RFC 9112 6.1) */
			size_t n = strlen(v);
			r->chunked = n >= 7 && strncasecmp(v + n - 7, "chunked", 7) == 0;
		}
		break;
	case PROBE_HTTP_CHUNK_SIZE: {
		char *end;
		unsigned long long n = strtoull(r->line, &end, 16);

		if (end == r->line || (*end && *end != ';' && *end != ' ' && *end != '\t'))
			r->state = PROBE_HTTP_BAD;
		else if (n == 0)
			r->state = PROBE_HTTP_DONE; /* trailers are of no interest */
		else {
			r->left = n;
			r->state = PROBE_HTTP_CHUNK_DATA;
		}
		break;
	}
	case PROBE_HTTP_CHUNK_END:
		r->state = r->line_len == 0 ? PROBE_HTTP_CHUNK_SIZE : PROBE_HTTP_BAD;
		break;
	case PROBE_HTTP_BODY:
	case PROBE_HTTP_CHUNK_DATA:
	case PROBE_HTTP_DONE:
	case PROBE_HTTP_BAD:
		break;
	}
	r->line_len = 0;
	r->line[0] = '\0';
}

static int in_head(const struct probe_http_resp *r)
{
	return r->state == PROBE_HTTP_STATUS || r->state == PROBE_HTTP_HEADERS;
}

/* Body bytes: kept up to CHECK_BODY_MAX, after which nothing more is needed. */
static size_t body_bytes(struct probe_http_resp *r, const char *data, size_t len)
{
	size_t n = len, room = sizeof(r->body) - r->body_len;

	if (n > r->left)
		n = (size_t)r->left;
	if (n > room)
		n = room;
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->left -= n;
	if (r->body_len == sizeof(r->body))
		r->state = PROBE_HTTP_DONE;
	else if (r->left == 0)
		r->state = r->state == PROBE_HTTP_BODY ? PROBE_HTTP_DONE : PROBE_HTTP_CHUNK_END;
	return n;
}

size_t probe_http_feed(struct probe_http_resp *r, const char *data, size_t len)
{
	size_t i = 0;

	while (i < len && r->state != PROBE_HTTP_DONE && r->state != PROBE_HTTP_BAD) {
		char c;

		if (r->state == PROBE_HTTP_BODY || r->state == PROBE_HTTP_CHUNK_DATA) {
			i += body_bytes(r, data + i, len - i);
			continue;
		}
		c = data[i++];
		if (in_head(r) && ++r->head_bytes > PROBE_HTTP_HEAD_MAX) {
			r->state = PROBE_HTTP_BAD;
			break;
		}
		if (c == '\n') {
			if (r->line_len && r->line[r->line_len - 1] == '\r')
				r->line[--r->line_len] = '\0';
			line_done(r);
		} else if (r->line_len < sizeof(r->line) - 1) {
			r->line[r->line_len++] = c;
			r->line[r->line_len] = '\0';
		} else if (r->state == PROBE_HTTP_CHUNK_SIZE || r->state == PROBE_HTTP_CHUNK_END) {
			r->state = PROBE_HTTP_BAD; /* no chunk size is that long */
		}
		/* a longer status or header line is cut: only its start is read */
	}
	return i;
}

void probe_http_eof(struct probe_http_resp *r)
{
	if (!in_head(r) && r->state != PROBE_HTTP_BAD)
		r->state = PROBE_HTTP_DONE;
}

/* --- the probe --- */

struct http_probe {
	struct probe_stream *st;
	struct probe_http_resp resp;
	const char *path;
	char hostport[INET6_ADDRSTRLEN + 8];
};

void probe_http_release(struct health_probe *p)
{
	struct http_probe *h = p->priv;

	probe_stream_free(h->st);
	free(h);
	p->priv = NULL;
}

static int has_header(const struct check_more *m, const char *name)
{
	for (size_t i = 0; i < m->n_headers; i++)
		if (strcasecmp(m->headers[2 * i], name) == 0)
			return 1;
	return 0;
}

/* The verdict once the response is DONE. */
static void judge(struct health_probe *p, const struct probe_http_resp *r)
{
	const struct check_more *m = check_more_of(p->cfg);
	const char *want = m->body_match;

	if (!check_status_expected(p->cfg, (unsigned)r->status) || !want) {
		probe_finish(p, check_status_expected(p->cfg, (unsigned)r->status),
		             "http: status %d", r->status);
		return;
	}
	if (memmem(r->body, r->body_len, want, strlen(want)))
		probe_finish(p, 1, "http: status %d, body matches", r->status);
	else
		probe_finish(p, 0, "http: status %d, body_match not in the first %zu bytes",
		             r->status, r->body_len);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct health_probe *p = arg;
	struct http_probe *h = p->priv;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in) && h->resp.state != PROBE_HTTP_DONE &&
	       h->resp.state != PROBE_HTTP_BAD) {
		struct evbuffer_iovec v;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		evbuffer_drain(in, probe_http_feed(&h->resp, v.iov_base, v.iov_len));
	}
	if (h->resp.state == PROBE_HTTP_BAD)
		probe_finish(p, 0, "http: malformed response");
	else if (h->resp.state == PROBE_HTTP_DONE)
		judge(p, &h->resp);
	else if (!in_head(&h->resp) && !check_status_expected(p->cfg, (unsigned)h->resp.status))
		judge(p, &h->resp); /* the status fails it: the body cannot help */
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct health_probe *p = arg;
	struct http_probe *h = p->priv;
	char why[HEALTH_RESULT_MAX - 16];

	if (what & BEV_EVENT_EOF) {
		probe_http_eof(&h->resp);
		if (h->resp.state == PROBE_HTTP_DONE)
			judge(p, &h->resp);
		else
			probe_finish(p, 0, "http: connection closed");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		probe_stream_error(h->st, why, sizeof(why));
		probe_finish(p, 0, "http: %s", why);
	}
}

/* The stream is up: send the request. */
static void on_ready(struct health_probe *p, struct bufferevent *bev)
{
	struct http_probe *h = p->priv;
	const struct check_more *m = check_more_of(p->cfg);
	struct evbuffer *out = bufferevent_get_output(bev);
	int method = m->method, r;

	r = evbuffer_add_printf(out, "%s %s HTTP/1.1\r\n", check_method_names[method], h->path);
	/* Host: the check's, else the address probed (as libevent's client did) */
	if (r >= 0 && !has_header(m, "Host"))
		r = evbuffer_add_printf(out, "Host: %s\r\n", h->hostport);
	if (r >= 0 && !has_header(m, "User-Agent"))
		r = evbuffer_add_printf(out, "User-Agent: srvd-health\r\n");
	for (size_t i = 0; r >= 0 && i < m->n_headers; i++)
		r = evbuffer_add_printf(out, "%s: %s\r\n", m->headers[2 * i],
		                        m->headers[2 * i + 1]);
	if (r >= 0 && (method == CHECK_POST || method == CHECK_PUT || method == CHECK_PATCH) &&
	    !has_header(m, "Content-Length"))
		r = evbuffer_add_printf(out, "Content-Length: 0\r\n");
	if (r >= 0)
		r = evbuffer_add_printf(out, "Connection: close\r\n\r\n");
	if (r < 0) {
		probe_finish(p, HEALTH_PROBE_LOCAL, "http: out of memory");
		return;
	}
	bufferevent_setcb(bev, on_read, NULL, on_event, p);
	if (bufferevent_enable(bev, EV_READ | EV_WRITE) < 0)
		probe_finish(p, HEALTH_PROBE_LOCAL, "http: cannot read");
}

int probe_http_begin(struct health_probe *p, const struct sockaddr *sa, socklen_t salen, int tls)
{
	const struct check_more *m = check_more_of(p->cfg);
	struct http_probe *h = calloc(1, sizeof(*h));
	char addr[INET6_ADDRSTRLEN];
	uint16_t port;

	if (!h)
		return -ENOMEM;
	p->priv = h;
	h->path = p->cfg->path;
	probe_addr_text(sa, addr, sizeof(addr), &port, h->hostport, sizeof(h->hostport));
	/* the head decides unless the body is to be searched (never for HEAD) */
	probe_http_resp_init(&h->resp, m->body_match && m->method != CHECK_HEAD);
	if (probe_stream_start(p, sa, salen, tls, NULL, 0, on_ready, &h->st) < 0) {
		probe_http_release(p);
		return -ENOMEM;
	}
	return 0;
}

static int http_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	return probe_http_begin(p, sa, salen, 0);
}

const struct probe_ops probe_http_ops = {.start = http_start, .release = probe_http_release};

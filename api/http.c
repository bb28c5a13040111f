/* SPDX-License-Identifier: BSD-3-Clause */
/* http.c: the control API's bounded HTTP/1.1 server (http.h).
 *
 * A connection goes through HEAD -> BODY -> HANDLER -> WRITE and back to
 * HEAD (keep-alive), or to LINGER, where the write side is shut and input is
 * drained for a moment before the close, so a client still sending a body
 * we refused reads our answer rather than a reset. One timer per connection
 * holds the deadline of its state; it is set when the state begins and never
 * pushed back by traffic. A connection in the waiting pool (WAITING) has no
 * deadline of its own: its handler owns the wait. A streamed response
 * (STREAM) stays in that pool; its bound is the output it may queue.
 */
#include "config.h"

#include "api/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "common/addr.h"
#include "common/log.h"

enum conn_state { C_HEAD, C_BODY, C_HANDLER, C_WAITING, C_STREAM, C_WRITE, C_LINGER };

struct http_req {
	struct http_conn *conn;
	enum http_method method;
	int minor;    /* HTTP/1.minor */
	char *target; /* owned: path, then '\0' and the query if any */
	const char *query;
	struct evkeyvalq in, out;
	size_t content_length;
	struct evbuffer *body;
	http_handler handler;
	void *handler_arg;
	void (*on_close)(struct http_req *req, void *arg);
	void *close_arg;
	int replied;
	int close_after; /* Connection: close, or the body was not read */
};

struct http_conn {
	struct http_server *srv;
	struct bufferevent *bev;
	struct event *deadline;
	enum conn_state state;
	struct sockaddr_storage peer;
	char peer_text[INET6_ADDRSTRLEN];
	size_t head_bytes;
	int head_started;     /* the request line was read */
	size_t body_reserved; /* counted in srv->body_bytes */
	int dropped;          /* a stream over max_stream_buffer, closed at its 0 ms deadline */
	struct http_req req;
	struct http_conn *prev, *next;
};

struct http_server {
	struct event_base *base;
	struct evconnlistener *lev;
	struct http_limits lim;
	http_head_fn on_head;
	void *arg;
	struct http_conn *conns; /* every connection, a list */
	size_t n_active, n_waiting;
	size_t body_bytes;
	unsigned long long refused, timed_out, body_refused, stream_dropped;
	time_t last_refusal_log;
};

void http_limits_default(struct http_limits *lim)
{
	struct rlimit rl;

	lim->max_conns = HTTP_MAX_CONNS;
	lim->max_per_ip = HTTP_MAX_PER_IP;
	lim->max_head = HTTP_MAX_HEAD;
	lim->max_body = HTTP_MAX_BODY;
	lim->body_budget = HTTP_BODY_BUDGET;
	lim->max_waiting = HTTP_MAX_WAITING;
	lim->max_stream = HTTP_STREAM_MAX;
	lim->head_ms = HTTP_HEAD_MS;
	lim->body_ms = HTTP_BODY_MS;
	lim->write_ms = HTTP_WRITE_MS;
	lim->linger_ms = HTTP_LINGER_MS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 8 < lim->max_conns)
		lim->max_conns = rl.rlim_cur / 8 < 8 ? 8 : (size_t)(rl.rlim_cur / 8);
}

const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_M_GET:
		return "GET";
	case HTTP_M_HEAD:
		return "HEAD";
	case HTTP_M_POST:
		return "POST";
	case HTTP_M_PUT:
		return "PUT";
	case HTTP_M_DELETE:
		return "DELETE";
	case HTTP_M_OTHER:
		break;
	}
	return "?";
}

static const char *reason(int code)
{
	switch (code) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 417:
		return "Expectation Failed";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return code < 300 ? "OK" : code < 500 ? "Bad Request" : "Internal Server Error";
	}
}

/* --- connection lifetime --- */

static void req_reset(struct http_req *req)
{
	free(req->target);
	evhttp_clear_headers(&req->in);
	evhttp_clear_headers(&req->out);
	if (req->body)
		evbuffer_drain(req->body, evbuffer_get_length(req->body));
	req->target = NULL;
	req->query = NULL;
	req->method = HTTP_M_OTHER;
	req->minor = 1;
	req->content_length = 0;
	req->handler = NULL;
	req->handler_arg = NULL;
	req->on_close = NULL;
	req->close_arg = NULL;
	req->replied = 0;
	req->close_after = 0;
}

static void release_body(struct http_conn *c)
{
	c->srv->body_bytes -= c->body_reserved;
	c->body_reserved = 0;
}

static void conn_free(struct http_conn *c)
{
	struct http_server *s = c->srv;

	if (c->state == C_WAITING || c->state == C_STREAM) {
		s->n_waiting--;
		if (c->req.on_close)
			c->req.on_close(&c->req, c->req.close_arg);
	} else {
		s->n_active--;
	}
	release_body(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->deadline)
		event_free(c->deadline);
	if (c->bev)
		bufferevent_free(c->bev);
	req_reset(&c->req);
	if (c->req.body)
		evbuffer_free(c->req.body);
	free(c);
}

static void set_deadline(struct http_conn *c, unsigned ms)
{
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(c->deadline, &tv);
}

static void start_head(struct http_conn *c);
static void process(struct http_conn *c);

/* Shuts our side and drains what the client still sends until it closes or
 * the linger deadline, then closes. */
static void linger(struct http_conn *c)
{
	int fd = (int)bufferevent_getfd(c->bev);

	c->state = C_LINGER;
	if (fd >= 0)
		shutdown(fd, SHUT_WR);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_enable(c->bev, EV_READ);
	bufferevent_disable(c->bev, EV_WRITE);
	set_deadline(c, c->srv->lim.linger_ms);
	{
		struct evbuffer *in = bufferevent_get_input(c->bev);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	if (c->state == C_STREAM) {
		log_debug("api: %s: stream dropped: the client reads slower than it is written",
		          c->peer_text);
	} else if (c->state != C_LINGER) {
		c->srv->timed_out++;
		log_debug("api: %s: closed at the %s deadline", c->peer_text,
		          c->state == C_HEAD   ? "request head"
		          : c->state == C_BODY ? "body"
		                               : "write");
	}
	conn_free(c);
}

/* --- replies --- */

static void http_date(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The status line and headers; len NULL: no Content-Length (the body ends
 * with the connection, which close_after then says). */
static void write_head(struct http_req *req, int code, const char *content_type, const size_t *len)
{
	struct evbuffer *out = bufferevent_get_output(req->conn->bev);
	char date[64];

	http_date(date, sizeof(date));
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: srvd\r\n", code,
	                    reason(code), date);
	if (content_type)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
	for (struct evkeyval *h = TAILQ_FIRST(&req->out); h; h = TAILQ_NEXT(h, next))
		evbuffer_add_printf(out, "%s: %s\r\n", h->key, h->value);
	if (len)
		evbuffer_add_printf(out, "Content-Length: %zu\r\n", *len);
	evbuffer_add_printf(out, "%s\r\n",
	                    req->close_after  ? "Connection: close\r\n"
	                    : req->minor == 0 ? "Connection: keep-alive\r\n"
	                                      : "");
}

void http_reply(struct http_req *req, int code, const char *content_type, struct evbuffer *body)
{
	struct http_conn *c = req->conn;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len = body ? evbuffer_get_length(body) : 0;

	if (req->replied)
		return;
	req->replied = 1;
	/* answered from the head (no handler yet): the body is never read, so
	 * the connection cannot carry another request */
	if (c->state == C_HANDLER && !req->handler && req->content_length)
		req->close_after = 1;
	if (c->state == C_WAITING) {
		c->srv->n_waiting--;
		c->srv->n_active++;
	}
	c->state = C_WRITE;
	release_body(c);
	write_head(req, code, content_type, &len);
	if (body && req->method != HTTP_M_HEAD)
		evbuffer_add_buffer(out, body);
	else if (body)
		evbuffer_drain(body, len);
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
	set_deadline(c, c->srv->lim.write_ms);
}

/* A reply of the server's own (not the application's): a JSON error. */
static void reply_error(struct http_req *req, int code, const char *msg)
{
	struct evbuffer *b = evbuffer_new();

	req->close_after = 1;
	if (b)
		evbuffer_add_printf(b, "{\"errors\": [{\"message\": \"%s\"}]}\n", msg);
	http_reply(req, code, "application/json", b);
	if (b)
		evbuffer_free(b);
}

/* The response is out: next request, or linger and close. */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	if (c->state != C_WRITE || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (c->req.close_after) {
		linger(c);
		return;
	}
	start_head(c);
	/* a pipelined request may already be waiting in the input */
	process(c);
}

/* --- parsing --- */

static enum http_method parse_method(const char *m)
{
	static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(m, names[i]) == 0)
			return (enum http_method)i;
	return HTTP_M_OTHER;
}

/* "METHOD SP /target SP HTTP/1.x". Returns 0, or the status to answer. */
static int parse_request_line(struct http_req *req, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2, *q;

	if (!sp1)
		return 400;
	*sp1 = '\0';
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2 || strchr(sp2 + 1, ' '))
		return 400;
	*sp2 = '\0';
	if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || !sp2[8] || sp2[9])
		return strncmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400;
	if (sp2[8] < '0' || sp2[8] > '9')
		return 400;
	req->minor = sp2[8] - '0';
	req->method = parse_method(line);
	if (sp1[1] != '/')
		return 400; /* origin-form only: no proxy requests, no '*' */
	for (const char *p = sp1 + 1; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 400;
	if (!(req->target = strdup(sp1 + 1)))
		return 500;
	if ((q = strchr(req->target, '?'))) {
		*q = '\0';
		req->query = q + 1;
	}
	return 0;
}

/* "Name: value". Returns 0, or the status to answer. */
static int parse_header(struct http_req *req, char *line)
{
	char *colon = strchr(line, ':'), *v, *end;

	if (line[0] == ' ' || line[0] == '\t' || !colon || colon == line)
		return 400; /* obsolete line folding, or no name */
	for (char *p = line; p < colon; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 400;
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return evhttp_add_header(&req->in, line, v) < 0 ? 400 : 0;
}

/* 1 if a comma-separated header value holds token (no case). */
static int has_token(const char *value, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = value; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, token, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

/* The head is complete: framing, then the application's verdict. */
static void head_done(struct http_conn *c)
{
	struct http_server *s = c->srv;
	struct http_req *req = &c->req;
	const char *cl = http_req_header(req, "Content-Length");
	const char *conn = http_req_header(req, "Connection");
	const char *expect = http_req_header(req, "Expect");
	void *harg = NULL;
	http_handler h;

	if (req->minor == 0 ? !(conn && has_token(conn, "keep-alive"))
	                    : (conn && has_token(conn, "close")))
		req->close_after = 1;
	if (http_req_header(req, "Transfer-Encoding")) {
		reply_error(req, 411, "send the body with a Content-Length");
		return;
	}
	if (cl) {
		char *end;
		unsigned long long n;

		/* digits only, one value: a list or a sign would be a smuggling trick */
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (!*cl || *cl < '0' || *cl > '9' || *end || errno) {
			reply_error(req, 400, "bad Content-Length");
			return;
		}
		for (struct evkeyval *k = TAILQ_FIRST(&req->in); k; k = TAILQ_NEXT(k, next))
			if (strcasecmp(k->key, "Content-Length") == 0 &&
			    strcmp(k->value, cl) != 0) {
				reply_error(req, 400, "conflicting Content-Length headers");
				return;
			}
		req->content_length = n > s->lim.max_body ? s->lim.max_body + 1 : (size_t)n;
	}
	if (expect && strcasecmp(expect, "100-continue") != 0) {
		reply_error(req, 417, "only Expect: 100-continue is understood");
		return;
	}
	c->state = C_HANDLER;
	h = s->on_head(req, s->arg, &harg);
	if (!h) {
		/* answered from the head: the body stays unread */
		if (req->content_length)
			s->body_refused++;
		if (!req->replied)
			reply_error(req, 500, "no answer");
		return;
	}
	req->handler = h;
	req->handler_arg = harg;
	if (req->content_length > s->lim.max_body) {
		s->body_refused++;
		reply_error(req, 413, "the body is larger than 1 MiB");
		return;
	}
	if (req->content_length && s->body_bytes + req->content_length > s->lim.body_budget) {
		s->body_refused++;
		s->refused++;
		http_add_header(req, "Retry-After", "1");
		reply_error(req, 503, "too many request bodies in flight; try again");
		return;
	}
	c->body_reserved = req->content_length;
	s->body_bytes += c->body_reserved;
	if (expect && req->content_length)
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		                    "HTTP/1.1 100 Continue\r\n\r\n");
	c->state = C_BODY;
	set_deadline(c, s->lim.body_ms);
	/* read_body moves input into the body as it comes: keep it small */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 65536);
}

/* Reads head lines; returns 1 when the head is complete or answered, 0 for more input. */
static int read_head(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct http_req *req = &c->req;
	size_t n;
	char *line;
	int st;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF))) {
		c->head_bytes += n + 2;
		if (c->head_bytes > c->srv->lim.max_head) {
			free(line);
			reply_error(req, 431, "request head over 16 KiB");
			return 1;
		}
		if (!c->head_started) {
			if (n == 0) { /* blank lines before a request are tolerated */
				free(line);
				continue;
			}
			c->head_started = 1;
			st = parse_request_line(req, line);
		} else if (n == 0) {
			free(line);
			head_done(c);
			return 1;
		} else {
			st = parse_header(req, line);
		}
		free(line);
		if (st) {
			reply_error(req, st,
			            st == 505   ? "HTTP/1.x only"
			            : st == 500 ? "out of memory"
			                        : "bad request");
			return 1;
		}
	}
	if (c->head_bytes + evbuffer_get_length(in) > c->srv->lim.max_head) {
		reply_error(req, 431, "request head over 16 KiB");
		return 1;
	}
	return 0;
}

/* Moves body bytes in; runs the handler once all are there. */
static void read_body(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct http_req *req = &c->req;
	size_t have = evbuffer_get_length(req->body), want = req->content_length - have;

	if (want)
		evbuffer_remove_buffer(in, req->body, want);
	if (evbuffer_get_length(req->body) < req->content_length)
		return;
	c->state = C_HANDLER;
	bufferevent_disable(c->bev, EV_READ);
	event_del(c->deadline);
	req->handler(req, req->handler_arg);
}

static void process(struct http_conn *c)
{
	if (c->state == C_HEAD && read_head(c) && c->state != C_BODY)
		return;
	if (c->state == C_BODY)
		read_body(c);
}

static void start_head(struct http_conn *c)
{
	req_reset(&c->req);
	c->state = C_HEAD;
	c->head_bytes = 0;
	c->head_started = 0;
	/* never more than a head's worth of input buffered while reading one */
	bufferevent_setwatermark(c->bev, EV_READ, 0, c->srv->lim.max_head + 1);
	bufferevent_enable(c->bev, EV_READ);
	set_deadline(c, c->srv->lim.head_ms);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	if (c->state == C_LINGER || c->state == C_STREAM) {
		struct evbuffer *in = bufferevent_get_input(bev);
		size_t n = evbuffer_get_length(in);

		/* only time (or the stream's end) ends it: closing on unread
		 * input would send a reset, which can make the client lose the
		 * answer it has not read yet */
		evbuffer_drain(in, n);
		return;
	}
	process(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	(void)what;
	/* EOF or an error: nothing more can be said to this client */
	conn_free(c);
}

/* --- accepting --- */

static void refuse(struct http_server *s, evutil_socket_t fd, const char *why)
{
	static const char body[] = "{\"errors\": [{\"message\": \"too many connections\"}]}\n";
	char text[256];
	time_t now = time(NULL);
	int n;

	s->refused++;
	if (now != s->last_refusal_log) {
		s->last_refusal_log = now;
		log_warn("api: %s: refusing connections (503)", why);
	}
	n = snprintf(text, sizeof(text),
	             "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
	             "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
	             sizeof(body) - 1, body);
	/* best effort on a fresh socket: it never blocks, and a short write
	 * only loses the courtesy */
	if (send(fd, text, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("api: 503: %s", strerror(errno));
	evutil_closesocket(fd);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct http_server *s = arg;
	struct http_conn *c;
	size_t same = 0;

	(void)lev;
	if (s->n_active >= s->lim.max_conns) {
		refuse(s, fd, "at the connection limit");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	memcpy(&c->peer, sa, (size_t)salen < sizeof(c->peer) ? (size_t)salen : sizeof(c->peer));
	for (struct http_conn *o = s->conns; o; o = o->next)
		same += addr_same_host((struct sockaddr *)&o->peer, (struct sockaddr *)&c->peer);
	if (same >= s->lim.max_per_ip) {
		free(c);
		refuse(s, fd, "at the per-address connection limit");
		return;
	}
	if (c->peer.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&c->peer)->sin6_addr, c->peer_text,
		          sizeof(c->peer_text));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&c->peer)->sin_addr, c->peer_text,
		          sizeof(c->peer_text));
	c->srv = s;
	TAILQ_INIT(&c->req.in);
	TAILQ_INIT(&c->req.out);
	c->req.conn = c;
	c->req.body = evbuffer_new();
	c->deadline = evtimer_new(s->base, on_deadline, c);
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_active++;
	if (!c->req.body || !c->deadline || !c->bev) {
		if (!c->bev)
			evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	start_head(c);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

/* Out of descriptors (EMFILE): the listening socket stays readable, so
 * pause accepting for a second rather than spin, as dns/tcp.c does. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	const struct timeval pause = {1, 0};

	log_warn("api: accept: %s; pausing for 1 s",
	         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(lev);
	if (event_base_once(evconnlistener_get_base(lev), -1, EV_TIMEOUT, on_accept_retry, lev,
	                    &pause) < 0)
		evconnlistener_enable(lev);
}

int http_server_create(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                       const struct http_limits *lim, http_head_fn on_head, void *arg,
                       struct http_server **out)
{
	struct http_server *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->base = base;
	s->lim = *lim;
	s->on_head = on_head;
	s->arg = arg;
	s->lev = evconnlistener_new_bind(
	    base, on_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, sa, (int)salen);
	if (!s->lev) {
		int err = errno ? errno : EADDRNOTAVAIL;
		free(s);
		return -err;
	}
	evconnlistener_set_error_cb(s->lev, on_accept_error);
	*out = s;
	return 0;
}

int http_server_address(const struct http_server *s, struct sockaddr_storage *out, socklen_t *len)
{
	*len = sizeof(*out);
	return getsockname(evconnlistener_get_fd(s->lev), (struct sockaddr *)out, len) < 0 ? -errno
	                                                                                   : 0;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	while (s->conns) {
		s->conns->req.on_close = NULL; /* no callbacks from a server going away */
		conn_free(s->conns);
	}
	if (s->lev)
		evconnlistener_free(s->lev);
	free(s);
}

void http_server_get_stats(const struct http_server *s, struct http_server_stats *out)
{
	out->conns = s->n_active;
	out->waiting = s->n_waiting;
	out->refused = s->refused;
	out->timed_out = s->timed_out;
	out->body_refused = s->body_refused;
	out->dropped = s->stream_dropped;
	out->body_bytes = s->body_bytes;
}

/* --- request accessors --- */

enum http_method http_req_method(const struct http_req *req)
{
	return req->method;
}

const char *http_req_path(const struct http_req *req)
{
	return req->target ? req->target : "/";
}

const char *http_req_query(const struct http_req *req)
{
	return req->query;
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	return evhttp_find_header(&((struct http_req *)req)->in, name);
}

size_t http_req_content_length(const struct http_req *req)
{
	return req->content_length;
}

struct evbuffer *http_req_body(struct http_req *req)
{
	return req->body;
}

const char *http_req_peer(const struct http_req *req)
{
	return req->conn->peer_text;
}

int http_add_header(struct http_req *req, const char *name, const char *value)
{
	return evhttp_add_header(&req->out, name, value);
}

int http_req_wait(struct http_req *req, void (*on_close)(struct http_req *req, void *arg),
                  void *arg)
{
	struct http_conn *c = req->conn;
	struct http_server *s = c->srv;

	if (c->state != C_HANDLER)
		return -1;
	if (s->n_waiting >= s->lim.max_waiting) {
		s->refused++; /* the caller answers 503 */
		return -1;
	}
	c->state = C_WAITING;
	s->n_active--;
	s->n_waiting++;
	/* a waiting request (a GET) needs no body: it must not hold its share
	 * of the body budget for as long as it waits */
	release_body(c);
	if (req->body)
		evbuffer_drain(req->body, evbuffer_get_length(req->body));
	req->on_close = on_close;
	req->close_arg = arg;
	event_del(c->deadline);
	/* read, to hear of the client leaving (EOF), but no more than a head:
	 * a pipelined request waits its turn in the input */
	bufferevent_setwatermark(c->bev, EV_READ, 0, s->lim.max_head + 1);
	bufferevent_enable(c->bev, EV_READ);
	return 0;
}

int http_stream_start(struct http_req *req, int code, const char *content_type)
{
	struct http_conn *c = req->conn;

	if (c->state != C_WAITING || req->replied || req->method == HTTP_M_HEAD)
		return -1;
	req->replied = 1;
	req->close_after = 1; /* the body ends with the connection */
	c->state = C_STREAM;
	write_head(req, code, content_type, NULL);
	/* reading goes on (and is discarded) only to hear the client leave */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}

int http_stream_write(struct http_req *req, const void *data, size_t len)
{
	struct http_conn *c = req->conn;
	struct http_server *s = c->srv;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->state != C_STREAM || c->dropped)
		return -1;
	if (evbuffer_get_length(out) + len > s->lim.max_stream) {
		/* closing here would call on_close inside the caller's own
		 * loop: the deadline closes it on the next turn of the loop */
		c->dropped = 1;
		s->stream_dropped++;
		set_deadline(c, 0);
		return -1;
	}
	return evbuffer_add(out, data, len) < 0 ? -1 : 0;
}

void http_stream_end(struct http_req *req)
{
	struct http_conn *c = req->conn;
	struct http_server *s = c->srv;

	if (c->state != C_STREAM)
		return;
	if (c->dropped) {
		c->req.on_close = NULL;
		conn_free(c);
		return;
	}
	s->n_waiting--;
	s->n_active++;
	c->state = C_WRITE;
	bufferevent_disable(c->bev, EV_READ);
	set_deadline(c, s->lim.write_ms);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		linger(c); /* on_write only runs after a write */
}

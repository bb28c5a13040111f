/* SPDX-License-Identifier: BSD-3-Clause */
/* etcd_client.c: etcd v3's JSON gateway over libevent's evhttp (etcd_client.h).
 *
 * One connection per request: requests are rare (a read at start, a watch
 * that stays open, the API's writes), and a fresh connection never carries
 * the state of a member that failed. evhttp may not see its connection freed
 * from inside its own callbacks, so every end of a request (reply, failure,
 * cancel) is finished from a zero timer on the request's base.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "registry/etcd_client.h"

/* A stream answers within this when idle_ms is 0: an open, silent watch. */
#define STREAM_FOREVER_S (24 * 3600)
/* The largest reply read: a range of 10,000 services is a few MB. */
#define MAX_REPLY ((size_t)256 << 20)

struct etcd_ep {
	char *host;
	unsigned port;
	char *url;
	int tls; /* https:// */
};

struct etcd_client {
	struct event_base *base, *sync_base, *auth_base;
	struct etcd_ep *eps;
	size_t n, cur;
	uint32_t timeout_ms;
	struct etcd_req *reqs; /* in flight, for etcd_client_free() */
	SSL_CTX *ssl;          /* for https:// endpoints, else NULL */
	char *user, *password; /* etcd authentication, or NULL */
	char *token;           /* from /v3/auth/authenticate; NULL: none yet */
};

struct etcd_req {
	struct etcd_client *c;
	struct event_base *base;
	char *path, *body;
	size_t ep, tries;
	int stream, cancelled, finished;
	int auth;     /* the authentication request itself */
	int reauthed; /* a 401 was retried once with a new token */
	uint32_t idle_ms;
	etcd_reply_fn fn;
	etcd_line_fn on_line;
	etcd_end_fn on_end;
	void *arg;
	struct evhttp_connection *conn;
	struct evhttp_request *hreq; /* NULL once evhttp is done with it */
	struct evbuffer *acc;        /* the body, or a stream's partial line */
	struct event *later;         /* finishes the request outside evhttp */
	int status;
	char err[256];
	struct etcd_req *next, **pprev;
};

static void ignore_yaml(void *arg, const char *line)
{
	snprintf(arg, 256, "%s", line);
}

static int parse_url(const char *url, struct etcd_ep *ep)
{
	const char *p = url, *colon;
	char *end;
	unsigned long port;

	if (strncmp(p, "http://", 7) == 0) {
		p += 7;
	} else if (strncmp(p, "https://", 8) == 0) {
		p += 8;
		ep->tls = 1;
	} else {
		return -1;
	}
	colon = strrchr(p, ':');
	if (!colon || colon == p)
		return -1;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' && strcmp(end, "/") != 0)
		return -1;
	if (port == 0 || port > 65535)
		return -1;
	/* [v6]:port */
	if (*p == '[' && colon[-1] == ']')
		ep->host = strndup(p + 1, (size_t)(colon - p) - 2);
	else
		ep->host = strndup(p, (size_t)(colon - p));
	ep->port = (unsigned)port;
	ep->url = strdup(url);
	return ep->host && ep->url ? 0 : -1;
}

int etcd_client_create(struct event_base *base, char *const *endpoints, size_t n,
                       uint32_t timeout_ms, struct etcd_client **out, char *err, size_t errlen)
{
	struct etcd_client *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c || !(c->eps = calloc(n ? n : 1, sizeof(*c->eps)))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->base = base;
	c->timeout_ms = timeout_ms;
	for (size_t i = 0; i < n; i++, c->n++)
		if (parse_url(endpoints[i], &c->eps[i]) < 0) {
			snprintf(
			    err, errlen,
			    "server.registry.etcd.endpoints: \"%s\" is not http://ADDRESS:PORT "
			    "(or https://)",
			    endpoints[i]);
			c->n++;
			etcd_client_free(c);
			return -1;
		}
	if (n == 0) {
		snprintf(err, errlen, "server.registry.etcd.endpoints: none given");
		etcd_client_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static void req_free(struct etcd_req *q)
{
	if (q->pprev) {
		*q->pprev = q->next;
		if (q->next)
			q->next->pprev = q->pprev;
	}
	if (q->conn)
		evhttp_connection_free(q->conn); /* frees a request still pending on it */
	if (q->acc)
		evbuffer_free(q->acc);
	if (q->later)
		event_free(q->later);
	free(q->path);
	free(q->body);
	free(q);
}

void etcd_client_free(struct etcd_client *c)
{
	if (!c)
		return;
	while (c->reqs)
		req_free(c->reqs);
	for (size_t i = 0; i < c->n; i++) {
		free(c->eps[i].host);
		free(c->eps[i].url);
	}
	free(c->eps);
	if (c->sync_base)
		event_base_free(c->sync_base);
	if (c->auth_base)
		event_base_free(c->auth_base);
	if (c->ssl)
		SSL_CTX_free(c->ssl);
	free(c->user);
	if (c->password)
		memset(c->password, 0, strlen(c->password));
	free(c->password);
	free(c->token);
	free(c);
}

int etcd_client_tls(struct etcd_client *c, const char *ca, const char *cert, const char *key,
                    char *err, size_t errlen)
{
	unsigned long e;

	if (!(c->ssl = SSL_CTX_new(TLS_client_method()))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	if ((ca ? SSL_CTX_load_verify_locations(c->ssl, ca, NULL)
	        : SSL_CTX_set_default_verify_paths(c->ssl)) != 1 ||
	    (cert && SSL_CTX_use_certificate_chain_file(c->ssl, cert) != 1) ||
	    (key && SSL_CTX_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1) ||
	    (cert && key && SSL_CTX_check_private_key(c->ssl) != 1)) {
		e = ERR_get_error();
		snprintf(err, errlen, "server.registry.etcd.tls: %s (ca %s, cert %s, key %s)",
		         e ? ERR_reason_error_string(e) : "cannot load", ca ? ca : "(system)",
		         cert ? cert : "-", key ? key : "-");
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int etcd_client_auth(struct etcd_client *c, const char *user, const char *password)
{
	c->user = strdup(user);
	c->password = strdup(password);
	return c->user && c->password ? 0 : -1;
}

const char *etcd_client_endpoint(const struct etcd_client *c)
{
	return c->eps[c->cur].url;
}

void etcd_client_next(struct etcd_client *c)
{
	c->cur = (c->cur + 1) % c->n;
}

static void on_done(struct evhttp_request *hreq, void *arg);

/* Lines of a stream so far, each to on_line (stops once cancelled). */
static void stream_lines(struct etcd_req *q)
{
	char *line;
	size_t len;

	while (!q->cancelled && (line = evbuffer_readln(q->acc, &len, EVBUFFER_EOL_LF))) {
		struct ydoc *doc = NULL;
		char yerr[256] = "";

		if (len &&
		    ydoc_parse_string(line, len, "etcd watch", &doc, ignore_yaml, yerr) == 0 &&
		    doc->root && doc->root->kind == YNODE_MAP && q->on_line)
			q->on_line(q->arg, doc->root);
		ydoc_free(doc);
		free(line);
	}
}

static void on_chunk(struct evhttp_request *hreq, void *arg)
{
	struct etcd_req *q = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(hreq);

	if (q->cancelled)
		return;
	evbuffer_add_buffer(q->acc, in);
	if (q->stream && evhttp_request_get_response_code(hreq) == 200)
		stream_lines(q);
	else if (evbuffer_get_length(q->acc) > MAX_REPLY)
		evbuffer_drain(q->acc, evbuffer_get_length(q->acc)); /* reported as unparsable */
}

static void authenticate(struct etcd_client *c);

/* The member's certificate must name host (an address or a DNS name). */
static int verify_name(SSL *ssl, const char *host)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1;
	SSL_set_tlsext_host_name(ssl, host);
	return X509_VERIFY_PARAM_set1_host(param, host, 0) == 1;
}

static int send_try(struct etcd_req *q)
{
	struct etcd_ep *ep = &q->c->eps[q->ep];
	struct evhttp_request *hreq;
	struct evkeyvalq *h;
	struct timeval tv;
	uint32_t ms = q->stream ? q->idle_ms : q->c->timeout_ms;

	if (q->c->user && !q->c->token && !q->auth)
		authenticate(q->c); /* without a token the request gets 401, reported */
	if (q->conn)
		evhttp_connection_free(q->conn);
	q->conn = NULL;
	if (ep->tls) {
		struct bufferevent *bev;
		SSL *ssl;

		if (!q->c->ssl || !(ssl = SSL_new(q->c->ssl)))
			return -1;
		if (!verify_name(ssl, ep->host)) {
			SSL_free(ssl);
			return -1;
		}
		bev =
		    bufferevent_openssl_socket_new(q->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (!bev) {
			SSL_free(ssl);
			return -1;
		}
		/* etcd may close without close_notify once a reply is complete */
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
		q->conn = evhttp_connection_base_bufferevent_new(q->base, NULL, bev, ep->host,
		                                                 (unsigned short)ep->port);
		if (!q->conn) {
			bufferevent_free(bev);
			return -1;
		}
	} else {
		q->conn =
		    evhttp_connection_base_new(q->base, NULL, ep->host, (unsigned short)ep->port);
	}
	if (!q->conn)
		return -1;
	if (ms) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
	} else {
		tv.tv_sec = STREAM_FOREVER_S;
		tv.tv_usec = 0;
	}
	evhttp_connection_set_timeout_tv(q->conn, &tv);
	evhttp_connection_set_retries(q->conn, 0);
	if (!(hreq = evhttp_request_new(on_done, q)))
		return -1;
	evhttp_request_set_chunked_cb(hreq, on_chunk);
	h = evhttp_request_get_output_headers(hreq);
	evhttp_add_header(h, "Host", ep->host);
	evhttp_add_header(h, "Content-Type", "application/json");
	if (q->stream)
		evhttp_add_header(h, "Grpc-Metadata-hasleader", "true");
	if (q->c->token && !q->auth)
		evhttp_add_header(h, "Authorization", q->c->token);
	evbuffer_add(evhttp_request_get_output_buffer(hreq), q->body, strlen(q->body));
	evbuffer_drain(q->acc, evbuffer_get_length(q->acc));
	q->status = 0;
	q->err[0] = '\0';
	if (evhttp_make_request(q->conn, hreq, EVHTTP_REQ_POST, q->path) < 0)
		return -1; /* evhttp freed hreq */
	q->hreq = hreq;
	q->tries++;
	return 0;
}

/* The outcome of one try, outside evhttp: the next endpoint, or the end. */
static void on_later(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_req *q = arg;
	struct etcd_reply r = {.status = q->status};
	size_t len;
	char *text;

	(void)fd;
	(void)what;
	if (q->cancelled) {
		req_free(q);
		return;
	}
	if (q->stream) {
		etcd_end_fn end = q->on_end;

		if (q->status == 401) {
			free(q->c->token);
			q->c->token = NULL;
		}
		void *a = q->arg;
		char why[300];

		snprintf(why, sizeof(why), "%s", q->err[0] ? q->err : "the stream ended");
		req_free(q);
		if (end)
			end(a, why);
		return;
	}
	if (q->status == 401 && q->c->user && !q->auth && !q->reauthed) {
		/* the token expired (etcd's simple tokens last 5 minutes): once more */
		q->reauthed = 1;
		free(q->c->token);
		q->c->token = NULL;
		if (send_try(q) == 0)
			return;
	}
	if ((q->status == 0 || q->status >= 500) && q->tries < q->c->n) {
		q->ep = (q->ep + 1) % q->c->n;
		if (send_try(q) == 0)
			return;
		snprintf(q->err, sizeof(q->err), "out of memory");
	}
	len = evbuffer_get_length(q->acc);
	text = (char *)evbuffer_pullup(q->acc, -1);
	if (q->status != 0 && len && text &&
	    ydoc_parse_string(text, len, "etcd reply", &r.doc, ignore_yaml, r.err) == 0 &&
	    r.doc->root && r.doc->root->kind == YNODE_MAP)
		r.root = r.doc->root;
	if (q->status == 200 && !r.root) {
		r.status = 0;
		snprintf(r.err, sizeof(r.err), "%s: the reply is not JSON", q->c->eps[q->ep].url);
	} else if (q->status == 200) {
		q->c->cur = q->ep; /* it works: start there next time */
	} else if (q->status == 0) {
		snprintf(r.err, sizeof(r.err), "no etcd endpoint answered (last: %.200s)",
		         q->err[0] ? q->err : "no reply");
	} else {
		const struct ynode *e = r.root ? etcd_get(r.root, "error") : NULL;
		const struct ynode *m = etcd_get(e ? e : r.root, "message");

		snprintf(r.err, sizeof(r.err), "%s: HTTP %d%s%s", q->c->eps[q->ep].url, q->status,
		         m && m->kind == YNODE_SCALAR ? ": " : "",
		         m && m->kind == YNODE_SCALAR ? m->value : "");
	}
	etcd_reply_fn fn = q->fn;
	void *a = q->arg;

	req_free(q);
	fn(a, &r);
	ydoc_free(r.doc);
}

static void on_done(struct evhttp_request *hreq, void *arg)
{
	struct etcd_req *q = arg;

	q->hreq = NULL; /* evhttp frees it after this */
	if (q->finished)
		return;
	if (hreq) {
		q->status = evhttp_request_get_response_code(hreq);
		evbuffer_add_buffer(q->acc, evhttp_request_get_input_buffer(hreq));
	}
	if (q->status == 0)
		snprintf(q->err, sizeof(q->err),
		         "%s: no answer (connection refused, closed or timed out)",
		         q->c->eps[q->ep].url);
	else if (q->stream && q->status != 200)
		snprintf(q->err, sizeof(q->err), "%s: HTTP %d", q->c->eps[q->ep].url, q->status);
	if (q->stream && q->status == 200 && !q->cancelled) {
		/* a last line without its newline */
		evbuffer_add(q->acc, "\n", 1);
		stream_lines(q);
	}
	event_active(q->later, EV_TIMEOUT, 0);
}

static struct etcd_req *start(struct etcd_client *c, struct event_base *base, const char *path,
                              const char *body, int stream)
{
	struct etcd_req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->c = c;
	q->base = base;
	q->stream = stream;
	q->ep = c->cur;
	q->path = strdup(path);
	q->body = strdup(body);
	q->acc = evbuffer_new();
	q->later = event_new(base, -1, 0, on_later, q);
	q->next = c->reqs;
	if (c->reqs)
		c->reqs->pprev = &q->next;
	q->pprev = &c->reqs;
	c->reqs = q;
	if (!q->path || !q->body || !q->acc || !q->later) {
		req_free(q);
		return NULL;
	}
	return q;
}

struct etcd_req *etcd_call(struct etcd_client *c, const char *path, const char *body,
                           etcd_reply_fn fn, void *arg)
{
	struct etcd_req *q = start(c, c->base, path, body, 0);

	if (!q)
		return NULL;
	q->fn = fn;
	q->arg = arg;
	if (send_try(q) < 0) {
		/* reported from the timer like any failure */
		snprintf(q->err, sizeof(q->err), "cannot connect");
		q->tries = c->n;
		event_active(q->later, EV_TIMEOUT, 0);
	}
	return q;
}

struct sync_wait {
	struct etcd_reply *r;
	int done;
};

static void on_sync(void *arg, struct etcd_reply *r)
{
	struct sync_wait *w = arg;

	*w->r = *r;
	r->doc = NULL; /* taken */
	w->done = 1;
}

void etcd_call_sync(struct etcd_client *c, const char *path, const char *body, struct etcd_reply *r)
{
	struct sync_wait w = {.r = r};
	struct etcd_req *q;

	memset(r, 0, sizeof(*r));
	if (!c->sync_base && !(c->sync_base = event_base_new())) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	if (!(q = start(c, c->sync_base, path, body, 0))) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	q->fn = on_sync;
	q->arg = &w;
	if (send_try(q) < 0) {
		snprintf(q->err, sizeof(q->err), "cannot connect");
		q->tries = c->n;
		event_active(q->later, EV_TIMEOUT, 0);
	}
	while (!w.done)
		if (event_base_loop(c->sync_base, EVLOOP_ONCE) < 0)
			break;
	if (!w.done)
		snprintf(r->err, sizeof(r->err), "internal error: the request did not finish");
}

struct etcd_req *etcd_stream(struct etcd_client *c, const char *path, const char *body,
                             uint32_t idle_ms, etcd_line_fn on_line, etcd_end_fn on_end, void *arg)
{
	struct etcd_req *q = start(c, c->base, path, body, 1);

	if (!q)
		return NULL;
	q->idle_ms = idle_ms;
	q->on_line = on_line;
	q->on_end = on_end;
	q->arg = arg;
	if (send_try(q) < 0) {
		snprintf(q->err, sizeof(q->err), "%s: cannot connect", c->eps[q->ep].url);
		event_active(q->later, EV_TIMEOUT, 0);
	}
	return q;
}

void etcd_req_cancel(struct etcd_req *q)
{
	if (!q)
		return;
	q->cancelled = 1;
	q->finished = 1;
	event_active(q->later, EV_TIMEOUT, 0);
}

const struct ynode *etcd_get(const struct ynode *map, const char *key)
{
	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i]->value && strcmp(map->keys[i]->value, key) == 0)
			return map->items[i];
	return NULL;
}

int64_t etcd_int(const struct ynode *map, const char *key)
{
	const struct ynode *v = etcd_get(map, key);

	if (!v || v->kind != YNODE_SCALAR || !v->value)
		return 0;
	return strtoll(v->value, NULL, 10);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64(const char *data, size_t len)
{
	const unsigned char *d = (const unsigned char *)data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)d[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)d[i + 1] << 8;
		if (i + 2 < len)
			v |= d[i + 2];
		*o++ = B64[(v >> 18) & 63];
		*o++ = B64[(v >> 12) & 63];
		*o++ = i + 1 < len ? B64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? B64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

char *etcd_unb64(const char *text, size_t *len)
{
	size_t n = strlen(text), k = 0;
	char *out = malloc(n / 4 * 3 + 4);
	unsigned v = 0, bits = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *p;

		if (text[i] == '=')
			break;
		if (!(p = strchr(B64, text[i])) || !text[i]) {
			free(out);
			return NULL;
		}
		v = (v << 6) | (unsigned)(p - B64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (char)((v >> bits) & 0xff);
		}
	}
	out[k] = '\0';
	*len = k;
	return out;
}

char *etcd_json_str(const char *text)
{
	struct evbuffer *b = evbuffer_new();
	char *out = NULL;
	size_t n;

	if (!b)
		return NULL;
	evbuffer_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			evbuffer_add_printf(b, "\\u%04x", *p);
		else
			evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "\"", 1);
	n = evbuffer_get_length(b);
	if ((out = malloc(n + 1))) {
		evbuffer_remove(b, out, n);
		out[n] = '\0';
	}
	evbuffer_free(b);
	return out;
}

struct auth_wait {
	struct etcd_client *c;
	int done;
};

static void on_auth(void *arg, struct etcd_reply *r)
{
	struct auth_wait *w = arg;
	const struct ynode *t = etcd_get(r->root, "token");

	w->done = 1;
	if (r->status == 200 && t && t->kind == YNODE_SCALAR && t->value) {
		free(w->c->token);
		w->c->token = strdup(t->value);
	}
}

/* Gets a token for the user, waiting on a base of its own (a sync call may
 * be running on sync_base). On failure the token stays NULL: the request
 * goes without and etcd answers 401, which the caller reports. */
static void authenticate(struct etcd_client *c)
{
	struct auth_wait w = {.c = c};
	char *user = etcd_json_str(c->user), *pass = etcd_json_str(c->password), *body = NULL;
	struct etcd_req *q;
	size_t need;

	if (!user || !pass || (!c->auth_base && !(c->auth_base = event_base_new())))
		goto done;
	need = strlen(user) + strlen(pass) + 40;
	if (!(body = malloc(need)))
		goto done;
	snprintf(body, need, "{\"name\": %s, \"password\": %s}", user, pass);
	if (!(q = start(c, c->auth_base, "/v3/auth/authenticate", body, 0)))
		goto done;
	q->auth = 1;
	q->fn = on_auth;
	q->arg = &w;
	if (send_try(q) < 0) {
		q->tries = c->n;
		event_active(q->later, EV_TIMEOUT, 0);
	}
	while (!w.done)
		if (event_base_loop(c->auth_base, EVLOOP_ONCE) < 0)
			break;
done:
	if (body)
		memset(body, 0, strlen(body));
	free(body);
	if (pass)
		memset(pass, 0, strlen(pass));
	free(pass);
	free(user);
}

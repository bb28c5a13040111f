/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_stream.c: the connected stream under the http, https, tls and grpc
 * probes: a non-blocking TCP connect (its errno kept for the result text),
 * then, for TLS, OpenSSL through libevent's bufferevent_openssl, with the
 * name verified and sent (SNI) as check.tls says.
 *
 * The SSL_CTX of each (tls.ca, tls.verify) is made once and kept: loading
 * a CA store parses every certificate in it, which would cost more than the
 * handshake. A CA file that changes on disk is read again (at most one
 * stat() per second per file).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "health/probe_int.h"

struct probe_stream {
	struct health_probe *p;
	int fd;
	struct event *io; /* while connecting */
	struct bufferevent *bev;
	SSL *ssl;
	int tls;
	const unsigned char *alpn;
	size_t alpn_len;
	probe_stream_ready_fn ready;
	char addr[INET6_ADDRSTRLEN];
};

/* --- TLS contexts, one per (ca, verify), made on first use --- */

#define CTX_CACHE_MAX 64

struct ctx_entry {
	char *ca; /* NULL: the system store */
	int verify;
	SSL_CTX *ctx;
	struct stat st; /* of ca when it was loaded */
	int64_t checked_ms;
};

static struct ctx_entry ctx_cache[CTX_CACHE_MAX];
static size_t ctx_n;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ctx_entry_clear(struct ctx_entry *e)
{
	SSL_CTX_free(e->ctx); /* SSLs in flight hold their own reference */
	free(e->ca);
	memset(e, 0, sizeof(*e));
}

/* The first OpenSSL error queued, or what (errno, say) when there is none. */
static const char *ssl_reason(const char *what)
{
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : what;
}

static SSL_CTX *ctx_new(const char *ca, int verify, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "tls: %s", ssl_reason("out of memory"));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* a probe's buffers are freed while it waits for the next read */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (verify && ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "tls: cannot load ca %s: %s", ca,
		         ssl_reason(errno ? strerror(errno) : "no certificate in it"));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (verify && !ca && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "tls: cannot load the system CA store: %s",
		         ssl_reason("unknown error"));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The context for (ca, verify), loaded or reloaded as needed; NULL with a
 * result text in err. Main thread only, as every probe. */
static SSL_CTX *ctx_get(const char *ca, int verify, char *err, size_t errlen)
{
	struct ctx_entry *e = NULL;
	int64_t now = mono_ms();
	struct stat st = {0};

	if (!verify)
		ca = NULL; /* nothing is verified: one context serves all */
	for (size_t i = 0; i < ctx_n; i++)
		if (ctx_cache[i].verify == verify &&
		    ((!ca && !ctx_cache[i].ca) ||
		     (ca && ctx_cache[i].ca && strcmp(ca, ctx_cache[i].ca) == 0))) {
			e = &ctx_cache[i];
			break;
		}
	if (e && (!ca || now - e->checked_ms < 1000))
		return e->ctx;
	if (ca && stat(ca, &st) < 0) {
		snprintf(err, errlen, "tls: cannot load ca %s: %s", ca, strerror(errno));
		return NULL;
	}
	if (e) {
		e->checked_ms = now;
		if (same_file(&e->st, &st))
			return e->ctx;
		ctx_entry_clear(e); /* changed on disk: load it again */
	} else if (ctx_n < CTX_CACHE_MAX) {
		e = &ctx_cache[ctx_n++];
	} else {
		/* more CA files than that is unusual: the oldest goes */
		ctx_entry_clear(&ctx_cache[0]);
		memmove(&ctx_cache[0], &ctx_cache[1], (CTX_CACHE_MAX - 1) * sizeof(ctx_cache[0]));
		e = &ctx_cache[CTX_CACHE_MAX - 1];
		memset(e, 0, sizeof(*e));
	}
	e->ctx = ctx_new(ca, verify, err, errlen);
	if (!e->ctx || (ca && !(e->ca = strdup(ca)))) {
		ctx_entry_clear(e);
		/* keep the table dense: move the last into the hole */
		*e = ctx_cache[--ctx_n];
		memset(&ctx_cache[ctx_n], 0, sizeof(ctx_cache[0]));
		if (!err[0])
			snprintf(err, errlen, "tls: out of memory");
		return NULL;
	}
	e->verify = verify;
	e->st = st;
	e->checked_ms = now;
	return e->ctx;
}

/* --- the stream --- */

void probe_addr_text(const struct sockaddr *sa, char *addr, size_t addrlen, uint16_t *port,
                     char *hostport, size_t hplen)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, (socklen_t)addrlen);
		*port = ntohs(s6->sin6_port);
		if (hostport)
			snprintf(hostport, hplen, "[%s]:%u", addr, *port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, addr, (socklen_t)addrlen);
		*port = ntohs(s4->sin_port);
		if (hostport)
			snprintf(hostport, hplen, "%s:%u", addr, *port);
	}
}

void probe_stream_free(struct probe_stream *s)
{
	if (!s)
		return;
	if (s->io)
		event_free(s->io);
	if (s->bev)
		bufferevent_free(s->bev); /* without BEV_OPT_CLOSE_ON_FREE: ours to close */
	if (s->ssl)
		SSL_free(s->ssl);
	if (s->fd >= 0)
		probe_close_socket(s->fd);
	free(s);
}

void probe_stream_error(struct probe_stream *s, char *buf, size_t len)
{
	unsigned long e = s->bev && s->tls ? bufferevent_get_openssl_error(s->bev) : 0;
	int err = EVUTIL_SOCKET_ERROR();

	if (e) {
		const char *r = ERR_reason_error_string(e);

		snprintf(buf, len, "tls: %s", r ? r : "error");
	} else {
		snprintf(buf, len, "%s", err ? strerror(err) : "connection failed");
	}
}

/* A failed handshake, in words: the verification's reason when it was
 * the certificate, else OpenSSL's, else the socket's. */
static void handshake_failed(struct probe_stream *s, short what)
{
	struct health_probe *p = s->p;
	long vr = SSL_get_verify_result(s->ssl);
	unsigned long e;
	int err = EVUTIL_SOCKET_ERROR();

	if (vr != X509_V_OK) {
		probe_finish(p, 0, "tls: certificate verify failed: %s",
		             X509_verify_cert_error_string(vr));
		return;
	}
	e = bufferevent_get_openssl_error(s->bev);
	if (e) {
		const char *r = ERR_reason_error_string(e);

		probe_finish(p, 0, "tls: handshake failed: %s", r ? r : "error");
	} else if (what & BEV_EVENT_EOF) {
		probe_finish(p, 0, "tls: connection closed during the handshake");
	} else {
		probe_finish(p, 0, "tls: handshake failed: %s",
		             err ? strerror(err) : "connection failed");
	}
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct probe_stream *s = arg;
	struct health_probe *p = s->p;

	if (!(what & BEV_EVENT_CONNECTED)) {
		handshake_failed(s, what);
		return;
	}
	if (s->alpn) {
		const unsigned char *got = NULL;
		unsigned got_len = 0;

		SSL_get0_alpn_selected(s->ssl, &got, &got_len);
		if (got_len != s->alpn[0] || memcmp(got, s->alpn + 1, got_len) != 0) {
			probe_finish(p, 0, "tls: the server did not agree to %.*s (ALPN)",
			             (int)s->alpn[0], (const char *)s->alpn + 1);
			return;
		}
	}
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	s->ready(p, bev);
}

static int start_tls(struct probe_stream *s)
{
	struct health_probe *p = s->p;
	const struct check_more *m = check_more_of(p->cfg);
	char err[HEALTH_RESULT_MAX] = "";
	SSL_CTX *ctx = ctx_get(m->tls.ca, m->tls.verify, err, sizeof(err));
	X509_VERIFY_PARAM *vp;

	if (!ctx) {
		probe_finish(p, 0, "%s", err);
		return 0;
	}
	if (!(s->ssl = SSL_new(ctx)))
		return -ENOMEM;
	/* SNI only for a name: RFC 6066 forbids an address in it */
	if (m->tls.server_name && SSL_set_tlsext_host_name(s->ssl, m->tls.server_name) != 1)
		return -ENOMEM;
	if (m->tls.verify) {
		vp = SSL_get0_param(s->ssl);
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (m->tls.server_name ? X509_VERIFY_PARAM_set1_host(vp, m->tls.server_name, 0) != 1
		                       : X509_VERIFY_PARAM_set1_ip_asc(vp, s->addr) != 1)
			return -ENOMEM;
	}
	if (s->alpn && SSL_set_alpn_protos(s->ssl, s->alpn, (unsigned)s->alpn_len) != 0)
		return -ENOMEM;
	s->bev =
	    bufferevent_openssl_socket_new(p->base, s->fd, s->ssl, BUFFEREVENT_SSL_CONNECTING, 0);
	if (!s->bev)
		return -ENOMEM;
	/* a backend that closes without close_notify has still answered */
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, NULL, NULL, on_tls_event, s);
	if (bufferevent_enable(s->bev, EV_READ | EV_WRITE) < 0)
		return -ENOMEM;
	return 0;
}

/* Connected: start TLS, or hand over a plain stream. */
static int connected(struct probe_stream *s)
{
	struct health_probe *p = s->p;

	/* see probe_tcp.c: a connect to itself is a refusal */
	if (health_probe_self_connected(s->fd)) {
		probe_finish(p, 0, "connect: Connection refused (connected to itself)");
		return 0;
	}
	if (s->tls)
		return start_tls(s);
	s->bev = bufferevent_socket_new(p->base, s->fd, 0);
	if (!s->bev)
		return -ENOMEM;
	s->ready(p, s->bev);
	return 0;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct probe_stream *s = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		probe_finish(s->p, 0, "connect: %s", strerror(err));
		return;
	}
	if (connected(s) < 0)
		probe_finish(s->p, HEALTH_PROBE_LOCAL, "tls: out of memory");
}

int probe_stream_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen, int tls,
                       const unsigned char *alpn, size_t alpn_len, probe_stream_ready_fn ready,
                       struct probe_stream **out)
{
	struct probe_stream *s = calloc(1, sizeof(*s));
	uint16_t port;

	*out = s;
	if (!s)
		return -ENOMEM;
	s->p = p;
	s->tls = tls;
	s->alpn = alpn;
	s->alpn_len = alpn_len;
	s->ready = ready;
	probe_addr_text(sa, s->addr, sizeof(s->addr), &port, NULL, 0);
	s->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		probe_socket_failed(p, errno);
		return 0;
	}
	if (connect(s->fd, sa, salen) == 0)
		goto now;
	if (errno != EINPROGRESS) {
		probe_finish(p, 0, "connect: %s", strerror(errno));
		return 0;
	}
	s->io = event_new(p->base, s->fd, EV_WRITE, on_writable, s);
	if (!s->io || event_add(s->io, NULL) < 0)
		goto nomem;
	return 0;
now:
	if (connected(s) == 0)
		return 0;
nomem:
	probe_stream_free(s);
	*out = NULL;
	return -ENOMEM;
}

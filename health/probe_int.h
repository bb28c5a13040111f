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

#include <stdint.h>
#include <sys/socket.h>

#include "common/check.h"
#include "common/state.h"
#include "health/probe.h"

struct bufferevent;
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
extern const struct probe_ops probe_https_ops;
extern const struct probe_ops probe_tls_ops;
extern const struct probe_ops probe_grpc_ops;
extern const struct probe_ops probe_dns_ops;
extern const struct probe_ops probe_exec_ops;

/* --- a connected stream (probe_stream.c): TCP, then optionally TLS --- */

struct probe_stream;

/* Called once the stream is up (connected; with TLS, the handshake done
 * and, when alpn was asked, agreed): bev is the stream's, set its
 * callbacks and write. Failures before that finish the probe themselves:
 * "connect: Connection refused", "tls: certificate verify failed:
 * self-signed certificate", "tls: handshake failed: ...". */
typedef void (*probe_stream_ready_fn)(struct health_probe *p, struct bufferevent *bev);

/* Connects to sa; with tls, speaks TLS as p->cfg's tls: says (SNI and name
 * checked: tls.server_name, else the address), offering alpn (a wire-format
 * ALPN list, NULL: none; when given, the server must select its first
 * protocol). Returns 0 with *out set (free with probe_stream_free()), or
 * -ENOMEM with nothing left open. */
int probe_stream_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen, int tls,
                       const unsigned char *alpn, size_t alpn_len, probe_stream_ready_fn ready,
                       struct probe_stream **out);

/* The reason a ready stream's bufferevent failed (BEV_EVENT_ERROR), for a
 * result text: the TLS error or the socket's errno. */
void probe_stream_error(struct probe_stream *s, char *buf, size_t len);

/* Closes (with a reset) and frees; accepts NULL. */
void probe_stream_free(struct probe_stream *s);

/* The numeric address and port a probe goes to: "127.0.0.1", 8080; the
 * Host header and :authority default to "127.0.0.1:8080" or "[::1]:8080". */
void probe_addr_text(const struct sockaddr *sa, char *addr, size_t addrlen, uint16_t *port,
                     char *hostport, size_t hplen);

/* --- HTTP/1.1 (probe_http.c), shared by http and https --- */

int probe_http_begin(struct health_probe *p, const struct sockaddr *sa, socklen_t salen, int tls);
void probe_http_release(struct health_probe *p);

/* The response parser, fed bytes as they come (pure; test_health). */
#define PROBE_HTTP_HEAD_MAX (16 * 1024) /* status line and headers */
enum probe_http_state {
	PROBE_HTTP_STATUS = 0,
	PROBE_HTTP_HEADERS,
	PROBE_HTTP_BODY,       /* Content-Length or until the connection closes */
	PROBE_HTTP_CHUNK_SIZE, /* chunked: a size line */
	PROBE_HTTP_CHUNK_DATA,
	PROBE_HTTP_CHUNK_END, /* the CRLF after a chunk's data */
	PROBE_HTTP_DONE,      /* status and (up to CHECK_BODY_MAX of) the body are in */
	PROBE_HTTP_BAD        /* not HTTP, or a head over PROBE_HTTP_HEAD_MAX */
};

struct probe_http_resp {
	enum probe_http_state state;
	int want_body;     /* 0: done at the end of the head (no body_match, or HEAD) */
	int status;        /* the final (non-1xx) status, once past PROBE_HTTP_STATUS */
	size_t head_bytes; /* of status lines and headers so far */
	int chunked;
	int64_t length; /* Content-Length, -1: none */
	uint64_t left;  /* of the current chunk or of Content-Length */
	char line[256]; /* the line being read (longer ones are cut; only a few are read) */
	size_t line_len;
	char body[CHECK_BODY_MAX];
	size_t body_len;
};

/* Starts a response; want_body as above. */
void probe_http_resp_init(struct probe_http_resp *r, int want_body);

/* Feeds len bytes; returns how many were used (fewer only once DONE or
 * BAD, which are final). */
size_t probe_http_feed(struct probe_http_resp *r, const char *data, size_t len);

/* The connection closed: a body read until the close, or cut short, is
 * complete as it is (DONE); a head cut short stays where it was. */
void probe_http_eof(struct probe_http_resp *r);

/* --- gRPC health (probe_grpc.c): its two messages (pure; test_health) --- */

/* grpc.health.v1.HealthCheckRequest{service} as a gRPC message (5-byte
 * prefix + protobuf) into out; returns its length, 0 if it does not fit. */
size_t probe_grpc_request(const char *service, unsigned char *out, size_t cap);

/* Decodes a gRPC message holding a HealthCheckResponse: sets *status
 * (0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN; 0 when the
 * field is absent). Returns 0, or -1 when it is not one (a compressed,
 * truncated or malformed message). */
int probe_grpc_response(const unsigned char *msg, size_t len, int *status);

/* --- DNS (probe_dns.c): its query and answer (pure; test_health) --- */

/* Writes a query for name (absolute, "example.org.") type qtype class IN
 * with id into out; returns its length, 0 if the name is not valid. */
size_t probe_dns_query(const char *name, uint16_t qtype, uint16_t id, unsigned char *out,
                       size_t cap);

/* Checks that resp answers query (same id, QR set, same question); returns
 * the rcode (0..15), or -1 with a reason in why. */
int probe_dns_answer(const unsigned char *query, size_t qlen, const unsigned char *resp,
                     size_t rlen, const char **why);

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

/* SPDX-License-Identifier: BSD-3-Clause */
/* http.h: the control API's HTTP/1.1 server, on bufferevents of one event
 * base, bounded against hostile clients.
 *
 * libevent's evhttp has no connection cap, restarts its timeout on every
 * byte and reads a whole body before the application sees the headers, so
 * one byte every few seconds holds a connection forever and an anonymous
 * client can make srvd buffer a megabyte. This server is small instead:
 *
 *   - at most `max_conns` connections, and `max_per_ip` from one address;
 *     one more gets 503 and is closed at once;
 *   - a hard deadline for the request head (from accept, or from the end
 *     of the previous response), one for the body and one for writing the
 *     response: trickling bytes never extends them;
 *   - the head goes to the application (http_head_fn) before any of the
 *     body is read, so a request without a valid token, to an unknown path
 *     or with a body over `max_body` is answered and the body never
 *     buffered (the connection is closed after a short lingering drain, so
 *     the client reads the answer instead of a reset);
 *   - bodies being read at once hold at most `body_budget` bytes in all;
 *   - requests that wait (long polls, streams) move to a pool of their own
 *     (`max_waiting`), so they neither count against nor starve the others;
 *   - a streamed response holds at most `max_stream` bytes unsent: a reader
 *     that does not keep up is dropped, never buffered for.
 *
 * Requests carry Content-Length or no body; Transfer-Encoding gets 411.
 * Keep-alive (HTTP/1.1, or 1.0 with Connection: keep-alive); pipelined
 * requests are read one at a time. `Expect: 100-continue` is honoured.
 */
#ifndef SRVD_API_HTTP_H
#define SRVD_API_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct evbuffer;
struct http_server;
struct http_req;

#define HTTP_MAX_CONNS   256   /* at most, and at most an eighth of RLIMIT_NOFILE */
#define HTTP_MAX_PER_IP  32    /* connections from one client address */
#define HTTP_HEAD_MS     10000 /* whole request head, from accept or the last response */
#define HTTP_BODY_MS     30000 /* whole body, from the end of the head */
#define HTTP_WRITE_MS    30000 /* whole response, from when it is queued */
#define HTTP_LINGER_MS   2000  /* draining a closing connection */
#define HTTP_MAX_HEAD    (16 * 1024)
#define HTTP_MAX_BODY    (1024 * 1024)
#define HTTP_BODY_BUDGET (16 * 1024 * 1024) /* bodies being read, all connections */
#define HTTP_MAX_WAITING 256                /* parked requests (long polls, streams) */
#define HTTP_STREAM_MAX  (64 * 1024)        /* unsent bytes of one stream, else it is dropped */

struct http_limits {
	size_t max_conns, max_per_ip, max_head, max_body, body_budget, max_waiting, max_stream;
	unsigned head_ms, body_ms, write_ms, linger_ms;
};

/* The defaults above, with max_conns lowered to an eighth of the soft
 * RLIMIT_NOFILE (at least 8), so the API cannot take the descriptors that
 * DNS over TCP, zone transfers, probes and reloads need. */
void http_limits_default(struct http_limits *lim);

enum http_method {
	HTTP_M_GET = 0,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_OTHER, /* parsed, but nothing routes it: 405 */
};

/* "GET", "HEAD", ...; "?" for HTTP_M_OTHER. */
const char *http_method_name(enum http_method m);

/* Runs once the body is in (or at once for a request without one). It must
 * answer with http_reply(), now or, after http_req_wait(), later. */
typedef void (*http_handler)(struct http_req *req, void *arg);

/* Runs once the request head is complete, before any of its body is read:
 * returns the handler to run when the body is in (with *arg for it), or
 * NULL after answering at once with http_reply() (the body, if any, is then
 * never read). */
typedef http_handler (*http_head_fn)(struct http_req *req, void *server_arg, void **arg);

/* Binds sa (SO_REUSEADDR) and listens on it on base. Borrows base and arg; copies lim. Returns 0
 * and sets *out (free with http_server_free()), or a negative errno code. */
int http_server_create(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                       const struct http_limits *lim, http_head_fn on_head, void *arg,
                       struct http_server **out);

/* The bound address (port 0 resolved). */
int http_server_address(const struct http_server *s, struct sockaddr_storage *out, socklen_t *len);

/* Closes every connection (waiting handlers are not called back) and frees;
 * accepts NULL. */
void http_server_free(struct http_server *s);

/* Counters for tests, logs and /metrics. */
struct http_server_stats {
	size_t conns, waiting;           /* now */
	unsigned long long refused;      /* 503: over max_conns, max_per_ip or max_waiting */
	unsigned long long timed_out;    /* closed at a deadline */
	unsigned long long body_refused; /* answered before the body was read */
	unsigned long long dropped;      /* streams closed: over max_stream unsent */
	size_t body_bytes;               /* bytes of bodies being read now */
};
void http_server_get_stats(const struct http_server *s, struct http_server_stats *out);

/* --- the request, valid from on_head until the reply is written --- */

enum http_method http_req_method(const struct http_req *req);
/* The path (no query), raw: no percent-decoding. */
const char *http_req_path(const struct http_req *req);
/* The query after '?', or NULL. */
const char *http_req_query(const struct http_req *req);
/* A request header's value (the first, names compared without case), or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);
/* The value of the Content-Length header (0 without one). */
size_t http_req_content_length(const struct http_req *req);
/* The body (complete when the handler runs); never NULL. */
struct evbuffer *http_req_body(struct http_req *req);
/* The client's address, as text ("127.0.0.1", "::1"). */
const char *http_req_peer(const struct http_req *req);

/* Adds a response header; call before http_reply(). Returns 0 or -1. */
int http_add_header(struct http_req *req, const char *name, const char *value);

/* Sends the response: status code, Content-Type (NULL: none) and the
 * contents of body (moved out of it; NULL: empty). For HEAD only the
 * headers go out. Exactly once per request. */
void http_reply(struct http_req *req, int code, const char *content_type, struct evbuffer *body);

/* Moves the request to the waiting pool: its connection no longer counts
 * against max_conns and has no deadline until http_reply(); on_close runs
 * (instead of any reply) if the client goes away first, after which req is
 * gone. Returns 0, or -1 when max_waiting requests already wait (then
 * answer at once). */
int http_req_wait(struct http_req *req, void (*on_close)(struct http_req *req, void *arg),
                  void *arg);

/* --- streamed responses (text/event-stream), for a request in the waiting
 * pool (after http_req_wait()); it stays there until the stream ends --- */

/* Sends the status line and headers (those added, Content-Type type, no
 * Content-Length: the body ends when the connection closes, so any HTTP/1.x
 * client reads it). Instead of http_reply(); not for HEAD (answer that with
 * http_reply()). Returns 0, or -1 if req is not waiting, was answered or is
 * a HEAD. */
int http_stream_start(struct http_req *req, int code, const char *content_type);

/* Queues len bytes of a started stream. Returns 0, or -1 when the stream is
 * dropped: more than max_stream bytes would wait unsent (the reader does not
 * keep up). A dropped stream is closed from the event loop soon after, with
 * on_close, never from within this call: req stays valid until then, and
 * further writes return -1. */
int http_stream_write(struct http_req *req, const void *data, size_t len);

/* Ends a started stream: what is queued goes out within the write deadline,
 * then the connection closes. req is gone after the call; on_close does not
 * run. */
void http_stream_end(struct http_req *req);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* tcp.c: DNS over TCP (RFC 1035 4.2.2, RFC 7766): connections, pipelining,
 * limits; the framing itself is tcpframe.c, which the fuzzer drives alone.
 *
 * One bufferevent per connection. Queries are answered as soon as they are
 * whole, in arrival order, so pipelined answers keep their order. Limits:
 * - idle timeout: a timer per connection restarted by each complete query and
 *   each time output drains; bytes of a partial message do not restart it,
 *   so a client trickling a query byte by byte is closed like an idle one;
 * - connections: at most max_conns per worker; a new connection closes the
 *   least recently active one (a list kept in activity order), so idle
 *   clients cannot lock others out;
 * - output: above TCP_OUT_HIWAT buffered bytes we stop reading the client
 *   until it has read enough of its answers (TCP_OUT_LOWAT);
 * - forwarded queries: at most TCP_FWD_PENDING of a connection wait for
 *   their upstream at a time; further queries stay unread until one is
 *   answered. Their answers land in the same output and count against the
 *   same watermark, so a connection holds at most TCP_OUT_HIWAT + (1 +
 *   TCP_FWD_PENDING) answers, however many it pipelines without reading;
 * - input: the read high watermark bounds what we take in before answering.
 * A zero-length message closes the connection; queries dns_answer() drops
 * get no response. Forwarded queries (server.forward) are answered when the
 * upstream's answer arrives, possibly after later queries of the connection
 * (RFC 7766 6.2.1.1 allows it; clients match by ID); a closing connection
 * waits for them, bounded by the stop grace / idle timer.
 *
 * Zone transfers (AXFR/IXFR, dns/xfr.h) are streamed: the first messages go
 * to the output up to TCP_OUT_HIWAT, the next ones each time the client has
 * read it down to TCP_OUT_LOWAT (the write callback; each refill restarts the
 * idle clock), and the connection's later queries wait until the transfer
 * is sent. So a transfer holds about TCP_OUT_HIWAT + one message + its
 * 64 KB message buffer, whatever the zone's size, and the zone itself once:
 * a reference-counted snapshot shared through the IXFR history, which does
 * not depend on the table (a reload may free the table meanwhile; the
 * table is held, as for any query, only while the transfer starts). At most
 * DNS_XFR_RUNNING transfers run at once in the whole server; a request
 * beyond that gets SERVFAIL (BIND's answer past transfers-out), so slow
 * readers cannot tie up more. A reader that stops reading is closed by the
 * idle timeout, which frees its transfer.
 * With server.transfer.tsig every request must be signed with the key and
 * every message of the answer is signed (dns/tsig.h); each message is
 * built into a scratch buffer first, then signed into the output.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/addr.h"
#include "common/log.h"
#include "dns/answer/answer.h"
#include "dns/listen/server_int.h"
#include "dns/listen/tcpframe.h"
#include "dns/transfer/tsig.h"
#include "dns/transfer/xfr.h"

#define DNS_RCODE_SERVFAIL 2

static void xfr_free(struct tcp_conn *c);

static void list_unlink(struct dns_worker *w, struct tcp_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conn_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->conn_tail = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(struct dns_worker *w, struct tcp_conn *c)
{
	c->prev = w->conn_tail;
	c->next = NULL;
	if (w->conn_tail)
		w->conn_tail->next = c;
	else
		w->conn_head = c;
	w->conn_tail = c;
}

/* The connection did something useful: restart its idle clock. */
static void conn_touch(struct tcp_conn *c)
{
	struct dns_worker *w = c->w;

	if (w->conn_tail != c) {
		list_unlink(w, c);
		list_append(w, c);
	}
	if (!c->closing)
		event_add(c->timer, w->idle_tv);
}

static void conn_free(struct tcp_conn *c)
{
	struct dns_worker *w = c->w;

	if (c->fwd_pending && w->fwd)
		dns_fwd_forget_conn(w->fwd, c);
	xfr_free(c);
	list_unlink(w, c);
	w->n_conns--;
	bufferevent_free(c->bev);
	event_free(c->timer);
	free(c);
	if (w->stopping && w->n_conns == 0)
		event_base_loopexit(w->base, NULL);
}

/* A closing connection may go once no forwarded answer is still to come
 * (a client may half-close right after its query), unless the worker stops. */
static int conn_done(const struct tcp_conn *c)
{
	return (c->fwd_pending == 0 && !c->xfr) || c->w->stopping;
}

/* Closes once the answers already in the output buffer are written. */
static void conn_close_after_write(struct tcp_conn *c, const struct timeval *deadline)
{
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 && conn_done(c)) {
		conn_free(c);
		return;
	}
	event_add(c->timer, deadline);
}

/* One query of connection arg, for dns_tcpframe_process(). */
static size_t conn_answer(void *arg, const uint8_t *query, size_t qlen, uint8_t *out)
{
	struct tcp_conn *c = arg;
	struct dns_worker *w = c->w;
	struct dns_answer_info info;
	uint64_t t0;
	size_t len;

	CNT_INC(w->cnt.queries_tcp);
	memset(&info, 0, sizeof(info));
	t0 = dns_stats_now_ns();
	len = dns_answer_client(w->ctx, server_table_acquire(w), query, qlen, DNS_TCP,
	                        (const struct sockaddr *)&c->peer, out, DNS_MAX_MSG, &info);
	server_table_release(w);
	dns_stats_record(&w->qstats, DNS_TCP, &info, qlen, len, dns_stats_now_ns() - t0);
	if (info.forward && w->fwd && len > 0) {
		/* the answer comes later, out of order (RFC 7766 6.2.1.1) */
		if (dns_fwd_tcp(w->fwd, c, query, qlen) == 0)
			return 0;
		len = dns_fwd_servfail_raw(query, qlen, out, DNS_MAX_MSG);
		info.rcode = DNS_RCODE_SERVFAIL;
		info.truncated = 0;
	}
	server_count(w, &info, len);
	if (log_queries_on())
		log_query((const struct sockaddr *)&c->peer, query, qlen, info.rcode, len, 1);
	return len;
}

static const char *xfr_name(enum dns_xfr_kind k)
{
	return k == DNS_XFR_IXFR ? "IXFR" : "AXFR";
}

/* Moves the messages of a signed exchange from in to out, signing each
 * (RFC 8945 5.3.1: every message, the simplest choice); buf holds
 * DNS_MAX_MSG bytes. Adds the bytes added to *bytes. -1 on error. */
static int sign_all(const struct dns_tsig_key *key, struct dns_tsig_ctx *ctx, struct evbuffer *in,
                    struct evbuffer *out, uint8_t *buf, uint64_t now, size_t *bytes)
{
	uint8_t pfx[2];

	while (evbuffer_get_length(in) >= 2) {
		size_t n, len;
		if (evbuffer_remove(in, pfx, 2) != 2)
			return -1;
		n = (size_t)(pfx[0] << 8 | pfx[1]);
		if (evbuffer_remove(in, buf, n) != (int)n)
			return -1;
		len = n;
		if (dns_tsig_sign(key, ctx, buf, &len, DNS_MAX_MSG, now) < 0)
			return -1;
		*bytes += len - n;
		pfx[0] = (uint8_t)(len >> 8);
		pfx[1] = (uint8_t)len;
		if (evbuffer_add(out, pfx, 2) < 0 || evbuffer_add(out, buf, len) < 0)
			return -1;
	}
	return 0;
}

/* With transfer.tsig: the request's TSIG decides first (RFC 8945 5.2);
 * unsigned gets REFUSED from dns_xfr_answer() as if outside the ACL (what
 * NSD does for a zone whose provide-xfr needs a key), a bad TSIG gets
 * NOTAUTH with the TSIG error (written to out here, returns 1); a good one
 * returns 0 and its answer is signed by the caller. *st says which. */
static int conn_tsig(struct dns_worker *w, const uint8_t *query, size_t qlen, struct evbuffer *out,
                     struct dns_tsig_ctx *ctx, enum dns_tsig_status *st, struct dns_xfr_result *res,
                     uint64_t now)
{
	const struct dns_tsig_key *key = w->srv->tsig_key;
	uint8_t *buf = w->tcp_out;
	size_t len;

	*st = dns_tsig_verify_query(key, query, qlen, now, ctx);
	if (*st == DNS_TSIG_OK || *st == DNS_TSIG_UNSIGNED)
		return 0;
	memset(res, 0, sizeof(*res));
	res->asked = dns_xfr_query_kind(query, qlen);
	res->rcode = *st == DNS_TSIG_FORMERR ? 1 : 9;
	len = dns_tsig_error_response(key, ctx, *st, query, qlen, buf + 2, DNS_MAX_MSG, now);
	if (len == 0)
		return 1; /* no answer: the query is dropped */
	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	if (evbuffer_add(out, buf, len + 2) < 0)
		return -1;
	res->messages = 1;
	res->bytes = len;
	return 1;
}

/* A zone transfer being sent on a connection (dns/xfr.h streams). */
struct tcp_xfr {
	struct dns_xfr_stream *st;
	enum dns_xfr_kind kind;
	int slot;             /* holds one of DNS_XFR_RUNNING */
	struct evbuffer *tmp; /* transfer.tsig: messages waiting to be signed */
	struct dns_tsig_ctx tctx;
	size_t tsig_bytes; /* what the signatures added */
	uint64_t t0;
	char why[64]; /* for the refused log line */
	uint8_t *query;
	size_t qlen;
};

/* Takes one of the DNS_XFR_RUNNING transfers of the server; 0 if all run. */
static int xfr_slot_take(struct dns_server *srv)
{
	unsigned n = atomic_load_explicit(&srv->xfr_running, memory_order_relaxed);

	do
		if (n >= DNS_XFR_RUNNING)
			return 0;
	while (!atomic_compare_exchange_weak_explicit(&srv->xfr_running, &n, n + 1,
	                                              memory_order_relaxed, memory_order_relaxed));
	return 1;
}

/* Counts and logs a transfer request answered (res: what was sent). */
static void xfr_account(struct tcp_conn *c, enum dns_xfr_kind kind,
                        const struct dns_xfr_result *res, size_t bytes, const char *why,
                        const uint8_t *query, size_t qlen, uint64_t t0)
{
	struct dns_worker *w = c->w;
	struct dns_answer_info info;
	char peer[INET6_ADDRSTRLEN + 8];
	double ms = (double)(dns_stats_now_ns() - t0) / 1e6;

	memset(&info, 0, sizeof(info));
	info.qtype = kind == DNS_XFR_IXFR ? DNS_T_IXFR : DNS_T_AXFR;
	info.qclass = DNS_C_IN;
	info.rcode = res->rcode;
	dns_stats_record(&w->qstats, DNS_TCP, &info, qlen, bytes, dns_stats_now_ns() - t0);
	server_count(w, &info, bytes);
	addr_format((const struct sockaddr *)&c->peer, peer, sizeof(peer));
	if (res->served == DNS_XFR_NONE) {
		CNT_INC(w->cnt.xfr_refused);
		log_info("transfer: %s from %s refused (rcode %u%s)", xfr_name(kind), peer,
		         res->rcode, why);
	} else {
		if (res->served == DNS_XFR_IXFR)
			CNT_INC(w->cnt.xfr_ixfr);
		else
			CNT_INC(w->cnt.xfr_axfr);
		if (kind == DNS_XFR_IXFR)
			log_info(
			    "transfer: %s to %s: serial %u -> %u%s, %zu records, %zu messages, "
			    "%.1f ms",
			    xfr_name(res->served), peer, res->client_serial, res->serial,
			    res->served == DNS_XFR_IXFR ? "" : " (not in the IXFR history)",
			    res->records, res->messages, ms);
		else
			log_info(
			    "transfer: AXFR to %s: serial %u, %zu records, %zu messages, %.1f ms",
			    peer, res->serial, res->records, res->messages, ms);
	}
	if (log_queries_on())
		log_query((const struct sockaddr *)&c->peer, query, qlen, res->rcode, bytes, 1);
}

static void xfr_free(struct tcp_conn *c)
{
	struct tcp_xfr *x = c->xfr;

	if (!x)
		return;
	if (x->slot)
		atomic_fetch_sub_explicit(&c->w->srv->xfr_running, 1, memory_order_relaxed);
	dns_xfr_stream_free(x->st);
	if (x->tmp)
		evbuffer_free(x->tmp);
	free(x->query);
	free(x);
	c->xfr = NULL;
}

/* Produces the next messages of c's transfer into out, until out holds
 * TCP_OUT_HIWAT bytes; the write callback calls again once the client has
 * read it down to TCP_OUT_LOWAT, so a transfer holds about that much,
 * however big the zone. Ends the transfer when it is complete. Returns 0,
 * or -1 on out of memory (drop the connection). */
static int xfr_pump(struct tcp_conn *c, struct evbuffer *out)
{
	struct tcp_xfr *x = c->xfr;
	const struct dns_xfr_result *res;
	int rc;

	while (evbuffer_get_length(out) < TCP_OUT_HIWAT) {
		/* signed: one message at a time through tmp, signed into out */
		rc = dns_xfr_stream_next(x->st, x->tmp ? x->tmp : out, x->tmp ? 1 : TCP_OUT_HIWAT);
		if (rc >= 0 && x->tmp &&
		    sign_all(c->w->srv->tsig_key, &x->tctx, x->tmp, out, c->w->tcp_out,
		             (uint64_t)time(NULL), &x->tsig_bytes) < 0)
			rc = -1;
		if (rc < 0) {
			log_warn("transfer: out of memory; dropping the connection");
			return -1;
		}
		if (rc == 1) {
			res = dns_xfr_stream_result(x->st);
			xfr_account(c, x->kind, res, res->bytes + x->tsig_bytes, x->why, x->query,
			            x->qlen, x->t0);
			xfr_free(c);
			return 0;
		}
	}
	return 0;
}

/* AXFR/IXFR of connection arg, for dns_tcpframe_process(): TSIG
 * (transfer.tsig), the ACL on the client's address and the cap on running
 * transfers, then the first messages (see the top); conn_busy() holds the
 * connection's next queries back until the transfer is sent. */
static int conn_stream(void *arg, const uint8_t *query, size_t qlen, struct evbuffer *out)
{
	struct tcp_conn *c = arg;
	struct dns_worker *w = c->w;
	struct dns_server *srv = w->srv;
	enum dns_xfr_kind kind = dns_xfr_query_kind(query, qlen);
	struct dns_xfr_result res;
	struct dns_tsig_ctx tctx;
	enum dns_tsig_status ts = DNS_TSIG_UNSIGNED;
	struct tcp_xfr *x;
	const char *why = "";
	uint64_t t0, now = (uint64_t)time(NULL);
	int allowed, rc;

	if (kind == DNS_XFR_NONE)
		return 0;
	CNT_INC(w->cnt.queries_tcp);
	allowed = dns_xfr_acl_allows(srv->xfr_acl, (const struct sockaddr *)&c->peer);
	if (!allowed)
		why = ", not in transfer.allow";
	t0 = dns_stats_now_ns();
	if (srv->tsig_key) {
		rc = conn_tsig(w, query, qlen, out, &tctx, &ts, &res, now);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			why = ts == DNS_TSIG_BADKEY    ? ", TSIG BADKEY"
			      : ts == DNS_TSIG_BADSIG  ? ", TSIG BADSIG"
			      : ts == DNS_TSIG_BADTIME ? ", TSIG BADTIME"
			                               : ", malformed TSIG";
			xfr_account(c, kind, &res, res.bytes, why, query, qlen, t0);
			return 1;
		}
		if (ts == DNS_TSIG_UNSIGNED) {
			allowed = 0;
			why = ", unsigned: transfer.tsig needs a signature";
		}
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	c->xfr = x;
	x->kind = kind;
	x->t0 = t0;
	x->slot = allowed && xfr_slot_take(srv);
	if (allowed && !x->slot)
		snprintf(x->why, sizeof(x->why), ", %d transfers running", DNS_XFR_RUNNING);
	else
		snprintf(x->why, sizeof(x->why), "%s", why);
	x->query = malloc(qlen);
	if (x->query) {
		memcpy(x->query, query, qlen);
		x->qlen = qlen;
	}
	if (ts == DNS_TSIG_OK) {
		x->tctx = tctx;
		x->tmp = evbuffer_new();
	}
	x->st = dns_xfr_stream_start(srv->xfr_history, server_table_acquire(w), query, qlen,
	                             allowed, allowed && !x->slot,
	                             x->tmp ? DNS_MAX_MSG - dns_tsig_space(srv->tsig_key) : 0);
	server_table_release(w);
	if (!x->query || (ts == DNS_TSIG_OK && !x->tmp) || !x->st || xfr_pump(c, out) < 0) {
		xfr_free(c);
		return -1;
	}
	return 1;
}

/* The connection may take no further query now (tcpframe.h). */
static int conn_busy(void *arg)
{
	const struct tcp_conn *c = arg;

	return c->fwd_pending >= TCP_FWD_PENDING || c->xfr != NULL;
}

void tcp_fwd_answer(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	struct dns_worker *w = c->w;
	struct dns_answer_info info = {.rcode = msg[3] & 0x0F, .truncated = (msg[2] & 0x02) != 0};
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint8_t pfx[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	size_t mlen = len;

	if (c->fwd_pending > 0)
		c->fwd_pending--;
	if (evbuffer_add(out, pfx, 2) < 0 || evbuffer_add(out, msg, len) < 0)
		len = 0;
	server_count(w, &info, len);
	/* the answer repeats the question: it stands in for the query */
	if (log_queries_on())
		log_query((const struct sockaddr *)&c->peer, msg, mlen, info.rcode, len, 1);
	if (c->closing && evbuffer_get_length(out) == 0 && conn_done(c)) {
		conn_free(c);
		return;
	}
	/* paused at the forwarding bound: take the next queries, unless the
	 * output is still above the low watermark (the write callback resumes
	 * then). Deferred: we are inside the forwarding engine's callback. */
	if (c->paused && !c->closing && !conn_busy(c) &&
	    evbuffer_get_length(out) <= TCP_OUT_LOWAT) {
		c->paused = 0;
		bufferevent_enable(c->bev, EV_READ);
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	}
}

/* Answers every whole query in the input buffer, in order (tcpframe.c). */
static void conn_process(struct tcp_conn *c)
{
	struct dns_worker *w = c->w;
	const struct dns_tcpframe f = {.answer = conn_answer,
	                               .stream = conn_stream,
	                               .busy = conn_busy,
	                               .arg = c,
	                               .buf = w->tcp_out,
	                               .out_hiwat = TCP_OUT_HIWAT};
	enum dns_tcpframe_next next;
	size_t n = 0;

	if (c->closing)
		return;
	next = dns_tcpframe_process(&f, bufferevent_get_input(c->bev),
	                            bufferevent_get_output(c->bev), &n);
	if (n > 0)
		conn_touch(c);
	switch (next) {
	case DNS_TCPFRAME_MORE:
		break;
	case DNS_TCPFRAME_PAUSED:
		c->paused = 1;
		bufferevent_disable(c->bev, EV_READ);
		break;
	case DNS_TCPFRAME_CLOSE:
		conn_close_after_write(c, w->grace_tv);
		break;
	case DNS_TCPFRAME_ERROR:
		conn_free(c);
		break;
	}
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t left = evbuffer_get_length(out);

	/* the client read its transfer down to the low watermark: the next
	 * messages (progress: the idle clock restarts) */
	if (c->xfr && !c->w->stopping && left <= TCP_OUT_LOWAT) {
		if (xfr_pump(c, out) < 0) {
			conn_free(c);
			return;
		}
		if (!c->closing)
			conn_touch(c);
		left = evbuffer_get_length(out);
	}
	if (c->closing) {
		if (left == 0 && conn_done(c))
			conn_free(c);
		return;
	}
	if (left == 0)
		conn_touch(c);
	if (c->paused && left <= TCP_OUT_LOWAT) {
		c->paused = 0;
		bufferevent_enable(bev, EV_READ);
		/* queries may be waiting in the input buffer already */
		conn_process(c);
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;

	if (what & BEV_EVENT_EOF) {
		/* a client may half-close after its last query: still answer it */
		conn_close_after_write(c, c->w->grace_tv);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		log_debug("tcp: connection error: %s", strerror(errno));
	conn_free(c);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;

	if (!c->closing)
		CNT_INC(c->w->cnt.tcp_timeouts);
	conn_free(c);
}

void tcp_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                   void *arg)
{
	struct dns_worker *w = arg;
	struct tcp_conn *c;

	if (w->stopping) {
		evutil_closesocket(fd);
		return;
	}
	if (w->n_conns >= w->max_conns && w->conn_head) {
		CNT_INC(w->cnt.tcp_evicted);
		conn_free(w->conn_head);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->w = w;
	if (salen > 0 && (size_t)salen <= sizeof(c->peer))
		memcpy(&c->peer, sa, (size_t)salen);
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		goto fail;
	fd = -1;
	c->timer = evtimer_new(w->base, conn_timer_cb, c);
	if (!c->timer)
		goto fail;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, TCP_IN_HIWAT);
	bufferevent_setwatermark(c->bev, EV_WRITE, TCP_OUT_LOWAT, 0);
	if (bufferevent_enable(c->bev, EV_READ) < 0)
		goto fail;
	w->n_conns++;
	list_append(w, c);
	event_add(c->timer, w->idle_tv);
	CNT_INC(w->cnt.tcp_accepted);
	return;
fail:
	log_warn("tcp: cannot set up a connection: out of memory");
	if (c && c->bev)
		bufferevent_free(c->bev);
	if (c && c->timer)
		event_free(c->timer);
	free(c);
	if (fd >= 0)
		evutil_closesocket(fd);
}

void tcp_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct dns_worker *w = arg;
	struct timeval pause = {1, 0};
	int err = EVUTIL_SOCKET_ERROR();

	/* out of descriptors: stop accepting for a second instead of spinning */
	for (size_t a = 0; a < w->n_sock; a++) {
		if (w->tcp[a].lev != lev)
			continue;
		log_warn("tcp: accept: %s; pausing for 1 s", evutil_socket_error_to_string(err));
		evconnlistener_disable(lev);
		event_add(w->tcp[a].retry, &pause);
	}
}

void tcp_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_sock *t = arg;

	if (!t->w->stopping)
		evconnlistener_enable(t->lev);
}

void tcp_stop_all(struct dns_worker *w)
{
	struct tcp_conn *c = w->conn_head, *next;

	while (c) {
		next = c->next;
		if (!c->closing)
			conn_close_after_write(c, w->grace_tv);
		c = next;
	}
}

void tcp_free_all(struct dns_worker *w)
{
	int stopping = w->stopping;

	/* no loop exit to request any more */
	w->stopping = 0;
	while (w->conn_head)
		conn_free(w->conn_head);
	w->stopping = stopping;
}

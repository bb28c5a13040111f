/* SPDX-License-Identifier: BSD-3-Clause */
/* server_int.h: the layout shared by server.c, udp.c and tcp.c; not for other modules. */
#ifndef SRVD_DNS_SERVER_INT_H
#define SRVD_DNS_SERVER_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "dns/answer/answer.h"
#include "dns/listen/forward.h"
#include "dns/answer/rrl.h"
#include "dns/listen/server.h"
#include "dns/listen/stats.h"
#include "dns/answer/table_impl.h"

#define UDP_BATCH         32   /* datagrams per recvmmsg/sendmmsg */
#define UDP_ROUNDS        4    /* batches per readable event, then yield */
#define UDP_RBUF          4096 /* larger queries are dropped */
#define UDP_ARENA         (DNS_MAX_MSG + UDP_BATCH * 2048) /* answers of one batch */
#define UDP_CMSG          64                               /* room for one in6_pktinfo cmsg */
#define TCP_OUT_HIWAT     (128 * 1024) /* pause reading above this much output */
#define TCP_OUT_LOWAT     (32 * 1024)  /* resume once output is below this */
#define TCP_IN_HIWAT      (128 * 1024) /* >= 2 + DNS_MAX_MSG, or a query can stall */
#define TCP_FWD_PENDING   16   /* forwarded queries in flight per connection; more wait unread */
#define TCP_STOP_GRACE_MS 5000 /* longest a stop waits for output */

/* Counters are written by one worker only and read by any thread: relaxed
 * atomic load+store keeps that race-free without a locked instruction. */
#define CNT_ADD(c, n)                                                                              \
	atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + (n),        \
	                      memory_order_relaxed)
#define CNT_INC(c) CNT_ADD(c, 1)

struct worker_counters {
	_Atomic uint64_t queries_udp, queries_tcp, dropped, truncated;
	_Atomic uint64_t rcode[DNS_SERVER_RCODES];
	_Atomic uint64_t tcp_accepted, tcp_evicted, tcp_timeouts;
	_Atomic uint64_t rrl_dropped, rrl_slipped;
	_Atomic uint64_t forwarded, forward_failures;
	_Atomic uint64_t xfr_axfr, xfr_ixfr, xfr_refused;
};

struct dns_worker;
struct dns_tsig_key;

/* A worker's hazard pointer: the table it is answering from, NULL while
 * idle (server.c explains the scheme). A cache line of its own, so one
 * worker's stores do not slow another's. */
struct server_slot {
	_Alignas(64) _Atomic(struct dns_table *) table;
};

struct udp_sock {
	struct dns_worker *w;
	int fd;
	int family;
	int pktinfo; /* bound to a wildcard address: reply from the address the query came to */
	struct event *ev;
};

struct tcp_sock {
	struct dns_worker *w;
	int fd; /* owned until the listener takes it */
	struct evconnlistener *lev;
	struct event *retry; /* re-enables accepting after EMFILE and friends */
};

struct tcp_conn {
	struct dns_worker *w;
	struct bufferevent *bev;
	struct event *timer;
	struct tcp_conn *prev, *next; /* least recently active first */
	int paused;                   /* reading stopped until output drains */
	int closing;                  /* close once output is written */
	unsigned fwd_pending;         /* forwarded queries whose answers are still to come */
	struct tcp_xfr *xfr;          /* a zone transfer being sent (tcp.c); NULL: none */
	struct sockaddr_storage peer; /* the client, for the query log */
};

struct dns_worker {
	struct dns_server *srv;
	unsigned id;
	pthread_t thread;
	int running;
	struct event_base *base;
	struct event *stop_ev;
	struct dns_ctx *ctx;
	int stopping;

	struct udp_sock *udp; /* one per listen address */
	struct tcp_sock *tcp;
	size_t n_sock;

	/* TCP connections, a list ordered by last activity */
	struct tcp_conn *conn_head, *conn_tail;
	unsigned n_conns, max_conns;
	const struct timeval *idle_tv; /* a libevent common timeout */
	const struct timeval *grace_tv;

	/* UDP batch state: nothing is allocated per query */
	uint8_t (*rbuf)[UDP_RBUF];
	struct sockaddr_storage *peer;
	uint8_t (*rcmsg)[UDP_CMSG];
	uint8_t (*scmsg)[UDP_CMSG];
	struct iovec *riov, *siov;
	struct mmsghdr *rmsg, *smsg;
	uint8_t *arena;
	/* rmsg is set up once for one kind of socket (-1: not yet, 0: plain,
	 * 1: with IP_PKTINFO); after that only the rmsg_dirty headers the last
	 * recvmmsg() wrote need their lengths back */
	int rmsg_mode;
	unsigned rmsg_dirty;

	uint8_t *tcp_out; /* 2 + DNS_MAX_MSG: length prefix and answer */

	/* UDP rate limiting: the settings of the last table seen (all zero:
	 * off) and the buckets made for them, NULL while off */
	struct dns_rrl_config rrl_cfg;
	struct dns_rrl *rrl;

	struct worker_counters cnt;
	struct server_slot *slot;       /* in srv->slots */
	struct dns_stats_worker qstats; /* dns/stats.h: by qtype, malformed, latency */
	struct dns_fwd *fwd;            /* server.forward; NULL: names not ours get REFUSED */
};

struct dns_server {
	struct dns_worker *workers;
	unsigned n_workers;
	unsigned tcp_idle_ms;
	struct sockaddr_storage *bound; /* per listen address, with the real port */
	socklen_t *bound_len;
	size_t n_listen;
	_Atomic(struct dns_table *) table;
	struct server_slot *slots; /* per worker, 64-byte aligned */
	int started;
	int stopped;
	struct dns_fwd_upstream *fwd_up; /* server.forward, parsed */
	size_t n_fwd_up;
	unsigned fwd_timeout_ms;
	struct dns_xfr_acl *xfr_acl;         /* server.transfer.allow; never NULL once created */
	struct dns_xfr_history *xfr_history; /* borrowed, or xfr_own_history */
	struct dns_xfr_history *xfr_own_history;
	struct dns_tsig_key *tsig_key; /* server.transfer.tsig; NULL: none */
	_Atomic unsigned xfr_running;  /* transfers being sent, at most DNS_XFR_RUNNING */
};

/* Protects the current table for the worker until server_table_release():
 * publish it in the worker's slot, then check it is still the current one,
 * or the main thread may have retired it before seeing the slot. */
static inline struct dns_table *server_table_acquire(struct dns_worker *w)
{
	struct dns_table *t = atomic_load_explicit(&w->srv->table, memory_order_acquire), *now;

	for (;;) {
		atomic_store_explicit(&w->slot->table, t, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		now = atomic_load_explicit(&w->srv->table, memory_order_acquire);
		if (now == t)
			return t;
		t = now;
	}
}

/* The worker is done with its table (release: its reads happen before a free). */
static inline void server_table_release(struct dns_worker *w)
{
	atomic_store_explicit(&w->slot->table, NULL, memory_order_release);
}

/* server.rrl of the registry the table was built from: dns/table.c copies
 * it into the table, so a reload brings new settings with the new table. */
static inline const struct dns_rrl_config *server_table_rrl(const struct dns_table *t)
{
	return &t->rrl;
}

/* Accounts one answered (or dropped) query. */
void server_count(struct dns_worker *w, const struct dns_answer_info *info, size_t len);

/* udp.c */
void udp_read_cb(evutil_socket_t fd, short what, void *arg);
/* Sends a forwarded query's answer (msg, len bytes) to peer from u, with the
 * control message cmsg (cmsg_len bytes, 0: none), under the rate limit. */
void udp_fwd_answer(struct udp_sock *u, const struct sockaddr_storage *peer, socklen_t peer_len,
                    const uint8_t *cmsg, size_t cmsg_len, uint8_t *msg, size_t len);

/* tcp.c */
void tcp_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                   void *arg);
void tcp_accept_error_cb(struct evconnlistener *lev, void *arg);
void tcp_retry_cb(evutil_socket_t fd, short what, void *arg);
/* Queues a forwarded query's answer (msg, len bytes) on c; c->fwd_pending
 * counts it as arrived. May free c if it was only waiting for this. */
void tcp_fwd_answer(struct tcp_conn *c, const uint8_t *msg, size_t len);
/* Starts a graceful close of every connection of w (the worker is stopping). */
void tcp_stop_all(struct dns_worker *w);
/* Frees every connection at once (after the loop ended). */
void tcp_free_all(struct dns_worker *w);

#endif

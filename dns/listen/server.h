/* SPDX-License-Identifier: BSD-3-Clause */
/* server.h: the DNS listeners and worker threads; they move bytes between
 * sockets and dns_answer() and nothing else.
 *
 * A struct dns_server owns N workers. Each worker runs its own event_base in
 * its own thread (one event base per thread) with its own SO_REUSEPORT UDP and
 * TCP sockets on every listen address, its own struct dns_ctx and its own
 * response buffers, so the UDP path allocates nothing per query and workers
 * share nothing but the table pointer and the read-only table.
 *
 * TCP (RFC 1035 4.2.2, RFC 7766): 2-byte length framing, pipelined queries
 * answered in order (forwarded ones when their answer comes), an idle timeout that runs from the
 * last complete query (a partial message does not keep a connection alive), a bound on connections
 * per worker (when full, the least recently active connection is closed to make room), and a bound
 * on buffered output per connection (reading pauses until the client drains it).
 */
#ifndef SRVD_DNS_SERVER_H
#define SRVD_DNS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dns_table;
struct reg_listen;
struct dns_server;
struct dns_xfr_history;

#define DNS_SERVER_TCP_IDLE_MS 10000 /* default TCP idle timeout */
#define DNS_SERVER_TCP_MAX     1024  /* default TCP connections, all workers together */
#define DNS_SERVER_WORKERS_MAX 256

struct dns_server_config {
	const struct reg_listen *listen; /* borrowed for dns_server_create() only */
	size_t n_listen;
	unsigned n_workers;      /* 1..DNS_SERVER_WORKERS_MAX */
	unsigned tcp_idle_ms;    /* 0: DNS_SERVER_TCP_IDLE_MS */
	unsigned tcp_max;        /* 0: DNS_SERVER_TCP_MAX; split evenly over workers */
	struct dns_table *table; /* initial table; borrowed, must outlive its use */
	/* server.forward: "ADDR:PORT" resolvers for names outside every served
	 * zone, tried in order (README "Forwarding"); borrowed for dns_server_create() only.
	 * None: such names get REFUSED. Fixed for the server's life. */
	char *const *forward;
	size_t n_forward;
	unsigned forward_timeout_ms; /* per upstream try; 0: 1000 */
	/* server.transfer.allow: prefixes that may AXFR/IXFR the service zone
	 * over TCP (dns/xfr.h); borrowed for dns_server_create() only, fixed
	 * for the server's life. None: every transfer gets REFUSED. */
	char *const *transfer_allow;
	size_t n_transfer_allow;
	/* the IXFR history the daemon records versions in (dns/xfr.h);
	 * borrowed, must outlive the server. NULL: the server keeps its own,
	 * filled by the transfers it serves. */
	struct dns_xfr_history *xfr_history;
	/* server.transfer.tsig (dns/tsig.h): with a name, AXFR/IXFR must be
	 * signed with this key and their answers are. Borrowed for
	 * dns_server_create() only. tsig_algorithm: enum reg_tsig_alg. */
	const char *tsig_name; /* NULL: no key */
	int tsig_algorithm;
	const char *tsig_secret; /* base64 */
};

/* Counters, summed over workers by dns_server_get_stats(). */
#define DNS_SERVER_RCODES 24 /* rcode buckets; extended rcodes >= 23 share the last */
struct dns_server_stats {
	uint64_t queries_udp;
	uint64_t queries_tcp;
	uint64_t dropped;   /* no answer sent: dns_answer() dropped it, or a send failed */
	uint64_t truncated; /* TC=1 answers */
	uint64_t rcode[DNS_SERVER_RCODES];
	uint64_t tcp_accepted;
	uint64_t tcp_evicted;  /* closed to make room for a new connection */
	uint64_t tcp_timeouts; /* closed after the idle timeout */
	uint64_t rrl_dropped;  /* UDP answers not sent: over server.rrl.rate (also in dropped) */
	uint64_t rrl_slipped;  /* UDP answers over the rate sent truncated (also in truncated) */
	uint64_t forwarded;    /* queries relayed to server.forward (each counted once) */
	uint64_t forward_failures; /* failed upstream tries: timeout, SERVFAIL, REFUSED, send */
	uint64_t xfr_axfr;         /* zone transfers sent in full: AXFR, and IXFR answered so */
	uint64_t xfr_ixfr;         /* IXFR answered incrementally (or with the SOA alone) */
	uint64_t xfr_refused;      /* AXFR/IXFR refused: outside transfer.allow, or not our zone */
};

/* Creates the workers and opens and binds every socket, logging one line
 * `listening on ADDR:PORT (udp, tcp)` per address with the bound port (port
 * 0 picks one free port shared by UDP and TCP). Nothing runs until
 * dns_server_start(). Returns 0 and sets *out (caller frees with
 * dns_server_free()), -ENOMEM, or another negative errno with a message in
 * err (e.g. "cannot bind 127.0.0.1:53 (udp): Address already in use"). */
int dns_server_create(const struct dns_server_config *cfg, struct dns_server **out, char *err,
                      size_t errlen);

/* Starts the worker threads. Returns 0 or a negative errno (err as above). */
int dns_server_start(struct dns_server *srv, char *err, size_t errlen);

/* Stops accepting and reading, lets every TCP connection finish writing the
 * answers it already has (bounded by the idle timeout), closes everything
 * and joins the workers. Blocks until then. Idempotent; call from the thread
 * that started the server. */
void dns_server_stop(struct dns_server *srv);

/* Stops the server if needed and frees it; accepts NULL. Does not free any
 * table. */
void dns_server_free(struct dns_server *srv);

/* Publishes table to every worker with one atomic exchange and returns the
 * previous table (the caller still owns it). Workers hold a table for one
 * UDP batch or TCP query, so the old one may still be in use for a moment:
 * free it only once dns_server_table_in_use() says 0 (poll, e.g. every
 * 10 ms). Call from one thread (the main thread). */
struct dns_table *dns_server_swap_table(struct dns_server *srv, struct dns_table *table);

/* Returns 1 while table is the published table or a worker still answers
 * from it (its hazard slot holds it), else 0: a table swapped out and not in
 * use can be freed, as no worker can pick it up again. Lock-free; workers
 * are not stopped. Call from the thread that swaps. */
int dns_server_table_in_use(const struct dns_server *srv, const struct dns_table *table);

/* Number of listen addresses, and the bound address of the i-th one (its
 * real port); returns 0 or -1 if i is out of range. */
size_t dns_server_n_listen(const struct dns_server *srv);
int dns_server_bound_addr(const struct dns_server *srv, size_t i, struct sockaddr_storage *out,
                          socklen_t *outlen);

/* Sums the workers' counters. Values are read without stopping workers, so
 * they are a near-consistent snapshot. */
void dns_server_get_stats(const struct dns_server *srv, struct dns_server_stats *out);

#endif

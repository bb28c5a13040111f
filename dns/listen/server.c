/* SPDX-License-Identifier: BSD-3-Clause */
/* server.c: the worker threads' life cycle and their sockets; udp.c and tcp.c move the bytes.
 *
 * Binding: every worker has its own UDP and TCP socket on every address, all
 * with SO_REUSEPORT so the kernel spreads queries over workers. For port 0,
 * worker 0's TCP socket binds first: Linux picks a TCP port no other socket
 * uses (reuseport is not relaxed for TCP autobind), whereas a UDP autobind
 * may hand out a port shared with another reuseport socket of the same
 * user, e.g. a second srvd started by a parallel test. Every other socket
 * then binds that port; if a UDP bind finds it taken, the address is retried
 * with a fresh port.
 *
 * SO_REUSEPORT would also let a second srvd of the same user bind a port
 * this one serves and take part of its queries. So every explicit port is
 * first probed by a UDP and a TCP socket without it: those fail with
 * EADDRINUSE while anyone holds the port, as a plain bind would.
 *
 * Table reclamation (hazard pointers, one per worker): a reload publishes a
 * new table with one atomic exchange of srv->table; the old one may still be
 * read by a worker that loaded the pointer just before. So each worker
 * announces the table it answers from in its own cache-line-aligned slot:
 * before a UDP batch or a TCP query it loads srv->table, stores it in its
 * slot, issues a seq_cst fence and loads srv->table again, retrying until
 * both loads agree; after the batch or query it clears the slot (release).
 * The main thread, after the exchange, issues a seq_cst fence and scans the
 * slots (dns_server_table_in_use()); once no slot holds the old table it
 * frees it. The two fences order the worker's "store slot, re-read table"
 * against the main thread's "store table, read slots": either the worker
 * sees the new table and does not use the old one, or the main thread sees
 * the old one in the slot and waits. An idle worker's slot is NULL, so a
 * reclamation never waits for traffic; a busy one holds a table for one
 * batch (at most UDP_BATCH answers) or one TCP answer, microseconds.
 */
#include "config.h"

#include "dns/listen/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "common/addr.h"
#include "common/log.h"
#include "dns/listen/server_int.h"
#include "dns/transfer/tsig.h"
#include "dns/transfer/xfr.h"
#include "registry/registry.h"

#define BIND_RETRIES 8

void server_count(struct dns_worker *w, const struct dns_answer_info *info, size_t len)
{
	unsigned rc;

	if (len == 0) {
		CNT_INC(w->cnt.dropped);
		return;
	}
	rc = info->rcode < DNS_SERVER_RCODES ? info->rcode : DNS_SERVER_RCODES - 1;
	CNT_INC(w->cnt.rcode[rc]);
	if (info->truncated)
		CNT_INC(w->cnt.truncated);
}

static uint16_t get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static int is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
}

/* Opens one socket bound to ss. Returns the fd, or a negative errno with
 * *what naming the step that failed. */
static int open_bound(const struct sockaddr_storage *ss, socklen_t len, int type, const char **what)
{
	int one = 1, fd, e;

	*what = "socket";
	fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*what = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	/* lets a restart bind while old connections sit in TIME_WAIT */
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (type == SOCK_DGRAM && is_wildcard(ss)) {
		if (ss->ss_family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
			goto fail;
		if (ss->ss_family == AF_INET &&
		    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
			goto fail;
	}
	*what = "bind";
	if (bind(fd, (const struct sockaddr *)ss, len) < 0)
		goto fail;
	*what = "listen";
	if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

/* Binds a UDP and a TCP socket without SO_REUSEPORT to l and closes them:
 * fails as bind would if another socket holds the port. Port 0 needs no probe. */
static int probe_address(const struct reg_listen *l, char *err, size_t errlen)
{
	static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
	int one = 1, fd, e = 0;

	if (get_port(&l->addr) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && e == 0; i++) {
		const char *what = "socket";

		fd = socket(l->addr.ss_family, types[i] | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
		} else {
			/* as the real sockets: TIME_WAIT left by a restart and the other
			 * family on the same port do not count */
			what = "setsockopt";
			if ((types[i] == SOCK_STREAM &&
			     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
			    (l->addr.ss_family == AF_INET6 &&
			     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0))
				e = errno;
			what = "bind";
			if (e == 0 && bind(fd, (const struct sockaddr *)&l->addr, l->addr_len) < 0)
				e = errno;
			close(fd);
		}
		if (e)
			snprintf(err, errlen, "cannot %s %s (%s): %s", what,
			         l->text ? l->text : "?", types[i] == SOCK_STREAM ? "tcp" : "udp",
			         strerror(e));
	}
	return -e;
}

static void close_address(struct dns_server *srv, size_t a)
{
	for (unsigned i = 0; i < srv->n_workers; i++) {
		struct dns_worker *w = &srv->workers[i];
		if (w->udp[a].fd >= 0)
			close(w->udp[a].fd);
		if (w->tcp[a].fd >= 0)
			close(w->tcp[a].fd);
		w->udp[a].fd = w->tcp[a].fd = -1;
	}
}

/* Binds every worker's UDP and TCP socket for listen address a. */
static int bind_address(struct dns_server *srv, size_t a, const struct reg_listen *l, char *err,
                        size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const char *what = "", *proto = "tcp";
	char text[INET6_ADDRSTRLEN + 16];
	int fd = 0;

	for (int attempt = 0; attempt < BIND_RETRIES; attempt++) {
		memcpy(&ss, &l->addr, sizeof(ss));
		len = l->addr_len;
		proto = "tcp";
		fd = open_bound(&ss, len, SOCK_STREAM, &what);
		if (fd < 0)
			break;
		srv->workers[0].tcp[a].fd = fd;
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
			fd = -errno;
			what = "getsockname";
			break;
		}
		for (unsigned i = 0; i < srv->n_workers && fd >= 0; i++) {
			struct dns_worker *w = &srv->workers[i];
			proto = "udp";
			fd = open_bound(&ss, len, SOCK_DGRAM, &what);
			if (fd >= 0) {
				w->udp[a].fd = fd;
				w->udp[a].family = ss.ss_family;
				w->udp[a].pktinfo = is_wildcard(&ss);
			}
			if (fd >= 0 && i > 0) {
				proto = "tcp";
				fd = open_bound(&ss, len, SOCK_STREAM, &what);
				if (fd >= 0)
					w->tcp[a].fd = fd;
			}
		}
		if (fd >= 0)
			break;
		close_address(srv, a);
		/* only a port we did not choose is worth a retry */
		if (get_port(&l->addr) != 0 || fd != -EADDRINUSE)
			break;
	}
	if (fd < 0) {
		close_address(srv, a);
		snprintf(err, errlen, "cannot %s %s (%s): %s", what, l->text ? l->text : "?", proto,
		         strerror(-fd));
		return fd;
	}
	memcpy(&srv->bound[a], &ss, sizeof(ss));
	srv->bound_len[a] = len;
	addr_format((struct sockaddr *)&ss, text, sizeof(text));
	log_info("listening on %s (udp, tcp)", text);
	return 0;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_worker *w = arg;
	struct timeval grace = {TCP_STOP_GRACE_MS / 1000, (TCP_STOP_GRACE_MS % 1000) * 1000};

	w->stopping = 1;
	for (size_t a = 0; a < w->n_sock; a++) {
		if (w->udp[a].ev)
			event_del(w->udp[a].ev);
		if (w->tcp[a].lev)
			evconnlistener_disable(w->tcp[a].lev);
		if (w->tcp[a].retry)
			event_del(w->tcp[a].retry);
	}
	/* the backstop, should a client never read its answers */
	event_base_loopexit(w->base, &grace);
	tcp_stop_all(w);
	if (w->n_conns == 0)
		event_base_loopexit(w->base, NULL);
}

static int alloc_worker(struct dns_server *srv, struct dns_worker *w, unsigned id, size_t n_sock,
                        unsigned max_conns)
{
	struct timeval idle = {srv->tcp_idle_ms / 1000, (srv->tcp_idle_ms % 1000) * 1000};
	struct timeval grace = {TCP_STOP_GRACE_MS / 1000, (TCP_STOP_GRACE_MS % 1000) * 1000};

	w->srv = srv;
	w->id = id;
	w->max_conns = max_conns;
	w->udp = calloc(n_sock, sizeof(*w->udp));
	w->tcp = calloc(n_sock, sizeof(*w->tcp));
	if (!w->udp || !w->tcp)
		return -ENOMEM;
	/* only once both exist: free_worker() closes n_sock fds of each, and a
	 * calloc'd fd is 0 (stdin) until the loop below sets -1 */
	w->n_sock = n_sock;
	for (size_t a = 0; a < n_sock; a++) {
		w->udp[a].fd = w->tcp[a].fd = -1;
		w->udp[a].w = w->tcp[a].w = w;
	}
	w->base = event_base_new();
	w->ctx = dns_ctx_create(0);
	w->rbuf = calloc(UDP_BATCH, sizeof(*w->rbuf));
	w->peer = calloc(UDP_BATCH, sizeof(*w->peer));
	w->rcmsg = calloc(UDP_BATCH, sizeof(*w->rcmsg));
	w->scmsg = calloc(UDP_BATCH, sizeof(*w->scmsg));
	w->riov = calloc(UDP_BATCH, sizeof(*w->riov));
	w->siov = calloc(UDP_BATCH, sizeof(*w->siov));
	w->rmsg = calloc(UDP_BATCH, sizeof(*w->rmsg));
	w->smsg = calloc(UDP_BATCH, sizeof(*w->smsg));
	w->arena = malloc(UDP_ARENA);
	w->tcp_out = malloc(2 + DNS_MAX_MSG);
	w->rmsg_mode = -1;
	if (w->base && srv->n_fwd_up) {
		w->fwd =
		    dns_fwd_create(w, w->base, srv->fwd_up, srv->n_fwd_up, srv->fwd_timeout_ms);
		if (!w->fwd)
			return -ENOMEM;
	}
	if (!w->base || !w->ctx || !w->rbuf || !w->peer || !w->rcmsg || !w->scmsg || !w->riov ||
	    !w->siov || !w->rmsg || !w->smsg || !w->arena || !w->tcp_out)
		return -ENOMEM;
	w->stop_ev = event_new(w->base, -1, 0, stop_cb, w);
	w->idle_tv = event_base_init_common_timeout(w->base, &idle);
	w->grace_tv = event_base_init_common_timeout(w->base, &grace);
	if (!w->stop_ev || !w->idle_tv || !w->grace_tv)
		return -ENOMEM;
	return 0;
}

/* Hands the bound sockets of w to its event base. */
static int arm_worker(struct dns_worker *w)
{
	for (size_t a = 0; a < w->n_sock; a++) {
		struct udp_sock *u = &w->udp[a];
		struct tcp_sock *t = &w->tcp[a];

		u->ev = event_new(w->base, u->fd, EV_READ | EV_PERSIST, udp_read_cb, u);
		if (!u->ev || event_add(u->ev, NULL) < 0)
			return -ENOMEM;
		/* backlog 0: the socket already listens */
		t->lev =
		    evconnlistener_new(w->base, tcp_accept_cb, w, LEV_OPT_CLOSE_ON_FREE, 0, t->fd);
		if (!t->lev)
			return -ENOMEM;
		t->fd = -1;
		evconnlistener_set_error_cb(t->lev, tcp_accept_error_cb);
		t->retry = evtimer_new(w->base, tcp_retry_cb, t);
		if (!t->retry)
			return -ENOMEM;
	}
	return 0;
}

/* server.forward: parsed once, shared read-only by the workers' engines. */
static int parse_forward(struct dns_server *srv, const struct dns_server_config *cfg, char *err,
                         size_t errlen)
{
	char list[512] = "";
	size_t n = cfg->n_forward, used = 0;

	if (n == 0)
		return 0;
	if (n > DNS_FWD_MAX_UPSTREAMS) {
		log_warn("server.forward: %zu resolvers; only the first %d are used", n,
		         DNS_FWD_MAX_UPSTREAMS);
		n = DNS_FWD_MAX_UPSTREAMS;
	}
	srv->fwd_up = calloc(n, sizeof(*srv->fwd_up));
	if (!srv->fwd_up) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (dns_fwd_parse_addr(cfg->forward[i], &srv->fwd_up[i]) < 0) {
			snprintf(err, errlen,
			         "server.forward: \"%s\" is not ADDR:PORT with a literal address",
			         cfg->forward[i]);
			return -EINVAL;
		}
		if (used < sizeof(list))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
			                         i ? ", " : "", cfg->forward[i]);
	}
	srv->n_fwd_up = n;
	srv->fwd_timeout_ms = cfg->forward_timeout_ms ? cfg->forward_timeout_ms : 1000;
	log_info("forwarding names outside our zones to %s (%u ms each)", list,
	         srv->fwd_timeout_ms);
	return 0;
}

int dns_server_create(const struct dns_server_config *cfg, struct dns_server **out, char *err,
                      size_t errlen)
{
	struct dns_server *srv;
	unsigned tcp_max;
	int r = -ENOMEM;

	*out = NULL;
	if (cfg->n_workers < 1 || cfg->n_workers > DNS_SERVER_WORKERS_MAX || cfg->n_listen == 0) {
		snprintf(err, errlen, "invalid server configuration");
		return -EINVAL;
	}
	/* every base must be able to take event_active() from another thread */
	if (evthread_use_pthreads() < 0) {
		snprintf(err, errlen, "libevent: cannot enable threads");
		return -ENOMEM;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		goto oom;
	srv->n_workers = cfg->n_workers;
	srv->n_listen = cfg->n_listen;
	srv->tcp_idle_ms = cfg->tcp_idle_ms ? cfg->tcp_idle_ms : DNS_SERVER_TCP_IDLE_MS;
	atomic_init(&srv->table, cfg->table);
	tcp_max = cfg->tcp_max ? cfg->tcp_max : DNS_SERVER_TCP_MAX;
	srv->workers = calloc(cfg->n_workers, sizeof(*srv->workers));
	srv->bound = calloc(cfg->n_listen, sizeof(*srv->bound));
	srv->bound_len = calloc(cfg->n_listen, sizeof(*srv->bound_len));
	srv->slots = aligned_alloc(_Alignof(struct server_slot),
	                           cfg->n_workers * sizeof(struct server_slot));
	if (!srv->workers || !srv->bound || !srv->bound_len || !srv->slots)
		goto oom;
	r = parse_forward(srv, cfg, err, errlen);
	if (r < 0)
		goto fail;
	r = -EINVAL;
	if (dns_xfr_acl_create(cfg->transfer_allow, cfg->n_transfer_allow, &srv->xfr_acl, err,
	                       errlen) < 0)
		goto fail;
	r = -ENOMEM;
	srv->xfr_history = cfg->xfr_history;
	if (!srv->xfr_history) {
		srv->xfr_own_history = dns_xfr_history_create(0, 0);
		if (!srv->xfr_own_history)
			goto oom;
		srv->xfr_history = srv->xfr_own_history;
	}
	r = -EINVAL;
	if (cfg->tsig_name &&
	    dns_tsig_key_create(cfg->tsig_name, (enum dns_tsig_alg)cfg->tsig_algorithm,
	                        cfg->tsig_secret, &srv->tsig_key, err, errlen) < 0)
		goto fail;
	r = -ENOMEM;
	for (unsigned i = 0; i < srv->n_workers; i++) {
		unsigned per = tcp_max / srv->n_workers;

		atomic_init(&srv->slots[i].table, NULL);
		srv->workers[i].slot = &srv->slots[i];
		if (alloc_worker(srv, &srv->workers[i], i, cfg->n_listen, per ? per : 1) < 0)
			goto oom;
	}
	/* all probes first: our own sockets on one address must not fail the
	 * probe of another (0.0.0.0:53 beside 127.0.0.1:53) */
	for (size_t a = 0; a < cfg->n_listen; a++) {
		r = probe_address(&cfg->listen[a], err, errlen);
		if (r < 0)
			goto fail;
	}
	for (size_t a = 0; a < cfg->n_listen; a++) {
		r = bind_address(srv, a, &cfg->listen[a], err, errlen);
		if (r < 0)
			goto fail;
	}
	r = -ENOMEM;
	for (unsigned i = 0; i < srv->n_workers; i++)
		if (arm_worker(&srv->workers[i]) < 0)
			goto oom;
	*out = srv;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	dns_server_free(srv);
	return r;
}

static void *worker_main(void *arg)
{
	struct dns_worker *w = arg;

	if (event_base_dispatch(w->base) < 0)
		log_err("worker %u: event loop failed", w->id);
	return NULL;
}

int dns_server_start(struct dns_server *srv, char *err, size_t errlen)
{
	sigset_t all, old;
	int r = 0;

	if (srv->started)
		return 0;
	srv->started = 1;
	/* workers inherit a full mask: signals belong to the main thread's base */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < srv->n_workers; i++) {
		struct dns_worker *w = &srv->workers[i];
		r = pthread_create(&w->thread, NULL, worker_main, w);
		if (r != 0) {
			snprintf(err, errlen, "cannot start worker %u: %s", i, strerror(r));
			r = -r;
			break;
		}
		w->running = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		dns_server_stop(srv);
	return r;
}

void dns_server_stop(struct dns_server *srv)
{
	if (!srv || srv->stopped)
		return;
	srv->stopped = 1;
	for (unsigned i = 0; i < srv->n_workers; i++)
		if (srv->workers[i].running)
			event_active(srv->workers[i].stop_ev, 0, 0);
	for (unsigned i = 0; i < srv->n_workers; i++) {
		struct dns_worker *w = &srv->workers[i];
		if (w->running) {
			pthread_join(w->thread, NULL);
			w->running = 0;
		}
	}
}

static void free_worker(struct dns_worker *w)
{
	tcp_free_all(w);
	for (size_t a = 0; w->udp && a < w->n_sock; a++) {
		if (w->udp[a].ev)
			event_free(w->udp[a].ev);
		if (w->udp[a].fd >= 0)
			close(w->udp[a].fd);
	}
	for (size_t a = 0; w->tcp && a < w->n_sock; a++) {
		if (w->tcp[a].lev)
			evconnlistener_free(w->tcp[a].lev);
		if (w->tcp[a].retry)
			event_free(w->tcp[a].retry);
		if (w->tcp[a].fd >= 0)
			close(w->tcp[a].fd);
	}
	dns_fwd_free(w->fwd);
	w->fwd = NULL;
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->base)
		event_base_free(w->base);
	dns_ctx_free(w->ctx);
	free(w->udp);
	free(w->tcp);
	free(w->rbuf);
	free(w->peer);
	free(w->rcmsg);
	free(w->scmsg);
	free(w->riov);
	free(w->siov);
	free(w->rmsg);
	free(w->smsg);
	free(w->arena);
	free(w->tcp_out);
	dns_rrl_free(w->rrl);
}

void dns_server_free(struct dns_server *srv)
{
	if (!srv)
		return;
	dns_server_stop(srv);
	for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
		free_worker(&srv->workers[i]);
	free(srv->workers);
	free(srv->bound);
	free(srv->bound_len);
	free(srv->slots);
	free(srv->fwd_up);
	dns_xfr_acl_free(srv->xfr_acl);
	dns_xfr_history_free(srv->xfr_own_history);
	dns_tsig_key_free(srv->tsig_key);
	free(srv);
}

struct dns_table *dns_server_swap_table(struct dns_server *srv, struct dns_table *table)
{
	return atomic_exchange_explicit(&srv->table, table, memory_order_seq_cst);
}

int dns_server_table_in_use(const struct dns_server *srv, const struct dns_table *table)
{
	/* pairs with the fence in server_table_acquire() */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&((struct dns_server *)srv)->table, memory_order_relaxed) == table)
		return 1;
	for (unsigned i = 0; i < srv->n_workers; i++)
		if (atomic_load_explicit(&srv->slots[i].table, memory_order_acquire) == table)
			return 1;
	return 0;
}

size_t dns_server_n_listen(const struct dns_server *srv)
{
	return srv->n_listen;
}

int dns_server_bound_addr(const struct dns_server *srv, size_t i, struct sockaddr_storage *out,
                          socklen_t *outlen)
{
	if (i >= srv->n_listen)
		return -1;
	memcpy(out, &srv->bound[i], sizeof(*out));
	*outlen = srv->bound_len[i];
	return 0;
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void dns_server_get_stats(const struct dns_server *srv, struct dns_server_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < srv->n_workers; i++) {
		const struct worker_counters *c = &srv->workers[i].cnt;
		out->queries_udp += LOAD(c->queries_udp);
		out->queries_tcp += LOAD(c->queries_tcp);
		out->dropped += LOAD(c->dropped);
		out->truncated += LOAD(c->truncated);
		for (int r = 0; r < DNS_SERVER_RCODES; r++)
			out->rcode[r] += LOAD(c->rcode[r]);
		out->tcp_accepted += LOAD(c->tcp_accepted);
		out->tcp_evicted += LOAD(c->tcp_evicted);
		out->tcp_timeouts += LOAD(c->tcp_timeouts);
		out->rrl_dropped += LOAD(c->rrl_dropped);
		out->rrl_slipped += LOAD(c->rrl_slipped);
		out->forwarded += LOAD(c->forwarded);
		out->forward_failures += LOAD(c->forward_failures);
		out->xfr_axfr += LOAD(c->xfr_axfr);
		out->xfr_ixfr += LOAD(c->xfr_ixfr);
		out->xfr_refused += LOAD(c->xfr_refused);
	}
}

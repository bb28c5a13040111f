/* SPDX-License-Identifier: BSD-3-Clause */
/* udp.c: the UDP path: batches of datagrams in (recvmmsg), answers, batches out (sendmmsg).
 *
 * Every buffer belongs to the worker, so a query costs no allocation. Each
 * readable event handles at most UDP_ROUNDS batches before yielding to the
 * worker's other sockets and connections. Sockets on a wildcard address
 * answer from the address the query was sent to (IP_PKTINFO), or clients
 * would see the reply come from elsewhere and drop it.
 *
 * Rate limiting (server.rrl, dns/rrl.h) applies here only: a TCP client
 * cannot spoof its address, so TCP answers are never limited. Each worker
 * keeps its own buckets, so nothing is shared per query; the kernel spreads
 * one client's queries over the workers (SO_REUSEPORT hashes the 4-tuple),
 * so a client using many source ports may get up to workers x rate.
 *
 * Names outside every served zone go to server.forward (forward.h) when it
 * is set: the batch moves on, and the engine sends the answer later through
 * udp_fwd_answer(), from the same socket and source address, rate-limited too.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "dns/answer/answer.h"
#include "dns/listen/forward.h"
#include "dns/listen/server_int.h"

#define DNS_RCODE_SERVFAIL 2

/* Builds the control message that makes the reply leave from the address
 * the query came to. Returns its length, 0 if the query carried none. */
static size_t reply_pktinfo(const struct msghdr *in, uint8_t *buf)
{
	struct msghdr out = {.msg_control = buf, .msg_controllen = UDP_CMSG};
	struct cmsghdr *c, *o;

	for (c = CMSG_FIRSTHDR((struct msghdr *)in); c; c = CMSG_NXTHDR((struct msghdr *)in, c)) {
		o = CMSG_FIRSTHDR(&out);
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			/* the interface index stays: link-local replies need it */
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			memcpy(CMSG_DATA(o), CMSG_DATA(c), sizeof(struct in6_pktinfo));
			return CMSG_SPACE(sizeof(struct in6_pktinfo));
		}
	}
	return 0;
}

static void udp_flush(struct udp_sock *u, unsigned n)
{
	struct dns_worker *w = u->w;
	unsigned done = 0;
	int r;

	while (done < n) {
		r = sendmmsg(u->fd, w->smsg + done, n - done, MSG_DONTWAIT);
		if (r > 0) {
			done += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			/* never block: the clients will retry */
			CNT_ADD(w->cnt.dropped, n - done);
			return;
		}
		/* this datagram failed on its own (EMSGSIZE, EACCES, ...): skip it */
		log_debug("udp: send: %s", strerror(errno));
		CNT_INC(w->cnt.dropped);
		done++;
	}
}

/* Makes the receive headers ready for recvmmsg(): all of them when the kind
 * of socket changes, else only the name and control lengths the kernel
 * overwrote in the last batch (re-initialising all UDP_BATCH headers cost
 * ~750 instructions per query when each wakeup brings one datagram). */
static void udp_prepare(struct dns_worker *w, int pktinfo)
{
	unsigned n = w->rmsg_dirty;

	if (w->rmsg_mode != pktinfo) {
		for (unsigned i = 0; i < UDP_BATCH; i++) {
			struct msghdr *h = &w->rmsg[i].msg_hdr;
			w->riov[i].iov_base = w->rbuf[i];
			w->riov[i].iov_len = UDP_RBUF;
			memset(h, 0, sizeof(*h));
			h->msg_name = &w->peer[i];
			h->msg_iov = &w->riov[i];
			h->msg_iovlen = 1;
			if (pktinfo)
				h->msg_control = w->rcmsg[i];
		}
		w->rmsg_mode = pktinfo;
		n = UDP_BATCH;
	}
	for (unsigned i = 0; i < n; i++) {
		struct msghdr *h = &w->rmsg[i].msg_hdr;
		h->msg_namelen = sizeof(w->peer[i]);
		h->msg_controllen = pktinfo ? UDP_CMSG : 0;
	}
	w->rmsg_dirty = 0;
}

/* The worker's rate limiter for the settings table carries, made (or
 * dropped) when they change, i.e. after a reload; NULL while limiting is
 * off. Sets *now_s when it returns one. */
static struct dns_rrl *udp_rrl(struct dns_worker *w, const struct dns_table *table, uint32_t *now_s)
{
	static const struct dns_rrl_config off;
	const struct dns_rrl_config *c = server_table_rrl(table);
	struct timespec ts;

	if (!c)
		c = &off;
	if (memcmp(c, &w->rrl_cfg, sizeof(*c)) != 0) {
		/* new settings start with empty buckets: a reload is rare */
		w->rrl_cfg = *c;
		dns_rrl_free(w->rrl);
		w->rrl = c->rate ? dns_rrl_create(c, 0) : NULL;
		if (c->rate && !w->rrl)
			log_err("worker %u: rrl: cannot allocate %u buckets: rate limiting off",
			        w->id, c->table_size);
	}
	if (!w->rrl)
		return NULL;
	/* the coarse clock is a plain read of the vDSO page, once per batch */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	*now_s = (uint32_t)ts.tv_sec;
	return w->rrl;
}

/* Applies the rate limit to the len-byte answer at ans for peer; returns
 * the length to send (0: none). */
static size_t udp_limit(struct dns_worker *w, struct dns_rrl *rrl, uint32_t now_s,
                        const struct sockaddr *peer, uint8_t *ans, size_t len,
                        struct dns_answer_info *info)
{
	switch (dns_rrl_decide(rrl, peer, now_s)) {
	case DNS_RRL_SEND:
		return len;
	case DNS_RRL_SLIP:
		len = dns_rrl_truncate(ans, len);
		if (len == 0)
			break;
		CNT_INC(w->cnt.rrl_slipped);
		info->truncated = 1;
		return len;
	case DNS_RRL_DROP:
		break;
	}
	CNT_INC(w->cnt.rrl_dropped);
	return 0;
}

/* Hands the i-th datagram of the batch to server.forward; returns 1 if it
 * took it. The reply must leave from the address the query came to, as our
 * own answers do, so the control message goes with it. */
static int udp_forward(struct udp_sock *u, int i)
{
	struct dns_worker *w = u->w;
	uint8_t cmsg[UDP_CMSG];
	size_t cmsg_len = 0;

	if (u->pktinfo)
		cmsg_len = reply_pktinfo(&w->rmsg[i].msg_hdr, cmsg);
	return dns_fwd_udp(w->fwd, u, &w->peer[i], w->rmsg[i].msg_hdr.msg_namelen, cmsg, cmsg_len,
	                   w->rbuf[i], w->rmsg[i].msg_len) == 0;
}

void udp_fwd_answer(struct udp_sock *u, const struct sockaddr_storage *peer, socklen_t peer_len,
                    const uint8_t *cmsg, size_t cmsg_len, uint8_t *msg, size_t len)
{
	struct dns_worker *w = u->w;
	struct dns_answer_info info = {.rcode = msg[3] & 0x0F, .truncated = (msg[2] & 0x02) != 0};
	struct iovec iov = {.iov_base = msg, .iov_len = len};
	uint8_t ctl[UDP_CMSG];
	struct msghdr h = {
	    .msg_name = (void *)peer, .msg_namelen = peer_len, .msg_iov = &iov, .msg_iovlen = 1};
	struct timespec ts;
	size_t mlen = len;
	ssize_t r;

	if (w->rrl) {
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		len = udp_limit(w, w->rrl, (uint32_t)ts.tv_sec, (const struct sockaddr *)peer, msg,
		                len, &info);
		iov.iov_len = len;
	}
	server_count(w, &info, len);
	/* the answer repeats the question: it stands in for the query */
	if (log_queries_on())
		log_query((const struct sockaddr *)peer, msg, mlen, info.rcode, len, 0);
	if (len == 0)
		return;
	if (cmsg_len > 0 && cmsg_len <= sizeof(ctl)) {
		memcpy(ctl, cmsg, cmsg_len);
		h.msg_control = ctl;
		h.msg_controllen = cmsg_len;
	}
	do
		r = sendmsg(u->fd, &h, MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		log_debug("udp: send: %s", strerror(errno));
		CNT_INC(w->cnt.dropped);
	}
}

/* Receives one batch and answers it; returns the number of datagrams read. */
static int udp_batch(struct udp_sock *u)
{
	struct dns_worker *w = u->w;
	struct dns_table *table;
	struct dns_answer_info info;
	struct dns_rrl *rrl;
	size_t used = 0, len;
	uint64_t t0;
	uint32_t now_s = 0;
	unsigned nout = 0;
	int n;

	udp_prepare(w, u->pktinfo);
	do
		n = recvmmsg(u->fd, w->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		w->rmsg_dirty = (unsigned)n;
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			log_debug("udp: receive: %s", strerror(errno));
		return 0;
	}
	table = server_table_acquire(w);
	rrl = udp_rrl(w, table, &now_s);
	for (int i = 0; i < n; i++) {
		struct msghdr *in = &w->rmsg[i].msg_hdr;
		struct msghdr *out = &w->smsg[nout].msg_hdr;

		CNT_INC(w->cnt.queries_udp);
		if (in->msg_flags & MSG_TRUNC) {
			CNT_INC(w->cnt.dropped);
			dns_stats_record(&w->qstats, DNS_UDP, NULL, 0, 0, 0);
			if (log_queries_on())
				log_query((const struct sockaddr *)&w->peer[i], w->rbuf[i],
				          UDP_RBUF, 0, 0, 0);
			continue;
		}
		memset(&info, 0, sizeof(info));
		t0 = dns_stats_now_ns();
		len = dns_answer_client(w->ctx, table, w->rbuf[i], w->rmsg[i].msg_len, DNS_UDP,
		                        (const struct sockaddr *)&w->peer[i], w->arena + used,
		                        DNS_MAX_MSG, &info);
		dns_stats_record(&w->qstats, DNS_UDP, &info, w->rmsg[i].msg_len, len,
		                 dns_stats_now_ns() - t0);
		if (info.forward && w->fwd && len > 0) {
			if (udp_forward(u, i))
				continue; /* answered later, or now by the engine */
			/* the pending table is full: SERVFAIL instead of REFUSED */
			len = dns_fwd_servfail_raw(w->rbuf[i], w->rmsg[i].msg_len, w->arena + used,
			                           DNS_MAX_MSG);
			info.rcode = DNS_RCODE_SERVFAIL;
			info.truncated = 0;
		}
		if (rrl && len > 0)
			len = udp_limit(w, rrl, now_s, (const struct sockaddr *)&w->peer[i],
			                w->arena + used, len, &info);
		server_count(w, &info, len);
		if (log_queries_on())
			log_query((const struct sockaddr *)&w->peer[i], w->rbuf[i],
			          w->rmsg[i].msg_len, info.rcode, len, 0);
		if (len == 0)
			continue;
		w->siov[nout].iov_base = w->arena + used;
		w->siov[nout].iov_len = len;
		memset(out, 0, sizeof(*out));
		out->msg_name = &w->peer[i];
		out->msg_namelen = in->msg_namelen;
		out->msg_iov = &w->siov[nout];
		out->msg_iovlen = 1;
		if (u->pktinfo) {
			out->msg_control = w->scmsg[nout];
			out->msg_controllen = reply_pktinfo(in, w->scmsg[nout]);
			if (out->msg_controllen == 0)
				out->msg_control = NULL;
		}
		used += len;
		nout++;
		/* the next answer needs room for the largest message */
		if (UDP_ARENA - used < DNS_MAX_MSG) {
			udp_flush(u, nout);
			nout = 0;
			used = 0;
		}
	}
	server_table_release(w);
	udp_flush(u, nout);
	return n;
}

void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *u = arg;

	for (int round = 0; round < UDP_ROUNDS; round++)
		if (udp_batch(u) < UDP_BATCH)
			break;
}

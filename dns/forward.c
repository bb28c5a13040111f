/* SPDX-License-Identifier: BSD-3-Clause */
/* forward.c: server.forward, relaying names outside our zones to upstream resolvers (forward.h). */
#include "config.h"

#include "dns/forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "dns/server_int.h"

#define RCODE_SERVFAIL 2
#define RCODE_REFUSED  5
#define READ_BURST     64 /* upstream datagrams per readable event */

/* --- pure parts --- */

int dns_fwd_parse_addr(const char *text, struct dns_fwd_upstream *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = text;
	size_t hlen;
	char *end;
	unsigned long port;

	memset(out, 0, sizeof(*out));
	colon = strrchr(text, ':');
	if (!colon || colon == text)
		return -1;
	hlen = (size_t)(colon - text);
	if (text[0] == '[') {
		if (hlen < 3 || text[hlen - 1] != ']')
			return -1;
		h = text + 1;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || port == 0 || port > 65535)
		return -1;
	if (text[0] != '[') {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->addr;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		out->len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->addr;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*s6);
	}
	return 0;
}

int dns_fwd_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}

static uint16_t rand16(struct dns_fwd_table *t)
{
	/* xorshift64*: IDs need to be unpredictable to an off-path spoofer only
	 * as far as the seed is; reseeding per ID would cost a system call */
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return (uint16_t)((t->rng * 2685821657736338717ull) >> 48);
}

int dns_fwd_table_init(struct dns_fwd_table *t, uint32_t n, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	if (n == 0 || n > 65535)
		return -EINVAL;
	t->slots = calloc(n, sizeof(*t->slots));
	t->by_id = calloc(65536, sizeof(*t->by_id));
	if (!t->slots || !t->by_id) {
		dns_fwd_table_fini(t);
		return -ENOMEM;
	}
	if (seed == 0 && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	t->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
	t->n = n;
	for (uint32_t i = 0; i < n; i++)
		t->slots[i].next = i + 1;
	t->free_head = 0;
	return 0;
}

void dns_fwd_table_fini(struct dns_fwd_table *t)
{
	free(t->slots);
	free(t->by_id);
	t->slots = NULL;
	t->by_id = NULL;
	t->n = t->used = 0;
}

/* A random ID no pending slot has: at most n of 65536 are taken, so a few
 * draws suffice. */
static uint16_t fresh_id(struct dns_fwd_table *t)
{
	uint16_t id;

	do
		id = rand16(t);
	while (t->by_id[id] != 0);
	return id;
}

struct dns_fwd_slot *dns_fwd_table_get(struct dns_fwd_table *t)
{
	struct dns_fwd_slot *s;
	uint32_t i;

	if (t->free_head >= t->n)
		return NULL;
	i = t->free_head;
	s = &t->slots[i];
	t->free_head = s->next;
	s->in_use = 1;
	s->up_id = fresh_id(t);
	t->by_id[s->up_id] = (uint16_t)(i + 1);
	t->used++;
	return s;
}

void dns_fwd_table_rekey(struct dns_fwd_table *t, struct dns_fwd_slot *s)
{
	uint16_t id = fresh_id(t);

	t->by_id[id] = t->by_id[s->up_id];
	t->by_id[s->up_id] = 0;
	s->up_id = id;
}

struct dns_fwd_slot *dns_fwd_table_find(const struct dns_fwd_table *t, uint16_t id)
{
	uint16_t i = t->by_id[id];

	return i ? &t->slots[i - 1] : NULL;
}

void dns_fwd_table_put(struct dns_fwd_table *t, struct dns_fwd_slot *s)
{
	uint32_t i = (uint32_t)(s - t->slots);

	if (!s->in_use)
		return;
	t->by_id[s->up_id] = 0;
	s->in_use = 0;
	s->over_tcp = 0;
	s->udp = NULL;
	s->conn = NULL;
	s->next = t->free_head;
	t->free_head = i;
	t->used--;
}

size_t dns_fwd_question_end(const uint8_t *msg, size_t len)
{
	size_t p = 12;

	if (len < 12 || msg[4] != 0 || msg[5] != 1)
		return 0;
	for (;;) {
		if (p >= len)
			return 0;
		if (msg[p] == 0)
			break;
		/* a question is the first name: nothing to point back to */
		if (msg[p] & 0xC0)
			return 0;
		p += (size_t)msg[p] + 1;
	}
	p += 1 + 4;
	return p <= len ? p : 0;
}

int dns_fwd_slot_set_query(struct dns_fwd_slot *s, const uint8_t *query, size_t qlen)
{
	size_t qend;

	if (qlen > DNS_FWD_QMAX)
		return -1;
	qend = dns_fwd_question_end(query, qlen);
	if (qend == 0)
		return -1;
	memcpy(s->query, query, qlen);
	s->qlen = (uint16_t)qlen;
	s->qend = (uint16_t)qend;
	s->client_id = (uint16_t)(query[0] << 8 | query[1]);
	s->upstream = 0;
	s->over_tcp = 0;
	return 0;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

enum dns_fwd_verdict dns_fwd_judge(const struct dns_fwd_slot *s, const uint8_t *reply, size_t len)
{
	uint16_t id;
	unsigned rcode;

	if (!s->in_use || len < 12)
		return DNS_FWD_DROP;
	id = (uint16_t)(reply[0] << 8 | reply[1]);
	if (id != s->up_id || !(reply[2] & 0x80) || (reply[2] & 0x78) != (s->query[2] & 0x78))
		return DNS_FWD_DROP;
	if (dns_fwd_question_end(reply, len) != s->qend)
		return DNS_FWD_DROP;
	/* names compare without case (RFC 4343); type and class exactly */
	for (size_t i = 12; i < (size_t)s->qend - 4; i++)
		if (lower(reply[i]) != lower(s->query[i]))
			return DNS_FWD_DROP;
	if (memcmp(reply + s->qend - 4, s->query + s->qend - 4, 4) != 0)
		return DNS_FWD_DROP;
	rcode = reply[3] & 0x0F;
	if (rcode == RCODE_SERVFAIL || rcode == RCODE_REFUSED)
		return DNS_FWD_FAILOVER;
	if (reply[2] & 0x02)
		return DNS_FWD_TRUNCATED;
	return DNS_FWD_ACCEPT;
}

int dns_fwd_next_upstream(struct dns_fwd_slot *s, size_t n)
{
	if ((size_t)s->upstream + 1 >= n)
		return -1;
	s->upstream++;
	s->over_tcp = 0;
	return 0;
}

void dns_fwd_restore(const struct dns_fwd_slot *s, const uint8_t *reply, size_t len, uint8_t *out)
{
	if (out != reply)
		memmove(out, reply, len);
	out[0] = (uint8_t)(s->client_id >> 8);
	out[1] = (uint8_t)s->client_id;
	out[3] |= 0x80;
}

static size_t servfail(const uint8_t *query, size_t qend, uint8_t *out)
{
	memmove(out, query, qend);
	/* QR, the query's opcode and RD; RA, its CD, SERVFAIL */
	out[2] = (uint8_t)(0x80 | (query[2] & 0x79));
	out[3] = (uint8_t)(0x80 | (query[3] & 0x10) | RCODE_SERVFAIL);
	memset(out + 6, 0, 6);
	return qend;
}

size_t dns_fwd_servfail(const struct dns_fwd_slot *s, uint8_t *out)
{
	size_t len = servfail(s->query, s->qend, out);

	out[0] = (uint8_t)(s->client_id >> 8);
	out[1] = (uint8_t)s->client_id;
	return len;
}

size_t dns_fwd_servfail_raw(const uint8_t *query, size_t qlen, uint8_t *out, size_t outcap)
{
	size_t qend = dns_fwd_question_end(query, qlen);

	if (qend == 0 || qend > outcap)
		return 0;
	return servfail(query, qend, out);
}

/* --- the engine --- */

struct dns_fwd {
	struct dns_worker *w;
	struct event_base *base;
	struct dns_fwd_upstream up[DNS_FWD_MAX_UPSTREAMS];
	size_t n_up;
	const struct timeval *tv; /* a common timeout: every try waits as long */
	int fd[2];                /* UDP sockets: [0] IPv4, [1] IPv6; -1 if unused */
	struct event *ev[2];
	struct dns_fwd_table t;
	uint8_t *buf; /* an upstream reply, then the client's answer */
};

static int fam_index(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

static void try_upstream(struct dns_fwd *f, struct dns_fwd_slot *s);

/* Ends the query of s: sends msg (len bytes, already the client's answer) to
 * the client, if it is still there, and frees the slot. */
static void finish(struct dns_fwd *f, struct dns_fwd_slot *s, uint8_t *msg, size_t len)
{
	event_del(s->timer);
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->client_tcp) {
		if (s->conn)
			tcp_fwd_answer(s->conn, msg, len);
	} else if (s->udp) {
		udp_fwd_answer(s->udp, &s->peer, s->peer_len, s->cmsg, s->cmsg_len, msg, len);
	}
	dns_fwd_table_put(&f->t, s);
}

static void fail_all(struct dns_fwd *f, struct dns_fwd_slot *s)
{
	size_t len = dns_fwd_servfail(s, f->buf);

	finish(f, s, f->buf, len);
}

/* The current upstream failed: the next one, or SERVFAIL after the last. */
static void failover(struct dns_fwd *f, struct dns_fwd_slot *s)
{
	CNT_INC(f->w->cnt.forward_failures);
	event_del(s->timer);
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (dns_fwd_next_upstream(s, f->n_up) < 0) {
		fail_all(f, s);
		return;
	}
	dns_fwd_table_rekey(&f->t, s);
	try_upstream(f, s);
}

static void try_upstream(struct dns_fwd *f, struct dns_fwd_slot *s)
{
	const struct dns_fwd_upstream *up;
	ssize_t r;
	int fd;

	for (;;) {
		up = &f->up[s->upstream];
		fd = f->fd[fam_index(up->addr.ss_family)];
		s->query[0] = (uint8_t)(s->up_id >> 8);
		s->query[1] = (uint8_t)s->up_id;
		r = -1;
		if (fd >= 0) {
			do
				r = sendto(fd, s->query, s->qlen, MSG_DONTWAIT,
				           (const struct sockaddr *)&up->addr, up->len);
			while (r < 0 && errno == EINTR);
		}
		if (r == (ssize_t)s->qlen) {
			event_add(s->timer, f->tv);
			return;
		}
		CNT_INC(f->w->cnt.forward_failures);
		if (dns_fwd_next_upstream(s, f->n_up) < 0) {
			fail_all(f, s);
			return;
		}
		dns_fwd_table_rekey(&f->t, s);
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_fwd_slot *s = arg;

	failover(s->f, s);
}

/* The upstream's TCP answer: one length-prefixed message. */
static void tcp_up_read_cb(struct bufferevent *bev, void *arg)
{
	struct dns_fwd_slot *s = arg;
	struct dns_fwd *f = s->f;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t pfx[2];
	size_t len;

	if (evbuffer_copyout(in, pfx, 2) < 2)
		return;
	len = (size_t)pfx[0] << 8 | pfx[1];
	if (evbuffer_get_length(in) < 2 + len)
		return;
	evbuffer_drain(in, 2);
	evbuffer_remove(in, f->buf, len);
	switch (dns_fwd_judge(s, f->buf, len)) {
	case DNS_FWD_ACCEPT:
	case DNS_FWD_TRUNCATED: /* over TCP there is nothing bigger to try */
		dns_fwd_restore(s, f->buf, len, f->buf);
		finish(f, s, f->buf, len);
		break;
	case DNS_FWD_FAILOVER:
	case DNS_FWD_DROP:
		failover(f, s);
		break;
	}
}

static void tcp_up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct dns_fwd_slot *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	failover(s->f, s);
}

/* A TCP client's answer came back truncated: ask the same upstream over TCP. */
static void ask_over_tcp(struct dns_fwd *f, struct dns_fwd_slot *s)
{
	const struct dns_fwd_upstream *up = &f->up[s->upstream];
	uint8_t pfx[2] = {(uint8_t)(s->qlen >> 8), (uint8_t)s->qlen};

	event_del(s->timer);
	s->over_tcp = 1;
	s->bev = bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev)
		goto fail;
	bufferevent_setcb(s->bev, tcp_up_read_cb, NULL, tcp_up_event_cb, s);
	s->query[0] = (uint8_t)(s->up_id >> 8);
	s->query[1] = (uint8_t)s->up_id;
	if (bufferevent_write(s->bev, pfx, 2) < 0 ||
	    bufferevent_write(s->bev, s->query, s->qlen) < 0 ||
	    bufferevent_enable(s->bev, EV_READ | EV_WRITE) < 0 ||
	    bufferevent_socket_connect(s->bev, (const struct sockaddr *)&up->addr, (int)up->len) <
	        0)
		goto fail;
	event_add(s->timer, f->tv);
	return;
fail:
	/* the bufferevent (if any) is freed by failover() */
	failover(f, s);
}

static void handle_reply(struct dns_fwd *f, const struct sockaddr_storage *from, size_t len)
{
	struct dns_fwd_slot *s;

	if (len < 12)
		return;
	s = dns_fwd_table_find(&f->t, (uint16_t)(f->buf[0] << 8 | f->buf[1]));
	if (!s || s->over_tcp ||
	    !dns_fwd_same_addr((const struct sockaddr *)from,
	                       (const struct sockaddr *)&f->up[s->upstream].addr))
		return;
	switch (dns_fwd_judge(s, f->buf, len)) {
	case DNS_FWD_DROP:
		log_debug("forward: dropped a reply that does not match its query");
		return;
	case DNS_FWD_FAILOVER:
		failover(f, s);
		return;
	case DNS_FWD_TRUNCATED:
		if (s->client_tcp) {
			ask_over_tcp(f, s);
			return;
		}
		break;
	case DNS_FWD_ACCEPT:
		break;
	}
	dns_fwd_restore(s, f->buf, len, f->buf);
	finish(f, s, f->buf, len);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_fwd *f = arg;
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t r;

	for (int i = 0; i < READ_BURST; i++) {
		flen = sizeof(from);
		r = recvfrom(fd, f->buf, DNS_MAX_MSG, MSG_DONTWAIT, (struct sockaddr *)&from,
		             &flen);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN, or an ICMP error of an earlier send: its
			 * query times out and fails over */
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("forward: receive: %s", strerror(errno));
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			continue;
		}
		handle_reply(f, &from, (size_t)r);
	}
}

static int open_family(struct dns_fwd *f, int family)
{
	int k = fam_index(family);

	f->fd[k] = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd[k] < 0) {
		log_err("forward: cannot open a UDP socket (%s): %s",
		        family == AF_INET6 ? "IPv6" : "IPv4", strerror(errno));
		return -1;
	}
	f->ev[k] = event_new(f->base, f->fd[k], EV_READ | EV_PERSIST, read_cb, f);
	if (!f->ev[k] || event_add(f->ev[k], NULL) < 0)
		return -1;
	return 0;
}

struct dns_fwd *dns_fwd_create(struct dns_worker *w, struct event_base *base,
                               const struct dns_fwd_upstream *up, size_t n, unsigned timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct dns_fwd *f = calloc(1, sizeof(*f));
	int need[2] = {0, 0};

	if (!f)
		return NULL;
	f->w = w;
	f->base = base;
	f->fd[0] = f->fd[1] = -1;
	if (n > DNS_FWD_MAX_UPSTREAMS)
		n = DNS_FWD_MAX_UPSTREAMS;
	if (n == 0)
		goto fail;
	memcpy(f->up, up, n * sizeof(*up));
	f->n_up = n;
	f->buf = malloc(DNS_MAX_MSG);
	f->tv = event_base_init_common_timeout(base, &tv);
	if (!f->buf || !f->tv || dns_fwd_table_init(&f->t, DNS_FWD_PENDING, 0) < 0)
		goto fail;
	for (uint32_t i = 0; i < f->t.n; i++) {
		f->t.slots[i].f = f;
		f->t.slots[i].timer = evtimer_new(base, timer_cb, &f->t.slots[i]);
		if (!f->t.slots[i].timer)
			goto fail;
	}
	for (size_t i = 0; i < n; i++)
		need[fam_index(up[i].addr.ss_family)] = 1;
	for (int k = 0; k < 2; k++)
		if (need[k] && open_family(f, k ? AF_INET6 : AF_INET) < 0)
			goto fail;
	return f;
fail:
	dns_fwd_free(f);
	return NULL;
}

void dns_fwd_free(struct dns_fwd *f)
{
	if (!f)
		return;
	for (uint32_t i = 0; f->t.slots && i < f->t.n; i++) {
		if (f->t.slots[i].timer)
			event_free(f->t.slots[i].timer);
		if (f->t.slots[i].bev)
			bufferevent_free(f->t.slots[i].bev);
	}
	for (int k = 0; k < 2; k++) {
		if (f->ev[k])
			event_free(f->ev[k]);
		if (f->fd[k] >= 0)
			close(f->fd[k]);
	}
	dns_fwd_table_fini(&f->t);
	free(f->buf);
	free(f);
}

/* Takes a slot for query; NULL when it cannot be forwarded. */
static struct dns_fwd_slot *start(struct dns_fwd *f, const uint8_t *query, size_t qlen)
{
	struct dns_fwd_slot *s = dns_fwd_table_get(&f->t);

	if (!s) {
		log_debug("forward: %u queries pending: SERVFAIL", f->t.n);
		return NULL;
	}
	if (dns_fwd_slot_set_query(s, query, qlen) < 0) {
		dns_fwd_table_put(&f->t, s);
		return NULL;
	}
	CNT_INC(f->w->cnt.forwarded);
	return s;
}

int dns_fwd_udp(struct dns_fwd *f, struct udp_sock *u, const struct sockaddr_storage *peer,
                socklen_t peer_len, const uint8_t *cmsg, size_t cmsg_len, const uint8_t *query,
                size_t qlen)
{
	struct dns_fwd_slot *s = start(f, query, qlen);

	if (!s)
		return -1;
	s->client_tcp = 0;
	s->udp = u;
	memcpy(&s->peer, peer, sizeof(*peer));
	s->peer_len = peer_len;
	s->cmsg_len = cmsg_len <= sizeof(s->cmsg) ? cmsg_len : 0;
	if (s->cmsg_len)
		memcpy(s->cmsg, cmsg, s->cmsg_len);
	try_upstream(f, s);
	return 0;
}

int dns_fwd_tcp(struct dns_fwd *f, struct tcp_conn *c, const uint8_t *query, size_t qlen)
{
	struct dns_fwd_slot *s = start(f, query, qlen);

	if (!s)
		return -1;
	s->client_tcp = 1;
	s->conn = c;
	c->fwd_pending++;
	try_upstream(f, s);
	return 0;
}

void dns_fwd_forget_conn(struct dns_fwd *f, struct tcp_conn *c)
{
	for (uint32_t i = 0; i < f->t.n && c->fwd_pending > 0; i++) {
		if (f->t.slots[i].in_use && f->t.slots[i].conn == c) {
			f->t.slots[i].conn = NULL;
			c->fwd_pending--;
		}
	}
}

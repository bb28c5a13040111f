/* SPDX-License-Identifier: BSD-3-Clause */
/* forward.c: server.forward, relaying names outside our zones to upstream resolvers (forward.h). */
#include "config.h"

#include "dns/listen/forward.h"

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

#include "common/addr.h"
#include "common/log.h"
#include "dns/listen/server_int.h"

#define RCODE_SERVFAIL 2
#define RCODE_REFUSED  5
#define READ_BURST     64 /* upstream datagrams per readable event */

/* --- pure parts --- */

int dns_fwd_parse_addr(const char *text, struct dns_fwd_upstream *out)
{
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (addr_parse_hostport(text, &out->addr, &out->len, &port) < 0 || port == 0)
		return -1;
	return 0;
}

static uint64_t rand64(struct dns_fwd_table *t)
{
	/* xorshift64*: IDs need to be unpredictable to an off-path spoofer only
	 * as far as the seed is; reseeding per ID would cost a system call */
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 2685821657736338717ull;
}

static uint16_t rand16(struct dns_fwd_table *t)
{
	return (uint16_t)(rand64(t) >> 48);
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
	dns_fwd_table_recase(t, s);
}

static int is_letter(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void dns_fwd_table_recase(struct dns_fwd_table *t, struct dns_fwd_slot *s)
{
	uint64_t bits = 0;
	unsigned left = 0;
	size_t p = 12, end;

	memset(s->case_mask, 0, sizeof(s->case_mask));
	/* the labels' bytes, not their lengths (set_query checked the name) */
	while (p < s->qend && s->query[p] != 0) {
		end = p + 1 + s->query[p];
		for (p++; p < end; p++) {
			if (!is_letter(s->query[p]))
				continue;
			if (left == 0) {
				bits = rand64(t);
				left = 64;
			}
			if (bits & 1)
				s->case_mask[(p - 12) / 8] |= (uint8_t)(1u << ((p - 12) % 8));
			bits >>= 1;
			left--;
		}
	}
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
		if (p - 12 >= 255) /* RFC 1035 3.1: 255 bytes with the root */
			return 0;
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
	memset(s->case_mask, 0, sizeof(s->case_mask));
	return 0;
}

/* The byte at query[i] of s as it was sent upstream. */
static uint8_t sent_byte(const struct dns_fwd_slot *s, size_t i)
{
	size_t k = i - 12;

	if (i < 12 || k / 8 >= sizeof(s->case_mask) || !(s->case_mask[k / 8] >> (k % 8) & 1))
		return s->query[i];
	return (uint8_t)(s->query[i] ^ 0x20);
}

size_t dns_fwd_encode(const struct dns_fwd_slot *s, uint8_t *out)
{
	memcpy(out, s->query, s->qlen);
	out[0] = (uint8_t)(s->up_id >> 8);
	out[1] = (uint8_t)s->up_id;
	for (size_t i = 12; i + 4 < s->qend; i++)
		out[i] = sent_byte(s, i);
	return s->qlen;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

enum dns_fwd_verdict dns_fwd_judge(const struct dns_fwd_slot *s, const uint8_t *reply, size_t len)
{
	uint16_t id;
	unsigned rcode;
	int other_case = 0;

	if (!s->in_use || len < 12)
		return DNS_FWD_DROP;
	id = (uint16_t)(reply[0] << 8 | reply[1]);
	if (id != s->up_id || !(reply[2] & 0x80) || (reply[2] & 0x78) != (s->query[2] & 0x78))
		return DNS_FWD_DROP;
	if (dns_fwd_question_end(reply, len) != s->qend)
		return DNS_FWD_DROP;
	/* the name as sent, letter case included (dns-0x20: the upstream
	 * echoes the question; a spoofer does not know its case) */
	for (size_t i = 12; i < (size_t)s->qend - 4; i++) {
		uint8_t sent = sent_byte(s, i);
		if (reply[i] != sent && lower(reply[i]) != lower(sent))
			return DNS_FWD_DROP;
		other_case |= reply[i] != sent;
	}
	if (memcmp(reply + s->qend - 4, s->query + s->qend - 4, 4) != 0)
		return DNS_FWD_DROP;
	if (other_case)
		return DNS_FWD_CASE;
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
	/* the question as the client wrote it: judged the same length */
	memcpy(out + 12, s->query + 12, (size_t)s->qend - 16);
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

#define WARN_EVERY_S 10 /* "cannot open a socket": at most one line per worker this often */

struct dns_fwd {
	struct dns_worker *w;
	struct event_base *base;
	struct dns_fwd_upstream up[DNS_FWD_MAX_UPSTREAMS];
	size_t n_up;
	const struct timeval *tv; /* a common timeout: every try waits as long */
	struct dns_fwd_table t;
	uint8_t *buf; /* the query as sent, an upstream reply, then the client's answer */
	time_t sock_warned;
	uint8_t case_warned[DNS_FWD_MAX_UPSTREAMS];
};

static void try_upstream(struct dns_fwd *f, struct dns_fwd_slot *s);
static void sock_read_cb(evutil_socket_t fd, short what, void *arg);

/* A fresh UDP socket for the current try of s, connect()ed to its upstream:
 * the kernel binds it to a random ephemeral port and delivers to it only
 * what that upstream sends. Returns 0, or a negative errno. */
static int sock_open(struct dns_fwd *f, struct dns_fwd_slot *s)
{
	const struct dns_fwd_upstream *up = &f->up[s->upstream];
	int fd, e;

	fd = socket(up->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&up->addr, up->len) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	if (event_assign(s->rev, f->base, fd, EV_READ | EV_PERSIST, sock_read_cb, s) < 0 ||
	    event_add(s->rev, NULL) < 0) {
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	return 0;
}

/* Ends the current try's socket: a late reply to it is refused by the kernel. */
static void sock_close(struct dns_fwd_slot *s)
{
	if (s->fd < 0)
		return;
	event_del(s->rev);
	close(s->fd);
	s->fd = -1;
}

/* Ends the query of s: sends msg (len bytes, already the client's answer) to
 * the client, if it is still there, and frees the slot. */
static void finish(struct dns_fwd *f, struct dns_fwd_slot *s, uint8_t *msg, size_t len)
{
	event_del(s->timer);
	sock_close(s);
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
	sock_close(s);
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

/* Out of descriptors or buffers: no upstream can be tried now. */
static int out_of_sockets(int e)
{
	return e == -EMFILE || e == -ENFILE || e == -ENOBUFS || e == -ENOMEM;
}

static void try_upstream(struct dns_fwd *f, struct dns_fwd_slot *s)
{
	size_t len;
	ssize_t r;
	int e;

	for (;;) {
		len = dns_fwd_encode(s, f->buf);
		e = sock_open(f, s);
		r = -1;
		if (e == 0) {
			do
				r = send(s->fd, f->buf, len, MSG_DONTWAIT);
			while (r < 0 && errno == EINTR);
		}
		if (r == (ssize_t)len) {
			event_add(s->timer, f->tv);
			return;
		}
		sock_close(s);
		CNT_INC(f->w->cnt.forward_failures);
		if (out_of_sockets(e)) {
			time_t now = time(NULL);
			if (now - f->sock_warned >= WARN_EVERY_S) {
				f->sock_warned = now;
				log_warn(
				    "forward: cannot open a UDP socket: %s; answering SERVFAIL",
				    strerror(-e));
			}
			fail_all(f, s);
			return;
		}
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

/* The upstream answered with the question in another letter case: it does
 * not preserve case, so every reply of it is dropped. Said once per upstream. */
static void warn_case(struct dns_fwd *f, const struct dns_fwd_slot *s)
{
	char addr[INET6_ADDRSTRLEN + 8];

	if (f->case_warned[s->upstream])
		return;
	f->case_warned[s->upstream] = 1;
	addr_format((const struct sockaddr *)&f->up[s->upstream].addr, addr, sizeof(addr));
	log_warn("forward: %s changed the letter case of a question: replies must repeat it "
	         "exactly (dns-0x20); dropped as spoofed",
	         addr);
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
	case DNS_FWD_CASE:
		warn_case(f, s);
		failover(f, s);
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
	size_t len;

	event_del(s->timer);
	sock_close(s);
	s->over_tcp = 1;
	s->bev = bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev)
		goto fail;
	bufferevent_setcb(s->bev, tcp_up_read_cb, NULL, tcp_up_event_cb, s);
	len = dns_fwd_encode(s, f->buf);
	if (bufferevent_write(s->bev, pfx, 2) < 0 || bufferevent_write(s->bev, f->buf, len) < 0 ||
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

/* A datagram from the upstream of s (len bytes in f->buf). Returns 1 when
 * the try ended (its socket is closed), 0 to keep reading. */
static int handle_reply(struct dns_fwd *f, struct dns_fwd_slot *s, size_t len)
{
	switch (dns_fwd_judge(s, f->buf, len)) {
	case DNS_FWD_DROP:
		log_debug("forward: dropped a reply that does not match its query");
		return 0;
	case DNS_FWD_CASE:
		warn_case(f, s);
		return 0;
	case DNS_FWD_FAILOVER:
		failover(f, s);
		return 1;
	case DNS_FWD_TRUNCATED:
		if (s->client_tcp) {
			ask_over_tcp(f, s);
			return 1;
		}
		break;
	case DNS_FWD_ACCEPT:
		break;
	}
	dns_fwd_restore(s, f->buf, len, f->buf);
	finish(f, s, f->buf, len);
	return 1;
}

static void sock_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_fwd_slot *s = arg;
	struct dns_fwd *f = s->f;
	ssize_t r;

	for (int i = 0; i < READ_BURST; i++) {
		r = recv(fd, f->buf, DNS_MAX_MSG, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* ECONNREFUSED: an ICMP port unreachable from the upstream */
			log_debug("forward: receive: %s", strerror(errno));
			failover(f, s);
			return;
		}
		if (handle_reply(f, s, (size_t)r))
			return;
	}
}

/* Fails at start, as a bound socket did, when a family of the upstreams
 * cannot have sockets (e.g. IPv6 disabled). */
static int check_family(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		log_err("forward: cannot open a UDP socket (%s): %s",
		        family == AF_INET6 ? "IPv6" : "IPv4", strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

struct dns_fwd *dns_fwd_create(struct dns_worker *w, struct event_base *base,
                               const struct dns_fwd_upstream *up, size_t n, unsigned timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct dns_fwd *f = calloc(1, sizeof(*f));
	int need4 = 0, need6 = 0;

	if (!f)
		return NULL;
	f->w = w;
	f->base = base;
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
		struct dns_fwd_slot *s = &f->t.slots[i];
		s->f = f;
		s->fd = -1;
		s->timer = evtimer_new(base, timer_cb, s);
		/* assigned its socket per try (sock_open) */
		s->rev = event_new(base, -1, 0, sock_read_cb, s);
		if (!s->timer || !s->rev)
			goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		need6 |= up[i].addr.ss_family == AF_INET6;
		need4 |= up[i].addr.ss_family != AF_INET6;
	}
	if ((need4 && check_family(AF_INET) < 0) || (need6 && check_family(AF_INET6) < 0))
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
		struct dns_fwd_slot *s = &f->t.slots[i];
		if (s->timer)
			event_free(s->timer);
		if (s->rev)
			event_free(s->rev);
		if (s->fd >= 0)
			close(s->fd);
		if (s->bev)
			bufferevent_free(s->bev);
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
	dns_fwd_table_recase(&f->t, s);
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

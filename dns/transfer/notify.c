/* SPDX-License-Identifier: BSD-3-Clause */
/* notify.c: NOTIFY (RFC 1996) to server.transfer.notify after a serial change.
 *
 * One round per serial: every target gets a NOTIFY (opcode 4, AA, question
 * <zone> SOA IN, the new SOA in the answer section) over UDP from one
 * unconnected socket per address family, and again after 1, 2, 4 and 8 s
 * until a response with the same ID, QR set and opcode NOTIFY comes from
 * the target's address; after the fifth try it is given up (logged, the
 * secondary still refreshes on the SOA's refresh timer). A new serial
 * supersedes the round in flight: the secondary only needs the newest.
 * With server.transfer.tsig each try is signed (dns/tsig.h) and only a
 * response whose TSIG verifies against that try acknowledges it.
 * Everything runs on the main thread's event base and never blocks.
 */
#include "config.h"

#include <errno.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "common/addr.h"
#include "common/log.h"
#include "dns/transfer/notify.h"
#include "dns/transfer/tsig.h"
#include "registry/registry.h"

#define NOTIFY_OPCODE  4
#define NOTIFY_MSG_MAX 512

struct notify_target {
	struct dns_notify *n;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[64]; /* "addr:port" as configured, for the log */
	uint16_t id;
	unsigned tries;
	int active;               /* 1: waiting for the response */
	struct dns_tsig_ctx tsig; /* the last try's MAC, to check the response */
	struct event *timer;
};

struct dns_notify {
	struct event_base *base;
	int fd[2]; /* AF_INET, AF_INET6; -1 until first needed */
	struct event *ev[2];
	struct notify_target *t;
	size_t n_t;
	uint32_t serial;
	uint8_t msg[NOTIFY_MSG_MAX];
	size_t msg_len;
	struct dns_tsig_key *key; /* server.transfer.tsig of this round; NULL: none */
	struct dns_notify_stats stats;
};

static uint16_t random_id(void)
{
	uint16_t id = 0;

	/* predictable IDs would let anyone on the path fake acknowledgements */
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = (uint16_t)(rand() ^ (int)getpid());
	return id;
}

static int fam_index(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

static const char *rcode_name(unsigned rcode)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	                                    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
	                                    "NXRRSET", "NOTAUTH", "NOTZONE"};

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "rcode?";
}

static void on_response(evutil_socket_t fd, short what, void *arg)
{
	struct dns_notify *n = arg;
	struct sockaddr_storage from;
	uint8_t buf[NOTIFY_MSG_MAX + 512]; /* room for a TSIG */

	(void)what;
	/* drain: several secondaries may have answered since the last wakeup */
	for (int k = 0; k < 64; k++) {
		socklen_t flen = sizeof(from);
		ssize_t len = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		uint16_t id;

		if (len < 0)
			return;
		if (len < 12 || !(buf[2] & 0x80) || ((buf[2] >> 3) & 0x0f) != NOTIFY_OPCODE)
			continue;
		id = (uint16_t)(buf[0] << 8 | buf[1]);
		for (size_t i = 0; i < n->n_t; i++) {
			struct notify_target *t = &n->t[i];

			enum dns_tsig_status ts;

			if (!t->active || t->id != id ||
			    !addr_same((const struct sockaddr *)&t->addr,
			               (const struct sockaddr *)&from))
				continue;
			if (n->key &&
			    (ts = dns_tsig_verify_response(n->key, &t->tsig, buf, (size_t)len,
			                                   (uint64_t)time(NULL))) != DNS_TSIG_OK) {
				/* not proof of anything: keep trying, the log says why */
				log_warn("notify: %s: response to serial %u fails TSIG (%s); "
				         "check the key on both sides",
				         t->text, n->serial, dns_tsig_status_str(ts));
				break;
			}
			t->active = 0;
			event_del(t->timer);
			n->stats.acked++;
			if ((buf[3] & 0x0f) == 0)
				log_info("notify: %s acknowledged serial %u (%u %s)", t->text,
				         n->serial, t->tries, t->tries == 1 ? "try" : "tries");
			else
				log_warn("notify: %s answered serial %u with %s; check its "
				         "allow-notify / acl",
				         t->text, n->serial, rcode_name(buf[3] & 0x0f));
			break;
		}
	}
}

static int socket_for(struct dns_notify *n, int family)
{
	int k = fam_index(family);
	int fd;

	if (n->fd[k] >= 0)
		return n->fd[k];
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	n->ev[k] = event_new(n->base, fd, EV_READ | EV_PERSIST, on_response, n);
	if (!n->ev[k] || event_add(n->ev[k], NULL) < 0) {
		if (n->ev[k])
			event_free(n->ev[k]);
		n->ev[k] = NULL;
		close(fd);
		return -1;
	}
	n->fd[k] = fd;
	return fd;
}

static void send_try(struct notify_target *t)
{
	struct dns_notify *n = t->n;
	/* RFC 1996 3.6: retry with back-off; 1 + 2 + 4 + 8 + 16 s, then give up */
	const struct timeval tv = {(time_t)1 << t->tries, 0};
	int fd = socket_for(n, t->addr.ss_family);
	uint8_t msg[NOTIFY_MSG_MAX + 512]; /* room for a TSIG */
	size_t len = n->msg_len;

	t->tries++;
	n->stats.sent++;
	/* one message for all targets, each with its own ID (and signature) */
	memcpy(msg, n->msg, len);
	msg[0] = (uint8_t)(t->id >> 8);
	msg[1] = (uint8_t)t->id;
	if (t->tries > 1)
		n->stats.retried++;
	if (n->key &&
	    dns_tsig_sign_wire(n->key, msg, &len, sizeof(msg), (uint64_t)time(NULL), &t->tsig) < 0)
		log_err("notify: %s: cannot sign the NOTIFY", t->text);
	else if (fd < 0 ||
	         sendto(fd, msg, len, 0, (const struct sockaddr *)&t->addr, t->addr_len) < 0)
		log_debug("notify: %s: try %u: %s", t->text, t->tries,
		          fd < 0 ? "no socket" : strerror(errno));
	else
		log_debug("notify: %s: serial %u, try %u (id %u)", t->text, n->serial, t->tries,
		          t->id);
	event_add(t->timer, &tv);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct notify_target *t = arg;

	(void)fd;
	(void)what;
	if (!t->active)
		return;
	if (t->tries >= DNS_NOTIFY_TRIES) {
		t->active = 0;
		t->n->stats.failed++;
		log_warn("notify: %s did not acknowledge serial %u after %u tries; it will "
		         "see the change at its next refresh",
		         t->text, t->n->serial, t->tries);
		return;
	}
	send_try(t);
}

static void clear_targets(struct dns_notify *n)
{
	for (size_t i = 0; i < n->n_t; i++) {
		if (n->t[i].active)
			log_debug("notify: %s: serial %u superseded before it was acknowledged",
			          n->t[i].text, n->serial);
		if (n->t[i].timer)
			event_free(n->t[i].timer);
	}
	free(n->t);
	n->t = NULL;
	n->n_t = 0;
}

/* The NOTIFY message for reg's zone and serial into n->msg. */
static int build_message(struct dns_notify *n, const struct registry *reg, uint32_t serial)
{
	const struct reg_soa *s = &reg->server.soa;
	ldns_pkt *pkt = NULL;
	ldns_rr *q = NULL, *soa = NULL;
	uint8_t *wire = NULL;
	size_t wlen = 0;
	char text[1200];
	int r = -1;

	snprintf(text, sizeof(text), "%s %u IN SOA %s %s %u %u %u %u %u", reg->server.zone, s->ttl,
	         s->mname, s->rname, serial, s->refresh, s->retry, s->expire, s->minimum);
	if (ldns_rr_new_frm_str(&soa, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		goto finish;
	snprintf(text, sizeof(text), "%s IN SOA", reg->server.zone);
	if (ldns_rr_new_question_frm_str(&q, text, NULL, NULL) != LDNS_STATUS_OK)
		goto finish;
	pkt = ldns_pkt_new();
	if (!pkt)
		goto finish;
	ldns_pkt_set_opcode(pkt, LDNS_PACKET_NOTIFY);
	ldns_pkt_set_aa(pkt, 1);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, q);
	q = NULL;
	ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, soa);
	soa = NULL;
	if (ldns_pkt2wire(&wire, pkt, &wlen) != LDNS_STATUS_OK || wlen > sizeof(n->msg))
		goto finish;
	memcpy(n->msg, wire, wlen);
	n->msg_len = wlen;
	r = 0;
finish:
	free(wire);
	ldns_rr_free(q);
	ldns_rr_free(soa);
	ldns_pkt_free(pkt);
	return r;
}

int dns_notify_create(struct event_base *base, struct dns_notify **out)
{
	struct dns_notify *n = calloc(1, sizeof(*n));

	if (!n)
		return -1;
	n->base = base;
	n->fd[0] = n->fd[1] = -1;
	*out = n;
	return 0;
}

void dns_notify_send(struct dns_notify *n, const struct registry *reg, uint32_t serial)
{
	const struct reg_server *srv = &reg->server;
	size_t k = 0;

	clear_targets(n);
	n->serial = serial;
	dns_tsig_key_free(n->key);
	n->key = NULL;
	if (srv->n_transfer_notify == 0)
		return;
	if (srv->tsig_name) {
		char err[256];
		if (dns_tsig_key_create(srv->tsig_name, (enum dns_tsig_alg)srv->tsig_algorithm,
		                        srv->tsig_secret, &n->key, err, sizeof(err)) < 0) {
			log_err("notify: %s; serial %u not announced", err, serial);
			return;
		}
	}
	if (build_message(n, reg, serial) < 0) {
		log_err("notify: cannot build the NOTIFY for serial %u", serial);
		return;
	}
	n->t = calloc(srv->n_transfer_notify, sizeof(*n->t));
	if (!n->t) {
		log_err("notify: out of memory; serial %u not announced", serial);
		return;
	}
	for (size_t i = 0; i < srv->n_transfer_notify; i++) {
		struct notify_target *t = &n->t[k];
		uint16_t port;

		if (addr_parse_hostport(srv->transfer_notify[i], &t->addr, &t->addr_len, &port) <
		    0) {
			/* the schema checked it: only a bug gets here */
			log_err("notify: %s: not an address:port", srv->transfer_notify[i]);
			continue;
		}
		t->n = n;
		snprintf(t->text, sizeof(t->text), "%s", srv->transfer_notify[i]);
		t->timer = event_new(n->base, -1, 0, on_timeout, t);
		if (!t->timer) {
			log_err("notify: %s: out of memory", t->text);
			continue;
		}
		t->id = random_id();
		t->active = 1;
		k++;
	}
	n->n_t = k;
	log_info("notify: serial %u to %zu secondar%s", serial, k, k == 1 ? "y" : "ies");
	for (size_t i = 0; i < k; i++)
		send_try(&n->t[i]);
}

void dns_notify_get_stats(const struct dns_notify *n, struct dns_notify_stats *out)
{
	if (n)
		*out = n->stats;
	else
		memset(out, 0, sizeof(*out));
}

void dns_notify_free(struct dns_notify *n)
{
	if (!n)
		return;
	clear_targets(n);
	dns_tsig_key_free(n->key);
	for (int k = 0; k < 2; k++) {
		if (n->ev[k])
			event_free(n->ev[k]);
		if (n->fd[k] >= 0)
			close(n->fd[k]);
	}
	free(n);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_dns.c: check type dns, for instances that are DNS servers: one
 * query (check.dns: name, type, class IN) over UDP to the instance's
 * address and port; the answer passes when its rcode is check.dns.rcode.
 * The answer must carry the query's id and question, so a stray or forged
 * datagram is not taken for it. The message is built here by hand: health/
 * may not use the answer library (dns/). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "health/probe_int.h"

#define DNS_HEADER 12
#define DNS_MAX    512 /* no EDNS is offered: a server answers within this */

size_t probe_dns_query(const char *name, uint16_t qtype, uint16_t id, unsigned char *out,
                       size_t cap)
{
	size_t len = DNS_HEADER;
	const char *label = strcmp(name, ".") == 0 ? "" : name; /* the root: no label */

	if (cap < DNS_HEADER + 255 + 4)
		return 0;
	memset(out, 0, DNS_HEADER);
	out[0] = (unsigned char)(id >> 8);
	out[1] = (unsigned char)id;
	/* flags 0: a standard query, no recursion desired (the instance is asked
	 * about what it serves) */
	out[5] = 1; /* QDCOUNT */
	while (*label) {
		const char *dot = strchr(label, '.');
		size_t n = dot ? (size_t)(dot - label) : strlen(label);

		if (n == 0 || n > 63 || len + 1 + n + 1 > DNS_HEADER + 255)
			return 0;
		out[len++] = (unsigned char)n;
		memcpy(out + len, label, n);
		len += n;
		label += n + (dot ? 1 : 0);
	}
	out[len++] = 0; /* the root */
	out[len++] = (unsigned char)(qtype >> 8);
	out[len++] = (unsigned char)qtype;
	out[len++] = 0;
	out[len++] = 1; /* IN */
	return len;
}

int probe_dns_answer(const unsigned char *query, size_t qlen, const unsigned char *resp,
                     size_t rlen, const char **why)
{
	size_t qsection = qlen - DNS_HEADER;

	if (rlen < DNS_HEADER) {
		*why = "answer too short";
		return -1;
	}
	if (resp[0] != query[0] || resp[1] != query[1]) {
		*why = "answer with another id";
		return -1;
	}
	if (!(resp[2] & 0x80)) {
		*why = "not an answer (QR clear)";
		return -1;
	}
	if ((resp[2] & 0x78) != 0) {
		*why = "answer with another opcode";
		return -1;
	}
	/* a FORMERR may come without the question (RFC 1035 4.1.1 leaves it open) */
	if (resp[4] == 0 && resp[5] == 0 && (resp[3] & 0x0f) != 0)
		return resp[3] & 0x0f;
	/* names compare without regard to case (RFC 4343): the one question,
	 * uncompressed, as sent */
	if (resp[4] != 0 || resp[5] != 1 || rlen < qlen ||
	    memcmp(resp + qlen - 4, query + qlen - 4, 4) != 0) {
		*why = "answer to another question";
		return -1;
	}
	for (size_t i = 0; i < qsection - 4; i++) {
		unsigned char a = resp[DNS_HEADER + i], b = query[DNS_HEADER + i];

		if (a != b && !(a >= 'A' && a <= 'Z' && a + 32 == b) &&
		    !(b >= 'A' && b <= 'Z' && b + 32 == a)) {
			*why = "answer to another question";
			return -1;
		}
	}
	return resp[3] & 0x0f;
}

struct dns_probe {
	int fd;
	struct event *io;
	unsigned char query[DNS_HEADER + 255 + 4];
	size_t qlen;
};

static void dns_release(struct health_probe *p)
{
	struct dns_probe *d = p->priv;

	if (d->io)
		event_free(d->io);
	if (d->fd >= 0)
		close(d->fd);
	free(d);
	p->priv = NULL;
}

static const char *rcode_name(int rcode)
{
	static char buf[24];

	if (rcode >= 0 && rcode <= 5)
		return check_rcode_names[rcode];
	snprintf(buf, sizeof(buf), "rcode %d", rcode & 0xf);
	return buf;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *p = arg;
	struct dns_probe *d = p->priv;
	const struct check_more *m = check_more_of(p->cfg);
	unsigned char buf[DNS_MAX];
	const char *why = NULL;
	ssize_t n;
	int rcode;

	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* ICMP port unreachable on the connected socket */
		probe_finish(p, 0, "dns: %s", strerror(errno));
		return;
	}
	rcode = probe_dns_answer(d->query, d->qlen, buf, (size_t)n, &why);
	if (rcode < 0) {
		/* not the answer (a late one to an earlier probe, a forgery): wait
		 * for the real one until the timeout, as a resolver does */
		log_debug("dns check: datagram ignored: %s", why);
		return;
	}
	if (rcode == m->dns.rcode)
		probe_finish(p, 1, "dns: %s", rcode_name(rcode));
	else
		probe_finish(p, 0, "dns: %s, expected %s", rcode_name(rcode),
		             check_rcode_names[m->dns.rcode]);
}

static int dns_start(struct health_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	const struct check_more *m = check_more_of(p->cfg);
	struct dns_probe *d = calloc(1, sizeof(*d));
	uint16_t id = 0;

	if (!d)
		return -ENOMEM;
	p->priv = d;
	d->fd = -1;
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = (uint16_t)(uintptr_t)d ^ (uint16_t)getpid();
	d->qlen =
	    probe_dns_query(m->dns.name ? m->dns.name : ".", check_dns_type_codes[m->dns.type], id,
	                    d->query, sizeof(d->query));
	if (!d->qlen) {
		probe_finish(p, 0, "dns: cannot encode %s", m->dns.name ? m->dns.name : ".");
		return 0;
	}
	d->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0) {
		probe_socket_failed(p, errno);
		return 0;
	}
	/* connected: only the instance's datagrams are received, and a closed
	 * port is reported (ECONNREFUSED) rather than waited out */
	if (connect(d->fd, sa, salen) < 0 || send(d->fd, d->query, d->qlen, 0) < 0) {
		probe_finish(p, health_probe_local_errno(errno) ? HEALTH_PROBE_LOCAL : 0, "dns: %s",
		             strerror(errno));
		return 0;
	}
	d->io = event_new(p->base, d->fd, EV_READ | EV_PERSIST, on_readable, p);
	if (!d->io || event_add(d->io, NULL) < 0) {
		dns_release(p);
		return -ENOMEM;
	}
	return 0;
}

const struct probe_ops probe_dns_ops = {.start = dns_start, .release = dns_release};

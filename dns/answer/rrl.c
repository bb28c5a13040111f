/* SPDX-License-Identifier: BSD-3-Clause */
/* rrl.c: response rate limiting: a fixed table of per-prefix counters per worker (rrl.h).
 *
 * A bucket holds the 64-bit keyed hash of its prefix as a tag, the second
 * it counts for and the responses of that second. A new second or another
 * prefix restarts the count: the first response of a second pays for the
 * reset, and no timer or sweep is needed.
 */
#include "config.h"

#include "dns/answer/rrl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define RRL_MAX_BUCKETS (1u << 24)
#define DNS_HEADER      12

struct bucket {
	uint64_t tag; /* keyed hash of the prefix; 0 = never used */
	uint32_t second;
	uint32_t count; /* responses in `second`, saturating */
};

struct dns_rrl {
	struct dns_rrl_config cfg;
	uint64_t k0, k1;
	uint32_t mask;
	uint32_t v4_mask; /* host order */
	uint8_t v6_mask[16];
	struct bucket *b;
};

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t random_seed(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s) || s == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
	}
	return s;
}

struct dns_rrl *dns_rrl_create(const struct dns_rrl_config *cfg, uint64_t seed)
{
	struct dns_rrl *rrl;
	uint32_t n = 1;
	unsigned v4 = cfg->ipv4_prefix > 32 ? 32 : cfg->ipv4_prefix;
	unsigned v6 = cfg->ipv6_prefix > 128 ? 128 : cfg->ipv6_prefix;

	if (cfg->table_size > RRL_MAX_BUCKETS)
		return NULL;
	while (n < cfg->table_size)
		n <<= 1;
	rrl = calloc(1, sizeof(*rrl));
	if (!rrl)
		return NULL;
	rrl->b = calloc(n, sizeof(*rrl->b));
	if (!rrl->b) {
		free(rrl);
		return NULL;
	}
	rrl->cfg = *cfg;
	rrl->mask = n - 1;
	if (seed == 0)
		seed = random_seed();
	rrl->k0 = mix(seed);
	rrl->k1 = mix(seed ^ 0x9e3779b97f4a7c15ull);
	rrl->v4_mask = v4 == 0 ? 0 : ~0u << (32 - v4);
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = v6 > i * 8 ? v6 - i * 8 : 0;
		rrl->v6_mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
	}
	return rrl;
}

void dns_rrl_free(struct dns_rrl *rrl)
{
	if (!rrl)
		return;
	free(rrl->b);
	free(rrl);
}

const struct dns_rrl_config *dns_rrl_config(const struct dns_rrl *rrl)
{
	return &rrl->cfg;
}

/* The keyed hash of the client's prefix, never 0; 0 for other families. */
static uint64_t prefix_tag(const struct dns_rrl *rrl, const struct sockaddr *client)
{
	uint64_t w0, w1, h;

	if (client->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)client;
		w0 = ntohl(s4->sin_addr.s_addr) & rrl->v4_mask;
		w1 = 4;
	} else if (client->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)client;
		uint8_t a[16];
		for (unsigned i = 0; i < 16; i++)
			a[i] = s6->sin6_addr.s6_addr[i] & rrl->v6_mask[i];
		memcpy(&w0, a, 8);
		memcpy(&w1, a + 8, 8);
		/* the family in a bit a /64 or longer prefix may set too: mix it apart */
		w0 = mix(w0 ^ 6);
	} else {
		return 0;
	}
	h = mix(rrl->k0 ^ w0);
	h = mix(h ^ w1 ^ rrl->k1);
	return h ? h : 1;
}

enum dns_rrl_action dns_rrl_decide(struct dns_rrl *rrl, const struct sockaddr *client,
                                   uint32_t now_s)
{
	const struct dns_rrl_config *c = &rrl->cfg;
	struct bucket *b;
	uint64_t tag;
	uint32_t over;

	if (c->rate == 0)
		return DNS_RRL_SEND;
	tag = prefix_tag(rrl, client);
	if (tag == 0)
		return DNS_RRL_SEND;
	/* high bits for the index: the low ones went through fewer multiplies */
	b = &rrl->b[(uint32_t)(tag >> 32) & rrl->mask];
	if (b->tag != tag || b->second != now_s) {
		b->tag = tag;
		b->second = now_s;
		b->count = 0;
	}
	if (b->count < UINT32_MAX)
		b->count++;
	if (b->count <= c->rate)
		return DNS_RRL_SEND;
	over = b->count - c->rate;
	if (c->slip == 0 || over % c->slip != 0)
		return DNS_RRL_DROP;
	return DNS_RRL_SLIP;
}

size_t dns_rrl_truncate(uint8_t *msg, size_t len)
{
	size_t p = DNS_HEADER;
	unsigned qd;

	if (len < DNS_HEADER)
		return 0;
	qd = (unsigned)msg[4] << 8 | msg[5];
	if (qd > 0) {
		for (;;) {
			unsigned l;
			if (p >= len)
				return 0;
			l = msg[p];
			if (l == 0) {
				p++;
				break;
			}
			if ((l & 0xc0) == 0xc0) {
				p += 2;
				break;
			}
			if (l & 0xc0)
				return 0;
			p += 1 + l;
		}
		p += 4; /* qtype, qclass */
		if (p > len)
			return 0;
	}
	msg[2] |= 0x02; /* TC */
	msg[4] = 0;
	msg[5] = qd > 0 ? 1 : 0;
	memset(msg + 6, 0, 6); /* ANCOUNT, NSCOUNT, ARCOUNT */
	return p;
}

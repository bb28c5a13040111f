/* SPDX-License-Identifier: BSD-3-Clause */
/* digest.c: a digest of what a registry answers, so a reload that changes
 * nothing a client can see keeps its table, serial and counters.
 *
 * Every value is fed with a type-free length prefix (FNV-1a, 64 bits), so
 * "ab" + "c" and "a" + "bc" differ. Zone records go in as ldns presentation
 * text, which is canonical for equal records.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static void feed(uint64_t *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t x = *h;
	uint64_t n = len;

	for (size_t i = 0; i < sizeof(n); i++) {
		x ^= (unsigned char)(n >> (8 * i));
		x *= FNV_PRIME;
	}
	for (size_t i = 0; i < len; i++) {
		x ^= p[i];
		x *= FNV_PRIME;
	}
	*h = x;
}

static void feed_u64(uint64_t *h, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	feed(h, b, sizeof(b));
}

static void feed_str(uint64_t *h, const char *s)
{
	if (!s) {
		feed_u64(h, 0xffffffffffffffffULL); /* NULL differs from "" */
		return;
	}
	feed(h, s, strlen(s));
}

static void feed_strs(uint64_t *h, char *const *v, size_t n)
{
	feed_u64(h, n);
	for (size_t i = 0; i < n; i++)
		feed_str(h, v[i]);
}

static void feed_addr(uint64_t *h, const struct reg_addr *a)
{
	feed_u64(h, (uint64_t)a->family);
	if (a->family == AF_INET6)
		feed(h, &a->u.v6, sizeof(a->u.v6));
	else
		feed(h, &a->u.v4, sizeof(a->u.v4));
}

/* Field by field: the struct has padding and a path buffer past its NUL. */
static void feed_check(uint64_t *h, const struct check_config *c)
{
	feed_u64(h, (uint64_t)c->type);
	feed_u64(h, c->interval_ms);
	feed_u64(h, c->timeout_ms);
	feed_u64(h, c->unhealthy_interval_ms);
	feed_u64(h, c->rise);
	feed_u64(h, c->fall);
	feed_u64(h, c->port);
	feed_str(h, c->path);
	feed_u64(h, c->n_expect);
	for (size_t i = 0; i < c->n_expect && i < CHECK_EXPECT_MAX; i++)
		feed_u64(h, (uint64_t)c->expect[i].lo << 16 | c->expect[i].hi);
}

/* Only what changes answers: forward, transfer and logging settings are
 * taken from the new registry on an unchanged reload (or need a restart), and
 * must not bump the serial that secondaries follow. */
static void feed_server(uint64_t *h, const struct reg_server *s)
{
	feed_str(h, s->zone);
	feed_u64(h, s->ttl);
	feed_u64(h, s->max_answers);
	feed_u64(h, s->edns_udp_size);
	feed_str(h, s->soa.mname);
	feed_str(h, s->soa.rname);
	feed_u64(h, s->soa.ttl);
	feed_u64(h, s->soa.refresh);
	feed_u64(h, s->soa.retry);
	feed_u64(h, s->soa.expire);
	feed_u64(h, s->soa.minimum);
	feed_strs(h, s->ns, s->n_ns);
	feed_str(h, s->identity);
	feed_str(h, s->version);
	feed_u64(h, s->rrl.rate);
	feed_u64(h, s->rrl.slip);
	feed_u64(h, s->rrl.ipv4_prefix);
	feed_u64(h, s->rrl.ipv6_prefix);
	feed_u64(h, s->rrl.table_size);
}

static void feed_service(uint64_t *h, const struct reg_service *s)
{
	feed_str(h, s->name);
	feed_str(h, s->protocol);
	feed_u64(h, s->port);
	feed_strs(h, s->tags, s->n_tags);
	feed_u64(h, (uint64_t)s->policy);
	feed_u64(h, s->ttl);
	feed_u64(h, s->max_answers);
	feed(h, &s->panic_threshold, sizeof(s->panic_threshold));
	feed_check(h, &s->check);
	feed_u64(h, s->n_instances);
	for (size_t i = 0; i < s->n_instances; i++) {
		const struct reg_instance *in = &s->instances[i];

		feed_str(h, in->name);
		feed_addr(h, &in->addr);
		feed_u64(h, in->port);
		feed_u64(h, in->weight);
		feed_u64(h, in->priority);
		feed_strs(h, in->tags, in->n_tags);
	}
}

static void feed_zone(uint64_t *h, const struct reg_zone *z)
{
	char *text = z->apex ? ldns_rdf2str(z->apex) : NULL;

	feed_str(h, text);
	free(text);
	feed_u64(h, (uint64_t)z->is_service_zone);
	feed_u64(h, z->rrs ? ldns_rr_list_rr_count(z->rrs) : 0);
	for (size_t i = 0; z->rrs && i < ldns_rr_list_rr_count(z->rrs); i++) {
		text = ldns_rr2str(ldns_rr_list_rr(z->rrs, i));
		/* out of memory: a digest that differs from every other, so the
		 * reload counts as a change rather than a false "unchanged" */
		if (!text)
			feed_u64(h, (uint64_t)(uintptr_t)h ^ (uint64_t)i);
		feed_str(h, text);
		free(text);
	}
}

uint64_t registry_digest(const struct registry *reg)
{
	uint64_t h = FNV_OFFSET;

	feed_server(&h, &reg->server);
	feed_u64(&h, reg->n_services);
	for (size_t i = 0; i < reg->n_services; i++)
		feed_service(&h, &reg->services[i]);
	feed_u64(&h, reg->n_zones);
	for (size_t i = 0; i < reg->n_zones; i++)
		feed_zone(&h, &reg->zones[i]);
	return h;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* select.c: failover tiers, locality, adaptive TTL and tag pairs (select.h). A service with
 * failover: true answers A/AAAA with the instances of its lowest priority
 * that has a served instance (Consul's prepared-query failover, gdnsd's
 * multifo); SRV keeps every priority, since SRV clients choose by priority
 * themselves. A tag pair TAG1.TAG2.SVC.<zone> is the intersection of two
 * tag nodes, whose instance lists are both in ascending order: a merge, per
 * query, so the table holds no node per pair. */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "dns/answer/policy.h"
#include "dns/answer/select.h"
#include "dns/answer/table_build.h"
#include "registry/registry.h"

int tb_build_select(struct builder *b, const struct reg_service *s, uint32_t si)
{
	struct dns_table *t = b->t;
	struct dns_service *ds = &t->services[si];
	size_t first = ds->first_instance, end = first + s->n_instances;

	if (s->failover)
		ds->select |= DNS_SEL_FAILOVER;
	if (s->locality != REG_LOCALITY_OFF) {
		ds->select |= DNS_SEL_LOCALITY;
		ds->locality = (uint8_t)s->locality;
		ds->min_local = (uint16_t)s->min_local;
	}
	ds->ttl = s->ttl;
	ds->ttl_min = s->ttl_min;
	if (s->has_ttl_min)
		ds->select |= DNS_SEL_TTL_MIN;
	if (!ds->select && s->policy != REG_POLICY_HASHED)
		return 0;
	/* zeroed up to here: the services before that have no feature */
	if (end > b->inst_sel_cap) {
		size_t old = b->inst_sel_cap;

		if (tb_grow((void **)&t->inst_sel, &b->inst_sel_cap, end, sizeof(*t->inst_sel)))
			return tb_fail(b, "out of memory");
		memset(t->inst_sel + old, 0, (b->inst_sel_cap - old) * sizeof(*t->inst_sel));
	}
	for (size_t i = 0; i < s->n_instances; i++) {
		struct dns_inst_sel *in = &t->inst_sel[first + i];
		const char *site = s->instances[i].site;

		in->priority = s->instances[i].priority;
		/* its name, not its place or address: a client's order survives
		 * reloads and other instances coming and going */
		in->hkey = dns_name_hash((const uint8_t *)s->instances[i].name,
		                         strlen(s->instances[i].name));
		for (size_t k = 0; site && k < b->n_sites; k++)
			if (!strcmp(b->sites[k].name, site))
				in->site = (uint16_t)(k + 1);
	}
	return 0;
}

uint32_t dns_ttl_now(const struct dns_service *svc, int64_t now_ms)
{
	const struct health_svc *h = svc->hs;
	int64_t changed = atomic_load_explicit(&h->last_change_ms, memory_order_relaxed);
	int64_t restored = atomic_load_explicit(&h->last_restored_ms, memory_order_relaxed);

	if (atomic_load_explicit(&h->n_passing, memory_order_relaxed) != svc->n_instances ||
	    (changed && now_ms - changed < (int64_t)svc->ttl * 1000) ||
	    (restored && now_ms - restored < (int64_t)svc->slow_start_ms))
		return svc->ttl_min;
	return svc->ttl;
}

int32_t dns_failover_tier(const struct dns_table *t, const struct dns_service *svc)
{
	int32_t tier = -1;

	for (uint32_t i = svc->first_instance; i < svc->first_instance + svc->n_instances; i++) {
		uint16_t prio = t->inst_sel[i].priority;

		if ((tier < 0 || prio < tier) &&
		    atomic_load_explicit(&t->instances[i].hs->served, memory_order_relaxed))
			tier = prio;
	}
	return tier;
}

/* Leading bits that two addresses share, up to max. */
static unsigned common_bits(const uint8_t *x, const uint8_t *y, unsigned max)
{
	unsigned n = 0;

	while (n < max && n % 8 == 0 && max - n >= 8 && x[n / 8] == y[n / 8])
		n += 8;
	while (n < max && !((x[n / 8] ^ y[n / 8]) & (0x80u >> (n % 8))))
		n++;
	return n;
}

/* The client's site (index + 1; 0: in none) by longest prefix, and in
 * *scope the leading bits of its address that decide it: every address
 * sharing them is in the same site, for the ECS scope (RFC 7871 7.2.1). */
static uint16_t client_site(const struct dns_table *t, const struct dns_client *c, unsigned *scope)
{
	uint16_t site = 0;
	unsigned sc = 0;

	for (size_t i = 0; i < t->n_site_prefixes; i++) {
		const struct dns_site_prefix *p = &t->site_prefixes[i];
		unsigned same, need;

		if (p->v6 != c->v6)
			continue;
		same = common_bits(p->addr, c->addr, p->bits);
		/* longest first: the first that holds the client is its site */
		if (same == p->bits && !site)
			site = p->site;
		need = same == p->bits ? p->bits : same + 1;
		if (need > sc)
			sc = need;
	}
	*scope = sc;
	return site;
}

/* Locality: the client's site, strict keeping only its instances while at
 * least min_local of them are candidates. */
static size_t select_local(struct dns_ctx *ctx, const struct dns_table *t,
                           const struct dns_service *svc, uint32_t *a, size_t cnt, uint16_t *prefer)
{
	struct dns_client c;
	unsigned scope;
	uint16_t site;
	size_t local = 0;

	if (dns_client_get(ctx, &c) < 0)
		return cnt;
	site = client_site(t, &c, &scope);
	dns_client_scope(ctx, scope);
	for (size_t i = 0; site && i < cnt; i++)
		local += t->inst_sel[a[i]].site == site;
	if (local == 0 || local == cnt)
		return cnt;
	if (svc->locality == REG_LOCALITY_STRICT && local >= svc->min_local) {
		size_t k = 0;

		for (size_t i = 0; i < cnt; i++)
			if (t->inst_sel[a[i]].site == site)
				a[k++] = a[i];
		return k;
	}
	*prefer = site;
	return cnt;
}

size_t dns_local_first(struct dns_ctx *ctx, const struct dns_table *t, uint32_t *a, size_t cnt,
                       uint16_t site)
{
	uint32_t *rest = ctx->offsets;
	size_t k = 0, r = 0;

	for (size_t i = 0; i < cnt; i++) {
		if (t->inst_sel[a[i]].site == site)
			a[k++] = a[i];
		else
			rest[r++] = a[i];
	}
	memcpy(a + k, rest, r * sizeof(*a));
	return k;
}

int tb_build_sites(struct builder *b, const struct registry *reg)
{
	struct dns_table *t = b->t;
	size_t n = 0;

	b->sites = reg->server.sites;
	b->n_sites = reg->server.n_sites;
	for (size_t i = 0; i < b->n_sites; i++)
		n += b->sites[i].n_prefixes;
	if (!b->n_sites)
		return 0;
	/* the names, for _health TXT */
	t->site_names = calloc(b->n_sites, sizeof(*t->site_names));
	if (!t->site_names)
		return tb_fail(b, "out of memory");
	for (size_t i = 0; i < b->n_sites; i++) {
		uint8_t label[64];
		size_t len = strlen(b->sites[i].name);

		label[0] = (uint8_t)(len < 63 ? len : 63);
		memcpy(label + 1, b->sites[i].name, label[0]);
		if (tb_blob_add(b, label, 1 + (size_t)label[0], &t->site_names[i]))
			return -1;
	}
	if (!n)
		return 0;
	t->site_prefixes = calloc(n, sizeof(*t->site_prefixes));
	if (!t->site_prefixes)
		return tb_fail(b, "out of memory");
	for (size_t i = 0; i < b->n_sites; i++)
		for (size_t k = 0; k < b->sites[i].n_prefixes; k++) {
			struct dns_site_prefix *p = &t->site_prefixes[t->n_site_prefixes];
			unsigned bits;
			int v6;

			if (addr_parse_prefix(b->sites[i].prefixes[k], &v6, p->addr, &bits) < 0)
				return tb_fail(b, "server.sites.%s: bad prefix %s",
				               b->sites[i].name, b->sites[i].prefixes[k]);
			p->v6 = (uint8_t)v6;
			p->bits = (uint8_t)bits;
			p->site = (uint16_t)(i + 1);
			t->n_site_prefixes++;
		}
	/* longest first, so the first prefix that holds a client is its site */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && t->site_prefixes[k].bits > t->site_prefixes[k - 1].bits;
		     k--) {
			struct dns_site_prefix x = t->site_prefixes[k];

			t->site_prefixes[k] = t->site_prefixes[k - 1];
			t->site_prefixes[k - 1] = x;
		}
	return 0;
}

size_t dns_select(struct dns_ctx *ctx, const struct dns_table *t, const struct dns_service *svc,
                  uint16_t qtype, uint32_t *a, size_t cnt, uint16_t *prefer)
{
	if ((svc->select & DNS_SEL_FAILOVER) && qtype != DNS_T_SRV) {
		int32_t tier = dns_failover_tier(t, svc);
		size_t k = 0;

		if (tier >= 0) {
			for (size_t i = 0; i < cnt; i++)
				if (t->inst_sel[a[i]].priority == (uint32_t)tier)
					a[k++] = a[i];
			cnt = k;
		}
	}
	if ((svc->select & DNS_SEL_LOCALITY) && cnt)
		cnt = select_local(ctx, t, svc, a, cnt, prefer);
	return cnt;
}

/* 1 if n is a tag node: a SERVICE node whose parent is its service's node
 * (the service's own node has the zone apex above it). */
static int is_tag_node(const struct dns_table *t, const struct dns_node *n)
{
	const uint8_t *name = t->blob + n->name_off;
	size_t skip = (size_t)name[0] + 1;
	uint32_t p;

	if (n->kind != DNS_NODE_SERVICE || n->name_len <= skip)
		return 0;
	p = dns_table_lookup(t, name + skip, n->name_len - skip,
	                     dns_name_hash(name + skip, n->name_len - skip));
	return p != DNS_NO_INDEX && t->nodes[p].kind == DNS_NODE_SERVICE &&
	       t->nodes[p].service == n->service;
}

/* 1 if the sorted instance lists of n and m meet. */
static int lists_meet(const struct dns_table *t, const struct dns_node *n, const struct dns_node *m)
{
	uint32_t i = 0, k = 0;

	while (i < n->list_len && k < m->list_len) {
		uint32_t x = dns_node_inst(t, n, i), y = dns_node_inst(t, m, k);

		if (x == y)
			return 1;
		if (x < y)
			i++;
		else
			k++;
	}
	return 0;
}

uint32_t dns_pair_lookup(const struct dns_table *t, const uint8_t *name, size_t len,
                         uint32_t parent)
{
	const struct dns_node *p = &t->nodes[parent];
	const uint8_t *pname = t->blob + p->name_off;
	size_t l1 = (size_t)name[0] + 1, l2 = (size_t)pname[0] + 1;
	uint8_t other[256];
	uint32_t m;

	/* name is TAG1 + parent; other is TAG1 + SVC.<zone> */
	if (p->kind != DNS_NODE_SERVICE || len != l1 + p->name_len || !is_tag_node(t, p))
		return DNS_NO_INDEX;
	memcpy(other, name, l1);
	memcpy(other + l1, pname + l2, p->name_len - l2);
	m = dns_table_lookup(t, other, len - l2, dns_name_hash(other, len - l2));
	if (m == DNS_NO_INDEX || m == parent || t->nodes[m].kind != DNS_NODE_SERVICE ||
	    t->nodes[m].service != p->service || !is_tag_node(t, &t->nodes[m]) ||
	    !lists_meet(t, p, &t->nodes[m]))
		return DNS_NO_INDEX;
	return m;
}

size_t dns_pair_filter(const struct dns_table *t, const struct dns_node *m, uint32_t *a, size_t cnt)
{
	size_t k = 0;
	uint32_t j = 0;

	for (size_t i = 0; i < cnt; i++) {
		while (j < m->list_len && dns_node_inst(t, m, j) < a[i])
			j++;
		if (j < m->list_len && dns_node_inst(t, m, j) == a[i])
			a[k++] = a[i];
	}
	return k;
}

int dns_client_get(const struct dns_ctx *ctx, struct dns_client *c)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	const struct dns_query *q = ctx->query;

	memset(c, 0, sizeof(*c));
	if (q && q->ecs) {
		if (q->ecs_source == 0)
			return -1;
		c->v6 = q->ecs_family == 2;
		c->bits = q->ecs_source;
		c->ecs = 1;
		memcpy(c->addr, q->ecs_addr, sizeof(c->addr));
		return 0;
	}
	if (!ctx->peer)
		return -1;
	if (ctx->peer->sa_family == AF_INET) {
		memcpy(c->addr, &((const struct sockaddr_in *)(const void *)ctx->peer)->sin_addr,
		       4);
		c->bits = 32;
		return 0;
	}
	if (ctx->peer->sa_family == AF_INET6) {
		const uint8_t *a =
		    ((const struct sockaddr_in6 *)(const void *)ctx->peer)->sin6_addr.s6_addr;

		if (!memcmp(a, v4mapped, sizeof(v4mapped))) {
			memcpy(c->addr, a + 12, 4);
			c->bits = 32;
			return 0;
		}
		memcpy(c->addr, a, 16);
		c->v6 = 1;
		c->bits = 128;
		return 0;
	}
	return -1;
}

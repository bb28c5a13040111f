/* SPDX-License-Identifier: BSD-3-Clause */
/* select.c: failover tiers, adaptive TTL and tag pairs (select.h). A service with
 * failover: true answers A/AAAA with the instances of its lowest priority
 * that has a served instance (Consul's prepared-query failover, gdnsd's
 * multifo); SRV keeps every priority, since SRV clients choose by priority
 * themselves. A tag pair TAG1.TAG2.SVC.<zone> is the intersection of two
 * tag nodes, whose instance lists are both in ascending order: a merge, per
 * query, so the table holds no node per pair. */
#include "config.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/answer/policy.h"
#include "dns/answer/select.h"
#include "dns/answer/table_build.h"
#include "registry/registry.h"

int tb_build_select(struct builder *b, const struct reg_service *s, uint32_t si)
{
	struct dns_table *t = b->t;
	struct dns_service *ds = &t->services[si];

	for (size_t i = 0; i < s->n_instances; i++) {
		struct dns_instance *in = &t->instances[ds->first_instance + i];

		in->priority = s->instances[i].priority;
		/* its name, not its place or address: a client's order survives
		 * reloads and other instances coming and going */
		in->hkey = dns_name_hash((const uint8_t *)s->instances[i].name,
		                         strlen(s->instances[i].name));
	}
	if (s->failover)
		ds->select |= DNS_SEL_FAILOVER;
	ds->ttl = s->ttl;
	ds->ttl_min = s->ttl_min;
	if (s->has_ttl_min)
		ds->select |= DNS_SEL_TTL_MIN;
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

	for (uint32_t i = 0; i < svc->n_instances; i++) {
		const struct dns_instance *in = &t->instances[svc->first_instance + i];

		if ((tier < 0 || in->priority < tier) &&
		    atomic_load_explicit(&in->hs->served, memory_order_relaxed))
			tier = in->priority;
	}
	return tier;
}

size_t dns_select(struct dns_ctx *ctx, const struct dns_table *t, const struct dns_service *svc,
                  uint16_t qtype, uint32_t *a, size_t cnt)
{
	(void)ctx;
	if ((svc->select & DNS_SEL_FAILOVER) && qtype != DNS_T_SRV) {
		int32_t tier = dns_failover_tier(t, svc);
		size_t k = 0;

		if (tier >= 0) {
			for (size_t i = 0; i < cnt; i++)
				if (t->instances[a[i]].priority == (uint32_t)tier)
					a[k++] = a[i];
			cnt = k;
		}
	}
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

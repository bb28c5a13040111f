/* SPDX-License-Identifier: BSD-3-Clause */
/* table_service.c: one service in the answer table: its instances'
 * pre-encoded A/AAAA and SRV bodies side by side, and the names that lead
 * to them (the service, its tags, _SVC._PROTO and _TAG._PROTO, each
 * instance and the _health names). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer/name.h"
#include "dns/answer/policy.h"
#include "dns/answer/select.h"
#include "dns/answer/table_build.h"
#include "dns/answer/wire.h"
#include "registry/registry.h"

/* The state of every instance while no checker is bound: served. */
static const struct health_inst always_served = {.served = 1, .status = HEALTH_PASSING};

/* Collects the distinct tags of a service (its own and its instances'). */
static size_t service_tags(const struct reg_service *s, const char **tags, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i <= s->n_instances; i++) {
		char **list = i == 0 ? s->tags : s->instances[i - 1].tags;
		size_t cnt = i == 0 ? s->n_tags : s->instances[i - 1].n_tags;
		for (size_t k = 0; k < cnt; k++) {
			size_t j;
			for (j = 0; j < n && strcmp(tags[j], list[k]); j++)
				;
			if (j == n && n < cap)
				tags[n++] = list[k];
		}
	}
	return n;
}

static int has_tag(char **tags, size_t n, const char *tag)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(tags[i], tag))
			return 1;
	return 0;
}

static int addr_cmp(const void *a, const void *b)
{
	return registry_addr_cmp(*(const struct reg_addr *const *)a,
	                         *(const struct reg_addr *const *)b);
}

/* 1 if two instances of s have one address (one host, several ports): only
 * then must an A/AAAA answer look for repeats, which costs ~50 instructions
 * per record. -1 on out of memory. */
static int shares_addresses(const struct reg_service *s)
{
	const struct reg_addr **v;
	size_t n = 0;
	int shared = 0;
	if (s->n_instances < 2)
		return 0;
	for (size_t i = 0; i < s->n_instances; i++)
		n += s->instances[i].n_addrs ? s->instances[i].n_addrs : 1;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -1;
	n = 0;
	/* every address of every instance (dual-stack ones have several) */
	for (size_t i = 0; i < s->n_instances; i++) {
		size_t cnt;
		const struct reg_addr *a = registry_addrs(&s->instances[i], &cnt);

		for (size_t k = 0; k < cnt; k++)
			v[n++] = &a[k];
	}
	qsort(v, n, sizeof(*v), addr_cmp);
	for (size_t i = 1; i < n && !shared; i++)
		shared = addr_cmp(&v[i - 1], &v[i]) == 0;
	free(v);
	return shared;
}

/* address: [...]: the A bodies, then the AAAA ones, back to back (type
 * DNS_T_MULTI; answers pick those of the type asked). */
static int tb_inst_addrs(struct builder *b, const struct reg_service *s,
                         const struct reg_instance *in, struct dns_instance *di)
{
	size_t n, len = 0;
	const struct reg_addr *a = registry_addrs(in, &n);
	uint8_t body[10 + 16];

	di->type = DNS_T_MULTI;
	for (int pass = 0; pass < 2; pass++)
		for (size_t k = 0; k < n; k++) {
			int v4 = a[k].family == AF_INET;
			uint16_t rd = v4 ? 4 : 16;
			uint32_t off;

			if (v4 != (pass == 0))
				continue;
			dns_body_head(body, v4 ? DNS_T_A : DNS_T_AAAA, DNS_C_IN, s->ttl, rd);
			memcpy(body + 10, v4 ? (const void *)&a[k].u.v4 : (const void *)&a[k].u.v6,
			       rd);
			if (tb_blob_add(b, body, 10 + rd, &off))
				return -1;
			if (!len)
				di->addr_off = off;
			len += 10 + rd;
		}
	di->addr_len = (uint16_t)len;
	return 0;
}

/* ports: an SRV node _NAME._PROTO.SVC.<zone> per named port over every
 * instance, and the instances' numbers of each in the blob (dns_node_port()). */
static int tb_build_ports(struct builder *b, const struct reg_service *s, uint32_t si,
                          const uint8_t *svc, size_t sl, uint32_t *idx)
{
	struct dns_table *t = b->t;
	struct dns_service *ds = &t->services[si];
	uint8_t name[256], two[2];
	char plabel[80];

	if (!s->n_ports)
		return 0;
	for (size_t i = 0; i < s->n_instances; i++)
		idx[i] = ds->first_instance + (uint32_t)i;
	/* all of them back to back before any name goes into the blob */
	for (size_t k = 0; k < s->n_ports; k++)
		for (size_t i = 0; i < s->n_instances; i++) {
			struct reg_named_port np;
			uint32_t off;

			registry_port_of(s, &s->instances[i], k, &np);
			dns_put16(two, np.port);
			if (tb_blob_add(b, two, 2, &off))
				return -1;
			if (k == 0 && i == 0)
				ds->ports_off = off;
		}
	for (size_t k = 0; k < s->n_ports; k++) {
		struct reg_named_port np;
		uint32_t node;
		size_t nl;

		registry_port_of(s, NULL, k, &np);
		snprintf(plabel, sizeof(plabel), "_%s", np.protocol);
		nl = dns_name_prepend(name, "", plabel, svc, sl);
		nl = nl ? dns_name_prepend(name, "_", np.name, name, nl) : 0;
		if (!nl)
			return tb_fail(b, "service %s, port %s: name too long", s->name, np.name);
		if (tb_dyn_node(b, name, nl, DNS_NODE_SRV, si, idx, s->n_instances))
			return -1;
		node = dns_table_lookup(t, name, nl, dns_name_hash(name, nl));
		t->nodes[node].port_slot = (uint8_t)(k + 1);
		/* _PROTO.SVC.<zone> above it is the service's (empty: nxdomain) */
		node = dns_table_lookup(t, name + name[0] + 1, nl - name[0] - 1,
		                        dns_name_hash(name + name[0] + 1, nl - name[0] - 1));
		if (node != DNS_NO_INDEX && t->nodes[node].kind == DNS_NODE_PLAIN &&
		    t->nodes[node].service == DNS_NO_INDEX)
			t->nodes[node].service = si;
	}
	return 0;
}

/* The empty non-terminal _PROTO.SVC.<zone> (above the _TAG._PROTO names)
 * belongs to the service too, so that `empty: nxdomain` covers the whole
 * subtree (dns_node_gone()). */
static int tb_service_subtree(struct builder *b, uint32_t si, const uint8_t *proto_svc, size_t pl,
                              uint32_t first_node)
{
	struct dns_table *t = b->t;
	uint32_t node = dns_table_lookup(t, proto_svc, pl, dns_name_hash(proto_svc, pl));

	if (node != DNS_NO_INDEX && t->nodes[node].kind == DNS_NODE_PLAIN &&
	    t->nodes[node].service == DNS_NO_INDEX)
		t->nodes[node].service = si;
	/* every name of the service is new since first_node */
	for (size_t k = first_node; k < t->n_nodes; k++)
		if (t->nodes[k].service == si) {
			t->nodes[k].empty_nx = t->services[si].empty_nxdomain;
			t->nodes[k].multi_addrs = t->services[si].multi_addrs;
		}
	return 0;
}

/* meta: one TXT record at the instance's name, "KEY=VALUE" per
 * character-string (the service's keys, then the instance's own). */
static int tb_build_meta(struct builder *b, const struct reg_service *s,
                         const struct reg_instance *in, uint32_t node)
{
	const char *kv[4 * REG_META_MAX];
	uint8_t body[10 + 2 * REG_META_MAX * (1 + REG_META_TEXT_MAX)];
	size_t n = registry_meta_of(s, in, kv), p = 10;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int len = snprintf((char *)body + p + 1, sizeof(body) - p - 1, "%s=%s", kv[2 * i],
		                   kv[2 * i + 1]);

		if (len < 0 || len > REG_META_TEXT_MAX)
			return tb_fail(b, "%s/%s: meta %s too long", s->name, in->name, kv[2 * i]);
		body[p] = (uint8_t)len;
		p += 1 + (size_t)len;
	}
	dns_body_head(body, DNS_T_TXT, DNS_C_IN, s->ttl, (uint16_t)(p - 10));
	return tb_own_rr(b, node, body, p);
}

int tb_build_service(struct builder *b, const struct reg_service *s, uint32_t si, uint32_t *idx,
                     const char **tags)
{
	struct dns_table *t = b->t;
	const uint8_t *apex = t->blob + t->zones[0].apex_off;
	uint8_t apex_c[256], svc[256], name[256], proto_svc[256], body[300];
	size_t alen = t->zones[0].apex_len, sl, nl, pl, n_tags;
	uint32_t first = (uint32_t)t->n_instances, first_node = (uint32_t)t->n_nodes;
	struct dns_service *ds = &t->services[si];
	char plabel[80];
	int shared;

	memcpy(apex_c, apex, alen);
	sl = dns_name_prepend(svc, "", s->name, apex_c, alen);
	snprintf(plabel, sizeof(plabel), "_%s", s->protocol ? s->protocol : "tcp");
	pl = sl ? dns_name_prepend(proto_svc, "", plabel, svc, sl) : 0;
	if (!sl || !pl)
		return tb_fail(b, "service %s: name too long", s->name);
	ds->order = dns_policy_of(s->policy);
	ds->policy_name = registry_policy_name(s->policy);
	if (!ds->order)
		return tb_fail(b, "service %s: unknown policy", s->name);
	shared = shares_addresses(s);
	if (shared < 0)
		return tb_fail(b, "out of memory");
	ds->shared_addrs = (uint8_t)shared;
	for (size_t i = 0; i < s->n_instances && !ds->multi_addrs; i++)
		ds->multi_addrs = s->instances[i].n_addrs > 1;
	ds->shared_addrs |= ds->multi_addrs;
	ds->max_answers = s->max_answers;
	ds->n_instances = (uint32_t)s->n_instances;
	ds->first_instance = first;
	atomic_init(&t->own_svc[si].n_served, (uint32_t)s->n_instances);
	atomic_init(&t->own_svc[si].n_passing, (uint32_t)s->n_instances);
	atomic_init(&t->own_svc[si].n_failing, 0);
	atomic_init(&t->own_svc[si].panic, 0);
	atomic_init(&ds->hs, &t->own_svc[si]);
	ds->check_type = (uint8_t)s->check.type;
	ds->interval_ms = s->check.interval_ms;
	ds->ttl_ms = s->check.ttl_ms;
	ds->slow_start_ms = s->check.slow_start_ms;
	ds->unhealthy_interval_ms = s->check.unhealthy_interval_ms;
	ds->timeout_ms = s->check.timeout_ms;
	ds->rise = (uint16_t)(s->check.rise > UINT16_MAX ? UINT16_MAX : s->check.rise);
	ds->fall = (uint16_t)(s->check.fall > UINT16_MAX ? UINT16_MAX : s->check.fall);
	ds->empty_nxdomain = s->empty == REG_EMPTY_NXDOMAIN;

	ds->first_maint = (uint32_t)t->n_maints;
	for (size_t i = 0; i < s->n_instances; i++) {
		const char *why = registry_maintenance_of(s, &s->instances[i]);
		struct dns_maint *m;
		size_t len;

		if (!why)
			continue;
		if (tb_grow((void **)&t->maints, &b->maints_cap, t->n_maints + 1, sizeof(*m)))
			return tb_fail(b, "out of memory");
		m = &t->maints[t->n_maints++];
		len = strlen(why) < DNS_MAINT_TEXT_MAX ? strlen(why) : DNS_MAINT_TEXT_MAX;
		m->inst = first + (uint32_t)i;
		m->len = (uint16_t)len;
		if (tb_blob_add(b, why, len, &m->off))
			return tb_fail(b, "out of memory");
		ds->n_maint++;
	}

	/* A service's address bodies side by side: an answer reads them all,
	 * and with 100,000 services each cache line fetched is one miss */
	for (size_t i = 0; i < s->n_instances; i++) {
		const struct reg_instance *in = &s->instances[i];
		struct dns_instance *di = &t->instances[first + i];
		int v4 = in->addr.family == AF_INET;
		uint16_t alen_rd = v4 ? 4 : 16;
		memset(di, 0, sizeof(*di));
		di->type = v4 ? DNS_T_A : DNS_T_AAAA;
		di->weight = in->weight;
		di->service = si;
		atomic_init(&di->hs, &always_served);
		if (in->n_addrs > 1) {
			if (tb_inst_addrs(b, s, in, di))
				return -1;
			continue;
		}
		dns_body_head(body, di->type, DNS_C_IN, s->ttl, alen_rd);
		memcpy(body + 10, v4 ? (const void *)&in->addr.u.v4 : (const void *)&in->addr.u.v6,
		       alen_rd);
		di->addr_len = (uint16_t)(10 + alen_rd);
		if (tb_blob_add(b, body, di->addr_len, &di->addr_off))
			return -1;
	}
	for (size_t i = 0; i < s->n_instances; i++) {
		const struct reg_instance *in = &s->instances[i];
		struct dns_instance *di = &t->instances[first + i];
		nl = dns_name_prepend(name, "", in->name, svc, sl);
		if (!nl)
			return tb_fail(b, "%s/%s: name too long", s->name, in->name);
		dns_body_head(body, DNS_T_SRV, DNS_C_IN, s->ttl, (uint16_t)(6 + nl));
		dns_put16(body + 10, in->priority);
		dns_put16(body + 12, in->weight);
		dns_put16(body + 14, in->port);
		memcpy(body + 16, name, nl);
		di->srv_len = (uint16_t)(16 + nl);
		if (tb_blob_add(b, body, di->srv_len, &di->srv_off))
			return -1;
		t->n_instances++;
		idx[i] = first + i;
	}
	for (size_t i = 0; i < s->n_instances; i++) {
		const struct reg_instance *in = &s->instances[i];
		struct dns_instance *di = &t->instances[first + i];
		nl = dns_name_prepend(name, "", in->name, svc, sl);
		if (tb_dyn_node(b, name, nl, DNS_NODE_INSTANCE, si, &idx[i], 1))
			return -1;
		di->node = dns_table_lookup(t, name, nl, dns_name_hash(name, nl));
		if (tb_build_meta(b, s, in, di->node))
			return -1;
		if (b->n_reverse && tb_build_ptr(b, s, in, name, nl))
			return -1;
		nl = dns_name_prepend(name, "", "_health", name, nl);
		if (!nl || tb_dyn_node(b, name, nl, DNS_NODE_HEALTH_INST, si, &idx[i], 1))
			return nl ? -1
			          : tb_fail(b, "%s/%s: _health name too long", s->name, in->name);
	}
	if (tb_dyn_node(b, svc, sl, DNS_NODE_SERVICE, si, idx, s->n_instances))
		return -1;
	nl = dns_name_prepend(name, "", "_health", svc, sl);
	if (!nl || tb_dyn_node(b, name, nl, DNS_NODE_HEALTH_SVC, si, NULL, 0))
		return nl ? -1 : tb_fail(b, "service %s: _health name too long", s->name);
	nl = dns_name_prepend(name, "", plabel, apex_c, alen);
	nl = nl ? dns_name_prepend(name, "_", s->name, name, nl) : 0;
	if (!nl || tb_dyn_node(b, name, nl, DNS_NODE_SRV, si, idx, s->n_instances))
		return nl ? -1 : tb_fail(b, "service %s: SRV name too long", s->name);

	ds->node = dns_table_lookup(t, svc, sl, dns_name_hash(svc, sl));
	/* _PROTO.<zone>, which services share (table_delta.c counts them) */
	nl = dns_name_prepend(name, "", plabel, apex_c, alen);
	ds->proto_node = nl ? dns_table_lookup(t, name, nl, dns_name_hash(name, nl)) : DNS_NO_INDEX;

	n_tags = service_tags(s, tags, 4096);
	for (size_t k = 0; k < n_tags; k++) {
		size_t n = 0;
		int all = has_tag(s->tags, s->n_tags, tags[k]);
		for (size_t i = 0; i < s->n_instances; i++)
			if (all || has_tag(s->instances[i].tags, s->instances[i].n_tags, tags[k]))
				idx[n++] = first + (uint32_t)i;
		nl = dns_name_prepend(name, "", tags[k], svc, sl);
		if (!nl)
			return tb_fail(b, "service %s, tag %s: name too long", s->name, tags[k]);
		if (tb_dyn_node(b, name, nl, DNS_NODE_SERVICE, si, idx, n))
			return -1;
		nl = dns_name_prepend(name, "_", tags[k], proto_svc, pl);
		/* a 63-octet tag has no room for the underscore: no SRV name then */
		if (nl && tb_dyn_node(b, name, nl, DNS_NODE_SRV, si, idx, n))
			return -1;
	}
	if (tb_build_ports(b, s, si, svc, sl, idx))
		return -1;
	/* _PROTO.<svc>.<zone>, above the _TAG._PROTO names, is the service's
	 * too: a delta that replaces the service hides it, and `empty:
	 * nxdomain` covers it */
	if (tb_service_subtree(b, si, proto_svc, pl, first_node))
		return -1;
	return tb_build_select(b, s, si);
}

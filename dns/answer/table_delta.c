/* SPDX-License-Identifier: BSD-3-Clause */
/* table_delta.c: a change costs the services it touches (README
 * "Performance", Changes).
 *
 * A whole table (table.c) is the base. A change builds a delta: a small
 * table of the services that differ from the base (by
 * registry_service_digest()), plus flags over the base's services that the
 * delta replaces or removes. The delta is the view the workers answer from
 * (dns_view_lookup()): its own services' names first, then the base's
 * live names. Deltas are cumulative (each one holds every service changed
 * since its base), so a view is always one base and at most one delta, and
 * a lookup at most two; once a delta grows past an eighth of its base, the
 * next change builds a whole table again.
 *
 * What a delta cannot express goes to a whole build: a change of anything
 * but services (server, zones), reverse zones (a PTR name is shared by the
 * services with an instance on its address), a service whose name static records use
 * (as owner or as CNAME/NS/MX/SRV target: their nodes are resolved in the
 * base), or a name the base holds live (a collision, which the whole
 * build reports as it would without deltas).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dns/answer/name.h"
#include "dns/answer/table.h"
#include "dns/answer/table_build.h"
#include "dns/answer/table_impl.h"
#include "registry/registry.h"

/* FNV-1a of a label's bytes, lowercase as the table holds them. */
static uint32_t label_hash(const uint8_t *p, size_t len)
{
	return dns_name_hash(p, len);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int has_u32(const uint32_t *v, size_t n, uint32_t x)
{
	return n && bsearch(&x, v, n, sizeof(*v), cmp_u32) != NULL;
}

int dns_view_hidden(const struct dns_table *t, uint32_t node)
{
	return has_u32(t->hidden, t->n_hidden, node);
}

uint32_t dns_view_lookup_delta(const struct dns_table *t, const struct dns_table **sub,
                               const uint8_t *name, size_t len, uint32_t hash)
{
	uint32_t i = dns_table_lookup(t, name, len, hash), b;

	*sub = t;
	if (i != DNS_NO_INDEX && t->nodes[i].kind != DNS_NODE_PLAIN)
		return i;
	b = dns_table_lookup(t->base, name, len, hash);
	if (b != DNS_NO_INDEX && dns_view_base_live(t, b)) {
		*sub = t->base;
		return b;
	}
	return i;
}

/* The label of name right under the service zone's apex, and if that is
 * _PROTO, the one under it without its '_' (the service of _SVC._PROTO):
 * the service names a static name can be part of. */
static int note_labels(struct builder *b, const uint8_t *name, size_t len, size_t *cap)
{
	struct dns_table *t = b->t;
	const uint8_t *apex = t->blob + t->zones[0].apex_off;
	size_t alen = t->zones[0].apex_len, at = 0, prev = 0, prev2 = 0;
	uint32_t h[2];
	size_t n = 0;

	if (!dns_name_under(name, len, apex, alen) || len == alen)
		return 0;
	/* walk to the apex, remembering the two labels above it */
	while (len - at > alen) {
		prev2 = prev;
		prev = at;
		at += (size_t)name[at] + 1;
	}
	h[n++] = label_hash(name + prev + 1, name[prev]);
	if (prev != prev2 && name[prev] > 1 && name[prev + 1] == '_' && name[prev2] > 1 &&
	    name[prev2 + 1] == '_')
		h[n++] = label_hash(name + prev2 + 2, (size_t)name[prev2] - 1);
	if (tb_grow((void **)&t->static_labels, cap, t->n_static_labels + n, sizeof(uint32_t)))
		return tb_fail(b, "out of memory");
	for (size_t i = 0; i < n; i++)
		t->static_labels[t->n_static_labels++] = h[i];
	return 0;
}

/* A static owner and its ancestors: a delta keeps them whatever it removes. */
static void mark_static_below(struct dns_table *t, uint32_t node)
{
	const uint8_t *name = t->blob + t->nodes[node].name_off;
	size_t len = t->nodes[node].name_len, at = 0;

	while (node != DNS_NO_INDEX) {
		struct dns_node *n = &t->nodes[node];

		/* a plain name marked had its ancestors walked then */
		if (n->kind == DNS_NODE_PLAIN) {
			if (n->list_is_range)
				break;
			n->list_is_range = 1; /* dns_node_static_below() */
		}
		if (!name[at])
			break;
		at += (size_t)name[at] + 1;
		node = dns_table_lookup(t, name + at, len - at, dns_name_hash(name + at, len - at));
	}
}

static uint32_t svc_label_hash(const struct dns_table *t, const struct dns_service *ds)
{
	const uint8_t *name = t->blob + t->nodes[ds->node].name_off;

	return label_hash(name + 1, name[0]);
}

int tb_whole_index(struct builder *b, const struct registry *reg)
{
	struct dns_table *t = b->t;
	size_t cap = 0, slots = 16;

	t->rest_digest = registry_rest_digest(reg);
	/* the services by name */
	while (slots < 2 * t->n_services)
		slots *= 2;
	t->svc_index = calloc(slots, sizeof(*t->svc_index));
	if (!t->svc_index)
		return tb_fail(b, "out of memory");
	t->svc_index_mask = (uint32_t)(slots - 1);
	for (size_t i = 0; i < t->n_services; i++) {
		uint32_t k = svc_label_hash(t, &t->services[i]) & t->svc_index_mask;

		while (t->svc_index[k])
			k = (k + 1) & t->svc_index_mask;
		t->svc_index[k] = (uint32_t)i + 1;
	}
	/* what static records hold on to */
	for (size_t i = 0; i < t->n_nodes; i++) {
		const struct dns_node *n = &t->nodes[i];

		if (n->kind != DNS_NODE_PLAIN || !n->n_rrsets)
			continue;
		mark_static_below(t, (uint32_t)i);
		if (note_labels(b, t->blob + n->name_off, n->name_len, &cap))
			return -1;
		for (uint16_t r = 0; r < n->n_rrsets; r++) {
			const struct dns_rrset *s = &t->rrsets[n->rrset_first + r];
			const uint8_t *p = t->blob + s->off, *end = p + s->len;
			int at = dns_rdata_name_at(s->type);

			for (; at >= 0 && p < end; p += 10 + (size_t)(p[8] << 8 | p[9]))
				if (note_labels(b, p + 10 + at, dns_name_wire_len(p + 10 + at),
				                &cap))
					return -1;
		}
	}
	if (t->n_static_labels)
		qsort(t->static_labels, t->n_static_labels, sizeof(uint32_t), cmp_u32);
	return 0;
}

/* Base service of that name, or DNS_NO_INDEX. */
static uint32_t svc_find(const struct dns_table *base, const char *name)
{
	size_t len = strlen(name);
	uint32_t k = label_hash((const uint8_t *)name, len) & base->svc_index_mask;

	for (;; k = (k + 1) & base->svc_index_mask) {
		uint32_t i = base->svc_index[k];
		const uint8_t *label;

		if (!i)
			return DNS_NO_INDEX;
		label = base->blob + base->nodes[base->services[i - 1].node].name_off;
		if (label[0] == len && !memcmp(label + 1, name, len))
			return i - 1;
	}
}

int tb_delta_name(struct builder *b, const uint8_t *name, size_t len)
{
	const struct dns_table *base = b->base;
	uint32_t i = dns_table_lookup(base, name, len, dns_name_hash(name, len));
	const struct dns_node *n;

	if (i == DNS_NO_INDEX)
		return 0;
	n = &base->nodes[i];
	if (n->service != DNS_NO_INDEX && b->masked[n->service])
		return 0;
	if (n->kind == DNS_NODE_PLAIN && !n->n_rrsets && !dns_node_static_below(n))
		return 0; /* an empty non-terminal both may have */
	b->whole = 1;
	return tb_fail(b, "a name the base table holds");
}

/* The delta of reg over base: 0, 1 for "build it whole", -1 on error. */
static int delta_build(struct dns_table *base, const struct registry *reg, uint32_t serial,
                       struct dns_table **out, char *err, size_t errlen)
{
	struct builder b;
	struct dns_table *t = NULL;
	uint32_t *reg_map = malloc((reg->n_services ? reg->n_services : 1) * sizeof(*reg_map));
	uint64_t *digs = malloc((reg->n_services ? reg->n_services : 1) * sizeof(*digs));
	uint8_t *masked = malloc(base->n_services ? base->n_services : 1);
	uint32_t *hidden = NULL;
	size_t n_changed = 0, changed_inst = 0, max_inst = 0, view_inst = 0,
	       maints = base->n_maints;
	size_t n_hidden = 0;
	uint8_t apex[256];
	uint32_t apex_node;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	b.err = err;
	b.errlen = errlen;
	if (!reg_map || !digs || !masked)
		goto oom;
	memset(masked, 1, base->n_services);
	for (size_t j = 0; j < reg->n_services; j++) {
		const struct reg_service *s = reg->services[j];
		uint64_t d = registry_service_digest(s);
		/* where the last whole build put it (a change keeps the service
		 * object): its digest says whether that is still it */
		uint32_t i =
		    s->table_hint < base->n_services && base->services[s->table_hint].digest == d
		        ? s->table_hint
		        : svc_find(base, s->name);

		view_inst += s->n_instances;
		if (i != DNS_NO_INDEX && base->services[i].digest == d) {
			reg_map[j] = i;
			masked[i] = 0;
			continue;
		}
		/* static records use this name: their targets are the base's */
		if (has_u32(base->static_labels, base->n_static_labels,
		            label_hash((const uint8_t *)s->name, strlen(s->name))))
			goto whole;
		digs[n_changed] = d;
		reg_map[j] = DNS_REG_DELTA | (uint32_t)n_changed++;
		changed_inst += s->n_instances;
		if (s->n_instances > max_inst)
			max_inst = s->n_instances;
	}
	if (changed_inst > base->n_instances / 8 + 1024)
		goto whole;
	/* what leaves with the replaced and removed services: their own names
	 * (masked), and a _PROTO.<zone> no base service is left under */
	for (size_t i = 0; i < base->n_services; i++) {
		const struct dns_service *ds = &base->services[i];

		if (!masked[i])
			continue;
		if (has_u32(base->static_labels, base->n_static_labels, svc_label_hash(base, ds)))
			goto whole;
		maints -= ds->n_maint;
		if (ds->proto_node != DNS_NO_INDEX && !has_u32(hidden, n_hidden, ds->proto_node)) {
			uint32_t *v = realloc(hidden, (n_hidden + 1) * sizeof(*v));

			if (!v)
				goto oom;
			hidden = v;
			hidden[n_hidden++] = ds->proto_node;
			qsort(hidden, n_hidden, sizeof(*hidden), cmp_u32);
		}
	}
	/* ... hidden so far are candidates: keep those with no live service */
	if (n_hidden) {
		size_t k = 0;

		for (size_t i = 0; i < n_hidden; i++) {
			int live = dns_node_static_below(&base->nodes[hidden[i]]);

			for (size_t s = 0; s < base->n_services && !live; s++)
				live = !masked[s] && base->services[s].proto_node == hidden[i];
			if (!live)
				hidden[k++] = hidden[i];
		}
		n_hidden = k;
	}

	b.base = base;
	b.masked = masked;
	b.idx = calloc(max_inst ? max_inst : 1, sizeof(*b.idx));
	b.tags = calloc(4096, sizeof(*b.tags));
	if (!b.idx || !b.tags)
		goto oom;
	if (tb_begin(&b, reg, serial, n_changed, changed_inst) || tb_build_sites(&b, reg))
		goto fail;
	t = b.t;
	memcpy(apex, t->blob + t->zones[0].apex_off, t->zones[0].apex_len);
	if (tb_node_get(&b, apex, t->zones[0].apex_len, &apex_node))
		goto fail;
	t->apex_node = apex_node;
	for (size_t j = 0, k = 0; j < reg->n_services; j++) {
		if (!(reg_map[j] & DNS_REG_DELTA))
			continue;
		if (tb_build_service(&b, reg->services[j], (uint32_t)k, b.idx, b.tags))
			goto fail;
		t->services[k].digest = digs[k];
		k++;
	}
	if (tb_end(&b, reg))
		goto fail;
	t->base = base;
	base->refs++;
	t->masked = masked;
	t->hidden = hidden;
	t->n_hidden = n_hidden;
	t->reg_map = reg_map;
	t->n_reg = reg->n_services;
	t->rest_digest = base->rest_digest;
	t->view_services = reg->n_services;
	t->view_instances = view_inst;
	t->view_maints = maints + t->n_maints;
	masked = NULL;
	hidden = NULL;
	reg_map = NULL;
	*out = t;
	t = NULL;
	rc = 0;
	goto done;
whole:
	rc = 1;
	goto done;
oom:
	tb_fail(&b, "out of memory");
fail:
	rc = b.whole ? 1 : -1;
done:
	tb_cleanup(&b);
	if (rc != 0)
		dns_table_free(b.t);
	free(reg_map);
	free(digs);
	free(masked);
	free(hidden);
	return rc;
}

int dns_table_update(const struct dns_table *cur, const struct registry *reg, uint32_t serial,
                     struct dns_table **out, char *err, size_t errlen)
{
	struct dns_table *base = cur ? (cur->base ? cur->base : (struct dns_table *)cur) : NULL;

	*out = NULL;
	/* PTR names are shared by the services whose instances have that
	 * address: reverse zones change by whole builds */
	if (base && !reg->server.n_reverse && registry_rest_digest(reg) == base->rest_digest) {
		int rc = delta_build(base, reg, serial, out, err, errlen);

		if (rc <= 0)
			return rc;
	}
	return dns_table_build(reg, serial, out, err, errlen);
}

int dns_table_is_delta(const struct dns_table *t)
{
	return t->base != NULL;
}

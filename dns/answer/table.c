/* SPDX-License-Identifier: BSD-3-Clause */
/* table.c: compiles a struct registry into the answer table (table_impl.h).
 *
 * Names synthesised per service (zone svc.example., service web, proto tcp):
 *   web.svc.example.              A, AAAA, SRV of all instances
 *   TAG.web.svc.example.          the same, instances carrying TAG
 *   _web._tcp.svc.example.        SRV of all instances
 *   _TAG._tcp.web.svc.example.    SRV of instances carrying TAG: an extension
 *                                 in the style of RFC 2782's _Service._Proto
 *                                 lookups, so SRV-only clients can filter by tag
 *   INST.web.svc.example.         the instance's A or AAAA, whatever its health
 *   _health.INST.web.svc.example. TXT: the instance's health (answer.c)
 *   _health.web.svc.example.      TXT: the service's health summary
 * plus the apex SOA and NS, `_ready.<zone>`, the empty `_health.<zone>`, and
 * the static zone records.
 * Every ancestor of an owner up to its apex becomes a node, so empty
 * non-terminals answer NODATA instead of NXDOMAIN.
 *
 * Building allocates freely and reports the first problem in err; answering
 * (answer.c) only reads, except for the atomics.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "dns/answer/name.h"
#include "dns/answer/policy.h"
#include "dns/answer/table_impl.h"
#include "registry/registry.h"

/* The state of every instance while no checker is bound: served. */
static const struct health_inst always_served = {.served = 1, .status = HEALTH_PASSING};

/* A static record before it is grouped into its RRset. */
struct pending_rr {
	uint32_t node;
	uint16_t type;
	uint32_t seq;       /* input order */
	uint32_t group_seq; /* input order of the first record of its RRset */
	uint32_t off, len;  /* body in builder.tmp */
};

struct builder {
	struct dns_table *t;
	size_t blob_cap, nodes_cap, rrsets_cap, lists_cap, targets_cap;
	struct pending_rr *prr;
	size_t n_prr, prr_cap;
	uint8_t *tmp;
	size_t tmp_len, tmp_cap;
	char *err;
	size_t errlen;
};

static int fail_msg(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail_msg(struct builder *b, const char *fmt, ...)
{
	va_list ap;
	if (b->err && b->errlen) {
		va_start(ap, fmt);
		vsnprintf(b->err, b->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Grows *arr (elements of size sz) so that it holds need elements. */
static int grow(void **arr, size_t *cap, size_t need, size_t sz)
{
	size_t n = *cap ? *cap : 16;
	void *p;
	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*arr, n * sz);
	if (!p)
		return -1;
	*arr = p;
	*cap = n;
	return 0;
}

static int blob_add(struct builder *b, const void *data, size_t len, uint32_t *off)
{
	struct dns_table *t = b->t;
	if (t->blob_len + len > UINT32_MAX)
		return fail_msg(b, "table too large");
	if (grow((void **)&t->blob, &b->blob_cap, t->blob_len + len, 1))
		return fail_msg(b, "out of memory");
	memcpy(t->blob + t->blob_len, data, len);
	*off = (uint32_t)t->blob_len;
	t->blob_len += len;
	return 0;
}

static int tmp_add(struct builder *b, const void *data, size_t len, uint32_t *off)
{
	if (grow((void **)&b->tmp, &b->tmp_cap, b->tmp_len + len, 1))
		return fail_msg(b, "out of memory");
	memcpy(b->tmp + b->tmp_len, data, len);
	*off = (uint32_t)b->tmp_len;
	b->tmp_len += len;
	return 0;
}

uint32_t dns_table_lookup(const struct dns_table *t, const uint8_t *name, size_t len, uint32_t hash)
{
	uint32_t i = hash & t->hash_mask;
	for (;;) {
		uint32_t slot = t->hash[i];
		const struct dns_node *n;
		if (!slot)
			return DNS_NO_INDEX;
		n = &t->nodes[slot - 1];
		if (n->hash == hash && n->name_len == len &&
		    !memcmp(t->blob + n->name_off, name, len))
			return slot - 1;
		i = (i + 1) & t->hash_mask;
	}
}

static int hash_resize(struct builder *b, size_t size)
{
	struct dns_table *t = b->t;
	uint32_t *h = calloc(size, sizeof(*h));
	if (!h)
		return fail_msg(b, "out of memory");
	free(t->hash);
	t->hash = h;
	t->hash_mask = (uint32_t)(size - 1);
	for (size_t n = 0; n < t->n_nodes; n++) {
		uint32_t i = t->nodes[n].hash & t->hash_mask;
		while (h[i])
			i = (i + 1) & t->hash_mask;
		h[i] = (uint32_t)n + 1;
	}
	return 0;
}

/* The zone with the longest apex that name is at or below; DNS_NO_INDEX if
 * none. */
static uint32_t zone_for(const struct dns_table *t, const uint8_t *name, size_t len)
{
	uint32_t best = DNS_NO_INDEX;
	size_t best_len = 0;
	for (size_t z = 0; z < t->n_zones; z++) {
		const struct dns_zone *zn = &t->zones[z];
		if (zn->apex_len >= best_len &&
		    dns_name_under(name, len, t->blob + zn->apex_off, zn->apex_len)) {
			best = (uint32_t)z;
			best_len = zn->apex_len;
		}
	}
	return best;
}

/* Finds or adds the node of name (lowercase wire) and of each of its
 * ancestors down to its zone's apex. */
static int node_get(struct builder *b, const uint8_t *name, size_t len, uint32_t *out)
{
	struct dns_table *t = b->t;
	uint32_t h = dns_name_hash(name, len), idx, zone;
	struct dns_node *n;
	idx = dns_table_lookup(t, name, len, h);
	if (idx != DNS_NO_INDEX) {
		*out = idx;
		return 0;
	}
	zone = zone_for(t, name, len);
	if (zone == DNS_NO_INDEX)
		return fail_msg(b, "owner name outside every served zone");
	if ((t->n_nodes + 1) * 2 > (size_t)t->hash_mask + 1 &&
	    hash_resize(b, ((size_t)t->hash_mask + 1) * 2))
		return -1;
	if (grow((void **)&t->nodes, &b->nodes_cap, t->n_nodes + 1, sizeof(*t->nodes)))
		return fail_msg(b, "out of memory");
	idx = (uint32_t)t->n_nodes;
	n = &t->nodes[idx];
	memset(n, 0, sizeof(*n));
	if (blob_add(b, name, len, &n->name_off))
		return -1;
	n->name_len = (uint8_t)len;
	n->hash = h;
	n->zone = zone;
	n->service = DNS_NO_INDEX;
	atomic_init(&n->rr_counter, 0);
	t->n_nodes++;
	{
		uint32_t i = h & t->hash_mask;
		while (t->hash[i])
			i = (i + 1) & t->hash_mask;
		t->hash[i] = idx + 1;
	}
	*out = idx;
	/* ancestors, so that empty non-terminals exist */
	if (len > t->zones[zone].apex_len) {
		uint32_t parent;
		if (node_get(b, name + name[0] + 1, len - name[0] - 1, &parent))
			return -1;
	}
	return 0;
}

static int list_add(struct builder *b, const uint32_t *idx, size_t n, uint32_t *off)
{
	struct dns_table *t = b->t;
	if (n == 0) { /* lists may still be NULL, and NULL + 0 is undefined */
		*off = (uint32_t)t->n_lists;
		return 0;
	}
	if (grow((void **)&t->lists, &b->lists_cap, t->n_lists + n, sizeof(*t->lists)))
		return fail_msg(b, "out of memory");
	memcpy(t->lists + t->n_lists, idx, n * sizeof(*idx));
	*off = (uint32_t)t->n_lists;
	t->n_lists += n;
	return 0;
}

/* Makes name a dynamic node of the given kind. */
static int dyn_node(struct builder *b, const uint8_t *name, size_t len, uint8_t kind,
                    uint32_t service, const uint32_t *idx, size_t n_idx)
{
	uint32_t node;
	struct dns_node *n;
	char text[1024];
	if (node_get(b, name, len, &node))
		return -1;
	n = &b->t->nodes[node];
	if (n->kind != DNS_NODE_PLAIN) {
		ldns_rdf *rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, name);
		char *s = rdf ? ldns_rdf2str(rdf) : NULL;
		snprintf(text, sizeof(text), "%s", s ? s : "?");
		free(s);
		ldns_rdf_deep_free(rdf);
		return fail_msg(b, "%s: name used twice (service, tag or instance collide)", text);
	}
	n->kind = kind;
	n->service = service;
	if (kind == DNS_NODE_HEALTH_SVC)
		return 0;
	if (kind == DNS_NODE_INSTANCE || kind == DNS_NODE_HEALTH_INST) {
		n->list_off = idx[0];
		n->list_len = 1;
		return 0;
	}
	n->list_len = (uint32_t)n_idx;
	n->list_is_range = 1;
	for (size_t i = 1; i < n_idx && n->list_is_range; i++)
		n->list_is_range = idx[i] == idx[0] + i;
	if (n->list_is_range) {
		n->list_off = n_idx ? idx[0] : 0;
		return 0;
	}
	return list_add(b, idx, n_idx, &n->list_off);
}

static int prr_add(struct builder *b, uint32_t node, const uint8_t *body, size_t len)
{
	struct pending_rr *p;
	if (grow((void **)&b->prr, &b->prr_cap, b->n_prr + 1, sizeof(*b->prr)))
		return fail_msg(b, "out of memory");
	p = &b->prr[b->n_prr];
	p->node = node;
	p->type = (uint16_t)(body[0] << 8 | body[1]);
	p->seq = (uint32_t)b->n_prr;
	p->len = (uint32_t)len;
	b->n_prr++;
	return tmp_add(b, body, len, &p->off);
}

/* Encodes the service zone's SOA (with ttl) into out; returns its length
 * and sets *serial_pos to where the serial sits in it. */
static size_t soa_body(const struct reg_soa *soa, uint32_t serial, uint32_t ttl, uint8_t *out,
                       size_t *serial_pos)
{
	uint8_t m[256], r[256];
	size_t ml = dns_name_from_text(soa->mname, m), rl = dns_name_from_text(soa->rname, r);
	if (!ml || !rl)
		return 0;
	dns_body_head(out, DNS_T_SOA, DNS_C_IN, ttl, (uint16_t)(ml + rl + 20));
	memcpy(out + 10, m, ml);
	memcpy(out + 10 + ml, r, rl);
	*serial_pos = 10 + ml + rl;
	dns_put32(out + 10 + ml + rl, serial);
	dns_put32(out + 14 + ml + rl, soa->refresh);
	dns_put32(out + 18 + ml + rl, soa->retry);
	dns_put32(out + 22 + ml + rl, soa->expire);
	dns_put32(out + 26 + ml + rl, soa->minimum);
	return 30 + ml + rl;
}

static int add_zone(struct builder *b, const uint8_t *apex, size_t alen, const uint8_t *neg_soa,
                    size_t neg_len)
{
	struct dns_table *t = b->t;
	struct dns_zone *z;
	void *p = realloc(t->zones, (t->n_zones + 1) * sizeof(*t->zones));
	if (!p)
		return fail_msg(b, "out of memory");
	t->zones = p;
	z = &t->zones[t->n_zones];
	z->apex_len = (uint8_t)alen;
	if (blob_add(b, apex, alen, &z->apex_off) || blob_add(b, neg_soa, neg_len, &z->neg_soa_off))
		return -1;
	z->neg_soa_len = (uint16_t)neg_len;
	z->serial_pos = 0;
	t->n_zones++;
	return 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Zone 0 is the service zone; then one zone per static file with an SOA. */
static int build_zones(struct builder *b, const struct registry *reg, uint32_t serial)
{
	uint8_t apex[256], body[600];
	const struct reg_soa *soa = &reg->server.soa;
	size_t alen = dns_name_from_text(reg->server.zone, apex), blen, spos = 0;
	blen = soa_body(soa, serial, min_u32(soa->ttl, soa->minimum), body, &spos);
	if (!alen || !blen)
		return fail_msg(b, "server.zone or server.soa names are not valid domain names");
	if (add_zone(b, apex, alen, body, blen))
		return -1;
	b->t->zones[0].serial_pos = (uint16_t)spos;
	for (size_t i = 0; i < reg->n_zones; i++) {
		const struct reg_zone *rz = &reg->zones[i];
		ldns_rr *soa_rr = NULL;
		uint8_t *wire = NULL;
		size_t wlen = 0, olen;
		int rc;
		if (rz->is_service_zone)
			continue;
		for (size_t r = 0; rz->rrs && r < ldns_rr_list_rr_count(rz->rrs); r++)
			if (ldns_rr_get_type(ldns_rr_list_rr(rz->rrs, r)) == LDNS_RR_TYPE_SOA) {
				soa_rr = ldns_rr_list_rr(rz->rrs, r);
				break;
			}
		if (!soa_rr || !rz->apex || ldns_rr_rd_count(soa_rr) != 7)
			return fail_msg(b, "%s: static zone without a usable SOA", rz->file);
		if (ldns_rr2wire(&wire, soa_rr, LDNS_SECTION_ANSWER, &wlen) != LDNS_STATUS_OK)
			return fail_msg(b, "%s: cannot encode SOA", rz->file);
		olen = ldns_rdf_size(ldns_rr_owner(soa_rr));
		alen = ldns_rdf_size(rz->apex);
		if (alen > 255 || wlen - olen > sizeof(body)) {
			free(wire);
			return fail_msg(b, "%s: SOA too long", rz->file);
		}
		memcpy(apex, ldns_rdf_data(rz->apex), alen);
		dns_name_lower(apex, alen);
		memcpy(body, wire + olen, wlen - olen);
		free(wire);
		dns_put32(body + 4, min_u32(ldns_rr_ttl(soa_rr),
		                            ldns_rdf2native_int32(ldns_rr_rdf(soa_rr, 6))));
		rc = add_zone(b, apex, alen, body, wlen - olen);
		if (rc)
			return rc;
	}
	return 0;
}

/* Service zone apex SOA and NS, `_ready`, and the static records. */
static int build_static(struct builder *b, const struct registry *reg, uint32_t serial)
{
	struct dns_table *t = b->t;
	const uint8_t *apex = t->blob + t->zones[0].apex_off;
	size_t alen = t->zones[0].apex_len;
	uint8_t name[256], body[600], apex_copy[256];
	uint32_t node;
	size_t len, spos;

	memcpy(apex_copy, apex, alen);
	if (node_get(b, apex_copy, alen, &node))
		return -1;
	t->apex_node = node;
	len = soa_body(&reg->server.soa, serial, reg->server.soa.ttl, body, &spos);
	if (prr_add(b, node, body, len))
		return -1;
	for (size_t i = 0; i < reg->server.n_ns; i++) {
		size_t nl = dns_name_from_text(reg->server.ns[i], name);
		if (!nl)
			return fail_msg(b, "server.ns: %s is not a domain name", reg->server.ns[i]);
		dns_body_head(body, DNS_T_NS, DNS_C_IN, reg->server.soa.ttl, (uint16_t)nl);
		memcpy(body + 10, name, nl);
		if (prr_add(b, node, body, 10 + nl))
			return -1;
	}
	len = dns_name_prepend(name, "", "_ready", apex_copy, alen);
	if (!len || node_get(b, name, len, &node))
		return len ? -1 : fail_msg(b, "server.zone too long");
	t->nodes[node].kind = DNS_NODE_READY;
	/* TXT: a summary of the whole server (answer.c) */
	len = dns_name_prepend(name, "", "_health", apex_copy, alen);
	if (!len || node_get(b, name, len, &node))
		return len ? -1 : fail_msg(b, "server.zone too long");
	t->nodes[node].kind = DNS_NODE_HEALTH_ZONE;

	for (size_t i = 0; i < reg->n_zones; i++) {
		const struct reg_zone *rz = &reg->zones[i];
		for (size_t r = 0; rz->rrs && r < ldns_rr_list_rr_count(rz->rrs); r++) {
			const ldns_rr *rr = ldns_rr_list_rr(rz->rrs, r);
			const ldns_rdf *owner = ldns_rr_owner(rr);
			uint8_t *wire = NULL;
			size_t wlen = 0, olen = ldns_rdf_size(owner);
			int rc;
			/* the service zone's SOA comes from server.soa */
			if (rz->is_service_zone && ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
				continue;
			if (olen == 0 || olen > 255)
				return fail_msg(b, "%s: bad owner name", rz->file);
			memcpy(name, ldns_rdf_data(owner), olen);
			dns_name_lower(name, olen);
			if (node_get(b, name, olen, &node))
				return fail_msg(b, "%s: record owner outside its zone", rz->file);
			if (t->nodes[node].kind != DNS_NODE_PLAIN)
				return fail_msg(b, "%s: static record collides with a service name",
				                rz->file);
			if (ldns_rr2wire(&wire, rr, LDNS_SECTION_ANSWER, &wlen) != LDNS_STATUS_OK)
				return fail_msg(b, "%s: cannot encode a record", rz->file);
			rc = prr_add(b, node, wire + olen, wlen - olen);
			free(wire);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* One TTL for the whole RRset, its lowest (RFC 2181 5.2). */
static void rrset_min_ttl(struct dns_table *t, const struct dns_rrset *s)
{
	uint8_t *p = t->blob + s->off, *end = p + s->len;
	uint32_t min = UINT32_MAX;
	for (uint8_t *q = p; q < end; q += 10 + (size_t)(q[8] << 8 | q[9])) {
		uint32_t ttl =
		    (uint32_t)q[4] << 24 | (uint32_t)q[5] << 16 | (uint32_t)q[6] << 8 | q[7];
		if (ttl < min)
			min = ttl;
	}
	for (uint8_t *q = p; q < end; q += 10 + (size_t)(q[8] << 8 | q[9]))
		dns_put32(q + 4, min);
}

/* A node that has addresses to put in the additional section. */
static int has_address(const struct dns_table *t, uint32_t node)
{
	const struct dns_node *n = &t->nodes[node];
	if (n->kind == DNS_NODE_INSTANCE)
		return 1;
	if (n->kind != DNS_NODE_PLAIN)
		return 0;
	for (uint16_t i = 0; i < n->n_rrsets; i++) {
		uint16_t type = t->rrsets[n->rrset_first + i].type;
		if (type == DNS_T_A || type == DNS_T_AAAA)
			return 1;
	}
	return 0;
}

/* The nodes the names in the RRset's rdata lead to: the CNAME's target (or
 * the zone it would be in), the NS/MX/SRV targets with addresses. */
static int resolve_targets(struct builder *b, struct dns_rrset *s)
{
	struct dns_table *t = b->t;
	int at = dns_rdata_name_at(s->type);
	const uint8_t *p = t->blob + s->off, *end = p + s->len;
	uint32_t first = (uint32_t)t->n_targets;
	if (at < 0)
		return 0;
	if (s->type != DNS_T_CNAME) {
		if (grow((void **)&t->targets, &b->targets_cap, t->n_targets + s->count,
		         sizeof(*t->targets)))
			return fail_msg(b, "out of memory");
		s->first_target = first;
	}
	for (; p < end; p += 10 + (size_t)(p[8] << 8 | p[9])) {
		uint8_t target[256];
		size_t tl, rdlen = (size_t)(p[8] << 8 | p[9]);
		uint32_t node = DNS_NO_INDEX;
		/* ldns wrote the rdata: the name is whole and uncompressed */
		if (rdlen > (size_t)at) {
			tl = dns_name_wire_len(p + 10 + at);
			memcpy(target, p + 10 + at, tl);
			dns_name_lower(target, tl);
			node = dns_table_lookup(t, target, tl, dns_name_hash(target, tl));
			if (s->type == DNS_T_CNAME) {
				s->cname_node = node;
				if (node == DNS_NO_INDEX)
					s->cname_zone = zone_for(t, target, tl);
				continue;
			}
		}
		if (node != DNS_NO_INDEX && !has_address(t, node))
			node = DNS_NO_INDEX;
		/* two MX to one host: its addresses once */
		for (uint32_t k = first; node != DNS_NO_INDEX && k < t->n_targets; k++)
			if (t->targets[k] == node)
				node = DNS_NO_INDEX;
		t->targets[t->n_targets++] = node;
	}
	return 0;
}

static int cmp_prr_type(const void *a, const void *b)
{
	const struct pending_rr *x = a, *y = b;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_prr_order(const void *a, const void *b)
{
	const struct pending_rr *x = a, *y = b;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->group_seq != y->group_seq)
		return x->group_seq < y->group_seq ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Groups the pending records into RRsets, in order of first appearance per
 * owner (the order ANY answers pick from), and resolves CNAME targets. */
static int build_rrsets(struct builder *b)
{
	struct dns_table *t = b->t;
	size_t i = 0;
	qsort(b->prr, b->n_prr, sizeof(*b->prr), cmp_prr_type);
	while (i < b->n_prr) {
		size_t j = i;
		while (j < b->n_prr && b->prr[j].node == b->prr[i].node &&
		       b->prr[j].type == b->prr[i].type)
			b->prr[j++].group_seq = b->prr[i].seq;
		i = j;
	}
	qsort(b->prr, b->n_prr, sizeof(*b->prr), cmp_prr_order);
	for (i = 0; i < b->n_prr;) {
		size_t j = i;
		struct dns_rrset *s;
		struct dns_node *n = &t->nodes[b->prr[i].node];
		if (grow((void **)&t->rrsets, &b->rrsets_cap, t->n_rrsets + 1, sizeof(*t->rrsets)))
			return fail_msg(b, "out of memory");
		s = &t->rrsets[t->n_rrsets];
		memset(s, 0, sizeof(*s));
		s->type = b->prr[i].type;
		s->off = (uint32_t)t->blob_len;
		s->cname_node = DNS_NO_INDEX;
		s->cname_zone = DNS_NO_INDEX;
		s->first_target = DNS_NO_INDEX;
		if (n->n_rrsets == 0)
			n->rrset_first = (uint32_t)t->n_rrsets;
		n->n_rrsets++;
		for (; j < b->n_prr && b->prr[j].group_seq == b->prr[i].group_seq &&
		       b->prr[j].node == b->prr[i].node;
		     j++) {
			uint32_t off;
			if (blob_add(b, b->tmp + b->prr[j].off, b->prr[j].len, &off))
				return -1;
			s->len += b->prr[j].len;
			s->count++;
		}
		rrset_min_ttl(t, s);
		t->n_rrsets++;
		i = j;
		if (n->kind != DNS_NODE_PLAIN)
			return fail_msg(b, "a static record's owner collides with a service, "
			                   "tag, instance or _ready name");
	}
	for (i = 0; i < t->n_rrsets; i++)
		if (resolve_targets(b, &t->rrsets[i]))
			return -1;
	return 0;
}

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
	int shared = 0;
	if (s->n_instances < 2)
		return 0;
	v = malloc(s->n_instances * sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < s->n_instances; i++)
		v[i] = &s->instances[i].addr;
	qsort(v, s->n_instances, sizeof(*v), addr_cmp);
	for (size_t i = 1; i < s->n_instances && !shared; i++)
		shared = addr_cmp(&v[i - 1], &v[i]) == 0;
	free(v);
	return shared;
}

static int build_service(struct builder *b, const struct reg_service *s, uint32_t si, uint32_t *idx,
                         const char **tags)
{
	struct dns_table *t = b->t;
	const uint8_t *apex = t->blob + t->zones[0].apex_off;
	uint8_t apex_c[256], svc[256], name[256], proto_svc[256], body[300];
	size_t alen = t->zones[0].apex_len, sl, nl, pl, n_tags;
	uint32_t first = (uint32_t)t->n_instances;
	struct dns_service *ds = &t->services[si];
	char plabel[80];
	int shared;

	memcpy(apex_c, apex, alen);
	sl = dns_name_prepend(svc, "", s->name, apex_c, alen);
	snprintf(plabel, sizeof(plabel), "_%s", s->protocol ? s->protocol : "tcp");
	pl = sl ? dns_name_prepend(proto_svc, "", plabel, svc, sl) : 0;
	if (!sl || !pl)
		return fail_msg(b, "service %s: name too long", s->name);
	ds->order = dns_policy_of(s->policy);
	ds->policy_name = registry_policy_name(s->policy);
	if (!ds->order)
		return fail_msg(b, "service %s: unknown policy", s->name);
	shared = shares_addresses(s);
	if (shared < 0)
		return fail_msg(b, "out of memory");
	ds->shared_addrs = (uint8_t)shared;
	ds->max_answers = s->max_answers;
	ds->n_instances = (uint32_t)s->n_instances;
	ds->first_instance = first;
	atomic_init(&t->own_svc[si].n_served, (uint32_t)s->n_instances);
	atomic_init(&t->own_svc[si].n_passing, (uint32_t)s->n_instances);
	atomic_init(&t->own_svc[si].n_failing, 0);
	atomic_init(&t->own_svc[si].panic, 0);
	ds->hs = &t->own_svc[si];
	ds->check_type = (uint8_t)s->check.type;
	ds->interval_ms = s->check.interval_ms;
	ds->unhealthy_interval_ms = s->check.unhealthy_interval_ms;
	ds->timeout_ms = s->check.timeout_ms;
	ds->rise = (uint16_t)(s->check.rise > UINT16_MAX ? UINT16_MAX : s->check.rise);
	ds->fall = (uint16_t)(s->check.fall > UINT16_MAX ? UINT16_MAX : s->check.fall);

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
		di->hs = &always_served;
		dns_body_head(body, di->type, DNS_C_IN, s->ttl, alen_rd);
		memcpy(body + 10, v4 ? (const void *)&in->addr.u.v4 : (const void *)&in->addr.u.v6,
		       alen_rd);
		di->addr_len = (uint16_t)(10 + alen_rd);
		if (blob_add(b, body, di->addr_len, &di->addr_off))
			return -1;
	}
	for (size_t i = 0; i < s->n_instances; i++) {
		const struct reg_instance *in = &s->instances[i];
		struct dns_instance *di = &t->instances[first + i];
		nl = dns_name_prepend(name, "", in->name, svc, sl);
		if (!nl)
			return fail_msg(b, "%s/%s: name too long", s->name, in->name);
		dns_body_head(body, DNS_T_SRV, DNS_C_IN, s->ttl, (uint16_t)(6 + nl));
		dns_put16(body + 10, in->priority);
		dns_put16(body + 12, in->weight);
		dns_put16(body + 14, in->port);
		memcpy(body + 16, name, nl);
		di->srv_len = (uint16_t)(16 + nl);
		if (blob_add(b, body, di->srv_len, &di->srv_off))
			return -1;
		t->n_instances++;
		idx[i] = first + i;
	}
	for (size_t i = 0; i < s->n_instances; i++) {
		const struct reg_instance *in = &s->instances[i];
		struct dns_instance *di = &t->instances[first + i];
		nl = dns_name_prepend(name, "", in->name, svc, sl);
		if (dyn_node(b, name, nl, DNS_NODE_INSTANCE, si, &idx[i], 1))
			return -1;
		di->node = dns_table_lookup(t, name, nl, dns_name_hash(name, nl));
		nl = dns_name_prepend(name, "", "_health", name, nl);
		if (!nl || dyn_node(b, name, nl, DNS_NODE_HEALTH_INST, si, &idx[i], 1))
			return nl ? -1
			          : fail_msg(b, "%s/%s: _health name too long", s->name, in->name);
	}
	if (dyn_node(b, svc, sl, DNS_NODE_SERVICE, si, idx, s->n_instances))
		return -1;
	nl = dns_name_prepend(name, "", "_health", svc, sl);
	if (!nl || dyn_node(b, name, nl, DNS_NODE_HEALTH_SVC, si, NULL, 0))
		return nl ? -1 : fail_msg(b, "service %s: _health name too long", s->name);
	nl = dns_name_prepend(name, "", plabel, apex_c, alen);
	nl = nl ? dns_name_prepend(name, "_", s->name, name, nl) : 0;
	if (!nl || dyn_node(b, name, nl, DNS_NODE_SRV, si, idx, s->n_instances))
		return nl ? -1 : fail_msg(b, "service %s: SRV name too long", s->name);

	n_tags = service_tags(s, tags, 4096);
	for (size_t k = 0; k < n_tags; k++) {
		size_t n = 0;
		int all = has_tag(s->tags, s->n_tags, tags[k]);
		for (size_t i = 0; i < s->n_instances; i++)
			if (all || has_tag(s->instances[i].tags, s->instances[i].n_tags, tags[k]))
				idx[n++] = first + (uint32_t)i;
		nl = dns_name_prepend(name, "", tags[k], svc, sl);
		if (!nl)
			return fail_msg(b, "service %s, tag %s: name too long", s->name, tags[k]);
		if (dyn_node(b, name, nl, DNS_NODE_SERVICE, si, idx, n))
			return -1;
		nl = dns_name_prepend(name, "_", tags[k], proto_svc, pl);
		/* a 63-octet tag has no room for the underscore: no SRV name then */
		if (nl && dyn_node(b, name, nl, DNS_NODE_SRV, si, idx, n))
			return -1;
	}
	return 0;
}

/* CH TXT body, TTL 0, text split into character-strings of up to 255. */
static int txt_ch(struct builder *b, const char *text, uint32_t *off, uint16_t *len)
{
	uint8_t body[10 + 1024 + 8];
	size_t tl = strlen(text), p = 10;
	if (tl > 1024)
		tl = 1024;
	do {
		size_t c = tl > 255 ? 255 : tl;
		body[p++] = (uint8_t)c;
		memcpy(body + p, text, c);
		p += c;
		text += c;
		tl -= c;
	} while (tl > 0);
	dns_body_head(body, DNS_T_TXT, DNS_C_CH, 0, (uint16_t)(p - 10));
	*len = (uint16_t)p;
	return blob_add(b, body, p, off);
}

int dns_table_build(const struct registry *reg, uint32_t serial, struct dns_table **out, char *err,
                    size_t errlen)
{
	struct builder b;
	struct dns_table *t = calloc(1, sizeof(*t));
	size_t n_inst = 0, max_inst = 0;
	uint32_t *idx = NULL;
	const char **tags = NULL;

	memset(&b, 0, sizeof(b));
	b.t = t;
	b.err = err;
	b.errlen = errlen;
	*out = NULL;
	if (!t)
		return fail_msg(&b, "out of memory");
	atomic_init(&t->serial, serial);
	t->edns_udp_size = reg->server.edns_udp_size < 512 ? 512 : reg->server.edns_udp_size;
	t->rrl = (struct dns_rrl_config){reg->server.rrl.rate, reg->server.rrl.slip,
	                                 reg->server.rrl.ipv4_prefix, reg->server.rrl.ipv6_prefix,
	                                 reg->server.rrl.table_size};
	atomic_init(&t->ready, 0);
	for (size_t i = 0; i < reg->n_services; i++) {
		n_inst += reg->services[i].n_instances;
		if (reg->services[i].n_instances > max_inst)
			max_inst = reg->services[i].n_instances;
	}
	t->instances = calloc(n_inst ? n_inst : 1, sizeof(*t->instances));
	t->services = calloc(reg->n_services ? reg->n_services : 1, sizeof(*t->services));
	t->own_svc = calloc(reg->n_services ? reg->n_services : 1, sizeof(*t->own_svc));
	idx = calloc(max_inst ? max_inst : 1, sizeof(*idx));
	tags = calloc(4096, sizeof(*tags));
	t->n_services = reg->n_services;
	if (!t->instances || !t->services || !t->own_svc || !idx || !tags) {
		fail_msg(&b, "out of memory");
		goto fail;
	}
	/* Sized up front from the registry (a service has 3 names, an
	 * instance 2, plus tags and static names): growing by doubling rehashed
	 * and copied everything ~20 times for 100,000 services. */
	{
		size_t names = 3 * reg->n_services + 2 * n_inst + 1024, slots = 1024;
		while (slots < 2 * names)
			slots *= 2;
		if (hash_resize(&b, slots) ||
		    grow((void **)&t->nodes, &b.nodes_cap, names, sizeof(*t->nodes)) ||
		    grow((void **)&t->blob, &b.blob_cap, 64 * names, 1)) {
			fail_msg(&b, "out of memory");
			goto fail;
		}
	}
	if (build_zones(&b, reg, serial) || build_static(&b, reg, serial))
		goto fail;
	for (size_t i = 0; i < reg->n_services; i++)
		if (build_service(&b, &reg->services[i], (uint32_t)i, idx, tags))
			goto fail;
	if (build_rrsets(&b))
		goto fail;
	if (txt_ch(&b, reg->server.version ? reg->server.version : "srvd " PACKAGE_VERSION,
	           &t->version_off, &t->version_len) ||
	    txt_ch(&b, reg->server.identity ? reg->server.identity : "srvd", &t->identity_off,
	           &t->identity_len))
		goto fail;
	free(b.prr);
	free(b.tmp);
	free(idx);
	free(tags);
	*out = t;
	return 0;
fail:
	free(b.prr);
	free(b.tmp);
	free(idx);
	free(tags);
	dns_table_free(t);
	return -1;
}

void dns_table_free(struct dns_table *t)
{
	if (!t)
		return;
	free(t->blob);
	free(t->nodes);
	free(t->hash);
	free(t->rrsets);
	free(t->zones);
	free(t->instances);
	free(t->services);
	free(t->own_svc);
	free(t->lists);
	free(t->targets);
	free(t);
}

void dns_table_set_ready(struct dns_table *t, int ready)
{
	atomic_store_explicit(&t->ready, ready ? 1 : 0, memory_order_release);
}

int dns_table_bind_state(struct dns_table *t, const struct health_inst *inst, size_t n_inst,
                         const struct health_svc *svc, size_t n_svc)
{
	if (n_inst != t->n_instances || n_svc != t->n_services)
		return -1;
	for (size_t i = 0; i < n_inst; i++)
		t->instances[i].hs = &inst[i];
	for (size_t i = 0; i < n_svc; i++)
		t->services[i].hs = &svc[i];
	return 0;
}

uint32_t dns_serial_next(uint32_t serial)
{
	uint32_t next = serial + 1, now = (uint32_t)time(NULL);

	/* RFC 1982: now is "greater" than next */
	return (int32_t)(now - next) > 0 ? now : next;
}

void dns_table_bump_serial(struct dns_table *t)
{
	uint32_t old = atomic_load_explicit(&t->serial, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(&t->serial, &old, dns_serial_next(old),
	                                              memory_order_relaxed, memory_order_relaxed))
		;
}

size_t dns_table_size(const struct dns_table *t)
{
	return t->n_nodes;
}

uint32_t dns_table_serial(const struct dns_table *t)
{
	return atomic_load_explicit(&((struct dns_table *)t)->serial, memory_order_relaxed);
}

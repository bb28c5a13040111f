/* SPDX-License-Identifier: BSD-3-Clause */
/* table_static.c: the zones of the answer table (the service zone and one
 * per static file with an SOA), the apex SOA and NS, `_ready` and
 * `_health` of the zone, and the static records grouped into RRsets with
 * their CNAME, NS, MX and SRV targets resolved. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns/answer/name.h"
#include "dns/answer/table_build.h"
#include "dns/answer/wire.h"
#include "registry/registry.h"

static int prr_add(struct builder *b, uint32_t node, const uint8_t *body, size_t len)
{
	struct pending_rr *p;
	if (tb_grow((void **)&b->prr, &b->prr_cap, b->n_prr + 1, sizeof(*b->prr)))
		return tb_fail(b, "out of memory");
	p = &b->prr[b->n_prr];
	p->node = node;
	p->type = (uint16_t)(body[0] << 8 | body[1]);
	p->seq = (uint32_t)b->n_prr;
	p->len = (uint32_t)len;
	p->own = 0;
	b->n_prr++;
	return tb_tmp_add(b, body, len, &p->off);
}

int tb_own_rr(struct builder *b, uint32_t node, const uint8_t *body, size_t len)
{
	if (prr_add(b, node, body, len))
		return -1;
	b->prr[b->n_prr - 1].own = 1;
	return 0;
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
		return tb_fail(b, "out of memory");
	t->zones = p;
	z = &t->zones[t->n_zones];
	z->apex_len = (uint8_t)alen;
	if (tb_blob_add(b, apex, alen, &z->apex_off) ||
	    tb_blob_add(b, neg_soa, neg_len, &z->neg_soa_off))
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
int tb_build_zones(struct builder *b, const struct registry *reg, uint32_t serial)
{
	uint8_t apex[256], body[600];
	const struct reg_soa *soa = &reg->server.soa;
	size_t alen = dns_name_from_text(reg->server.zone, apex), blen, spos = 0;
	blen = soa_body(soa, serial, min_u32(soa->ttl, soa->minimum), body, &spos);
	if (!alen || !blen)
		return tb_fail(b, "server.zone or server.soa names are not valid domain names");
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
			return tb_fail(b, "%s: static zone without a usable SOA", rz->file);
		if (ldns_rr2wire(&wire, soa_rr, LDNS_SECTION_ANSWER, &wlen) != LDNS_STATUS_OK)
			return tb_fail(b, "%s: cannot encode SOA", rz->file);
		olen = ldns_rdf_size(ldns_rr_owner(soa_rr));
		alen = ldns_rdf_size(rz->apex);
		if (alen > 255 || wlen - olen > sizeof(body)) {
			free(wire);
			return tb_fail(b, "%s: SOA too long", rz->file);
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
	/* then server.reverse's (reverse.c) */
	return tb_build_reverse_zones(b, reg, serial);
}

int tb_zone_add(struct builder *b, const uint8_t *apex, size_t alen, const uint8_t *neg_soa,
                size_t neg_len)
{
	return add_zone(b, apex, alen, neg_soa, neg_len);
}

size_t tb_soa_body(const struct reg_soa *soa, uint32_t serial, uint32_t ttl, uint8_t *out,
                   size_t *serial_pos)
{
	return soa_body(soa, serial, ttl, out, serial_pos);
}

/* Service zone apex SOA and NS, `_ready`, and the static records. */
int tb_build_static(struct builder *b, const struct registry *reg, uint32_t serial)
{
	struct dns_table *t = b->t;
	const uint8_t *apex = t->blob + t->zones[0].apex_off;
	size_t alen = t->zones[0].apex_len;
	uint8_t name[256], body[600], apex_copy[256];
	uint32_t node;
	size_t len, spos;

	memcpy(apex_copy, apex, alen);
	if (tb_node_get(b, apex_copy, alen, &node))
		return -1;
	t->apex_node = node;
	len = soa_body(&reg->server.soa, serial, reg->server.soa.ttl, body, &spos);
	if (prr_add(b, node, body, len))
		return -1;
	for (size_t i = 0; i < reg->server.n_ns; i++) {
		size_t nl = dns_name_from_text(reg->server.ns[i], name);
		if (!nl)
			return tb_fail(b, "server.ns: %s is not a domain name", reg->server.ns[i]);
		dns_body_head(body, DNS_T_NS, DNS_C_IN, reg->server.soa.ttl, (uint16_t)nl);
		memcpy(body + 10, name, nl);
		if (prr_add(b, node, body, 10 + nl))
			return -1;
	}
	len = dns_name_prepend(name, "", "_ready", apex_copy, alen);
	if (!len || tb_node_get(b, name, len, &node))
		return len ? -1 : tb_fail(b, "server.zone too long");
	t->nodes[node].kind = DNS_NODE_READY;
	/* TXT: a summary of the whole server (answer.c) */
	len = dns_name_prepend(name, "", "_health", apex_copy, alen);
	if (!len || tb_node_get(b, name, len, &node))
		return len ? -1 : tb_fail(b, "server.zone too long");
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
				return tb_fail(b, "%s: bad owner name", rz->file);
			memcpy(name, ldns_rdf_data(owner), olen);
			dns_name_lower(name, olen);
			if (tb_node_get(b, name, olen, &node))
				return tb_fail(b, "%s: record owner outside its zone", rz->file);
			if (t->nodes[node].kind != DNS_NODE_PLAIN)
				return tb_fail(b, "%s: static record collides with a service name",
				               rz->file);
			if (ldns_rr2wire(&wire, rr, LDNS_SECTION_ANSWER, &wlen) != LDNS_STATUS_OK)
				return tb_fail(b, "%s: cannot encode a record", rz->file);
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
		if (tb_grow((void **)&t->targets, &b->targets_cap, t->n_targets + s->count,
		            sizeof(*t->targets)))
			return tb_fail(b, "out of memory");
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
					s->cname_zone = tb_zone_for(t, target, tl);
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
int tb_build_rrsets(struct builder *b)
{
	struct dns_table *t = b->t;
	size_t i = 0;
	if (!b->n_prr)
		return 0; /* a delta: no static records (and prr is still NULL) */
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
		if (tb_grow((void **)&t->rrsets, &b->rrsets_cap, t->n_rrsets + 1,
		            sizeof(*t->rrsets)))
			return tb_fail(b, "out of memory");
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
			if (tb_blob_add(b, b->tmp + b->prr[j].off, b->prr[j].len, &off))
				return -1;
			s->len += b->prr[j].len;
			s->count++;
		}
		rrset_min_ttl(t, s);
		t->n_rrsets++;
		i = j;
		if (n->kind != DNS_NODE_PLAIN && !b->prr[j - 1].own)
			return tb_fail(b, "a static record's owner collides with a service, "
			                  "tag, instance or _ready name");
	}
	for (i = 0; i < t->n_rrsets; i++)
		if (resolve_targets(b, &t->rrsets[i]))
			return -1;
	return 0;
}

/* CH TXT body, TTL 0, text split into character-strings of up to 255. */
int tb_txt_ch(struct builder *b, const char *text, uint32_t *off, uint16_t *len)
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
	return tb_blob_add(b, body, p, off);
}

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
 * plus the apex SOA and NS, `_ready.<zone>`, `_health.<zone>` (TXT), and
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
#include "dns/answer/table_build.h"
#include "dns/answer/table_impl.h"
#include "registry/registry.h"

int tb_fail(struct builder *b, const char *fmt, ...)
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
int tb_grow(void **arr, size_t *cap, size_t need, size_t sz)
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

int64_t dns_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tb_blob_add(struct builder *b, const void *data, size_t len, uint32_t *off)
{
	struct dns_table *t = b->t;
	if (t->blob_len + len > UINT32_MAX)
		return tb_fail(b, "table too large");
	if (tb_grow((void **)&t->blob, &b->blob_cap, t->blob_len + len, 1))
		return tb_fail(b, "out of memory");
	memcpy(t->blob + t->blob_len, data, len);
	*off = (uint32_t)t->blob_len;
	t->blob_len += len;
	return 0;
}

int tb_tmp_add(struct builder *b, const void *data, size_t len, uint32_t *off)
{
	if (tb_grow((void **)&b->tmp, &b->tmp_cap, b->tmp_len + len, 1))
		return tb_fail(b, "out of memory");
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
		return tb_fail(b, "out of memory");
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
uint32_t tb_zone_for(const struct dns_table *t, const uint8_t *name, size_t len)
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
int tb_node_get(struct builder *b, const uint8_t *name, size_t len, uint32_t *out)
{
	struct dns_table *t = b->t;
	uint32_t h = dns_name_hash(name, len), idx, zone;
	struct dns_node *n;
	idx = dns_table_lookup(t, name, len, h);
	if (idx != DNS_NO_INDEX) {
		*out = idx;
		return 0;
	}
	zone = tb_zone_for(t, name, len);
	if (zone == DNS_NO_INDEX)
		return tb_fail(b, "owner name outside every served zone");
	if ((t->n_nodes + 1) * 2 > (size_t)t->hash_mask + 1 &&
	    hash_resize(b, ((size_t)t->hash_mask + 1) * 2))
		return -1;
	if (tb_grow((void **)&t->nodes, &b->nodes_cap, t->n_nodes + 1, sizeof(*t->nodes)))
		return tb_fail(b, "out of memory");
	idx = (uint32_t)t->n_nodes;
	n = &t->nodes[idx];
	memset(n, 0, sizeof(*n));
	if (tb_blob_add(b, name, len, &n->name_off))
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
		if (tb_node_get(b, name + name[0] + 1, len - name[0] - 1, &parent))
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
	if (tb_grow((void **)&t->lists, &b->lists_cap, t->n_lists + n, sizeof(*t->lists)))
		return tb_fail(b, "out of memory");
	memcpy(t->lists + t->n_lists, idx, n * sizeof(*idx));
	*off = (uint32_t)t->n_lists;
	t->n_lists += n;
	return 0;
}

/* Makes name a dynamic node of the given kind. */
int tb_dyn_node(struct builder *b, const uint8_t *name, size_t len, uint8_t kind, uint32_t service,
                const uint32_t *idx, size_t n_idx)
{
	uint32_t node;
	struct dns_node *n;
	char text[1024];
	if ((b->base && tb_delta_name(b, name, len)) || tb_node_get(b, name, len, &node))
		return -1;
	n = &b->t->nodes[node];
	if (n->kind != DNS_NODE_PLAIN) {
		ldns_rdf *rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, name);
		char *s = rdf ? ldns_rdf2str(rdf) : NULL;
		snprintf(text, sizeof(text), "%s", s ? s : "?");
		free(s);
		ldns_rdf_deep_free(rdf);
		return tb_fail(b, "%s: name used twice (service, tag or instance collide)", text);
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

/* A table with room for n_svc services and n_inst instances (and the
 * names they make), with the settings of reg. */
int tb_begin(struct builder *b, const struct registry *reg, uint32_t serial, size_t n_svc,
             size_t n_inst)
{
	struct dns_table *t = calloc(1, sizeof(*t));
	size_t names = 3 * n_svc + 2 * n_inst + 1024, slots = 1024;

	b->t = t;
	if (!t)
		return tb_fail(b, "out of memory");
	atomic_init(&t->serial, serial);
	t->refs = 1;
	t->edns_udp_size = reg->server.edns_udp_size < 512 ? 512 : reg->server.edns_udp_size;
	t->rrl = (struct dns_rrl_config){reg->server.rrl.rate, reg->server.rrl.slip,
	                                 reg->server.rrl.ipv4_prefix, reg->server.rrl.ipv6_prefix,
	                                 reg->server.rrl.table_size};
	atomic_init(&t->ready, 0);
	t->instances = calloc(n_inst ? n_inst : 1, sizeof(*t->instances));
	t->services = calloc(n_svc ? n_svc : 1, sizeof(*t->services));
	t->own_svc = calloc(n_svc ? n_svc : 1, sizeof(*t->own_svc));
	t->n_services = n_svc;
	if (!t->instances || !t->services || !t->own_svc)
		return tb_fail(b, "out of memory");
	/* Sized up front from the registry (a service has 3 names, an
	 * instance 2, plus tags and static names): growing by doubling rehashed
	 * and copied everything ~20 times for 100,000 services. */
	while (slots < 2 * names)
		slots *= 2;
	if (hash_resize(b, slots) ||
	    tb_grow((void **)&t->nodes, &b->nodes_cap, names, sizeof(*t->nodes)) ||
	    tb_grow((void **)&t->blob, &b->blob_cap, 64 * names, 1))
		return tb_fail(b, "out of memory");
	return tb_build_zones(b, reg, serial);
}

/* The CH TXT answers, last. */
int tb_end(struct builder *b, const struct registry *reg)
{
	struct dns_table *t = b->t;

	if (tb_build_rrsets(b))
		return -1;
	return tb_txt_ch(b, reg->server.version ? reg->server.version : "srvd " PACKAGE_VERSION,
	                 &t->version_off, &t->version_len) ||
	       tb_txt_ch(b, reg->server.identity ? reg->server.identity : "srvd", &t->identity_off,
	                 &t->identity_len);
}

void tb_cleanup(struct builder *b)
{
	free(b->prr);
	free(b->tmp);
	free(b->idx);
	free(b->tags);
}

int dns_table_build(const struct registry *reg, uint32_t serial, struct dns_table **out, char *err,
                    size_t errlen)
{
	struct builder b;
	struct dns_table *t;
	size_t n_inst = 0, max_inst = 0;

	memset(&b, 0, sizeof(b));
	b.err = err;
	b.errlen = errlen;
	*out = NULL;
	for (size_t i = 0; i < reg->n_services; i++) {
		n_inst += reg->services[i]->n_instances;
		if (reg->services[i]->n_instances > max_inst)
			max_inst = reg->services[i]->n_instances;
	}
	b.idx = calloc(max_inst ? max_inst : 1, sizeof(*b.idx));
	b.tags = calloc(4096, sizeof(*b.tags));
	if (!b.idx || !b.tags) {
		tb_fail(&b, "out of memory");
		goto fail;
	}
	if (tb_begin(&b, reg, serial, reg->n_services, n_inst) ||
	    tb_build_static(&b, reg, serial) || tb_build_sites(&b, reg))
		goto fail;
	t = b.t;
	for (size_t i = 0; i < reg->n_services; i++) {
		if (tb_build_service(&b, reg->services[i], (uint32_t)i, b.idx, b.tags))
			goto fail;
		t->services[i].digest = registry_service_digest(reg->services[i]);
		/* a hint for the deltas over this table (table_delta.c) */
		((struct reg_service *)reg->services[i])->table_hint = (uint32_t)i;
	}
	if (tb_end(&b, reg) || tb_whole_index(&b, reg))
		goto fail;
	t->view_services = t->n_services;
	t->view_instances = t->n_instances;
	t->view_maints = t->n_maints;
	tb_cleanup(&b);
	*out = t;
	return 0;
fail:
	tb_cleanup(&b);
	dns_table_free(b.t);
	return -1;
}

void dns_table_free(struct dns_table *t)
{
	if (!t || --t->refs > 0)
		return;
	if (t->base)
		dns_table_free(t->base);
	free(t->masked);
	free(t->hidden);
	free(t->reg_map);
	free(t->static_labels);
	free(t->svc_index);
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
	free(t->maints);
	free(t->site_prefixes);
	free(t->inst_sel);
	free(t->site_names);
	free(t);
}

void dns_table_set_ready(struct dns_table *t, int ready)
{
	atomic_store_explicit(&t->ready, ready ? 1 : 0, memory_order_release);
}

/* 1 if the checker's counts are the view's. */
static int state_fits(const struct dns_table *t, size_t n_inst, size_t n_svc)
{
	return n_inst == t->view_instances && n_svc == t->view_services;
}

/* One service's cells: the instances' and the service's. */
static void bind_service(struct dns_table *t, struct dns_service *ds,
                         const struct health_inst *inst, const struct health_svc *svc)
{
	for (uint32_t k = 0; k < ds->n_instances; k++)
		atomic_store_explicit(&t->instances[ds->first_instance + k].hs, &inst[k],
		                      memory_order_relaxed);
	atomic_store_explicit(&ds->hs, svc, memory_order_relaxed);
}

int dns_table_bind(struct dns_table *t, size_t n_inst, size_t n_svc, dns_cells_fn cells, void *arg)
{
	if (!state_fits(t, n_inst, n_svc))
		return -1;
	for (size_t j = 0; j < n_svc; j++) {
		uint32_t m = t->reg_map ? t->reg_map[j] : (uint32_t)j;
		struct dns_table *in = !t->base || m & DNS_REG_DELTA ? t : t->base;
		struct dns_service *ds = &in->services[m & ~DNS_REG_DELTA];
		const struct health_inst *inst;
		const struct health_svc *svc;
		uint64_t block;
		size_t n;

		/* a base's service already on these cells (the checker kept its
		 * block; blocks are numbered, never reused): nothing to move */
		if (in != t && (block = cells(arg, j, NULL, NULL, NULL)) && ds->block == block)
			continue;
		block = cells(arg, j, &inst, &n, &svc);
		if (n != ds->n_instances)
			return -1;
		bind_service(in, ds, inst, svc);
		ds->block = block;
	}
	return 0;
}

/* dns_table_bind() over flat arrays, service by service. */
struct flat_cells {
	const struct health_inst *inst;
	const struct health_svc *svc;
	const struct dns_table *t;
	size_t at;
};

static uint64_t flat_cells(void *arg, size_t j, const struct health_inst **inst, size_t *n,
                           const struct health_svc **svc)
{
	struct flat_cells *f = arg;
	uint32_t m = f->t->reg_map ? f->t->reg_map[j] : (uint32_t)j;
	const struct dns_table *in = !f->t->base || m & DNS_REG_DELTA ? f->t : f->t->base;

	if (!inst)
		return 0; /* unknown: bind */
	if (j == 0)
		f->at = 0;
	*n = in->services[m & ~DNS_REG_DELTA].n_instances;
	*inst = &f->inst[f->at];
	*svc = &f->svc[j];
	f->at += *n;
	return 0;
}

int dns_table_bind_state(struct dns_table *t, const struct health_inst *inst, size_t n_inst,
                         const struct health_svc *svc, size_t n_svc)
{
	struct flat_cells f = {inst, svc, t, 0};

	return dns_table_bind(t, n_inst, n_svc, flat_cells, &f);
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
	return t->n_nodes + (t->base ? t->base->n_nodes : 0);
}

uint32_t dns_table_serial(const struct dns_table *t)
{
	return atomic_load_explicit(&((struct dns_table *)t)->serial, memory_order_relaxed);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* table_impl.h: the layout of the compiled answer table, private to dns/.
 *
 * Everything lives in a few flat arrays so the answer path only indexes and
 * copies: `blob` holds lowercased wire names and pre-encoded record bodies
 * (the bytes after an owner name: type, class, ttl, rdlength, rdata), nodes
 * are reached through an open-addressing hash of their names, and dynamic
 * nodes point at runs of instance indices in `lists`.
 */
#ifndef SRVD_DNS_TABLE_IMPL_H
#define SRVD_DNS_TABLE_IMPL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/answer/rrl.h"
#include "dns/answer/table.h"
#include "common/state.h"

#define DNS_T_A     1
#define DNS_T_NS    2
#define DNS_T_CNAME 5
#define DNS_T_SOA   6
#define DNS_T_PTR   12
#define DNS_T_MX    15
#define DNS_T_TXT   16
#define DNS_T_AAAA  28
#define DNS_T_SRV   33
#define DNS_T_OPT   41
#define DNS_T_IXFR  251
#define DNS_T_AXFR  252
#define DNS_T_MAILB 253
#define DNS_T_MAILA 254
#define DNS_T_ANY   255

#define DNS_C_IN  1
#define DNS_C_CH  3
#define DNS_C_ANY 255

#define DNS_NO_INDEX UINT32_MAX

/* dns_instance.type of an instance of several addresses (dual-stack) */
#define DNS_T_MULTI 0

enum dns_node_kind {
	DNS_NODE_PLAIN = 0,   /* static records and/or an empty non-terminal */
	DNS_NODE_SERVICE,     /* <svc>.<zone>, <tag>.<svc>.<zone>: A, AAAA, SRV */
	DNS_NODE_SRV,         /* _<svc>._<proto>.<zone>, _<tag>._<proto>.<svc>.<zone>: SRV */
	DNS_NODE_INSTANCE,    /* <inst>.<svc>.<zone>: one address, whatever its health */
	DNS_NODE_READY,       /* _ready.<zone>: A 127.0.0.1 once the table is ready */
	DNS_NODE_HEALTH_INST, /* _health.<inst>.<svc>.<zone>: TXT, list_off = the instance */
	DNS_NODE_HEALTH_SVC,  /* _health.<svc>.<zone>: TXT summary of `service` */
	DNS_NODE_HEALTH_ZONE, /* _health.<zone>: TXT summary of the whole server */
};

/* One static RRset: `count` bodies back to back at blob[off], len bytes,
 * all with the RRset's lowest TTL (RFC 2181 5.2). */
struct dns_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t off;
	uint32_t len;
	uint32_t cname_node; /* CNAME: the target's node, or DNS_NO_INDEX */
	/* CNAME without a target node: the served zone the target falls in
	 * (the chain ends in NXDOMAIN, RFC 6604), or DNS_NO_INDEX (not ours) */
	uint32_t cname_zone;
	/* NS, MX, SRV: `count` entries at targets[first_target], one per record:
	 * the node whose A/AAAA go to the additional section (RFC 1034 4.3.2
	 * step 6), or DNS_NO_INDEX (none here, or an earlier record's target);
	 * DNS_NO_INDEX for other types */
	uint32_t first_target;
};

struct dns_node {
	uint32_t name_off; /* lowercased wire name in blob */
	uint8_t name_len;
	uint8_t kind; /* enum dns_node_kind */
	uint16_t n_rrsets;
	uint32_t rrset_first; /* index into rrsets */
	uint32_t zone;        /* index into zones */
	uint32_t hash;
	uint32_t list_off; /* SERVICE/SRV: instance indices in lists; INSTANCE: the index */
	uint32_t list_len;
	/* 1: the instances are list_off .. list_off + list_len - 1 themselves
	 * (a whole service), so answers skip one cache miss into lists.
	 * PLAIN nodes, which have no instances, keep here whether a static
	 * record's owner is at or below them (dns_node_static_below()): a
	 * byte of its own made every node 4 bytes larger */
	uint8_t list_is_range;
	/* _NAME._PROTO.SVC.<zone> (an SRV node): 1 + the index of the named
	 * port its SRV records carry (dns_node_ports()); 0: the instances' own */
	uint8_t port_slot;
	/* 1: a name of a service with `empty: nxdomain` (dns_node_gone()) */
	uint8_t empty_nx;
	/* 1: a name of a service with an instance of several addresses
	 * (dns_service.multi_addrs, here where an answer reads it at no cost) */
	uint8_t multi_addrs;
	/* dynamic nodes: the service index; the empty non-terminal
	 * _PROTO.<svc>.<zone> too, which exists only for its service */
	uint32_t service;
	_Atomic uint32_t rr_counter;
};

struct dns_zone {
	uint32_t apex_off; /* lowercased wire name in blob */
	uint8_t apex_len;
	uint32_t neg_soa_off; /* SOA body with TTL min(SOA TTL, minimum), for negative answers */
	uint16_t neg_soa_len;
	/* zone 0 only: where the serial sits in its SOA bodies (10 + mname +
	 * rname), patched from dns_table.serial on the way out; 0 = static */
	uint16_t serial_pos;
	uint8_t reverse; /* 1: a server.reverse zone, where instances' PTR go */
};

struct dns_instance {
	uint32_t addr_off; /* A or AAAA body; DNS_T_MULTI: its A then AAAA bodies */
	uint16_t addr_len;
	uint16_t type;    /* DNS_T_A or DNS_T_AAAA, or DNS_T_MULTI (dns_inst_has()) */
	uint32_t srv_off; /* SRV body; its target name starts 16 bytes in */
	uint16_t srv_len;
	uint16_t weight;
	uint32_t service;
	uint32_t node; /* the instance's own node */
	/* its health cell: the checker's (dns_table_bind_state) or always
	 * served; atomic because a delta's binding moves the cells of its
	 * base's instances while older views still answer from them */
	const struct health_inst *_Atomic hs;
};

/* What the answer features (select.c) read of an instance, apart from
 * struct dns_instance so that plain answers index 32-byte entries: in
 * dns_table.inst_sel, parallel to instances as far as the last service
 * that has a feature (or policy hashed) reaches. */
struct dns_inst_sel {
	uint32_t hkey;     /* a hash of its name: its part in policy hashed's scores */
	uint16_t priority; /* its SRV priority: the failover tier */
	uint16_t site;     /* its site (locality): index in server.sites + 1, 0 = none */
};

/* One prefix of server.sites (locality, select.c). */
struct dns_site_prefix {
	uint8_t v6;    /* 0: IPv4 in addr[0..4) */
	uint8_t bits;  /* prefix length */
	uint16_t site; /* index in server.sites + 1 */
	uint8_t addr[16];
};

/* A drained instance (README "Drain and maintenance"): its reason, for
 * _health TXT (answers leave it out through its health cell's served). */
struct dns_maint {
	uint32_t inst; /* index into instances */
	uint32_t off;  /* the reason's text in blob */
	uint16_t len;  /* at most DNS_MAINT_TEXT_MAX */
};
#define DNS_MAINT_TEXT_MAX 200

struct dns_ctx;
struct dns_node;
struct dns_table;

struct dns_service {
	/* the policy's ordering (policy.h: dns_policy_fn) and name */
	void (*order)(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
	              uint32_t *a, size_t from, size_t cnt, size_t want);
	const char *policy_name;
	/* 1: two instances share an address, or one has several: A/AAAA answers
	 * dedupe (and look for DNS_T_MULTI) */
	uint8_t shared_addrs;
	uint32_t max_answers;
	uint32_t n_instances;
	uint32_t first_instance; /* its instances are [first_instance, + n_instances) */
	/* n_served and panic (README "Health checks", Envoy's: answers include every instance):
	 * the checker's, or the table's own (all served, no panic) */
	const struct health_svc *_Atomic hs;
	uint64_t digest;     /* registry_service_digest() of what it was built from */
	uint64_t block;      /* the checker's block its cells are in (dns_table_bind()) */
	uint32_t node;       /* its own name's node */
	uint32_t proto_node; /* _PROTO.<zone>, the parent of _SVC._PROTO.<zone> */
	/* the check, for _health TXT */
	uint8_t check_type; /* enum check_type */
	uint32_t interval_ms, unhealthy_interval_ms, timeout_ms, ttl_ms;
	uint16_t rise, fall;
	uint32_t first_maint, n_maint; /* its drained instances: maints[first_maint, + n_maint) */
	uint32_t slow_start_ms;        /* check.slow_start, 0: off */
	/* answer features beyond the policy (select.c): any bit set sends the
	 * candidates through dns_select(); 0 costs plain answers one test */
	uint8_t select;
	uint32_t ttl, ttl_min; /* ttl_min: while unstable, with DNS_SEL_TTL_MIN */
	uint8_t locality;      /* enum reg_locality, with DNS_SEL_LOCALITY */
	uint16_t min_local;
	/* empty: nxdomain: with no instance served (and no panic) every name
	 * of the service answers NXDOMAIN (dns_node_gone()) */
	uint8_t empty_nxdomain;
	/* ports: the named ports' numbers in blob, big-endian, n_instances per
	 * named port, one named port after the other */
	uint32_t ports_off;
	uint8_t multi_addrs; /* 1: an instance has several addresses (DNS_T_MULTI) */
};

/* dns_service.select bits */
#define DNS_SEL_FAILOVER 0x01u /* failover: true */
#define DNS_SEL_TTL_MIN  0x02u /* ttl_min set: answers may carry it instead of ttl */
#define DNS_SEL_LOCALITY 0x04u /* locality prefer or strict */

struct dns_table {
	uint8_t *blob;
	size_t blob_len;
	struct dns_node *nodes;
	size_t n_nodes;
	uint32_t *hash; /* node index + 1, 0 = empty slot */
	uint32_t hash_mask;
	struct dns_rrset *rrsets;
	size_t n_rrsets;
	struct dns_zone *zones;
	size_t n_zones;
	struct dns_instance *instances;
	size_t n_instances;
	struct dns_service *services;
	size_t n_services;
	uint32_t *lists;
	size_t n_lists;
	uint32_t *targets; /* see dns_rrset.first_target */
	size_t n_targets;
	struct dns_maint *maints; /* service by service */
	size_t n_maints;
	_Atomic uint32_t serial;    /* of the service zone, see dns_table_bump_serial() */
	uint32_t apex_node;         /* the service zone's apex */
	struct health_svc *own_svc; /* per service, n_served = all, until health is bound */
	uint16_t edns_udp_size;
	struct dns_rrl_config rrl; /* server.rrl, for the UDP workers */
	/* CH TXT bodies (TTL 0), for version.server/version.bind and
	 * id.server/hostname.bind */
	uint32_t version_off, identity_off;
	uint16_t version_len, identity_len;
	_Atomic int ready;
	struct dns_site_prefix *site_prefixes; /* server.sites, longest prefix first */
	size_t n_site_prefixes;
	struct dns_inst_sel *inst_sel; /* see struct dns_inst_sel */
	uint32_t *site_names;          /* per site: its name in blob, length first */

	/* A delta (table_delta.c): the services of a change over `base`, a
	 * whole table whose replaced or removed services `masked` flags; every
	 * other name answers from base. NULL: a whole table. */
	struct dns_table *base;
	uint8_t *masked;  /* base->n_services flags */
	uint32_t *hidden; /* base's _PROTO.<zone> nodes no service is left under, sorted */
	size_t n_hidden;
	uint32_t *reg_map; /* per registry service: DNS_REG_DELTA | delta index, or base index */
	size_t n_reg;
	/* the view's counts, for _health.<zone> (whole: n_services ...) */
	size_t view_services, view_instances, view_maints;
	uint64_t rest_digest; /* registry_rest_digest(): what is not services */
	int refs;             /* 1 + the deltas over this table (main thread) */
	/* whole tables: hashes (dns_label_hash) of the labels under the apex
	 * of static owners and of static rdata names in the service zone,
	 * sorted: a service of one of these names changes by a whole build */
	uint32_t *static_labels;
	size_t n_static_labels;
	uint32_t *svc_index; /* whole tables: service index + 1 by name, open addressing */
	uint32_t svc_index_mask;
};

#define DNS_REG_DELTA 0x80000000u

/* A static record's owner is at or below this empty non-terminal or
 * static name: a delta must not remove it with a service (table_delta.c). */
static inline int dns_node_static_below(const struct dns_node *n)
{
	return n->kind == DNS_NODE_PLAIN && n->list_is_range;
}

/* A base node is part of the view t (a delta): not of a service the delta
 * replaced or removed, nor a _PROTO.<zone> left empty. */
int dns_view_hidden(const struct dns_table *t, uint32_t node);
static inline int dns_view_base_live(const struct dns_table *t, uint32_t node)
{
	const struct dns_node *n = &t->base->nodes[node];

	if (n->service != DNS_NO_INDEX && t->masked[n->service])
		return 0;
	return !t->n_hidden || !dns_view_hidden(t, node);
}

/* CLOCK_REALTIME in ms, for slow_start (the health cells' clock). */
int64_t dns_now_ms(void);

/* The weight of in as answered at now_ms: check.slow_start ramps a restored
 * instance from 1 to its weight (0 stays 0); now_ms 0: no ramp looked at. */
static inline uint16_t dns_inst_weight(const struct dns_table *t, const struct dns_instance *in,
                                       int64_t now_ms)
{
	uint32_t ramp;
	int64_t since;

	/* now_ms 0 (no slow_start in this answer) costs nothing more */
	if (!now_ms || in->weight <= 1 || !(ramp = t->services[in->service].slow_start_ms))
		return in->weight;
	since = now_ms - atomic_load_explicit(&in->hs->restored_ms, memory_order_relaxed);
	if (since < 0 || since >= (int64_t)ramp ||
	    !atomic_load_explicit(&in->hs->restored_ms, memory_order_relaxed))
		return in->weight;
	return (uint16_t)(1 + (uint64_t)(in->weight - 1) * (uint64_t)since / ramp);
}

/* 1 if node n belongs to a service with `empty: nxdomain` that serves no
 * instance now: the service's whole subtree is then NXDOMAIN (RFC 8020).
 * Nodes of no service (static names, the apex) are never gone. */
static inline int dns_node_gone(const struct dns_table *t, const struct dns_node *n)
{
	const struct dns_service *svc;

	/* the node's own flag first: other names pay one test */
	if (!n->empty_nx)
		return 0;
	svc = &t->services[n->service];
	return !atomic_load_explicit(&svc->hs->n_served, memory_order_relaxed) &&
	       !atomic_load_explicit(&svc->hs->panic, memory_order_acquire);
}

/* On a named port's SRV node (port_slot > 0): the 2 bytes of instance idx's
 * port, to put over its SRV record's own. */
static inline const uint8_t *dns_node_port(const struct dns_table *t, const struct dns_node *n,
                                           uint32_t idx)
{
	const struct dns_service *svc = &t->services[n->service];

	return t->blob + svc->ports_off +
	       2 * ((size_t)(n->port_slot - 1) * svc->n_instances + (idx - svc->first_instance));
}

/* The length of the address body at p (its rdlength + 10). */
static inline size_t dns_body_len(const uint8_t *p)
{
	return 10 + (size_t)(p[8] << 8 | p[9]);
}

/* 1 if in, an instance of several addresses (DNS_T_MULTI), has one of
 * type qtype (A or AAAA); 0 for any other instance: the caller compared
 * in->type with qtype first, so single addresses never come here. */
static inline int dns_inst_has(const struct dns_table *t, const struct dns_instance *in,
                               uint16_t qtype)
{
	const uint8_t *p = t->blob + in->addr_off, *end = p + in->addr_len;

	if (in->type != DNS_T_MULTI)
		return 0;
	for (; p < end; p += dns_body_len(p))
		if ((uint16_t)(p[0] << 8 | p[1]) == qtype)
			return 1;
	return 0;
}

/* The i-th instance of a SERVICE or SRV node. */
static inline uint32_t dns_node_inst(const struct dns_table *t, const struct dns_node *n,
                                     uint32_t i)
{
	return n->list_is_range ? n->list_off + i : t->lists[n->list_off + i];
}

#define DNS_NAME_HASH_INIT  2166136261u
#define DNS_NAME_HASH_PRIME 16777619u

/* FNV-1a over a wire name that is already lowercase (dns_query_parse
 * computes the same for the question as it lowercases it). */
static inline uint32_t dns_name_hash(const uint8_t *name, size_t len)
{
	uint32_t h = DNS_NAME_HASH_INIT;
	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= DNS_NAME_HASH_PRIME;
	}
	return h;
}

/* Where the domain name sits in the rdata of a record of this type (CNAME,
 * NS, MX, SRV), or -1 for types without one we follow. */
static inline int dns_rdata_name_at(uint16_t type)
{
	switch (type) {
	case DNS_T_CNAME:
	case DNS_T_NS:
		return 0;
	case DNS_T_MX:
		return 2;
	case DNS_T_SRV:
		return 6;
	default:
		return -1;
	}
}

/* Finds the node of a lowercased wire name; DNS_NO_INDEX if absent. */
uint32_t dns_table_lookup(const struct dns_table *t, const uint8_t *name, size_t len,
                          uint32_t hash);

/* Finds a name in the view t (a whole table, or a delta over its base):
 * the node, and in *sub the table that holds it (t or t->base; for a whole
 * table *sub is left as it is, which must be t). A delta's own services
 * come first; its empty non-terminals only where the base has no live node
 * of that name (the base's may hold static records). */
uint32_t dns_view_lookup_delta(const struct dns_table *t, const struct dns_table **sub,
                               const uint8_t *name, size_t len, uint32_t hash);
static inline uint32_t dns_view_lookup(const struct dns_table *t, const struct dns_table **sub,
                                       const uint8_t *name, size_t len, uint32_t hash)
{
	if (__builtin_expect(t->base != NULL, 0))
		return dns_view_lookup_delta(t, sub, name, len, hash);
	return dns_table_lookup(t, name, len, hash);
}

#endif

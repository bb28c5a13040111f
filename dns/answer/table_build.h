/* SPDX-License-Identifier: BSD-3-Clause */
/* table_build.h: what the three files that build the answer table share
 * (table.c: the builder, names and nodes, the build as a whole;
 * table_static.c: zones, SOA, NS and static RRsets; table_service.c: the
 * names of services, tags and instances). Private to them. */
#ifndef SRVD_DNS_ANSWER_TABLE_BUILD_H
#define SRVD_DNS_ANSWER_TABLE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "dns/answer/table_impl.h"

struct registry;
struct reg_instance;
struct reg_service;
struct reg_soa;

/* A static record before it is grouped into its RRset. */
struct pending_rr {
	uint32_t node;
	uint16_t type;
	uint32_t seq;       /* input order */
	uint32_t group_seq; /* input order of the first record of its RRset */
	uint32_t off, len;  /* body in builder.tmp */
	uint8_t own;        /* 1: made by the builder for a dynamic name (tb_own_rr) */
};

struct builder {
	struct dns_table *t;
	size_t blob_cap, nodes_cap, rrsets_cap, lists_cap, targets_cap, maints_cap;
	struct pending_rr *prr;
	size_t n_prr, prr_cap;
	uint8_t *tmp;
	size_t tmp_len, tmp_cap;
	char *err;
	size_t errlen;
	uint32_t *idx;     /* room for the instances of the largest service */
	const char **tags; /* room for 4096 tag names */
	/* building a delta over this whole table (table_delta.c): a name the
	 * base holds live is a collision, settled by a whole build (`whole`) */
	const struct dns_table *base;
	const uint8_t *masked;
	int whole;
	/* server.sites, for the instances' site numbers (select.c) */
	const struct reg_site *sites;
	size_t n_sites;
	size_t inst_sel_cap;
	uint32_t n_reverse; /* server.reverse zones (reverse.c): 0, no PTR to look for */
};

/* Writes the message into b->err; returns -1 (for `return tb_fail(...)`). */
int tb_fail(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grows *arr (elements of size sz) so that it holds need elements: 0 or -1. */
int tb_grow(void **arr, size_t *cap, size_t need, size_t sz);
/* Appends len bytes to the blob (to b->tmp) and sets *off: 0 or -1. */
int tb_blob_add(struct builder *b, const void *data, size_t len, uint32_t *off);
int tb_tmp_add(struct builder *b, const void *data, size_t len, uint32_t *off);
/* The zone with the longest apex that name is at or below; DNS_NO_INDEX if none. */
uint32_t tb_zone_for(const struct dns_table *t, const uint8_t *name, size_t len);
/* Finds or adds the node of name (lowercase wire) and its ancestors: 0 or -1. */
int tb_node_get(struct builder *b, const uint8_t *name, size_t len, uint32_t *out);
/* Makes name a dynamic node of the given kind for service, over the
 * instances idx[n_idx] (one for INSTANCE and HEALTH_INST): 0 or -1. */
int tb_dyn_node(struct builder *b, const uint8_t *name, size_t len, uint8_t kind, uint32_t service,
                const uint32_t *idx, size_t n_idx);

/* The start of a build: the table, with room for n_svc services and n_inst
 * instances, and its zones; then tb_end() (static RRsets, CH TXT), and
 * tb_cleanup() whatever happened. 0 or -1. */
int tb_begin(struct builder *b, const struct registry *reg, uint32_t serial, size_t n_svc,
             size_t n_inst);
int tb_end(struct builder *b, const struct registry *reg);
void tb_cleanup(struct builder *b);

/* table_delta.c: what a whole table keeps for the deltas over it (the
 * services by name, the labels static records use): 0 or -1. */
int tb_whole_index(struct builder *b, const struct registry *reg);
/* A delta's dynamic name: -1 (with b->whole set) if the base holds it live. */
int tb_delta_name(struct builder *b, const uint8_t *name, size_t len);

/* table_static.c */
int tb_build_zones(struct builder *b, const struct registry *reg, uint32_t serial);
int tb_build_static(struct builder *b, const struct registry *reg, uint32_t serial);
int tb_build_rrsets(struct builder *b);
/* A record the builder adds to a dynamic name (an instance's meta TXT),
 * grouped into RRsets with the static ones: 0 or -1. */
int tb_own_rr(struct builder *b, uint32_t node, const uint8_t *body, size_t len);
/* A CH TXT body (TTL 0) of text into the blob: 0 or -1. */
int tb_txt_ch(struct builder *b, const char *text, uint32_t *off, uint16_t *len);

/* select.c: server.sites into t->site_prefixes: 0 or -1. */
int tb_build_sites(struct builder *b, const struct registry *reg);
/* A zone with apex and negative SOA body (table_static.c): 0 or -1. */
int tb_zone_add(struct builder *b, const uint8_t *apex, size_t alen, const uint8_t *neg_soa,
                size_t neg_len);
/* The SOA body of soa with serial and ttl into out (600 bytes), its length
 * (0: bad names); *serial_pos: where the serial sits. */
size_t tb_soa_body(const struct reg_soa *soa, uint32_t serial, uint32_t ttl, uint8_t *out,
                   size_t *serial_pos);

/* reverse.c: server.reverse's zones, with the service zone's SOA and NS (at
 * the end of tb_build_zones), and the PTR records of instance in of s, whose
 * own name is name (nl bytes): 0 or -1. */
int tb_build_reverse_zones(struct builder *b, const struct registry *reg, uint32_t serial);
int tb_build_ptr(struct builder *b, const struct reg_service *s, const struct reg_instance *in,
                 const uint8_t *name, size_t nl);

/* table_service.c: service si's instances and names; idx has room for its
 * instances, tags for 4096 tag names. */
int tb_build_service(struct builder *b, const struct reg_service *s, uint32_t si, uint32_t *idx,
                     const char **tags);

#endif

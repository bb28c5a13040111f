/* SPDX-License-Identifier: BSD-3-Clause */
/* select.h: the answer features that choose among a service's passing
 * instances beyond its policy (README "Failover, locality and sticky
 * answers"): failover tiers, and the build of what they need. One order for
 * every answer: tags -> drained -> health (panic aside) -> failover tier ->
 * locality -> policy -> max_answers. Private to dns/. */
#ifndef SRVD_DNS_SELECT_H
#define SRVD_DNS_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "dns/answer/policy.h"
#include "dns/answer/table_impl.h"

struct builder;
struct dns_ctx;
struct reg_service;

/* Table build: service si's select bits and what its instances need for
 * them (priority). Called once its instances are in t->instances: 0 or -1. */
int tb_build_select(struct builder *b, const struct reg_service *s, uint32_t si);

/* The failover tier of svc now: the lowest priority of its served
 * instances, over the whole service (whatever the name asked); -1 when none
 * is served (panic then answers with every tier). */
int32_t dns_failover_tier(const struct dns_table *t, const struct dns_service *svc);

/* Narrows the candidates a[0..cnt) of an answer of qtype for svc (its
 * `select` bits are set) to those its features keep; returns how many are
 * left, in place and in their order. *prefer (0 unless set): the client's
 * site, whose instances go first once the policy has ordered them all
 * (dns_local_first). */
size_t dns_select(struct dns_ctx *ctx, const struct dns_table *t, const struct dns_service *svc,
                  uint16_t qtype, uint32_t *a, size_t cnt, uint16_t *prefer);

/* Moves the instances of site to the front of a[0..cnt), each part in its
 * order (uses ctx->offsets as scratch); returns how many are of site. */
size_t dns_local_first(struct dns_ctx *ctx, const struct dns_table *t, uint32_t *a, size_t cnt,
                       uint16_t site);

/* The TTL answers of svc carry now: ttl_min while the service is unstable
 * (an instance not passing, restored within check.slow_start, or any
 * status change within the last ttl seconds), else ttl. now_ms: the
 * CLOCK_REALTIME time in ms (dns_now_ms). */
uint32_t dns_ttl_now(const struct dns_service *svc, int64_t now_ms);

/* Who asks, for answers that depend on it: the EDNS Client Subnet of the
 * query when it has one, else its source address. */
struct dns_client {
	uint8_t v6;       /* 0: IPv4 (addr[0..4)), 1: IPv6 */
	uint8_t bits;     /* leading bits of addr that are known: the ECS source
	                   * prefix, or 32 / 128 for a source address */
	uint8_t ecs;      /* from the ECS option: the reply echoes a scope */
	uint8_t addr[16]; /* zero past `bits` */
};

/* Fills *c for the current query of ctx: 0, or -1 when nothing is known
 * (no source address, or an ECS source prefix of 0, which asks for an
 * answer that does not depend on the client). */
int dns_client_get(const struct dns_ctx *ctx, struct dns_client *c);

/* The answer depended on the first `bits` bits of the client's address:
 * raises the ECS scope prefix length of the reply to that. */
static inline void dns_client_scope(struct dns_ctx *ctx, unsigned bits)
{
	if (ctx->scope < bits)
		ctx->scope = (uint8_t)bits;
}

/* Tag pairs TAG1.TAG2.SVC.<zone> (either order), computed per query and
 * never in the table (nor in zone transfers). For a name absent from the
 * table whose parent is node parent: the node of TAG1.SVC.<zone> when
 * parent is a tag node TAG2.SVC.<zone> of the same service and some
 * instance carries both tags, else DNS_NO_INDEX. name: the lowercased wire
 * name asked (len bytes). */
uint32_t dns_pair_lookup(const struct dns_table *t, const uint8_t *name, size_t len,
                         uint32_t parent);

/* Keeps the candidates a[0..cnt) (in list order) that the tag node m also
 * lists; returns how many. */
size_t dns_pair_filter(const struct dns_table *t, const struct dns_node *m, uint32_t *a,
                       size_t cnt);

#endif

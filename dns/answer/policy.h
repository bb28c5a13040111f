/* SPDX-License-Identifier: BSD-3-Clause */
/* policy.h: the per-worker context (random generator, scratch space) and the
 * ordering of a node's passing instances by the service's policy. Private to
 * dns/. */
#ifndef SRVD_DNS_POLICY_H
#define SRVD_DNS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "dns/answer/answer.h"
#include "dns/answer/table_impl.h"
#include "dns/answer/wire.h"
#include "registry/registry.h"

/* At most this many instances take part in one answer's ordering: 65535
 * bytes hold no more than 4095 A records, so a bigger node is cut to its
 * first DNS_SCRATCH_MAX passing instances (documented limit). */
#define DNS_SCRATCH_MAX 4096

/* Slots of the set of addresses already in an answer: a power of two over
 * twice DNS_SCRATCH_MAX, so the open addressing never fills up. */
#define DNS_SEEN_SLOTS 8192

/* A slot belongs to the current answer only when its gen is the ctx's. */
struct dns_seen_slot {
	uint32_t gen;
	uint32_t off; /* the address body here, by its offset in the blob */
};

struct dns_ctx {
	uint64_t rng[4]; /* xoshiro256** */
	uint32_t scratch[DNS_SCRATCH_MAX];
	/* where each SRV target or static record's rdata name sits in the response */
	uint32_t offsets[DNS_SCRATCH_MAX];
	uint32_t seen_gen;
	struct dns_seen_slot seen[DNS_SEEN_SLOTS];
	/* per query: a tag pair TAG1.TAG2.SVC.<zone> (select.c) answers with
	 * the instances of its TAG2 node that the TAG1 node also lists */
	const struct dns_node *pair;
	/* per query: who asks (select.h: dns_client_get), and the ECS scope
	 * prefix length the answer has depended on so far */
	const struct sockaddr *peer;
	const struct dns_query *query;
	uint8_t scope;
	/* scores of the candidates while policy hashed orders them */
	uint64_t keys[DNS_SCRATCH_MAX];
	/* 1: dns_policy_order() ordered every candidate (locality prefer put
	 * the local ones first), so dns_policy_more() has nothing to draw */
	uint8_t ordered_all;
};

/* Orders a[from..cnt) so that the first `want` entries are in the policy's
 * order (from > 0: a prefix is ordered already and stays). */
typedef void (*dns_policy_fn)(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                              uint32_t *a, size_t from, size_t cnt, size_t want);

/* The ordering of a policy (the table keeps it per service); NULL for a
 * value that is not a policy. */
dns_policy_fn dns_policy_of(enum reg_policy policy);

/* Uniform integer in [0, n), n > 0. */
uint64_t dns_ctx_rand(struct dns_ctx *ctx, uint64_t n);

/* Puts the passing instances of node n that answer qtype (A: IPv4, AAAA:
 * IPv6, SRV: all) into ctx->scratch, *n_cand of them, and orders the first
 * min(*n_cand, max_answers) by the service's policy; returns that number.
 * An INSTANCE node yields its instance whatever its health. */
size_t dns_policy_order(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                        uint16_t qtype, size_t *n_cand);

/* Extends the ordered prefix of ctx->scratch left by dns_policy_order() for
 * the same node from `have` to min(n_cand, have + more) entries, drawing as
 * the policy does, and returns the new length (answers that skip duplicate
 * addresses need more than max_answers candidates). */
size_t dns_policy_more(struct dns_ctx *ctx, const struct dns_table *t, const struct dns_node *n,
                       size_t have, size_t n_cand, size_t more);

/* The same for one address body (len bytes at blob + off), e.g. one of an
 * instance of several addresses. */
int dns_seen_add_body(struct dns_ctx *ctx, const struct dns_table *t, uint32_t off, uint16_t len);

/* Starts a new, empty set of addresses for one answer. */
void dns_seen_reset(struct dns_ctx *ctx);

/* Adds the address of instance inst to the set: 1 if an equal address (same
 * type and bytes) was already there, 0 if it is new. At most
 * DNS_SCRATCH_MAX additions between resets. */
int dns_seen_add(struct dns_ctx *ctx, const struct dns_table *t, uint32_t inst);

#endif

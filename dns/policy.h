/* SPDX-License-Identifier: BSD-3-Clause */
/* policy.h: the per-worker context (random generator, scratch space) and the
 * ordering of a node's passing instances by the service's policy. Private to
 * dns/. */
#ifndef SRVD_DNS_POLICY_H
#define SRVD_DNS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "dns/answer.h"
#include "dns/table_impl.h"

/* At most this many instances take part in one answer's ordering: 65535
 * bytes hold no more than 4095 A records, so a bigger node is cut to its
 * first DNS_SCRATCH_MAX passing instances (documented limit). */
#define DNS_SCRATCH_MAX 4096

struct dns_ctx {
	uint64_t rng[4]; /* xoshiro256** */
	uint32_t scratch[DNS_SCRATCH_MAX];
	uint32_t offsets[DNS_SCRATCH_MAX]; /* where each SRV target sits in the response */
};

/* Uniform integer in [0, n), n > 0. */
uint64_t dns_ctx_rand(struct dns_ctx *ctx, uint64_t n);

/* Puts the passing instances of node n that answer qtype (A: IPv4, AAAA:
 * IPv6, SRV: all) into ctx->scratch in policy order, cut to the service's
 * max_answers, and returns how many. An INSTANCE node yields its instance
 * whatever its health. */
size_t dns_policy_order(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                        uint16_t qtype);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* policy.c: answer ordering, one function per policy (round-robin, random,
 * weighted, fixed, hashed) chosen in dns_policy_of(), and the per-worker random
 * generator. A new policy is a value of enum reg_policy, its name in the
 * registry's table and a function and case here: a case left out fails the
 * build (-Wswitch). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dns/answer/policy.h"
#include "dns/answer/select.h"
#include "registry/registry.h"

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct dns_ctx *ctx)
{
	uint64_t *s = ctx->rng;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

struct dns_ctx *dns_ctx_create(uint64_t seed)
{
	struct dns_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return NULL;
	if (seed == 0 && getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)ctx;
	for (int i = 0; i < 4; i++)
		ctx->rng[i] = splitmix64(&seed);
	return ctx;
}

void dns_ctx_free(struct dns_ctx *ctx)
{
	free(ctx);
}

/* Lemire's multiply-shift on 64 bits: the bias is at most n / 2^64. */
uint64_t dns_ctx_rand(struct dns_ctx *ctx, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(ctx) * n) >> 64);
}

static void swap(uint32_t *a, size_t i, size_t j)
{
	uint32_t x = a[i];
	a[i] = a[j];
	a[j] = x;
}

/* Fisher-Yates over a[from..n), fixing only the first `want` positions. */
static void shuffle(struct dns_ctx *ctx, uint32_t *a, size_t from, size_t n, size_t want)
{
	for (size_t i = from; i < n && i < want; i++)
		swap(a, i, i + (size_t)dns_ctx_rand(ctx, n - i));
}

/* Weighted random draw without replacement: the next record is each
 * remaining one with probability weight / remaining total; weight-0 records
 * follow all others in random order. */
static void weighted(struct dns_ctx *ctx, const struct dns_table *t, uint32_t *a, size_t from,
                     size_t n, size_t want)
{
	uint64_t total = 0;
	size_t i, positive = from;
	/* slow_start: the instances of one node are of one service */
	int64_t now =
	    from < n && t->services[t->instances[a[from]].service].slow_start_ms ? dns_now_ms() : 0;
#define W(k) dns_inst_weight(t, &t->instances[a[k]], now)
	/* a[from..n) only: a prefix drawn earlier stays (dns_policy_more);
	 * after a first call the positive weights are already in front, so the
	 * swaps below change nothing */
	for (i = from; i < n; i++)
		if (W(i)) {
			total += W(i);
			swap(a, positive++, i);
		}
	/* the checker may restore an instance of this service meanwhile, and a
	 * weight read again then differs from the one summed (it stays
	 * positive): the draw stays among the positive ones and total >= 1 */
	for (i = from; i < positive && i < want; i++) {
		uint64_t r = dns_ctx_rand(ctx, total);
		size_t j = i;
		uint16_t w;

		while (j + 1 < positive && r >= (w = W(j))) {
			r -= w;
			j++;
		}
		w = W(j);
		total = total > w ? total - w : 1;
		swap(a, i, j);
	}
#undef W
	shuffle(ctx, a, positive, n, want);
}

/* Rotates a[0..cnt) left by start % cnt (cnt > 0). */
static inline __attribute__((always_inline)) void rotate(uint32_t *a, size_t cnt, uint32_t start)
{
	size_t s = start % cnt, i, j;

	if (!s)
		return;
	/* three reversals, in place */
	for (i = 0, j = s - 1; i < j; i++, j--)
		swap(a, i, j);
	for (i = s, j = cnt - 1; i < j; i++, j--)
		swap(a, i, j);
	for (i = 0, j = cnt - 1; i < j; i++, j--)
		swap(a, i, j);
}

/* Rotates a[0..cnt) left by the node's counter, once per query (a
 * continuation, from > 0, has everything ordered already). */
static void order_round_robin(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                              uint32_t *a, size_t from, size_t cnt, size_t want)
{
	uint32_t start;

	(void)ctx;
	(void)t;
	(void)want;
	if (from > 0)
		return;
	start = atomic_fetch_add_explicit(&n->rr_counter, 1, memory_order_relaxed);
	rotate(a, cnt, start);
}

static void order_random(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                         uint32_t *a, size_t from, size_t cnt, size_t want)
{
	(void)t;
	(void)n;
	shuffle(ctx, a, from, cnt, want);
}

static void order_weighted(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                           uint32_t *a, size_t from, size_t cnt, size_t want)
{
	(void)n;
	weighted(ctx, t, a, from, cnt, want);
}

/* registry order */
static void order_fixed(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                        uint32_t *a, size_t from, size_t cnt, size_t want)
{
	(void)ctx;
	(void)t;
	(void)n;
	(void)a;
	(void)from;
	(void)cnt;
	(void)want;
}

/* The 64-bit finaliser of splitmix64: every input bit moves every output bit. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void swap_scored(uint32_t *a, uint64_t *k, size_t i, size_t j)
{
	uint64_t x = k[i];

	k[i] = k[j];
	k[j] = x;
	swap(a, i, j);
}

/* Sifts k[root] down the min-heap k[0..n) (with a alongside). */
static void sift_min(uint32_t *a, uint64_t *k, size_t root, size_t n)
{
	for (;;) {
		size_t c = 2 * root + 1;

		if (c >= n)
			return;
		if (c + 1 < n && k[c + 1] < k[c])
			c++;
		if (k[root] <= k[c])
			return;
		swap_scored(a, k, root, c);
		root = c;
	}
}

/* The subnet a client is hashed by: /24 of IPv4, /56 of IPv6, or a shorter
 * ECS source prefix; 0 bits (nobody known) gives one order for all. */
static uint64_t client_key(struct dns_ctx *ctx)
{
	struct dns_client c;
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned bits, cap;

	if (dns_client_get(ctx, &c) < 0)
		return h;
	cap = c.v6 ? 56 : 24;
	bits = c.bits < cap ? c.bits : cap;
	dns_client_scope(ctx, bits);
	h = (h ^ c.v6) * 0x100000001b3ull;
	for (unsigned i = 0; i < (bits + 7) / 8; i++) {
		uint8_t byte = c.addr[i];

		if (8 * (i + 1) > bits)
			byte &= (uint8_t)(0xFF << (8 * (i + 1) - bits));
		h = (h ^ byte) * 0x100000001b3ull;
	}
	return h;
}

/* Rendezvous (highest random weight) hashing: each candidate scores a hash
 * of the client's subnet and its name, the highest first. A client sees one
 * order; when an instance leaves, only the clients that had it first move,
 * each to its own next choice. weight plays no part. */
static void order_hashed(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                         uint32_t *a, size_t from, size_t cnt, size_t want)
{
	uint64_t ck = client_key(ctx), *k = ctx->keys;

	(void)n;
	for (size_t i = from; i < cnt; i++)
		k[i] =
		    mix64(ck ^ ((uint64_t)t->inst_sel[a[i]].hkey << 32 | t->inst_sel[a[i]].hkey));
	if (want > cnt)
		want = cnt;
	if (want - from <= 8 || want < from) {
		/* a few first places: pick each, cnt x want */
		for (size_t i = from; i < want; i++) {
			size_t best = i;

			for (size_t j = i + 1; j < cnt; j++)
				if (k[j] > k[best] || (k[j] == k[best] && a[j] < a[best]))
					best = j;
			swap_scored(a, k, i, best);
		}
		return;
	}
	/* many: heapsort over a min-heap leaves them highest first */
	for (size_t i = (cnt - from) / 2; i-- > 0;)
		sift_min(a + from, k + from, i, cnt - from);
	for (size_t m = cnt - from; m > 1; m--) {
		swap_scored(a + from, k + from, 0, m - 1);
		sift_min(a + from, k + from, 0, m - 1);
	}
}

dns_policy_fn dns_policy_of(enum reg_policy policy)
{
	switch (policy) {
	case REG_POLICY_ROUND_ROBIN:
		return order_round_robin;
	case REG_POLICY_RANDOM:
		return order_random;
	case REG_POLICY_WEIGHTED:
		return order_weighted;
	case REG_POLICY_FIXED:
		return order_fixed;
	case REG_POLICY_HASHED:
		return order_hashed;
	case REG_POLICIES:
		break;
	}
	return NULL;
}

/* The rest of dns_policy_order() for a service with answer features
 * (select.h): the candidates a[0..cnt) narrowed, then ordered. Apart, so
 * that plain services pay one test for them. */
static size_t order_selected(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                             const struct dns_service *svc, uint16_t qtype, size_t cnt,
                             size_t *n_cand)
{
	uint32_t *a = ctx->scratch;
	uint16_t prefer = 0;
	size_t want;

	ctx->ordered_all = 0;
	cnt = dns_select(ctx, t, svc, qtype, a, cnt, &prefer);
	*n_cand = cnt;
	if (cnt == 0)
		return 0;
	want = svc->max_answers && svc->max_answers < cnt ? svc->max_answers : cnt;
	if (prefer) {
		/* locality prefer: the client's site first, each part in the
		 * policy's order, whole (so dns_policy_more has nothing to do);
		 * round-robin turns both parts by the one count of this query */
		size_t k = dns_local_first(ctx, t, a, cnt, prefer);

		if (svc->order == order_round_robin) {
			uint32_t start =
			    atomic_fetch_add_explicit(&n->rr_counter, 1, memory_order_relaxed);

			rotate(a, k, start);
			rotate(a + k, cnt - k, start);
		} else {
			svc->order(ctx, t, n, a, 0, k, k);
			svc->order(ctx, t, n, a + k, 0, cnt - k, cnt - k);
		}
		ctx->ordered_all = 1;
		return want;
	}
	svc->order(ctx, t, n, a, 0, cnt, want);
	return want;
}

size_t dns_policy_order(struct dns_ctx *ctx, const struct dns_table *t, struct dns_node *n,
                        uint16_t qtype, size_t *n_cand)
{
	uint32_t *a = ctx->scratch;
	const struct dns_service *svc;
	size_t cnt = 0, want;
	int panic;

	*n_cand = 0;
	if (n->kind == DNS_NODE_INSTANCE) {
		const struct dns_instance *in = &t->instances[n->list_off];
		if (qtype != in->type && !dns_inst_has(t, in, qtype))
			return 0;
		a[0] = n->list_off;
		*n_cand = 1;
		return 1;
	}
	svc = &t->services[n->service];
	/* Ask for every instance's health flag and address at once: with a
	 * large registry each is a cache miss, and the loop below would wait
	 * for them one by one. */
	for (uint32_t i = 0; i < n->list_len && i < DNS_SCRATCH_MAX; i++) {
		const struct dns_instance *in = &t->instances[dns_node_inst(t, n, i)];
		__builtin_prefetch(in->hs);
		__builtin_prefetch(t->blob + in->addr_off);
	}
	/* the checker's flag, not n_served against the threshold: before the
	 * first round nothing is served yet, and that is no reason to answer
	 * with instances never checked (health_machine_panic) */
	panic = atomic_load_explicit(&svc->hs->panic, memory_order_acquire);
	for (uint32_t i = 0; i < n->list_len && cnt < DNS_SCRATCH_MAX; i++) {
		uint32_t idx = dns_node_inst(t, n, i);
		const struct dns_instance *in = &t->instances[idx];
		if (panic ? atomic_load_explicit(&in->hs->drained, memory_order_relaxed)
		          : !atomic_load_explicit(&in->hs->served, memory_order_relaxed))
			continue;
		if (qtype != DNS_T_SRV && qtype != in->type && !dns_inst_has(t, in, qtype))
			continue;
		a[cnt++] = idx;
	}
	if (ctx->pair)
		cnt = dns_pair_filter(t, ctx->pair, a, cnt);
	if (svc->select)
		return order_selected(ctx, t, n, svc, qtype, cnt, n_cand);
	*n_cand = cnt;
	if (cnt == 0)
		return 0;
	want = svc->max_answers && svc->max_answers < cnt ? svc->max_answers : cnt;
	svc->order(ctx, t, n, a, 0, cnt, want);
	return want;
}

size_t dns_policy_more(struct dns_ctx *ctx, const struct dns_table *t, const struct dns_node *n,
                       size_t have, size_t n_cand, size_t more)
{
	size_t upto;
	if (have >= n_cand)
		return n_cand;
	upto = more < n_cand - have ? have + more : n_cand;
	if (t->services[n->service].select && ctx->ordered_all)
		return upto;
	/* round-robin and fixed ordered every candidate at once */
	t->services[n->service].order(ctx, t, (struct dns_node *)n, ctx->scratch, have, n_cand,
	                              upto);
	return upto;
}

void dns_seen_reset(struct dns_ctx *ctx)
{
	if (++ctx->seen_gen == 0) {
		memset(ctx->seen, 0, sizeof(ctx->seen));
		ctx->seen_gen = 1;
	}
}

int dns_seen_add(struct dns_ctx *ctx, const struct dns_table *t, uint32_t inst)
{
	const struct dns_instance *in = &t->instances[inst];

	return dns_seen_add_body(ctx, t, in->addr_off, in->addr_len);
}

int dns_seen_add_body(struct dns_ctx *ctx, const struct dns_table *t, uint32_t off, uint16_t len)
{
	const uint8_t *addr = t->blob + off + 10;
	size_t alen = (size_t)len - 10;
	uint32_t i = dns_name_hash(addr, alen) & (DNS_SEEN_SLOTS - 1);
	for (;;) {
		struct dns_seen_slot *s = &ctx->seen[i];
		if (s->gen != ctx->seen_gen) {
			s->gen = ctx->seen_gen;
			s->off = off;
			return 0;
		}
		if (dns_body_len(t->blob + s->off) == len &&
		    !memcmp(t->blob + s->off + 10, addr, alen))
			return 1;
		i = (i + 1) & (DNS_SEEN_SLOTS - 1);
	}
}

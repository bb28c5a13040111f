/* SPDX-License-Identifier: BSD-3-Clause */
/* answer.c: the pure answer function (answer.h): query bytes and a table in,
 * response bytes out. No allocation, no locks, no system calls but the clock
 * (vDSO) for the age in _health TXT.
 *
 * The response is written front to back into the caller's buffer: header,
 * the question copied byte for byte (the client's letter case), answer,
 * authority, additional, then the OPT record, for which room is always kept.
 * Owner names are compression pointers to names already in the packet (the
 * question, CNAME and SRV targets), so record data is a pointer and a memcpy
 * of a body the table pre-encoded. Two things are written at answer time:
 * the service zone's SOA serial, patched into the copied SOA body, and the
 * _health TXT records, formatted from the checker's state (health/state.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dns/answer/answer.h"
#include "dns/answer/name.h"
#include "dns/answer/policy.h"
#include "dns/answer/select.h"
#include "dns/answer/table_impl.h"
#include "dns/answer/wire.h"
#include "common/check.h"
#include "common/state.h"
#include "registry/registry.h"

#define RCODE_NOERROR  0
#define RCODE_FORMERR  1
#define RCODE_NXDOMAIN 3
#define RCODE_NOTIMP   4
#define RCODE_REFUSED  5
#define RCODE_BADVERS  16

#define OPT_LEN        11
#define CNAME_MAX_HOPS 8
#define PTR_MAX        0x3FFF
#define TXT_MORE_MAX   17 /* "more=4294967295" as a character-string */

struct writer {
	uint8_t *out;
	size_t len;
	size_t lim; /* the size limit, less the room kept for OPT */
	uint16_t an, ns, ar;
};

struct resp {
	struct writer w;
	struct dns_ctx *ctx;
	/* the view asked (a whole table or a delta), and the table that holds
	 * the node being answered (the view or its base): data comes from t,
	 * the serial, readiness and counts of the whole from view */
	const struct dns_table *view;
	const struct dns_table *t;
	const struct dns_query *q;
	uint16_t rcode;
	uint8_t aa, tc;
	uint8_t keep_partial; /* TCP: a truncated answer keeps the records that fit */
	uint8_t not_ours;     /* REFUSED because no served zone holds the name */
	size_t question_end;
	size_t last_name; /* the rdata name of the last static record written */
};

/* An owner name: a pointer to the uncompressed name at off in the response,
 * or a copy of it where a pointer cannot reach. */
static int w_owner(struct writer *w, size_t off)
{
	if (off <= PTR_MAX) {
		if (w->len + 2 > w->lim)
			return -1;
		dns_put16(w->out + w->len, (uint16_t)(0xC000 | off));
		w->len += 2;
		return 0;
	}
	{
		size_t n = dns_name_wire_len(w->out + off);
		if (w->len + n > w->lim)
			return -1;
		memmove(w->out + w->len, w->out + off, n);
		w->len += n;
	}
	return 0;
}

static int w_bytes(struct writer *w, const uint8_t *p, size_t n)
{
	if (w->len + n > w->lim)
		return -1;
	memcpy(w->out + w->len, p, n);
	w->len += n;
	return 0;
}

/* One record: owner at off in the response, then a pre-encoded body. */
static int w_rr(struct writer *w, size_t owner_off, const uint8_t *body, size_t blen)
{
	size_t save = w->len;
	if (w_owner(w, owner_off) || w_bytes(w, body, blen)) {
		w->len = save;
		return -1;
	}
	return 0;
}

/* Offset of apex inside the question name, if the question name is at or
 * below it; 0 if not. */
static size_t apex_in_qname(const struct dns_query *q, const uint8_t *apex, size_t alen)
{
	size_t i = 0;
	if (alen > q->qname_len)
		return 0;
	while (q->qname_len - i > alen)
		i += (size_t)q->lname[i] + 1;
	if (q->qname_len - i == alen && !memcmp(q->lname + i, apex, alen))
		return 12 + i;
	return 0;
}

/* Writes the service zone's current serial into the SOA body that ends at
 * the writer's position (body_len bytes), if the body is zone's. */
static void patch_serial(struct resp *r, uint32_t zone, size_t body_len)
{
	uint16_t pos = r->t->zones[zone].serial_pos;
	if (pos)
		dns_put32(r->w.out + r->w.len - body_len + pos,
		          atomic_load_explicit(&((struct dns_table *)r->view)->serial,
		                               memory_order_relaxed));
}

/* The zone's SOA with the negative TTL, in the authority section. */
static int w_neg_soa(struct resp *r, uint32_t zone)
{
	const struct dns_zone *z = &r->t->zones[zone];
	const uint8_t *apex = r->t->blob + z->apex_off;
	size_t off = apex_in_qname(r->q, apex, z->apex_len), save = r->w.len;
	if (off ? w_owner(&r->w, off) : w_bytes(&r->w, apex, z->apex_len))
		return -1;
	if (w_bytes(&r->w, r->t->blob + z->neg_soa_off, z->neg_soa_len)) {
		r->w.len = save;
		return -1;
	}
	patch_serial(r, zone, z->neg_soa_len);
	r->w.ns++;
	return 0;
}

/* Writes the records of a static RRset; bodies carry their own rdlength.
 * Where a record's rdata holds a name, its offset in the response goes to
 * ctx->offsets[k] (first DNS_SCRATCH_MAX records) and r->last_name, for the
 * owners of what follows (CNAME chain, additional addresses). */
static int w_rrset(struct resp *r, const struct dns_rrset *s, size_t owner)
{
	const uint8_t *p = r->t->blob + s->off, *end = p + s->len;
	int at = dns_rdata_name_at(s->type);
	for (size_t k = 0; p < end; k++) {
		size_t blen = 10 + (size_t)(p[8] << 8 | p[9]);
		if (w_rr(&r->w, owner, p, blen))
			return -1;
		r->w.an++;
		if (at >= 0 && blen > 10 + (size_t)at) {
			r->last_name = r->w.len - blen + 10 + (size_t)at;
			if (k < DNS_SCRATCH_MAX)
				r->ctx->offsets[k] = (uint32_t)r->last_name;
		}
		p += blen;
	}
	return 0;
}

/* The address records of in, an instance of several addresses
 * (DNS_T_MULTI), of type qtype (0: all) at owner, each once in the answer
 * when dedupe: how many were written, or -1 (and none written) when they do
 * not all fit. */
/* noinline, as w_inst_additional() and srv_patch(): kept out of
 * w_dynamic(), whose loops for plain answers stay as lean as before */
static __attribute__((noinline)) int w_multi(struct resp *r, const struct dns_instance *in,
                                             uint16_t qtype, size_t owner, int dedupe)
{
	const struct dns_table *t = r->t;
	const uint8_t *p = t->blob + in->addr_off, *end = p + in->addr_len;
	size_t save = r->w.len;
	int n = 0;

	for (; p < end; p += dns_body_len(p)) {
		uint32_t off = (uint32_t)(p - t->blob);
		uint16_t len = (uint16_t)dns_body_len(p);

		if (qtype && (uint16_t)(p[0] << 8 | p[1]) != qtype)
			continue;
		if (dedupe && dns_seen_add_body(r->ctx, t, off, len))
			continue;
		if (w_rr(&r->w, owner, p, len)) {
			r->w.len = save; /* none of them, as the counts do not have them */
			return -1;
		}
		n++;
	}
	return n;
}

/* Every address of in in additional, owned by the name at owner: all of
 * them or none (no TC). */
static __attribute__((noinline)) void w_inst_additional(struct resp *r,
                                                        const struct dns_instance *in, size_t owner)
{
	int n;

	if (in->type != DNS_T_MULTI) {
		if (!w_rr(&r->w, owner, r->t->blob + in->addr_off, in->addr_len))
			r->w.ar++;
		return;
	}
	n = w_multi(r, in, 0, owner, 0);
	if (n > 0)
		r->w.ar = (uint16_t)(r->w.ar + n);
}

/* The A and AAAA of node (a static name or an instance) in additional,
 * owned by the name at owner: each RRset whole or not at all, no TC. */
static void w_addresses(struct resp *r, uint32_t node, size_t owner)
{
	const struct dns_table *t = r->t;
	const struct dns_node *n = &t->nodes[node];
	if (n->kind == DNS_NODE_INSTANCE) {
		w_inst_additional(r, &t->instances[n->list_off], owner);
		return;
	}
	for (uint16_t i = 0; i < n->n_rrsets; i++) {
		const struct dns_rrset *s = &t->rrsets[n->rrset_first + i];
		const uint8_t *p = t->blob + s->off, *end = p + s->len;
		size_t save = r->w.len;
		uint16_t cnt = 0;
		if (s->type != DNS_T_A && s->type != DNS_T_AAAA)
			continue;
		for (; p < end; p += 10 + (size_t)(p[8] << 8 | p[9]), cnt++)
			if (w_rr(&r->w, owner, p, 10 + (size_t)(p[8] << 8 | p[9])))
				break;
		if (p < end)
			r->w.len = save;
		else
			r->w.ar = (uint16_t)(r->w.ar + cnt);
	}
}

/* After a static NS, MX or SRV RRset: its targets' addresses (RFC 1034
 * 4.3.2 step 6), from the nodes resolved when the table was built. */
static void w_targets(struct resp *r, const struct dns_rrset *s)
{
	const struct dns_table *t = r->t;
	if (s->first_target == DNS_NO_INDEX)
		return;
	for (size_t k = 0; k < s->count && k < DNS_SCRATCH_MAX; k++) {
		uint32_t node = t->targets[s->first_target + k];
		if (node != DNS_NO_INDEX)
			w_addresses(r, node, r->ctx->offsets[k]);
	}
}

/* The SRV record of instance idx just written at node n: slow_start's
 * weight of the moment (now > 0), a named port's number (RDATA: priority,
 * weight, port, target). */
static __attribute__((noinline)) void srv_patch(struct resp *r, const struct dns_node *n,
                                                uint32_t idx, int64_t now)
{
	const struct dns_table *t = r->t;
	const struct dns_instance *in = &t->instances[idx];
	uint8_t *rdata = r->w.out + r->w.len - in->srv_len + 10;

	if (now)
		dns_put16(rdata + 2, dns_inst_weight(t, in, now));
	if (n->port_slot)
		memcpy(rdata + 4, dns_node_port(t, n, idx), 2);
}

/* The instances' records in policy order; for SRV, the targets' addresses
 * follow in additional as far as they fit (whole records, no TC). */
static inline __attribute__((always_inline)) int w_records(struct resp *r, struct dns_node *n,
                                                           uint16_t qtype, size_t owner)
{
	const struct dns_table *t = r->t;
	struct dns_ctx *ctx = r->ctx;
	size_t n_cand, ordered = dns_policy_order(ctx, t, n, qtype, &n_cand), want = ordered;
	size_t written = 0;
	int dedupe;
	if (qtype == DNS_T_SRV) {
		int64_t now = ordered && t->services[n->service].slow_start_ms ? dns_now_ms() : 0;
		/* what plain answers skip with one test per record: slow_start
		 * or a named port (n->port_slot, read once: out aliases it) */
		const int patch = now || n->port_slot, multi = n->multi_addrs;

		/* one per instance: they differ by target and port */
		for (size_t i = 0; i < ordered; i++) {
			const struct dns_instance *in = &t->instances[ctx->scratch[i]];
			if (w_rr(&r->w, owner, t->blob + in->srv_off, in->srv_len))
				return -1;
			if (patch)
				srv_patch(r, n, ctx->scratch[i], now);
			ctx->offsets[i] = (uint32_t)(r->w.len - in->srv_len + 16);
			r->w.an++;
		}
		/* targets are the instances' own names: each address once */
		if (multi) {
			for (size_t i = 0; i < ordered; i++)
				w_inst_additional(r, &t->instances[ctx->scratch[i]],
				                  ctx->offsets[i]);
			return ordered > 0;
		}
		for (size_t i = 0; i < ordered; i++) {
			const struct dns_instance *in = &t->instances[ctx->scratch[i]];
			if (!w_rr(&r->w, ctx->offsets[i], t->blob + in->addr_off, in->addr_len))
				r->w.ar++;
		}
		return ordered > 0;
	}
	/* instances sharing an address (one host, several ports) give one
	 * record (RFC 2181 5): the first in policy order; max_answers counts
	 * distinct addresses, so more candidates get ordered as needed */
	dedupe = t->services[n->service].shared_addrs;
	if (dedupe)
		dns_seen_reset(ctx);
	for (size_t i = 0; i < n_cand && written < want; i++) {
		const struct dns_instance *in;
		if (i == ordered)
			ordered = dns_policy_more(ctx, t, n, ordered, n_cand, want - written);
		in = &t->instances[ctx->scratch[i]];
		/* a service with an instance of several addresses always dedupes
		 * (shared_addrs), so that others cost nothing more here */
		if (dedupe && in->type == DNS_T_MULTI) {
			/* dual-stack: its addresses of the type asked */
			int k = w_multi(r, in, qtype, owner, dedupe);

			if (k < 0)
				return -1;
			if (k > 0) {
				r->w.an = (uint16_t)(r->w.an + k);
				written++;
			}
			continue;
		}
		if (dedupe && dns_seen_add(ctx, t, ctx->scratch[i]))
			continue;
		if (w_rr(&r->w, owner, t->blob + in->addr_off, in->addr_len))
			return -1;
		r->w.an++;
		written++;
	}
	return written > 0;
}

/* ttl_min (select.h): the TTL of the moment into every record written
 * since start (owner, then a body whose TTL is 4 bytes in). */
static void patch_ttls(struct resp *r, size_t start, uint32_t ttl)
{
	uint8_t *o = r->w.out;

	for (size_t p = start; p < r->w.len;) {
		p += (o[p] & 0xC0) == 0xC0 ? 2 : dns_name_wire_len(o + p);
		dns_put32(o + p + 4, ttl);
		p += 10 + (size_t)(o[p + 8] << 8 | o[p + 9]);
	}
}

static int w_dynamic(struct resp *r, struct dns_node *n, uint16_t qtype, size_t owner)
{
	size_t start = r->w.len;
	int rc = w_records(r, n, qtype, owner);

	if ((r->t->services[n->service].select & DNS_SEL_TTL_MIN) && r->w.len > start)
		patch_ttls(r, start, dns_ttl_now(&r->t->services[n->service], dns_now_ms()));
	return rc;
}

/* One TXT record being written: its character-strings are appended until
 * txt_end() sets the rdlength. */
struct txt {
	size_t save;     /* the writer's length before the record */
	size_t rdlen_at; /* where its rdlength goes */
};

static int txt_begin(struct resp *r, size_t owner, struct txt *x)
{
	/* TTL 0: health changes from one second to the next */
	static const uint8_t head[10] = {0, DNS_T_TXT, 0, DNS_C_IN, 0, 0, 0, 0, 0, 0};
	x->save = r->w.len;
	if (w_rr(&r->w, owner, head, sizeof(head)))
		return -1;
	x->rdlen_at = r->w.len - 2;
	return 0;
}

/* Appends one character-string (at most 255 bytes, cut there) unless it
 * would leave fewer than `keep` bytes below the limit. */
static int txt_str(struct resp *r, size_t keep, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int txt_str(struct resp *r, size_t keep, const char *fmt, ...)
{
	char buf[1 + 255 + 1];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf + 1, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (n > 255)
		n = 255;
	buf[0] = (char)n;
	if (r->w.len + 1 + (size_t)n + keep > r->w.lim)
		return -1;
	return w_bytes(&r->w, (const uint8_t *)buf, 1 + (size_t)n);
}

static void txt_end(struct resp *r, struct txt *x)
{
	dns_put16(r->w.out + x->rdlen_at, (uint16_t)(r->w.len - x->rdlen_at - 2));
	r->w.an++;
}

/* The first label of the instance's own name, its registry name. */
static const uint8_t *inst_label(const struct dns_table *t, const struct dns_instance *in)
{
	return t->blob + t->nodes[in->node].name_off;
}

/* The drain of instance i (an index into instances) of svc, or NULL. A
 * service's drains are in instance order: a binary search, so that a
 * _health TXT of a service with many drains stays cheap for the worker. */
static const struct dns_maint *maint_of(const struct dns_table *t, const struct dns_service *svc,
                                        uint32_t i)
{
	uint32_t lo = 0, hi = svc->n_maint;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct dns_maint *m = &t->maints[svc->first_maint + mid];

		if (m->inst == i)
			return m;
		if (m->inst < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* _health.<inst>.<svc>.<zone> TXT: 0 written, -1 does not fit. */
static int w_health_inst(struct resp *r, const struct dns_node *n, size_t owner)
{
	const struct dns_table *t = r->t;
	const struct dns_instance *in = &t->instances[n->list_off];
	const struct dns_service *svc = &t->services[in->service];
	const struct health_inst *h = in->hs;
	const struct dns_maint *m = maint_of(t, svc, n->list_off);
	char last[HEALTH_RESULT_MAX];
	struct txt x;
	struct timespec now;
	int64_t changed = atomic_load_explicit(&h->last_change_ms, memory_order_relaxed), age;
	unsigned status = atomic_load_explicit(&h->status, memory_order_relaxed);

	health_inst_result(h, last, sizeof(last));
	clock_gettime(CLOCK_REALTIME, &now);
	age = ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - changed) / 1000;
	if (txt_begin(r, owner, &x) ||
	    txt_str(r, 0, "status=%s", health_status_name((enum health_status)status)) ||
	    txt_str(r, 0, "served=%s",
	            atomic_load_explicit(&h->served, memory_order_relaxed) ? "yes" : "no") ||
	    (m && txt_str(r, 0, "maintenance=%.*s", (int)m->len, (const char *)t->blob + m->off)) ||
	    txt_str(r, 0, "last=%s", last[0] ? last : "none") ||
	    txt_str(r, 0, "successes=%" PRIu32,
	            atomic_load_explicit(&h->successes, memory_order_relaxed)) ||
	    txt_str(r, 0, "failures=%" PRIu32,
	            atomic_load_explicit(&h->failures, memory_order_relaxed)))
		goto fail;
	if (changed > 0 ? txt_str(r, 0, "since=%" PRId64 "s", age < 0 ? 0 : age)
	                : txt_str(r, 0, "since=start"))
		goto fail;
	if (svc->check_type == CHECK_NONE ? txt_str(r, 0, "check=none")
	    : svc->check_type == CHECK_TTL
	        ? txt_str(r, 0, "check=ttl ttl=%" PRIu32 "ms", svc->ttl_ms)
	        : txt_str(r, 0,
	                  "check=%s interval=%" PRIu32 "ms timeout=%" PRIu32 "ms rise=%u fall=%u",
	                  check_type_name((enum check_type)svc->check_type), svc->interval_ms,
	                  svc->timeout_ms, svc->rise, svc->fall))
		goto fail;
	if (check_type_probed((enum check_type)svc->check_type) &&
	    svc->unhealthy_interval_ms != svc->interval_ms &&
	    txt_str(r, 0, "unhealthy_interval=%" PRIu32 "ms", svc->unhealthy_interval_ms))
		goto fail;
	/* locality: its site (select.h) */
	if ((svc->select & DNS_SEL_LOCALITY) && t->inst_sel[n->list_off].site) {
		const uint8_t *site = t->blob + t->site_names[t->inst_sel[n->list_off].site - 1];

		if (txt_str(r, 0, "site=%.*s", (int)site[0], (const char *)site + 1))
			goto fail;
	}
	txt_end(r, &x);
	return 0;
fail:
	r->w.len = x.save;
	return -1;
}

/* The service's answer features in its _health TXT (select.h): the TTL
 * answers carry now (ttl_min), its locality, the tier that serves A/AAAA
 * ("none" while no instance is served). */
static int w_health_select(struct resp *r, const struct dns_service *svc)
{
	int32_t tier;

	if ((svc->select & DNS_SEL_TTL_MIN) &&
	    txt_str(r, TXT_MORE_MAX, "ttl=%" PRIu32, dns_ttl_now(svc, dns_now_ms())))
		return -1;
	if ((svc->select & DNS_SEL_LOCALITY) &&
	    txt_str(r, TXT_MORE_MAX, "locality=%s",
	            svc->locality == REG_LOCALITY_STRICT ? "strict" : "prefer"))
		return -1;
	if (!(svc->select & DNS_SEL_FAILOVER))
		return 0;
	tier = dns_failover_tier(r->t, svc);
	return tier < 0 ? txt_str(r, TXT_MORE_MAX, "tier=none")
	                : txt_str(r, TXT_MORE_MAX, "tier=%" PRId32, tier);
}

/* _health.<svc>.<zone> TXT: the counts, then one string per instance as far
 * as they fit, then "more=N" for those left out (a summary, not a reason to
 * truncate). 0 written, -1 does not fit. */
static int w_health_svc(struct resp *r, const struct dns_node *n, size_t owner)
{
	const struct dns_table *t = r->t;
	const struct dns_service *svc = &t->services[n->service];
	uint32_t served = atomic_load_explicit(&svc->hs->n_served, memory_order_relaxed), i;
	struct txt x;

	if (txt_begin(r, owner, &x) ||
	    txt_str(r, TXT_MORE_MAX, "passing=%" PRIu32 "/%" PRIu32, served, svc->n_instances) ||
	    txt_str(r, TXT_MORE_MAX, "panic=%s",
	            atomic_load_explicit(&svc->hs->panic, memory_order_acquire) ? "yes" : "no") ||
	    txt_str(r, TXT_MORE_MAX, "policy=%s", svc->policy_name))
		goto fail;
	if (svc->select && w_health_select(r, svc))
		goto fail;
	for (i = 0; i < svc->n_instances; i++) {
		const struct dns_instance *in = &t->instances[svc->first_instance + i];
		const uint8_t *label = inst_label(t, in);
		unsigned status = atomic_load_explicit(&in->hs->status, memory_order_relaxed);
		if (txt_str(r, TXT_MORE_MAX, "%.*s=%s%s", (int)label[0], (const char *)label + 1,
		            health_status_name((enum health_status)status),
		            maint_of(t, svc, svc->first_instance + i) ? ",maintenance" : ""))
			break;
	}
	if (i < svc->n_instances && txt_str(r, 0, "more=%" PRIu32, svc->n_instances - i))
		goto fail;
	txt_end(r, &x);
	return 0;
fail:
	r->w.len = x.save;
	return -1;
}

/* _health.<zone> TXT: the whole server at a glance. Sums the services'
 * counts (the checker keeps them per service): one pass over the services,
 * none over the instances. 0 written, -1 does not fit. */
static void sum_served(const struct dns_table *t, const uint8_t *masked, uint64_t *passing,
                       uint64_t *failing)
{
	for (size_t i = 0; i < t->n_services; i++) {
		const struct health_svc *hs = t->services[i].hs;

		if (masked && masked[i])
			continue;
		/* served: passing and not drained */
		*passing += atomic_load_explicit(&hs->n_served, memory_order_relaxed);
		*failing += atomic_load_explicit(&hs->n_failing, memory_order_relaxed);
	}
}

static int w_health_zone(struct resp *r, size_t owner)
{
	const struct dns_table *v = r->view;
	uint64_t passing = 0, failing = 0;
	struct txt x;

	sum_served(v, NULL, &passing, &failing);
	if (v->base)
		sum_served(v->base, v->masked, &passing, &failing);
	if (txt_begin(r, owner, &x) || txt_str(r, 0, "services=%zu", v->view_services) ||
	    txt_str(r, 0, "instances=%zu", v->view_instances) ||
	    txt_str(r, 0, "passing=%" PRIu64, passing) ||
	    txt_str(r, 0, "failing=%" PRIu64, failing) ||
	    (v->view_maints && txt_str(r, 0, "maintenance=%zu", v->view_maints)) ||
	    txt_str(r, 0, "serial=%" PRIu32,
	            atomic_load_explicit(&((struct dns_table *)v)->serial, memory_order_relaxed)) ||
	    txt_str(r, 0, "ready=%s",
	            atomic_load_explicit(&v->ready, memory_order_acquire) ? "yes" : "no")) {
		r->w.len = x.save;
		return -1;
	}
	txt_end(r, &x);
	return 0;
}

static const struct dns_rrset *find_rrset(const struct dns_table *t, const struct dns_node *n,
                                          uint16_t type)
{
	for (uint16_t i = 0; i < n->n_rrsets; i++)
		if (type == DNS_T_ANY || t->rrsets[n->rrset_first + i].type == type)
			return &t->rrsets[n->rrset_first + i];
	return NULL;
}

static int dyn_answers(const struct dns_node *n, uint16_t qtype)
{
	switch ((enum dns_node_kind)n->kind) {
	case DNS_NODE_SERVICE:
		return qtype == DNS_T_A || qtype == DNS_T_AAAA || qtype == DNS_T_SRV;
	case DNS_NODE_SRV:
		return qtype == DNS_T_SRV;
	case DNS_NODE_INSTANCE:
		return qtype == DNS_T_A || qtype == DNS_T_AAAA;
	case DNS_NODE_PLAIN:
	case DNS_NODE_READY:
	case DNS_NODE_HEALTH_INST:
	case DNS_NODE_HEALTH_SVC:
	case DNS_NODE_HEALTH_ZONE:
		return 0;
	}
	return 0;
}

/* The node's data for qtype at owner: 1 written, 0 none, -1 does not fit.
 * ANY takes the first RRset there is (RFC 8482): A, AAAA, SRV, then the
 * static ones in zone file order. */
static int w_node(struct resp *r, struct dns_node *n, uint16_t qtype, size_t owner)
{
	const struct dns_rrset *s;
	if (n->kind == DNS_NODE_READY) {
		static const uint8_t ready_a[] = {0, DNS_T_A, 0, DNS_C_IN, 0, 0, 0,
		                                  0, 0,       4, 127,      0, 0, 1};
		if ((qtype != DNS_T_A && qtype != DNS_T_ANY) ||
		    !atomic_load_explicit(&r->view->ready, memory_order_acquire))
			return 0;
		if (w_rr(&r->w, owner, ready_a, sizeof(ready_a)))
			return -1;
		r->w.an++;
		return 1;
	}
	if (n->kind == DNS_NODE_HEALTH_INST || n->kind == DNS_NODE_HEALTH_SVC ||
	    n->kind == DNS_NODE_HEALTH_ZONE) {
		if (qtype != DNS_T_TXT && qtype != DNS_T_ANY)
			return 0;
		if (n->kind == DNS_NODE_HEALTH_INST  ? w_health_inst(r, n, owner)
		    : n->kind == DNS_NODE_HEALTH_SVC ? w_health_svc(r, n, owner)
		                                     : w_health_zone(r, owner))
			return -1;
		return 1;
	}
	if (qtype == DNS_T_ANY) {
		static const uint16_t order[] = {DNS_T_A, DNS_T_AAAA, DNS_T_SRV};
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			int rc = dyn_answers(n, order[i]) ? w_dynamic(r, n, order[i], owner) : 0;
			if (rc)
				return rc;
		}
	} else if (dyn_answers(n, qtype)) {
		return w_dynamic(r, n, qtype, owner);
	}
	s = find_rrset(r->t, n, qtype);
	if (!s)
		return 0;
	if (w_rrset(r, s, owner))
		return -1;
	/* the service zone's and server.reverse's SOA carry the serial of
	 * now; a zone file's has none to patch (serial_pos 0) */
	if (s->type == DNS_T_SOA)
		patch_serial(r, n->zone, s->len);
	w_targets(r, s);
	return 1;
}

/* Answer (following CNAMEs within the table) and, if nothing answers the
 * type, the SOA of the last node's zone: 0 done, -1 does not fit. */
static int answer_found(struct resp *r, uint32_t node)
{
	const struct dns_table *t = r->t;
	uint32_t visited[CNAME_MAX_HOPS];
	size_t owner = 12;
	for (int hops = 0;; hops++) {
		struct dns_node *n = (struct dns_node *)&t->nodes[node];
		const struct dns_rrset *cname;
		int rc;

		/* a service of `empty: nxdomain` with nothing to serve: gone,
		 * and so is everything below it (RFC 8020); a CNAME to it
		 * ends in NXDOMAIN too (RFC 6604) */
		if (dns_node_gone(t, n)) {
			r->rcode = RCODE_NXDOMAIN;
			return w_neg_soa(r, n->zone);
		}
		rc = w_node(r, n, r->q->qtype, owner);
		if (rc)
			return rc < 0 ? -1 : 0;
		cname = r->q->qtype == DNS_T_CNAME ? NULL : find_rrset(t, n, DNS_T_CNAME);
		if (!cname)
			return w_neg_soa(r, n->zone);
		visited[hops] = node;
		/* the chased records' owner: the target name in the CNAME rdata */
		if (w_rrset(r, cname, owner))
			return -1;
		owner = r->last_name;
		if (cname->cname_node == DNS_NO_INDEX) {
			if (cname->cname_zone == DNS_NO_INDEX)
				return 0; /* a name we do not have: the resolver goes on */
			/* ours and absent: the rcode follows the last name (RFC 6604) */
			r->rcode = RCODE_NXDOMAIN;
			return w_neg_soa(r, cname->cname_zone);
		}
		node = cname->cname_node;
		/* a loop or a long chain: stop with each CNAME written once and
		 * let the resolver decide (NSD, Knot) */
		if (hops + 1 >= CNAME_MAX_HOPS)
			return 0;
		for (int k = 0; k <= hops; k++)
			if (visited[k] == node)
				return 0;
	}
}

/* class CH: version.server / version.bind, id.server / hostname.bind */
static int answer_chaos(struct resp *r)
{
	static const uint8_t names[4][16] = {"\7version\6server", "\7version\4bind", "\2id\6server",
	                                     "\10hostname\4bind"};
	const struct dns_query *q = r->q;
	for (int i = 0; i < 4; i++) {
		size_t nl = strlen((const char *)names[i]) + 1;
		if (nl != q->qname_len || memcmp(names[i], q->lname, nl))
			continue;
		r->aa = 1;
		if (q->qtype != DNS_T_TXT && q->qtype != DNS_T_ANY)
			return 0;
		if (i < 2 ? w_rr(&r->w, 12, r->t->blob + r->t->version_off, r->t->version_len)
		          : w_rr(&r->w, 12, r->t->blob + r->t->identity_off, r->t->identity_len))
			return -1;
		r->w.an++;
		return 0;
	}
	r->rcode = RCODE_REFUSED;
	return 0;
}

/* A name absent from the table: NXDOMAIN at its closest existing ancestor
 * (in its zone), REFUSED when that is in no zone, and DNS_NO_INDEX is
 * returned; or the node to answer from for a tag pair TAG1.TAG2.SVC.<zone>
 * (its parent, with ctx->pair the node of TAG1.SVC.<zone>: select.h). */
static uint32_t answer_absent(struct resp *r)
{
	const struct dns_query *q = r->q;
	uint32_t node;
	size_t off = 0;

	/* closest existing ancestor: NXDOMAIN in its zone, or not ours at all */
	while (q->lname[off]) {
		off += (size_t)q->lname[off] + 1;
		node = dns_view_lookup(r->view, &r->t, q->lname + off, q->qname_len - off,
		                       dns_name_hash(q->lname + off, q->qname_len - off));
		if (node != DNS_NO_INDEX) {
			const struct dns_table *t = r->t;

			if (off == (size_t)q->lname[0] + 1 &&
			    t->nodes[node].kind == DNS_NODE_SERVICE) {
				uint32_t m = dns_pair_lookup(t, q->lname, q->qname_len, node);

				if (m != DNS_NO_INDEX) {
					r->ctx->pair = &t->nodes[m];
					return node;
				}
			}
			r->aa = 1;
			r->rcode = RCODE_NXDOMAIN;
			if (w_neg_soa(r, t->nodes[node].zone))
				r->tc = 1;
			return DNS_NO_INDEX;
		}
	}
	r->rcode = RCODE_REFUSED;
	r->not_ours = 1;
	return DNS_NO_INDEX;
}

/* Returns 1 to answer, 0 to drop (_ready before the table is ready). */
static int answer_in(struct resp *r)
{
	const struct dns_query *q = r->q;
	uint32_t node;

	if (q->qtype == DNS_T_AXFR || q->qtype == DNS_T_IXFR) {
		r->rcode = RCODE_REFUSED;
		return 1;
	}
	if (q->qtype == DNS_T_MAILA || q->qtype == DNS_T_MAILB) {
		r->rcode = RCODE_NOTIMP;
		return 1;
	}
	node = dns_view_lookup(r->view, &r->t, q->lname, q->qname_len, q->lname_hash);
	if (node == DNS_NO_INDEX && (node = answer_absent(r)) == DNS_NO_INDEX)
		return 1;
	if (r->t->nodes[node].kind == DNS_NODE_READY &&
	    !atomic_load_explicit(&r->view->ready, memory_order_acquire))
		return 0;
	r->aa = 1;
	if (answer_found(r, node))
		r->tc = 1;
	return 1;
}

/* The bytes of the ECS option echoed in the OPT rdata: code, length,
 * family, prefixes, the address cut to its source prefix. */
static size_t ecs_len(const struct dns_query *q)
{
	return 4 + 4 + ((size_t)q->ecs_source + 7) / 8;
}

/* Header flags, counts and the OPT record. */
static size_t finish(struct resp *r, struct dns_answer_info *info)
{
	const struct dns_query *q = r->q;
	uint8_t *o = r->w.out;
	if (r->tc && !r->keep_partial) {
		r->w.len = r->question_end;
		r->w.an = r->w.ns = r->w.ar = 0;
	}
	if (q->edns) {
		uint8_t *p = o + r->w.len;
		p[0] = 0;
		dns_put16(p + 1, DNS_T_OPT);
		dns_put16(p + 3, r->t->edns_udp_size);
		p[5] = (uint8_t)(r->rcode >> 4);
		p[6] = 0;
		p[7] = q->edns_do ? 0x80 : 0;
		p[8] = 0;
		dns_put16(p + 9, 0);
		r->w.len += OPT_LEN;
		r->w.ar++;
		if (__builtin_expect(q->ecs, 0) && r->rcode != RCODE_FORMERR) {
			size_t n = ecs_len(q);

			/* RFC 7871 7.2.1: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS as
			 * asked, SCOPE what the answer depended on */
			dns_put16(p + 9, (uint16_t)n);
			dns_put16(p + 11, DNS_OPT_ECS);
			dns_put16(p + 13, (uint16_t)(n - 4));
			dns_put16(p + 15, q->ecs_family);
			p[17] = q->ecs_source;
			p[18] = r->ctx->scope;
			memcpy(p + 19, q->ecs_addr, n - 8);
			r->w.len += n;
		}
	}
	dns_put16(o, q->id);
	o[2] = (uint8_t)(0x80 | (q->opcode << 3) | (r->aa ? 0x04 : 0) | (r->tc ? 0x02 : 0) | q->rd);
	o[3] = (uint8_t)((q->cd ? 0x10 : 0) | (r->rcode & 0x0F));
	dns_put16(o + 4, r->question_end > 12 ? 1 : 0);
	dns_put16(o + 6, r->w.an);
	dns_put16(o + 8, r->w.ns);
	dns_put16(o + 10, r->w.ar);
	if (info) {
		info->rcode = r->rcode;
		info->truncated = r->tc;
		info->forward = r->not_ours;
	}
	return r->w.len;
}

/* NOTIMP to an opcode other than QUERY: the header alone, with the query's
 * ID and opcode, QR set and every other flag clear. What RD, CD and AD mean
 * is QUERY's business, and so is the layout of the sections, so neither a
 * flag, nor the question, nor an OPT is echoed (RFC 8906 3.1.4; as BIND and
 * Knot answer, and as ISC's genreport expects in its opcode tests). */
static size_t answer_notimp(const struct dns_query *q, uint8_t *out, size_t outcap,
                            struct dns_answer_info *info)
{
	if (outcap < 12)
		return 0;
	memset(out, 0, 12);
	dns_put16(out, q->id);
	out[2] = (uint8_t)(0x80 | q->opcode << 3);
	out[3] = RCODE_NOTIMP;
	if (info)
		info->rcode = RCODE_NOTIMP;
	return 12;
}

size_t dns_answer(struct dns_ctx *ctx, const struct dns_table *table, const uint8_t *query,
                  size_t qlen, enum dns_transport transport, uint8_t *out, size_t outcap,
                  struct dns_answer_info *info)
{
	struct dns_query q;
	struct resp r;
	enum dns_parse_result pr = dns_query_parse(query, qlen, &q);
	size_t limit, qsize, opt;

	if (info) {
		memset(info, 0, sizeof(*info));
		info->qtype = q.question_ok ? q.qtype : 0;
		info->qclass = q.question_ok ? q.qclass : 0;
		info->edns = q.edns;
	}
	if (pr == DNS_PARSE_DROP)
		return 0;
	if (pr == DNS_PARSE_NOTIMP)
		return answer_notimp(&q, out, outcap, info);
	if (transport == DNS_TCP)
		limit = DNS_MAX_MSG;
	else if (q.edns)
		limit = q.edns_size < table->edns_udp_size ? q.edns_size : table->edns_udp_size;
	else
		limit = DNS_MAX_UDP_PLAIN;
	if (limit < DNS_MAX_UDP_PLAIN)
		limit = DNS_MAX_UDP_PLAIN;
	if (limit > outcap)
		limit = outcap;
	qsize = q.question_ok ? q.qname_len + 4 : 0;
	/* room kept for the OPT record, with the ECS option echoed */
	opt = q.edns ? OPT_LEN : 0;
	if (__builtin_expect(q.ecs, 0) && pr == DNS_PARSE_OK)
		opt += ecs_len(&q);
	if (limit < 12 + qsize + opt)
		return 0; /* the caller's buffer cannot hold even the question */

	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.view = table;
	r.t = table;
	r.q = &q;
	r.w.out = out;
	r.w.lim = limit - opt;
	ctx->query = &q;
	ctx->scope = 0;
	ctx->pair = NULL;
	/* over TCP there is no bigger transport to retry on: a partial answer
	 * of whole records with TC is more use than an empty one */
	r.keep_partial = transport == DNS_TCP;
	memcpy(out + 12, query + 12, qsize);
	r.w.len = r.question_end = 12 + qsize;

	if (pr == DNS_PARSE_FORMERR)
		r.rcode = RCODE_FORMERR;
	else if (q.edns && q.edns_version > 0)
		r.rcode = RCODE_BADVERS;
	else if (q.qclass == DNS_C_CH) {
		if (answer_chaos(&r))
			r.tc = 1;
	} else if (q.qclass != DNS_C_IN && q.qclass != DNS_C_ANY)
		r.rcode = RCODE_REFUSED;
	else if (!answer_in(&r))
		return 0;
	return finish(&r, info);
}

size_t dns_answer_client(struct dns_ctx *ctx, const struct dns_table *table, const uint8_t *query,
                         size_t qlen, enum dns_transport transport, const struct sockaddr *client,
                         uint8_t *out, size_t outcap, struct dns_answer_info *info)
{
	size_t n;

	/* the client stays in ctx for this call only: dns_answer() alone
	 * knows nobody (ctx->peer is NULL from dns_ctx_create()) */
	ctx->peer = client;
	n = dns_answer(ctx, table, query, qlen, transport, out, outcap, info);
	ctx->peer = NULL;
	return n;
}

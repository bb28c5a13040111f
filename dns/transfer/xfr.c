/* SPDX-License-Identifier: BSD-3-Clause */
/* xfr.c: AXFR and IXFR out (xfr.h): zone snapshots, the history of
 * versions, diffs and the response messages.
 *
 * A snapshot copies every record as owner name + pre-encoded body into one
 * blob, in transfer order (registry order within an RRset); a second array
 * sorts them by bytes, which drops duplicates (instances sharing an address
 * under one name) and makes an IXFR diff a merge of two sorted lists.
 * Transfers are rare, so a snapshot is built per transfer and the history
 * keeps the ones seen; 100,000 records take tens of milliseconds.
 *
 * Snapshots are reference-counted: the history holds one reference per
 * version, and a transfer one on each version it sends, taken under the
 * history's lock. A transfer then writes its messages without the lock, as
 * the client reads (struct dns_xfr_stream), from copies that do not point
 * into the table: the table may be freed by a reload meanwhile, and the
 * history may drop the version.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "dns/answer/answer.h"
#include "dns/answer/name.h"
#include "dns/answer/select.h"
#include "dns/answer/table_impl.h"
#include "dns/answer/wire.h"
#include "dns/transfer/xfr.h"

#define RCODE_FORMERR  1
#define RCODE_SERVFAIL 2
#define RCODE_REFUSED  5
#define RCODE_NOTAUTH  9

#define OPT_LEN    11
#define PTR_MAX    0x3FFF
#define MSG_MIN    512
#define SNAP_TRIES 4

struct xrec {
	uint32_t off; /* owner name, then the body, in blob */
	uint16_t len; /* both */
	uint8_t owner_len;
	uint8_t dup; /* an earlier record has the same bytes: not sent */
};

struct dns_xfr_zone {
	_Atomic unsigned refs;
	uint32_t serial;
	uint8_t *blob;
	size_t blob_len, blob_cap;
	struct xrec *rec; /* transfer order, without the SOA */
	size_t n, cap;
	uint32_t *sorted; /* indices of the distinct records, by bytes */
	size_t n_sorted;
	struct xrec soa;
};

static const uint8_t *rec_bytes(const struct dns_xfr_zone *z, const struct xrec *r)
{
	return z->blob + r->off;
}

static int rec_cmp(const struct dns_xfr_zone *za, const struct xrec *a,
                   const struct dns_xfr_zone *zb, const struct xrec *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(rec_bytes(za, a), rec_bytes(zb, b), n);
	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

static int sort_cmp(const void *pa, const void *pb, void *arg)
{
	const struct dns_xfr_zone *z = arg;
	uint32_t ia = *(const uint32_t *)pa, ib = *(const uint32_t *)pb;
	int c = rec_cmp(z, &z->rec[ia], z, &z->rec[ib]);
	/* among equal records the first in transfer order is the one kept */
	return c ? c : (ia > ib) - (ia < ib);
}

/* Appends owner + body as a record; the SOA goes to z->soa instead. */
static int add_rec(struct dns_xfr_zone *z, const uint8_t *owner, size_t olen, const uint8_t *body,
                   size_t blen, int is_soa)
{
	struct xrec r;

	if (olen + blen > UINT16_MAX)
		return 0; /* cannot happen with table bodies: skip rather than fail */
	if (z->blob_len + olen + blen > z->blob_cap) {
		size_t cap = z->blob_cap ? z->blob_cap * 2 : 64 * 1024;
		uint8_t *p;
		while (cap < z->blob_len + olen + blen)
			cap *= 2;
		if (cap > UINT32_MAX || !(p = realloc(z->blob, cap)))
			return -1;
		z->blob = p;
		z->blob_cap = cap;
	}
	r.off = (uint32_t)z->blob_len;
	r.len = (uint16_t)(olen + blen);
	r.owner_len = (uint8_t)olen;
	r.dup = 0;
	memcpy(z->blob + z->blob_len, owner, olen);
	memcpy(z->blob + z->blob_len + olen, body, blen);
	z->blob_len += olen + blen;
	if (is_soa) {
		z->soa = r;
		return 0;
	}
	if (z->n == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 1024;
		struct xrec *p = realloc(z->rec, cap * sizeof(*p));
		if (!p)
			return -1;
		z->rec = p;
		z->cap = cap;
	}
	z->rec[z->n++] = r;
	return 0;
}

static int inst_served(const struct dns_instance *in, int panic)
{
	return panic || atomic_load_explicit(&in->hs->served, memory_order_relaxed);
}

/* The address records of instance in at owner: one, or a dual-stack
 * instance's every one. */
static int add_addrs(struct dns_xfr_zone *z, const struct dns_table *t, const uint8_t *owner,
                     size_t olen, const struct dns_instance *in)
{
	const uint8_t *p = t->blob + in->addr_off, *end = p + in->addr_len;

	if (in->type != DNS_T_MULTI)
		return add_rec(z, owner, olen, p, in->addr_len, 0);
	for (; p < end; p += dns_body_len(p))
		if (add_rec(z, owner, olen, p, dns_body_len(p), 0))
			return -1;
	return 0;
}

/* A service, tag or SRV node: the served instances' records. */
static int add_dynamic(struct dns_xfr_zone *z, const struct dns_table *t, const struct dns_node *n)
{
	const uint8_t *owner = t->blob + n->name_off;
	const struct dns_service *svc = &t->services[n->service];
	int panic = atomic_load_explicit(&svc->hs->panic, memory_order_acquire);

	if (n->kind == DNS_NODE_SERVICE) {
		/* failover: A/AAAA of the serving tier only, as answers give them */
		int32_t tier = svc->select & DNS_SEL_FAILOVER ? dns_failover_tier(t, svc) : -1;

		for (uint32_t i = 0; i < n->list_len; i++) {
			uint32_t k = dns_node_inst(t, n, i);
			const struct dns_instance *in = &t->instances[k];
			if (inst_served(in, panic) &&
			    (tier < 0 || t->inst_sel[k].priority == (uint32_t)tier) &&
			    add_addrs(z, t, owner, n->name_len, in))
				return -1;
		}
	}
	for (uint32_t i = 0; i < n->list_len; i++) {
		const struct dns_instance *in = &t->instances[dns_node_inst(t, n, i)];
		const uint8_t *body = t->blob + in->srv_off;
		uint8_t named[16 + 256];

		if (n->port_slot && in->srv_len <= sizeof(named)) {
			/* a named port's SRV: that port, as answers have it */
			memcpy(named, body, in->srv_len);
			memcpy(named + 14, dns_node_port(t, n, dns_node_inst(t, n, i)), 2);
			body = named;
		}
		if (inst_served(in, panic) && add_rec(z, owner, n->name_len, body, in->srv_len, 0))
			return -1;
	}
	return 0;
}

/* Static RRsets of a node; the apex SOA goes to z->soa with the serial. */
static int add_static(struct dns_xfr_zone *z, const struct dns_table *t, uint32_t node,
                      uint32_t serial)
{
	const struct dns_node *n = &t->nodes[node];
	const uint8_t *owner = t->blob + n->name_off;

	for (uint16_t i = 0; i < n->n_rrsets; i++) {
		const struct dns_rrset *s = &t->rrsets[n->rrset_first + i];
		const uint8_t *p = t->blob + s->off, *end = p + s->len;
		int is_soa = s->type == DNS_T_SOA && node == t->apex_node;
		for (; p < end; p += 10 + (size_t)(p[8] << 8 | p[9])) {
			size_t blen = 10 + (size_t)(p[8] << 8 | p[9]);
			if (add_rec(z, owner, n->name_len, p, blen, is_soa))
				return -1;
			if (is_soa) {
				dns_put32(z->blob + z->soa.off + z->soa.owner_len +
				              t->zones[0].serial_pos,
				          serial);
				break; /* one SOA per zone */
			}
		}
	}
	return 0;
}

static int add_node(struct dns_xfr_zone *z, const struct dns_table *t, uint32_t node,
                    uint32_t serial)
{
	const struct dns_node *n = &t->nodes[node];

	/* a service of `empty: nxdomain` with nothing served answers
	 * NXDOMAIN for its whole subtree: the zone leaves it out alike */
	if (dns_node_gone(t, n))
		return 0;
	switch ((enum dns_node_kind)n->kind) {
	case DNS_NODE_PLAIN:
		return add_static(z, t, node, serial);
	case DNS_NODE_SERVICE:
	case DNS_NODE_SRV:
		return add_dynamic(z, t, n);
	case DNS_NODE_INSTANCE: {
		/* srvd answers an instance's own name whatever its health */
		const struct dns_instance *in = &t->instances[n->list_off];
		return add_addrs(z, t, t->blob + n->name_off, n->name_len, in) ||
		       add_static(z, t, node, serial); /* its meta TXT */
	}
	case DNS_NODE_READY:
	case DNS_NODE_HEALTH_INST:
	case DNS_NODE_HEALTH_SVC:
	case DNS_NODE_HEALTH_ZONE:
		return 0; /* per-query answers, not zone data */
	}
	return 0;
}

/* One pass over the table at `serial`. */
static int zone_fill(struct dns_xfr_zone *z, const struct dns_table *t, uint32_t serial)
{
	z->serial = serial;
	z->blob_len = 0;
	z->n = 0;
	z->soa.len = 0;
	const struct dns_table *b = t->base ? t->base : t;

	if (add_node(z, b, b->apex_node, serial))
		return -1;
	for (size_t i = 0; i < b->n_nodes; i++)
		if (i != b->apex_node && b->nodes[i].zone == 0 &&
		    (!t->base || dns_view_base_live(t, (uint32_t)i)) &&
		    add_node(z, b, (uint32_t)i, serial))
			return -1;
	/* a delta: its own services (its other nodes hold no records) */
	for (size_t i = 0; t->base && i < t->n_nodes; i++)
		if (t->nodes[i].kind != DNS_NODE_PLAIN && t->nodes[i].zone == 0 &&
		    add_node(z, t, (uint32_t)i, serial))
			return -1;
	return 0;
}

static int zone_sort(struct dns_xfr_zone *z)
{
	size_t k = 0;

	free(z->sorted);
	z->sorted = malloc((z->n ? z->n : 1) * sizeof(*z->sorted));
	if (!z->sorted)
		return -1;
	for (size_t i = 0; i < z->n; i++)
		z->sorted[i] = (uint32_t)i;
	qsort_r(z->sorted, z->n, sizeof(*z->sorted), sort_cmp, z);
	for (size_t i = 0; i < z->n; i++) {
		if (k && !rec_cmp(z, &z->rec[z->sorted[k - 1]], z, &z->rec[z->sorted[i]])) {
			z->rec[z->sorted[i]].dup = 1;
			continue;
		}
		z->sorted[k++] = z->sorted[i];
	}
	z->n_sorted = k;
	return 0;
}

struct dns_xfr_zone *dns_xfr_zone_build(const struct dns_table *t)
{
	struct dns_xfr_zone *z = calloc(1, sizeof(*z));
	struct dns_table *mt = (struct dns_table *)t;

	if (!z)
		return NULL;
	atomic_init(&z->refs, 1);
	/* the serial must be the one of these contents: the checker may bump
	 * it while we read, then read again */
	for (int i = 0; i < SNAP_TRIES; i++) {
		uint32_t s = atomic_load_explicit(&mt->serial, memory_order_acquire);
		if (zone_fill(z, t, s))
			goto fail;
		if (atomic_load_explicit(&mt->serial, memory_order_acquire) == s)
			break;
	}
	if (!z->soa.len || zone_sort(z))
		goto fail;
	return z;
fail:
	dns_xfr_zone_free(z);
	return NULL;
}

static struct dns_xfr_zone *zone_ref(struct dns_xfr_zone *z)
{
	atomic_fetch_add_explicit(&z->refs, 1, memory_order_relaxed);
	return z;
}

void dns_xfr_zone_free(struct dns_xfr_zone *z)
{
	if (!z || atomic_fetch_sub_explicit(&z->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(z->blob);
	free(z->rec);
	free(z->sorted);
	free(z);
}

uint32_t dns_xfr_zone_serial(const struct dns_xfr_zone *z)
{
	return z->serial;
}

size_t dns_xfr_zone_count(const struct dns_xfr_zone *z)
{
	return z->n_sorted + 1;
}

static int zone_same(const struct dns_xfr_zone *a, const struct dns_xfr_zone *b)
{
	if (a->n_sorted != b->n_sorted || rec_cmp(a, &a->soa, b, &b->soa))
		return 0;
	for (size_t i = 0; i < a->n_sorted; i++)
		if (rec_cmp(a, &a->rec[a->sorted[i]], b, &b->rec[b->sorted[i]]))
			return 0;
	return 1;
}

/* ---- history ---- */

struct hver {
	struct dns_xfr_zone *z;
	/* other contents were seen under the same serial (read between a
	 * health change and its serial bump): no diff starts from it */
	int ambiguous;
};

struct dns_xfr_history {
	pthread_mutex_t mu;
	struct hver *v; /* oldest first */
	size_t n, max;
	size_t bytes, max_bytes;
};

struct dns_xfr_history *dns_xfr_history_create(size_t max_versions, size_t max_bytes)
{
	struct dns_xfr_history *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->max = max_versions ? max_versions : DNS_XFR_HISTORY_VERSIONS;
	h->max_bytes = max_bytes ? max_bytes : DNS_XFR_HISTORY_BYTES;
	h->v = calloc(h->max, sizeof(*h->v));
	if (!h->v || pthread_mutex_init(&h->mu, NULL)) {
		free(h->v);
		free(h);
		return NULL;
	}
	return h;
}

void dns_xfr_history_free(struct dns_xfr_history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		dns_xfr_zone_free(h->v[i].z);
	pthread_mutex_destroy(&h->mu);
	free(h->v);
	free(h);
}

static size_t zone_bytes(const struct dns_xfr_zone *z)
{
	return z->blob_cap + z->cap * sizeof(*z->rec) + z->n * sizeof(*z->sorted);
}

static void drop_oldest(struct dns_xfr_history *h)
{
	h->bytes -= zone_bytes(h->v[0].z);
	dns_xfr_zone_free(h->v[0].z);
	memmove(h->v, h->v + 1, (h->n - 1) * sizeof(*h->v));
	h->n--;
}

/* With h->mu held: records z, taking the caller's reference to it, and
 * returns the version to send with a new reference for the caller: z itself
 * (kept), the stored version with the same serial and contents (z dropped),
 * or z unstored when that serial had other contents. */
static struct dns_xfr_zone *hist_put(struct dns_xfr_history *h, struct dns_xfr_zone *z)
{
	for (size_t i = 0; i < h->n; i++) {
		if (h->v[i].z->serial != z->serial)
			continue;
		if (zone_same(h->v[i].z, z)) {
			dns_xfr_zone_free(z);
			return zone_ref(h->v[i].z);
		}
		h->v[i].ambiguous = 1;
		return z;
	}
	if (h->n == h->max)
		drop_oldest(h);
	h->v[h->n].z = z;
	h->v[h->n].ambiguous = 0;
	h->n++;
	h->bytes += zone_bytes(z);
	zone_ref(z);
	while (h->n > 1 && h->bytes > h->max_bytes)
		drop_oldest(h);
	return z;
}

int dns_xfr_history_record(struct dns_xfr_history *h, const struct dns_table *table)
{
	struct dns_xfr_zone *z = dns_xfr_zone_build(table);

	if (!z)
		return -1;
	pthread_mutex_lock(&h->mu);
	z = hist_put(h, z);
	pthread_mutex_unlock(&h->mu);
	dns_xfr_zone_free(z);
	return 0;
}

static struct dns_xfr_zone *hist_find(const struct dns_xfr_history *h, uint32_t serial)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].z->serial == serial)
			return h->v[i].ambiguous ? NULL : h->v[i].z;
	return NULL;
}

/* ---- queries ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Skips a possibly compressed name at *pos; -1 if it runs past len. */
static int skip_name(const uint8_t *p, size_t len, size_t *pos)
{
	size_t i = *pos;

	for (;;) {
		if (i >= len)
			return -1;
		if ((p[i] & 0xC0) == 0xC0) {
			if (i + 2 > len)
				return -1;
			*pos = i + 2;
			return 0;
		}
		if (p[i] & 0xC0)
			return -1;
		if (p[i] == 0) {
			*pos = i + 1;
			return 0;
		}
		i += (size_t)p[i] + 1;
	}
}

enum dns_xfr_kind dns_xfr_query_kind(const uint8_t *q, size_t qlen)
{
	size_t pos = 12;
	uint16_t type, cls;

	if (qlen < 12 || (q[2] & 0x80) || ((q[2] >> 3) & 0x0F) != 0 || get16(q + 4) != 1)
		return DNS_XFR_NONE;
	if (skip_name(q, qlen, &pos) || pos + 4 > qlen)
		return DNS_XFR_NONE;
	type = get16(q + pos);
	cls = get16(q + pos + 2);
	if (cls != DNS_C_IN && cls != DNS_C_ANY)
		return DNS_XFR_NONE;
	return type == DNS_T_AXFR ? DNS_XFR_AXFR : type == DNS_T_IXFR ? DNS_XFR_IXFR : DNS_XFR_NONE;
}

/* The client's serial from the SOA in an IXFR's authority section (RFC 1995
 * 3); -1 if there is none. */
static int ixfr_serial(const uint8_t *q, size_t len, size_t qname_len, uint32_t *serial)
{
	size_t pos = 12 + qname_len + 4;
	unsigned an = get16(q + 6), ns = get16(q + 8);

	for (unsigned i = 0; i < an + ns; i++) {
		size_t rd;
		uint16_t type, rdlen;
		if (skip_name(q, len, &pos) || pos + 10 > len)
			return -1;
		type = get16(q + pos);
		rdlen = get16(q + pos + 8);
		rd = pos + 10;
		if (rd + rdlen > len)
			return -1;
		if (i >= an && type == DNS_T_SOA) {
			size_t p = rd;
			if (skip_name(q, rd + rdlen, &p) || skip_name(q, rd + rdlen, &p) ||
			    p + 20 > rd + rdlen)
				return -1;
			*serial = get32(q + p);
			return 0;
		}
		pos = rd + rdlen;
	}
	return -1;
}

/* ---- messages ---- */

struct mw {
	struct evbuffer *out;
	const struct dns_query *q;
	const uint8_t *question; /* to echo in the first message */
	size_t qsize;
	uint8_t *buf;
	size_t len, max;
	uint16_t an;
	uint16_t rcode;
	size_t prev_owner; /* offset of the last owner name written, 0: none */
	const uint8_t *prev_name;
	size_t prev_len;
	size_t apex_at; /* offset of the apex name in this message, 0: none */
	const uint8_t *apex;
	size_t apex_len;
	struct dns_xfr_result *res;
};

static void mw_begin(struct mw *m)
{
	m->len = 12;
	m->an = 0;
	m->prev_owner = 0;
	m->apex_at = 0;
	if (m->res->messages == 0 && m->qsize) {
		memcpy(m->buf + 12, m->question, m->qsize);
		m->len += m->qsize;
	}
}

static int mw_flush(struct mw *m)
{
	uint8_t *o = m->buf, pfx[2];

	if (m->q->edns) {
		uint8_t *p = o + m->len;
		p[0] = 0;
		dns_put16(p + 1, DNS_T_OPT);
		dns_put16(p + 3, DNS_MAX_MSG);
		memset(p + 5, 0, 6);
		m->len += OPT_LEN;
	}
	dns_put16(o, m->q->id);
	/* AA on the zone's data only; RD and CD copied (RFC 1035 4.1.1, RFC 6840 5.9) */
	o[2] = (uint8_t)(0x80 | (m->rcode ? 0 : 0x04) | m->q->rd);
	o[3] = (uint8_t)((m->q->cd ? 0x10 : 0) | (m->rcode & 0x0F));
	dns_put16(o + 4, m->res->messages == 0 && m->qsize ? 1 : 0);
	dns_put16(o + 6, m->an);
	dns_put16(o + 8, 0);
	dns_put16(o + 10, m->q->edns ? 1 : 0);
	dns_put16(pfx, (uint16_t)m->len);
	if (evbuffer_add(m->out, pfx, 2) < 0 || evbuffer_add(m->out, o, m->len) < 0)
		return -1;
	m->res->messages++;
	m->res->bytes += m->len;
	mw_begin(m);
	return 0;
}

/* Writes the owner name: a pointer to the previous owner when equal, else
 * its labels up to the apex, then a pointer to the apex when this message
 * holds it already. Returns the bytes written, 0 if it does not fit. */
static size_t mw_owner(struct mw *m, const uint8_t *name, size_t nlen, size_t lim)
{
	size_t at = m->len, plen = nlen;
	/* every name of the zone ends in the apex; checked all the same */
	int to_apex = 0,
	    under = nlen >= m->apex_len && !memcmp(name + nlen - m->apex_len, m->apex, m->apex_len);

	if (m->prev_owner && m->prev_len == nlen && !memcmp(m->prev_name, name, nlen)) {
		if (at + 2 > lim)
			return 0;
		dns_put16(m->buf + at, (uint16_t)(0xC000 | m->prev_owner));
		return 2;
	}
	if (m->apex_at && under) {
		plen = nlen - m->apex_len;
		to_apex = 1;
	}
	if (at + plen + (to_apex ? 2 : 0) > lim)
		return 0;
	memcpy(m->buf + at, name, plen);
	if (to_apex)
		dns_put16(m->buf + at + plen, (uint16_t)(0xC000 | m->apex_at));
	else if (!m->apex_at && under && at + nlen - m->apex_len <= PTR_MAX)
		m->apex_at = at + nlen - m->apex_len;
	if (at <= PTR_MAX) {
		m->prev_owner = at;
		m->prev_name = name;
		m->prev_len = nlen;
	}
	return plen + (to_apex ? 2 : 0);
}

/* One record of zone z; starts a new message when it does not fit. */
static int mw_rr(struct mw *m, const struct dns_xfr_zone *z, const struct xrec *r)
{
	const uint8_t *p = rec_bytes(z, r);
	size_t blen = r->len - r->owner_len, lim = m->max - (m->q->edns ? OPT_LEN : 0);

	for (int tries = 0; tries < 2; tries++) {
		size_t olen = mw_owner(m, p, r->owner_len, lim);
		if (olen && m->len + olen + blen <= lim && m->an < UINT16_MAX) {
			memcpy(m->buf + m->len + olen, p + r->owner_len, blen);
			m->len += olen + blen;
			m->an++;
			m->res->records++;
			return 0;
		}
		m->prev_owner = 0; /* may have been set for a name left unwritten */
		if (m->an == 0 || mw_flush(m))
			return -1;
	}
	return -1;
}

/* Serial a is older than b (RFC 1982). */
static int serial_lt(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(b - a) < 0x80000000u;
}

static int is_apex(const struct dns_query *q, const struct dns_table *t)
{
	const struct dns_zone *z = &t->zones[0];
	return q->qname_len == z->apex_len && !memcmp(q->lname, t->blob + z->apex_off, z->apex_len);
}

/* ---- streams ---- */

/* The parts of an answer, in order: a zone's SOA, every record of the
 * current version, the records of a not in b, the end of the last message. */
enum step_kind { STEP_SOA, STEP_ZONE, STEP_MINUS, STEP_FLUSH };

struct step {
	enum step_kind kind;
	const struct dns_xfr_zone *a, *b;
};

#define MAX_STEPS 7

struct dns_xfr_stream {
	struct mw m;
	struct dns_query q;
	struct dns_xfr_result res;
	struct dns_xfr_zone *cur, *old; /* references held */
	uint8_t question[256 + 4];
	uint8_t apex[256];
	struct step steps[MAX_STEPS];
	unsigned n_steps, at;
	size_t i, j; /* positions in the step's record lists */
};

static void add_step(struct dns_xfr_stream *st, enum step_kind kind, const struct dns_xfr_zone *a,
                     const struct dns_xfr_zone *b)
{
	st->steps[st->n_steps++] = (struct step){kind, a, b};
}

/* The current version for table: the one recorded for its serial, else a
 * snapshot (recorded). NULL on out of memory. */
static struct dns_xfr_zone *current_version(struct dns_xfr_history *h, const struct dns_table *t)
{
	struct dns_xfr_zone *z = NULL;

	if (h) {
		/* recorded where serials change, it is the content the serial
		 * stands for, while the live table may be ahead of its next bump */
		uint32_t serial = dns_table_serial(t);
		pthread_mutex_lock(&h->mu);
		if (h->n && h->v[h->n - 1].z->serial == serial && !h->v[h->n - 1].ambiguous)
			z = zone_ref(h->v[h->n - 1].z);
		pthread_mutex_unlock(&h->mu);
		if (z)
			return z;
	}
	z = dns_xfr_zone_build(t);
	if (z && h) {
		pthread_mutex_lock(&h->mu);
		z = hist_put(h, z);
		pthread_mutex_unlock(&h->mu);
	}
	return z;
}

struct dns_xfr_stream *dns_xfr_stream_start(struct dns_xfr_history *h,
                                            const struct dns_table *table, const uint8_t *query,
                                            size_t qlen, int allowed, int busy, size_t msg_max)
{
	struct dns_xfr_stream *st = calloc(1, sizeof(*st));
	struct dns_xfr_result *res;
	enum dns_parse_result pr;
	struct mw *m;

	if (!st)
		return NULL;
	res = &st->res;
	m = &st->m;
	res->asked = dns_xfr_query_kind(query, qlen);
	pr = dns_query_parse(query, qlen, &st->q);
	if (pr == DNS_PARSE_DROP)
		return st; /* no answer: nothing to send */
	m->buf = malloc(DNS_MAX_MSG);
	if (!m->buf)
		goto fail;
	m->q = &st->q;
	m->res = res;
	m->qsize = st->q.question_ok ? st->q.qname_len + 4 : 0;
	memcpy(st->question, query + 12, m->qsize);
	m->question = st->question;
	m->max = msg_max == 0 || msg_max > DNS_MAX_MSG ? DNS_MAX_MSG
	         : msg_max < MSG_MIN                   ? MSG_MIN
	                                               : msg_max;
	m->apex_len = table->zones[0].apex_len;
	memcpy(st->apex, table->blob + table->zones[0].apex_off, m->apex_len);
	m->apex = st->apex;
	mw_begin(m);
	if (pr != DNS_PARSE_OK || (st->q.edns && st->q.edns_version > 0))
		m->rcode = RCODE_FORMERR;
	else if (!allowed)
		m->rcode = RCODE_REFUSED;
	else if (!is_apex(&st->q, table))
		m->rcode = RCODE_NOTAUTH;
	else if (res->asked == DNS_XFR_IXFR &&
	         ixfr_serial(query, qlen, st->q.qname_len, &res->client_serial))
		m->rcode = RCODE_FORMERR;
	else if (busy || !(st->cur = current_version(h, table)))
		m->rcode = RCODE_SERVFAIL;
	if (m->rcode) {
		res->rcode = m->rcode;
		add_step(st, STEP_FLUSH, NULL, NULL);
		return st;
	}
	res->serial = st->cur->serial;
	res->served = res->asked;
	if (res->asked == DNS_XFR_IXFR && !serial_lt(res->client_serial, st->cur->serial)) {
		/* up to date (or ahead): the current SOA alone (RFC 1995 2) */
		add_step(st, STEP_SOA, st->cur, NULL);
		add_step(st, STEP_FLUSH, NULL, NULL);
		return st;
	}
	if (res->asked == DNS_XFR_IXFR && h) {
		pthread_mutex_lock(&h->mu);
		st->old = hist_find(h, res->client_serial);
		if (st->old)
			zone_ref(st->old);
		pthread_mutex_unlock(&h->mu);
	}
	add_step(st, STEP_SOA, st->cur, NULL);
	if (st->old) {
		add_step(st, STEP_SOA, st->old, NULL);
		add_step(st, STEP_MINUS, st->old, st->cur);
		add_step(st, STEP_SOA, st->cur, NULL);
		add_step(st, STEP_MINUS, st->cur, st->old);
	} else {
		if (res->asked == DNS_XFR_IXFR)
			res->served = DNS_XFR_AXFR; /* RFC 1995 4: the whole zone instead */
		add_step(st, STEP_ZONE, st->cur, NULL);
	}
	add_step(st, STEP_SOA, st->cur, NULL);
	add_step(st, STEP_FLUSH, NULL, NULL);
	return st;
fail:
	dns_xfr_stream_free(st);
	return NULL;
}

/* The next records of a STEP_ZONE or STEP_MINUS step until out holds until
 * bytes: 1 when the step is done, 0 when out is full, -1 on error. */
static int step_records(struct dns_xfr_stream *st, const struct step *p, struct evbuffer *out,
                        size_t until)
{
	struct mw *m = &st->m;
	const struct dns_xfr_zone *a = p->a, *b = p->b;

	if (p->kind == STEP_ZONE) {
		for (; st->i < a->n; st->i++) {
			if (evbuffer_get_length(out) >= until)
				return 0;
			if (!a->rec[st->i].dup && mw_rr(m, a, &a->rec[st->i]))
				return -1;
		}
		return 1;
	}
	/* a minus b, merging the sorted lists */
	for (; st->i < a->n_sorted; st->i++) {
		const struct xrec *ra = &a->rec[a->sorted[st->i]];
		int c = 1;
		if (evbuffer_get_length(out) >= until)
			return 0;
		while (st->j < b->n_sorted &&
		       (c = rec_cmp(a, ra, b, &b->rec[b->sorted[st->j]])) > 0)
			st->j++;
		if (st->j == b->n_sorted)
			c = 1;
		if (c != 0 && mw_rr(m, a, ra))
			return -1;
	}
	return 1;
}

int dns_xfr_stream_next(struct dns_xfr_stream *st, struct evbuffer *out, size_t until)
{
	struct mw *m = &st->m;
	int rc;

	m->out = out;
	while (st->at < st->n_steps) {
		const struct step *p = &st->steps[st->at];
		if (evbuffer_get_length(out) >= until)
			return 0;
		switch (p->kind) {
		case STEP_SOA:
			if (mw_rr(m, p->a, &p->a->soa))
				return -1;
			break;
		case STEP_ZONE:
		case STEP_MINUS:
			rc = step_records(st, p, out, until);
			if (rc <= 0)
				return rc;
			st->i = st->j = 0;
			break;
		case STEP_FLUSH:
			if (mw_flush(m))
				return -1;
			break;
		}
		st->at++;
	}
	return 1;
}

const struct dns_xfr_result *dns_xfr_stream_result(const struct dns_xfr_stream *st)
{
	return &st->res;
}

void dns_xfr_stream_free(struct dns_xfr_stream *st)
{
	if (!st)
		return;
	dns_xfr_zone_free(st->cur);
	dns_xfr_zone_free(st->old);
	free(st->m.buf);
	free(st);
}

int dns_xfr_answer(struct dns_xfr_history *h, const struct dns_table *table, const uint8_t *query,
                   size_t qlen, int allowed, size_t msg_max, struct evbuffer *out,
                   struct dns_xfr_result *res)
{
	struct dns_xfr_stream *st =
	    dns_xfr_stream_start(h, table, query, qlen, allowed, 0, msg_max);
	int rc;

	if (!st)
		return -1;
	rc = dns_xfr_stream_next(st, out, SIZE_MAX) < 0 ? -1 : 0;
	if (res)
		*res = st->res;
	dns_xfr_stream_free(st);
	return rc;
}

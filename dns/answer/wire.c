/* SPDX-License-Identifier: BSD-3-Clause */
/* wire.c: query parsing for the answer path (see wire.h). */
#include "config.h"

#include <string.h>

#include "dns/answer/table_impl.h"
#include "dns/answer/wire.h"

#define NAME_MAX_HOPS 64

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Reads the uncompressed question name at query[12], lowercasing it into q
 * and hashing it on the way (one pass instead of two: dns_name_hash's FNV-1a,
 * byte for byte). */
static int parse_qname(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	size_t p = 12;
	uint32_t h = DNS_NAME_HASH_INIT;
	for (;;) {
		uint8_t c;
		if (p >= len)
			return -1;
		c = pkt[p];
		if (c > 63) /* compression pointer or extended label type */
			return -1;
		if (p - 12 + 1 + c > 255 || p + 1 + c > len)
			return -1;
		q->lname[p - 12] = c;
		h = (h ^ c) * DNS_NAME_HASH_PRIME;
		for (size_t i = 1; i <= c; i++) {
			uint8_t ch = pkt[p + i];
			ch = (uint8_t)(ch + ((uint8_t)(ch - 'A') < 26 ? 32 : 0));
			q->lname[p - 12 + i] = ch;
			h = (h ^ ch) * DNS_NAME_HASH_PRIME;
		}
		p += 1 + (size_t)c;
		if (c == 0)
			break;
	}
	q->qname_len = p - 12;
	q->lname_hash = h;
	return 0;
}

/* Skips a possibly compressed name at *pos. Pointers may only point
 * backwards of themselves and are followed at most NAME_MAX_HOPS times, and
 * the name may not grow past 255 octets, so loops end. */
static int skip_name(const uint8_t *pkt, size_t len, size_t *pos, int *is_root)
{
	size_t p = *pos, end = 0, total = 0;
	int hops = 0;
	for (;;) {
		uint8_t c;
		if (p >= len)
			return -1;
		c = pkt[p];
		if (c == 0) {
			if (!hops)
				end = p + 1;
			break;
		}
		if ((c & 0xC0) == 0xC0) {
			size_t target;
			if (p + 1 >= len)
				return -1;
			target = (size_t)(c & 0x3F) << 8 | pkt[p + 1];
			if (target >= p || ++hops > NAME_MAX_HOPS)
				return -1;
			if (hops == 1)
				end = p + 2;
			p = target;
			continue;
		}
		if (c & 0xC0)
			return -1;
		total += (size_t)c + 1;
		if (total > 254)
			return -1;
		p += (size_t)c + 1;
	}
	*is_root = total == 0;
	*pos = end;
	return 0;
}

/* One EDNS Client Subnet option (RFC 7871 6): FAMILY, SOURCE and SCOPE
 * PREFIX-LENGTH, then ADDRESS cut to the source prefix; 0 or -1 malformed.
 * The query's SCOPE is ignored (it should be 0): the reply sets its own. */
static int parse_ecs(const uint8_t *o, size_t len, struct dns_query *q)
{
	uint16_t family;
	uint8_t source;
	size_t alen;

	if (q->ecs || len < 4)
		return -1;
	family = get16(o);
	source = o[2];
	alen = len - 4;
	if ((family != 1 || source > 32) && (family != 2 || source > 128))
		return -1;
	if (alen != ((size_t)source + 7) / 8)
		return -1;
	/* bits past the prefix in its last octet must be zero */
	if (source % 8 && (o[4 + alen - 1] & (0xFF >> (source % 8))))
		return -1;
	memset(q->ecs_addr, 0, sizeof(q->ecs_addr));
	memcpy(q->ecs_addr, o + 4, alen);
	q->ecs_family = family;
	q->ecs_source = source;
	q->ecs = 1;
	return 0;
}

/* OPT rdata: a run of {code, length, data} options filling it exactly;
 * Client Subnet is read, the others skipped. Apart from the walk of the
 * records (cold): most queries carry no option. */
__attribute__((cold, noinline)) static int opt_options_ok(const uint8_t *rd, size_t rdlen,
                                                          struct dns_query *q)
{
	size_t p = 0;
	while (p < rdlen) {
		size_t olen;

		if (rdlen - p < 4)
			return 0;
		olen = get16(rd + p + 2);
		if (olen > rdlen - p - 4)
			return 0;
		if (get16(rd + p) == DNS_OPT_ECS && parse_ecs(rd + p + 4, olen, q))
			return 0;
		p += 4 + olen;
	}
	return p == rdlen;
}

/* Walks every record after the question: bounds, OPT placement and count. */
static int parse_records(const uint8_t *pkt, size_t len, size_t pos, unsigned an_ns, unsigned ar,
                         struct dns_query *q)
{
	int opts = 0;
	for (unsigned i = 0; i < an_ns + ar; i++) {
		int root;
		uint16_t type, rdlen;
		if (skip_name(pkt, len, &pos, &root) || len - pos < 10)
			return -1;
		type = get16(pkt + pos);
		rdlen = get16(pkt + pos + 8);
		if (len - pos - 10 < rdlen)
			return -1;
		if (type == DNS_T_OPT) {
			const uint8_t *h = pkt + pos;
			if (i < an_ns || !root || opts++ ||
			    (rdlen && !opt_options_ok(pkt + pos + 10, rdlen, q)))
				return -1;
			q->edns = 1;
			q->edns_size = get16(h + 2);
			q->edns_version = h[5];
			q->edns_do = (h[6] & 0x80) != 0;
		}
		pos += 10 + (size_t)rdlen;
	}
	return 0; /* trailing bytes after the last record are ignored */
}

enum dns_parse_result dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	unsigned qd, an, ns, ar;
	int bad = 0;

	memset(q, 0, offsetof(struct dns_query, lname));
	if (len < 12 || (pkt[2] & 0x80))
		return DNS_PARSE_DROP;
	q->id = get16(pkt);
	q->opcode = (pkt[2] >> 3) & 0x0F;
	/* past the header, the layout and the flags belong to the opcode: for
	 * one we do not implement, nothing more is read (RFC 8906 3.1.4) */
	if (q->opcode != 0)
		return DNS_PARSE_NOTIMP;
	q->rd = pkt[2] & 0x01;
	q->cd = (pkt[3] & 0x10) != 0;
	qd = get16(pkt + 4);
	an = get16(pkt + 6);
	ns = get16(pkt + 8);
	ar = get16(pkt + 10);

	if (qd != 1 || parse_qname(pkt, len, q) || len - 12 - q->qname_len < 4) {
		bad = 1;
	} else {
		const uint8_t *t = pkt + 12 + q->qname_len;
		q->question_ok = 1;
		q->qtype = get16(t);
		q->qclass = get16(t + 2);
		if (q->qtype == DNS_T_OPT)
			bad = 1;
		/* answer and authority records are walked and skipped: an IXFR
		 * query carries the client's SOA in authority (RFC 1995 3). The
		 * walk goes on after a bad question type, so a FORMERR can still
		 * carry an OPT when the query had one */
		if (parse_records(pkt, len, 12 + q->qname_len + 4, an + ns, ar, q))
			bad = 1;
	}
	return bad ? DNS_PARSE_FORMERR : DNS_PARSE_OK;
}

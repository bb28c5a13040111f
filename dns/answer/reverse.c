/* SPDX-License-Identifier: BSD-3-Clause */
/* reverse.c: server.reverse in the answer table (README "More answers"): a
 * zone per prefix, 2.0.192.in-addr.arpa. for 192.0.2.0/24, with the service
 * zone's SOA (and its serial, patched on the way out) and NS, and a PTR from
 * every instance address inside one to the instance's name. Names there
 * that no instance uses are NXDOMAIN; reverse names outside every prefix
 * are in no zone of ours (REFUSED, or forwarded). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dns/answer/name.h"
#include "dns/answer/table_build.h"
#include "dns/answer/wire.h"
#include "registry/registry.h"

static const uint8_t in_addr_arpa[] = "\7in-addr\4arpa";
static const uint8_t ip6_arpa[] = "\3ip6\4arpa";

/* The reverse name of the first len bits (a multiple of 8 for IPv4, of 4
 * for IPv6) of a, as lowercase wire: its length. */
static size_t reverse_name(const struct reg_addr *a, unsigned len, uint8_t *out)
{
	const uint8_t *bytes =
	    a->family == AF_INET ? (const uint8_t *)&a->u.v4 : (const uint8_t *)&a->u.v6;
	size_t n = 0;

	if (a->family == AF_INET) {
		for (unsigned i = len / 8; i-- > 0;) {
			int w = snprintf((char *)out + n + 1, 4, "%u", bytes[i]);

			out[n] = (uint8_t)w;
			n += 1 + (size_t)w;
		}
		memcpy(out + n, in_addr_arpa, sizeof(in_addr_arpa));
		return n + sizeof(in_addr_arpa);
	}
	for (unsigned i = len / 4; i-- > 0;) {
		unsigned nib = i % 2 ? bytes[i / 2] & 0x0F : bytes[i / 2] >> 4;

		out[n++] = 1;
		out[n++] = (uint8_t) "0123456789abcdef"[nib];
	}
	memcpy(out + n, ip6_arpa, sizeof(ip6_arpa));
	return n + sizeof(ip6_arpa);
}

int tb_build_reverse_zones(struct builder *b, const struct registry *reg, uint32_t serial)
{
	struct dns_table *t = b->t;
	const struct reg_soa *soa = &reg->server.soa;
	uint8_t apex[256], body[600], name[256];
	size_t spos, nspos, blen, alen;
	uint32_t ttl = soa->ttl < soa->minimum ? soa->ttl : soa->minimum;

	for (size_t i = 0; i < reg->server.n_reverse; i++) {
		const char *text = reg->server.reverse[i];
		struct reg_addr a;
		unsigned len;
		uint32_t node;
		size_t z = t->n_zones;

		if (registry_reverse_prefix(text, &a, &len) < 0)
			return tb_fail(b, "server.reverse: \"%s\" is not a prefix", text);
		alen = reverse_name(&a, len, apex);
		for (size_t k = 0; k < t->n_zones; k++)
			if (t->zones[k].apex_len == alen &&
			    !memcmp(t->blob + t->zones[k].apex_off, apex, alen))
				return tb_fail(b, "server.reverse: %s's zone is also a zone file's",
				               text);
		/* the negative answers' SOA: TTL min(ttl, minimum), as the service zone's */
		blen = tb_soa_body(soa, serial, ttl, body, &nspos);
		if (!blen || tb_zone_add(b, apex, alen, body, blen))
			return blen ? -1
			            : tb_fail(b, "server.soa names are not valid domain names");
		t->zones[z].serial_pos = (uint16_t)nspos;
		t->zones[z].reverse = 1;
		b->n_reverse++;
		if (tb_node_get(b, apex, alen, &node))
			return -1;
		blen = tb_soa_body(soa, serial, soa->ttl, body, &spos);
		if (tb_own_rr(b, node, body, blen))
			return -1;
		for (size_t k = 0; k < reg->server.n_ns; k++) {
			size_t nl = dns_name_from_text(reg->server.ns[k], name);

			if (!nl)
				return tb_fail(b, "server.ns: %s is not a domain name",
				               reg->server.ns[k]);
			dns_body_head(body, DNS_T_NS, DNS_C_IN, soa->ttl, (uint16_t)nl);
			memcpy(body + 10, name, nl);
			if (tb_own_rr(b, node, body, 10 + nl))
				return -1;
		}
	}
	return 0;
}

int tb_build_ptr(struct builder *b, const struct reg_service *s, const struct reg_instance *in,
                 const uint8_t *name, size_t nl)
{
	struct dns_table *t = b->t;
	uint8_t rev[256], body[10 + 256];
	size_t n;
	const struct reg_addr *a = registry_addrs(in, &n);

	dns_body_head(body, DNS_T_PTR, DNS_C_IN, s->ttl, (uint16_t)nl);
	memcpy(body + 10, name, nl);
	/* every address of a dual-stack instance */
	for (size_t k = 0; k < n; k++) {
		size_t rl = reverse_name(&a[k], a[k].family == AF_INET ? 32 : 128, rev);
		uint32_t zone = tb_zone_for(t, rev, rl), node;

		if (zone == DNS_NO_INDEX || !t->zones[zone].reverse)
			continue;
		if (tb_node_get(b, rev, rl, &node) || tb_own_rr(b, node, body, 10 + nl))
			return -1;
	}
	return 0;
}

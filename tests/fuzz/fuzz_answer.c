/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_answer.c: libFuzzer target of the whole answer path: query bytes to
 * dns_answer() over UDP and TCP against the fixed registry (fuzz_util.c),
 * checking each response against properties derived from the query alone:
 * it parses with ldns, it is a response to this query (QR, ID, opcode), it
 * echoes a well-formed question byte for byte (README "Names and answers": the client's case),
 * it fits the transport's limit, and responses are never answered. An
 * opcode other than QUERY gets exactly a bare NOTIMP header. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns/answer/answer.h"
#include "tests/fuzz/fuzz_util.h"

#define T_OPT 41

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Wire length of an uncompressed question name at q[12] (labels of at most
 * 63 octets, 255 in all), or 0 if there is none: what the README calls a question
 * that parsed. */
static size_t question_name_len(const uint8_t *q, size_t len)
{
	size_t p = 12;

	for (;;) {
		if (p >= len || q[p] > 63 || p - 12 + 1 + q[p] > 255 || p + 1 + q[p] > len)
			return 0;
		if (q[p] == 0)
			return p + 1 - 12;
		p += 1 + (size_t)q[p];
	}
}

/* The largest response the query may get over UDP: 512 without EDNS; with
 * it, the client's size capped by edns_udp_size, never below 512. Where ldns
 * cannot read the query, only the cap is known. */
static size_t udp_limit(const uint8_t *q, size_t len, int resp_has_opt)
{
	ldns_pkt *pkt = NULL;
	size_t lim = FUZZ_EDNS_UDP_SIZE;

	if (!resp_has_opt)
		return DNS_MAX_UDP_PLAIN;
	if (ldns_wire2pkt(&pkt, q, len) == LDNS_STATUS_OK && ldns_pkt_edns(pkt) &&
	    ldns_pkt_edns_udp_size(pkt) < lim)
		lim = ldns_pkt_edns_udp_size(pkt);
	ldns_pkt_free(pkt);
	return lim < DNS_MAX_UDP_PLAIN ? DNS_MAX_UDP_PLAIN : lim;
}

/* 1 if the response's additional section holds an OPT record. */
static int has_opt(const ldns_pkt *p)
{
	/* ldns lifts a single OPT out of the additional section into the
	 * packet's EDNS fields */
	return ldns_pkt_edns(p) || ldns_pkt_edns_udp_size(p) != 0;
}

static void check(const uint8_t *q, size_t qlen, enum dns_transport tr, const uint8_t *r,
                  size_t rlen)
{
	const char *tname = tr == DNS_TCP ? "tcp" : "udp";
	ldns_pkt *p = NULL;
	ldns_status st;
	size_t nl, lim;

	if (qlen < 12 || (q[2] & 0x80)) {
		if (rlen)
			fuzz_fail("%s: answered a %s", tname,
			          qlen < 12 ? "short packet" : "response");
		return;
	}
	if (rlen == 0)
		return; /* dropping is allowed (e.g. _ready before the table is) */
	if (rlen < 12)
		fuzz_fail("%s: response of %zu bytes", tname, rlen);
	if (get16(r) != get16(q))
		fuzz_fail("%s: ID %04x, query %04x", tname, get16(r), get16(q));
	if (!(r[2] & 0x80))
		fuzz_fail("%s: QR=0", tname);
	if (((r[2] >> 3) & 0x0F) != ((q[2] >> 3) & 0x0F))
		fuzz_fail("%s: opcode not echoed", tname);
	if (q[2] & 0x78) {
		/* not QUERY: ID, QR, opcode and NOTIMP, nothing else (answer.c) */
		static const uint8_t zero[8];

		if (rlen != 12 || r[2] != (0x80 | (q[2] & 0x78)) || r[3] != 4 ||
		    memcmp(r + 4, zero, 8) != 0)
			fuzz_fail("%s: opcode %u: not a bare NOTIMP header (%zu bytes, flags "
			          "%02x%02x)",
			          tname, (q[2] >> 3) & 0x0F, rlen, r[2], r[3]);
		return;
	}
	if ((r[2] & 1) != (q[2] & 1))
		fuzz_fail("%s: RD not copied", tname);
	nl = get16(q + 4) == 1 ? question_name_len(q, qlen) : 0;
	if (nl && qlen - 12 - nl >= 4) {
		if (get16(r + 4) != 1 || rlen < 12 + nl + 4 || memcmp(r + 12, q + 12, nl + 4) != 0)
			fuzz_fail("%s: question not echoed byte for byte", tname);
	} else if (get16(r + 4) != 0) {
		fuzz_fail("%s: QDCOUNT %u for a query without a question", tname, get16(r + 4));
	} else if ((r[3] & 0x0F) != 1 && (r[3] & 0x0F) != 4) {
		fuzz_fail("%s: rcode %u for a query without a question", tname, r[3] & 0x0F);
	}
	st = ldns_wire2pkt(&p, r, rlen);
	if (st != LDNS_STATUS_OK)
		fuzz_fail("%s: response does not parse: %s", tname, ldns_get_errorstr_by_id(st));
	lim = tr == DNS_TCP ? DNS_MAX_MSG : udp_limit(q, qlen, has_opt(p));
	ldns_pkt_free(p);
	if (rlen > lim)
		fuzz_fail("%s: %zu bytes, limit %zu", tname, rlen, lim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *out;
	/* a copy of exactly size bytes, so ASan sees any read past the query */
	uint8_t *q = malloc(size ? size : 1);
	size_t n;

	if (!out)
		out = malloc(DNS_MAX_MSG);
	if (!q || !out)
		fuzz_fail("out of memory");
	memcpy(q, data, size);
	for (int tr = DNS_UDP; tr <= DNS_TCP; tr++) {
		/* TCP from a client in site east (locality), UDP from nobody known */
		struct sockaddr_in east = {.sin_family = AF_INET,
		                           .sin_addr.s_addr = htonl(0x0A010203)};

		memset(out, 0xA5, DNS_MAX_MSG);
		n = dns_answer_client(fuzz_ctx(), fuzz_table(), q, size, (enum dns_transport)tr,
		                      tr == DNS_TCP ? (const struct sockaddr *)&east : NULL, out,
		                      DNS_MAX_MSG, NULL);
		check(q, size, (enum dns_transport)tr, out, n);
	}
	free(q);
	return 0;
}

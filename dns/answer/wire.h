/* SPDX-License-Identifier: BSD-3-Clause */
/* wire.h: parsing of DNS queries straight from the packet, for the answer
 * path (no allocation, every read bounds-checked). Private to dns/. */
#ifndef SRVD_DNS_WIRE_H
#define SRVD_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum dns_parse_result {
	DNS_PARSE_OK = 0,
	DNS_PARSE_DROP,    /* too short or a response: no reply at all */
	DNS_PARSE_FORMERR, /* malformed */
	DNS_PARSE_NOTIMP,  /* opcode other than QUERY: only id and opcode are read */
};

/* What the answer path needs from a query. */
struct dns_query {
	uint16_t id;
	uint8_t opcode;
	uint8_t rd, cd;
	uint8_t question_ok; /* the question parsed: it can be echoed */
	uint8_t edns;        /* a well-formed OPT record was found in additional */
	uint8_t edns_version;
	uint8_t edns_do;
	uint8_t ecs; /* a well-formed EDNS Client Subnet option (RFC 7871): ecs_* below */
	uint16_t edns_size;
	uint16_t qtype, qclass;
	size_t qname_len;    /* wire length of the question name, root included */
	uint32_t lname_hash; /* dns_name_hash(lname, qname_len), computed while parsing */
	uint8_t lname[256];  /* the question name, lowercased */
	/* with ecs (not cleared otherwise): FAMILY (1 IPv4, 2 IPv6), SOURCE
	 * PREFIX-LENGTH, and ADDRESS padded with zeros to 16 bytes */
	uint16_t ecs_family;
	uint8_t ecs_source;
	uint8_t ecs_addr[16];
};

#define DNS_OPT_ECS 8 /* EDNS Client Subnet option code (RFC 7871) */

/* Parses query (qlen bytes) into q. The question is accepted only without
 * compression pointers; names in other records may use pointers, which must
 * point backwards and are followed a bounded number of times. An EDNS Client
 * Subnet option with an unknown family, a source prefix longer than the
 * family's, an ADDRESS of another length than the prefix needs, bits set
 * past the prefix, or a second one is malformed (FORMERR, RFC 7871 7.1). */
enum dns_parse_result dns_query_parse(const uint8_t *query, size_t qlen, struct dns_query *q);

#endif

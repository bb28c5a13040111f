/* SPDX-License-Identifier: BSD-3-Clause */
/* answer.h: the answer path, a pure function from query bytes and a table to
 * response bytes (README "Layout": answer logic never touches a socket). It never touches a socket
 * and does not allocate: everything per query lives in the caller's buffers and in a per-worker
 * struct dns_ctx. */
#ifndef SRVD_DNS_ANSWER_H
#define SRVD_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dns_table;

#define DNS_MAX_UDP_PLAIN 512   /* UDP answer limit without EDNS */
#define DNS_MAX_MSG       65535 /* TCP answer limit, and the size of `out` to pass */

enum dns_transport { DNS_UDP = 0, DNS_TCP };

/* What happened to one query, for logs and counters. */
struct dns_answer_info {
	uint16_t qtype; /* 0 if the question did not parse */
	uint16_t qclass;
	uint16_t rcode; /* extended rcode (e.g. 16 for BADVERS) */
	uint8_t truncated;
	uint8_t edns; /* the query had an OPT record */
	/* the name is outside every served zone (the answer is REFUSED): a
	 * server with server.forward relays the query instead */
	uint8_t forward;
};

/* Per-worker state: random generator and scratch space. One per thread. */
struct dns_ctx;

/* Creates a context whose random generator is seeded with seed (0: from
 * getrandom). Returns NULL on out of memory. Caller frees with
 * dns_ctx_free(), which accepts NULL. */
struct dns_ctx *dns_ctx_create(uint64_t seed);
void dns_ctx_free(struct dns_ctx *ctx);

/* Answers one query. Borrows everything for the call only. Writes the
 * response into out (outcap bytes; pass DNS_MAX_MSG) and returns its length,
 * or returns 0 when the query must be dropped (responses, packets too short
 * to carry an ID). The size limit is 512 bytes for UDP without EDNS, the
 * smaller of the client's EDNS size and server.edns_udp_size for UDP with
 * EDNS, and 65535 for TCP. info may be NULL. */
size_t dns_answer(struct dns_ctx *ctx, const struct dns_table *table, const uint8_t *query,
                  size_t qlen, enum dns_transport transport, uint8_t *out, size_t outcap,
                  struct dns_answer_info *info);

/* As dns_answer(), for a query whose source address is client (AF_INET or
 * AF_INET6, IPv4-mapped IPv6 read as IPv4; NULL: unknown): the answers that
 * depend on who asks (locality, policy hashed) use the query's EDNS Client
 * Subnet option when it has one (RFC 7871, echoed with the scope prefix
 * length the answer depended on), else client. Borrows client for the call. */
size_t dns_answer_client(struct dns_ctx *ctx, const struct dns_table *table, const uint8_t *query,
                         size_t qlen, enum dns_transport transport, const struct sockaddr *client,
                         uint8_t *out, size_t outcap, struct dns_answer_info *info);

#endif

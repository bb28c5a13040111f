/* SPDX-License-Identifier: BSD-3-Clause */
/* rrl.h: response rate limiting (server.rrl), per client prefix, NSD/Knot style.
 *
 * A struct dns_rrl is one worker's table of table_size buckets (rounded up
 * to a power of two), each counting the responses sent to one client prefix
 * (IPv4 /ipv4_prefix, IPv6 /ipv6_prefix) in the current second. The bucket
 * of a prefix is chosen by a hash keyed with a random secret, so a client
 * cannot aim its prefixes at one bucket. Two prefixes sharing a bucket take
 * it over from each other (as NSD does): the table never grows and a
 * decision never allocates. Time is passed in, so tests drive it.
 *
 * Within a second the first `rate` responses to a prefix go out; each
 * further one is limited: the slip-th, 2*slip-th, ... limited response is
 * sent truncated (dns_rrl_truncate(): TC=1, question only, so a real client
 * retries over TCP, which is never limited), the others are dropped. slip 0
 * drops every limited response, slip 1 truncates every one. Every response
 * counts, errors and NXDOMAIN included (simplest; Knot and NSD class them
 * separately).
 */
#ifndef SRVD_DNS_RRL_H
#define SRVD_DNS_RRL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The settings, as server.rrl (registry.h struct reg_rrl) has them. */
struct dns_rrl_config {
	uint32_t rate;        /* responses per second per prefix; 0 = off */
	uint32_t slip;        /* every slip-th limited response is truncated; 0 = none */
	uint32_t ipv4_prefix; /* 0..32 */
	uint32_t ipv6_prefix; /* 0..128 */
	uint32_t table_size;  /* buckets (rounded up to a power of two, at least 1) */
};

enum dns_rrl_action {
	DNS_RRL_SEND = 0, /* under the rate: send as is */
	DNS_RRL_SLIP,     /* limited: send truncated (dns_rrl_truncate()) */
	DNS_RRL_DROP,     /* limited: send nothing */
};

struct dns_rrl;

/* Creates a table for cfg (copied). seed keys the hash (0: from getrandom,
 * as a daemon should; tests pass a constant). Returns NULL on out of memory
 * or a table_size above 2^24. Caller frees with dns_rrl_free(). */
struct dns_rrl *dns_rrl_create(const struct dns_rrl_config *cfg, uint64_t seed);

/* Frees a table; accepts NULL. */
void dns_rrl_free(struct dns_rrl *rrl);

/* The settings the table was created with. */
const struct dns_rrl_config *dns_rrl_config(const struct dns_rrl *rrl);

/* Accounts one response to client (AF_INET or AF_INET6; any other family
 * is sent) at now_s, whole seconds of any monotonic clock, and says what
 * to do with it. With rate 0 everything is sent. Borrows client; allocates
 * nothing. One thread per table. */
enum dns_rrl_action dns_rrl_decide(struct dns_rrl *rrl, const struct sockaddr *client,
                                   uint32_t now_s);

/* Turns the len-byte response in msg into its slipped form in place: TC=1,
 * answer, authority and additional emptied, question kept (the first one
 * only, as srvd's responses carry at most one). Returns the new length, or
 * 0 if msg is too short to carry a header or its question is malformed. */
size_t dns_rrl_truncate(uint8_t *msg, size_t len);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* stats.h: per-worker query counters for /metrics: queries by transport and
 * qtype, malformed queries, and a histogram of the time spent in dns_answer().
 *
 * Each worker owns one struct dns_stats_worker and is its only writer
 * (relaxed atomic load+store, no locked instruction on the hot path); any
 * thread may sum them into a struct dns_stats with dns_server_query_stats().
 */
#ifndef SRVD_DNS_STATS_H
#define SRVD_DNS_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/answer/answer.h"

struct dns_server;

/* qtype buckets, in this order: A, AAAA, SRV, SOA, NS, TXT, ANY, other */
#define DNS_STATS_QTYPES 8
/* upper bounds of the latency histogram, plus one +Inf bucket */
#define DNS_STATS_BUCKETS 12

struct dns_stats_worker {
	_Atomic uint64_t queries[2][DNS_STATS_QTYPES]; /* [enum dns_transport][qtype bucket] */
	_Atomic uint64_t malformed;
	_Atomic uint64_t answer_ns_sum;
	_Atomic uint64_t answer_bucket[DNS_STATS_BUCKETS + 1]; /* not cumulative */
};

/* A plain snapshot, summed over workers. */
struct dns_stats {
	uint64_t queries[2][DNS_STATS_QTYPES];
	uint64_t malformed; /* answered FORMERR, or dropped before the question parsed */
	uint64_t answer_ns_sum;
	uint64_t answer_bucket[DNS_STATS_BUCKETS + 1]; /* not cumulative; last = +Inf */
};

/* Upper bounds of the histogram buckets in nanoseconds (DNS_STATS_BUCKETS of them). */
extern const uint64_t dns_stats_bucket_ns[DNS_STATS_BUCKETS];

/* The bucket of a qtype, and a bucket's name ("A", ..., "ANY", "other"). */
unsigned dns_stats_qtype_index(uint16_t qtype);
const char *dns_stats_qtype_name(unsigned index);

/* Monotonic clock in nanoseconds (vDSO: cheap enough per query). */
uint64_t dns_stats_now_ns(void);

/* Accounts one query of qlen bytes that went through dns_answer() (len =
 * its result, ns = the time it took), or, with info NULL, one that was
 * dropped before (a datagram larger than the receive buffer). A query is
 * malformed when it was answered FORMERR or too short for a header: a
 * response (QR=1) that is dropped is not. Writer: the owning worker only. */
void dns_stats_record(struct dns_stats_worker *w, enum dns_transport transport,
                      const struct dns_answer_info *info, size_t qlen, size_t len, uint64_t ns);

/* Adds the counters of w to sum. Any thread. */
void dns_stats_add(struct dns_stats *sum, const struct dns_stats_worker *w);

/* Sums the query counters of every worker of srv into *out (zeroed first). */
void dns_server_query_stats(const struct dns_server *srv, struct dns_stats *out);

#endif

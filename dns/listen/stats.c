/* SPDX-License-Identifier: BSD-3-Clause */
/* stats.c: per-worker query counters and the answer latency histogram. */
#include "config.h"

#include "dns/listen/stats.h"

#include <string.h>
#include <time.h>

#include "dns/listen/server_int.h"

#define RCODE_FORMERR  1
#define DNS_HEADER_LEN 12

/* 1 us .. 10 ms: dns_answer() normally takes a few microseconds, so the low
 * end is fine-grained; anything past 10 ms means the worker was descheduled. */
const uint64_t dns_stats_bucket_ns[DNS_STATS_BUCKETS] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000,
};

static const char *const qtype_names[DNS_STATS_QTYPES] = {"A",  "AAAA", "SRV", "SOA",
                                                          "NS", "TXT",  "ANY", "other"};

unsigned dns_stats_qtype_index(uint16_t qtype)
{
	switch (qtype) {
	case 1:
		return 0;
	case 28:
		return 1;
	case 33:
		return 2;
	case 6:
		return 3;
	case 2:
		return 4;
	case 16:
		return 5;
	case 255:
		return 6;
	default:
		return 7;
	}
}

const char *dns_stats_qtype_name(unsigned index)
{
	return index < DNS_STATS_QTYPES ? qtype_names[index] : "other";
}

uint64_t dns_stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dns_stats_record(struct dns_stats_worker *w, enum dns_transport transport,
                      const struct dns_answer_info *info, size_t qlen, size_t len, uint64_t ns)
{
	unsigned t = transport == DNS_TCP ? 1 : 0, b = 0;

	if (!info) {
		CNT_INC(w->queries[t][DNS_STATS_QTYPES - 1]);
		CNT_INC(w->malformed);
		return;
	}
	CNT_INC(w->queries[t][dns_stats_qtype_index(info->qtype)]);
	if ((len > 0 && info->rcode == RCODE_FORMERR) || (len == 0 && qlen < DNS_HEADER_LEN))
		CNT_INC(w->malformed);
	while (b < DNS_STATS_BUCKETS && ns > dns_stats_bucket_ns[b])
		b++;
	CNT_INC(w->answer_bucket[b]);
	CNT_ADD(w->answer_ns_sum, ns);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void dns_stats_add(struct dns_stats *sum, const struct dns_stats_worker *w)
{
	for (unsigned t = 0; t < 2; t++)
		for (unsigned q = 0; q < DNS_STATS_QTYPES; q++)
			sum->queries[t][q] += LOAD(w->queries[t][q]);
	sum->malformed += LOAD(w->malformed);
	sum->answer_ns_sum += LOAD(w->answer_ns_sum);
	for (unsigned b = 0; b <= DNS_STATS_BUCKETS; b++)
		sum->answer_bucket[b] += LOAD(w->answer_bucket[b]);
}

void dns_server_query_stats(const struct dns_server *srv, struct dns_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < srv->n_workers; i++)
		dns_stats_add(out, &srv->workers[i].qstats);
}

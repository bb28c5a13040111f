/* SPDX-License-Identifier: BSD-3-Clause */
/* bench_answer.c: answers per second of dns_answer() for an A query on the
 * example registry, one thread (a measurement, not a test). Usage:
 * bench_answer [REGISTRY [NAME [SECONDS]]]. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ldns/ldns.h>

#include "dns/answer/answer.h"
#include "dns/answer/table.h"
#include "registry/registry.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *file = argc > 1 ? argv[1] : SRCDIR "/zones/example.yaml";
	const char *name = argc > 2 ? argv[2] : "web.svc.example.";
	double secs = argc > 3 ? atof(argv[3]) : 2.0, start, el;
	struct registry *reg = NULL;
	struct reg_errors errs = {0};
	struct dns_table *t = NULL;
	struct dns_ctx *ctx = dns_ctx_create(1);
	static uint8_t out[DNS_MAX_MSG];
	uint8_t *wire = NULL;
	size_t wlen = 0, total = 0;
	unsigned long n = 0;
	char err[256];
	ldns_pkt *q;

	if (registry_load_file(file, &reg, &errs)) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		return 1;
	}
	if (dns_table_build(reg, 1, &t, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	q = ldns_pkt_query_new(ldns_dname_new_frm_str(name), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
	                       LDNS_RD);
	ldns_pkt_set_edns_udp_size(q, 1232);
	ldns_pkt2wire(&wire, q, &wlen);
	start = now();
	do {
		for (int i = 0; i < 10000; i++)
			total += dns_answer(ctx, t, wire, wlen, DNS_UDP, out, sizeof(out), NULL);
		n += 10000;
		el = now() - start;
	} while (el < secs);
	printf("%s A: %lu answers in %.2f s: %.0f answers/s (%zu bytes each)\n", name, n, el,
	       (double)n / el, total / n);
	free(wire);
	ldns_pkt_free(q);
	dns_table_free(t);
	dns_ctx_free(ctx);
	registry_free(reg);
	return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* loadtime.c: times a registry's load and table build and prints peak RSS;
 * optionally answers a query file through dns_answer() (for callgrind).
 *
 * Usage: loadtime REGISTRY [QUERIES [REPEAT]]
 * QUERIES is a dnsperf file ("NAME TYPE" per line); each query is encoded
 * once, then answered REPEAT times (default 1) inside answer_all(), the one
 * function callgrind.sh counts with --toggle-collect. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "dns/answer/answer.h"
#include "dns/answer/table.h"
#include "common/state.h"
#include "registry/registry.h"

struct query {
	uint8_t *wire;
	size_t len;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU seconds of this process: wall time on a busy machine includes waits. */
static double cpu(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

/* VmHWM from /proc/self/status in KiB, or 0. */
static long peak_rss_kib(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kib = 0;

	while (fp && fgets(line, sizeof(line), fp))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (fp)
		fclose(fp);
	return kib;
}

/* Reads "NAME TYPE" lines into *out (caller frees each wire and the array). */
static size_t read_queries(const char *file, struct query **out)
{
	FILE *fp = fopen(file, "r");
	char line[512], name[300], type[32];
	struct query *v = NULL;
	size_t n = 0, cap = 0;

	while (fp && fgets(line, sizeof(line), fp)) {
		ldns_rdf *owner;
		ldns_pkt *q;

		if (sscanf(line, "%299s %31s", name, type) != 2)
			continue;
		owner = ldns_dname_new_frm_str(name);
		if (!owner)
			continue;
		q = ldns_pkt_query_new(owner, ldns_get_rr_type_by_name(type), LDNS_RR_CLASS_IN, 0);
		if (!q)
			continue;
		ldns_pkt_set_id(q, (uint16_t)n);
		ldns_pkt_set_edns_udp_size(q, 1232);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				abort();
		}
		if (ldns_pkt2wire(&v[n].wire, q, &v[n].len) == LDNS_STATUS_OK)
			n++;
		ldns_pkt_free(q);
	}
	if (fp)
		fclose(fp);
	*out = v;
	return n;
}

/* Kept out of line: callgrind.sh counts only this function's instructions. */
__attribute__((noinline)) size_t answer_all(struct dns_ctx *ctx, const struct dns_table *t,
                                            const struct query *q, size_t n, unsigned repeat,
                                            uint8_t *out);
__attribute__((noinline)) size_t answer_all(struct dns_ctx *ctx, const struct dns_table *t,
                                            const struct query *q, size_t n, unsigned repeat,
                                            uint8_t *out)
{
	size_t total = 0;

	for (unsigned r = 0; r < repeat; r++)
		for (size_t i = 0; i < n; i++)
			total += dns_answer(ctx, t, q[i].wire, q[i].len, DNS_UDP, out, DNS_MAX_MSG,
			                    NULL);
	return total;
}

int main(int argc, char **argv)
{
	static uint8_t out[DNS_MAX_MSG];
	struct reg_errors errs = {NULL, 0};
	struct registry *reg = NULL;
	struct dns_table *t = NULL;
	struct dns_ctx *ctx = NULL;
	struct query *q = NULL;
	struct health_inst *hi = NULL;
	struct health_svc *hs = NULL;
	size_t n = 0, services = 0, instances = 0;
	unsigned repeat = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
	double t0, t1, t2, c0, c1, c2;
	char err[256];
	int rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: %s REGISTRY [QUERIES [REPEAT]]\n", argv[0]);
		return 2;
	}
	t0 = now();
	c0 = cpu();
	if (registry_load_file(argv[1], &reg, &errs) < 0) {
		for (size_t i = 0; i < errs.n && i < 10; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		goto done;
	}
	t1 = now();
	c1 = cpu();
	if (dns_table_build(reg, 1, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "build: %s\n", err);
		goto done;
	}
	t2 = now();
	c2 = cpu();
	for (size_t i = 0; i < reg->n_services; i++)
		instances += reg->services[i]->n_instances;
	services = reg->n_services;
	printf("services %zu instances %zu load %.3f s build %.3f s total %.3f s (cpu %.3f + %.3f "
	       "= %.3f s) peak_rss %.1f MiB\n",
	       services, instances, t1 - t0, t2 - t1, t2 - t0, c1 - c0, c2 - c1, c2 - c0,
	       (double)peak_rss_kib() / 1024.0);
	if (argc > 2) {
		size_t bytes;

		n = read_queries(argv[2], &q);
		ctx = dns_ctx_create(1);
		/* as in the daemon: every instance reads its own health state */
		hi = calloc(instances + 1, sizeof(*hi));
		hs = calloc(services + 1, sizeof(*hs));
		for (size_t i = 0; hi && i < instances; i++)
			atomic_init(&hi[i].served, 1);
		if (!n || !ctx || !hi || !hs ||
		    dns_table_bind_state(t, hi, instances, hs, services) < 0) {
			fprintf(stderr, "%s: no queries\n", argv[2]);
			goto done;
		}
		c0 = cpu();
		bytes = answer_all(ctx, t, q, n, repeat, out);
		c1 = cpu();
		printf("queries %zu answered %zu bytes %.0f ns/query (cpu)\n", n * repeat, bytes,
		       (c1 - c0) * 1e9 / (double)(n * repeat));
	}
	rc = 0;
done:
	for (size_t i = 0; i < n; i++)
		free(q[i].wire);
	free(q);
	dns_ctx_free(ctx);
	dns_table_free(t);
	free(hi);
	free(hs);
	registry_free(reg);
	registry_errors_clear(&errs);
	return rc;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* test_noalloc.c: proves the answer path allocates nothing (README "Layout": no allocation on the
 * hot path).
 *
 * Every kind of query is encoded first; then, with counting switched on,
 * each goes through dns_answer() many times and the test asserts that
 * malloc, calloc, realloc, free and friends were called zero times. In a
 * plain build the test defines those functions itself (forwarding to
 * glibc's __libc_* entry points); under ASan, which owns the allocator, it
 * counts through __sanitizer_install_malloc_and_free_hooks() instead. The
 * count must also move when an allocation does happen: the test checks that
 * first, so a broken counter cannot pass. */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <ldns/ldns.h>

#include "dns/answer/answer.h"
#include "dns/answer/table.h"
#include "tests/unit/answer_util.h"
#include "tests/unit/check_main.h"

#include "tests/unit/alloc_count.h"

/* Every instance has a check of type none except in `probed`, whose
 * instances are on 127.0.0.x and whose state the test sets by hand. */
static const char *const yaml =
    "server: {zone: svc.example., max_answers: 8, edns_udp_size: 1232,\n"
    "         identity: test-id, version: test-version, sites: {east: [10.1.0.0/16]},\n"
    "         reverse: [192.0.2.0/24]}\n"
    "zones: [static.zone]\n"
    "defaults: {check: {type: none}}\n"
    "services:\n"
    "  web:\n"
    "    port: 8080\n"
    "    tags: [http]\n"
    "    instances:\n"
    "      - {name: w1, address: 192.0.2.1, tags: [canary]}\n"
    "      - {name: w2, address: 192.0.2.2}\n"
    "      - {name: w3, address: \"2001:db8::3\"}\n"
    "  rnd: {port: 81, policy: random, instances: [{name: r1, address: 192.0.2.11},\n"
    "        {name: r2, address: 192.0.2.12}, {name: r3, address: 192.0.2.13}]}\n"
    "  wgt: {port: 82, policy: weighted, instances: [{name: g1, address: 192.0.2.21, weight: 5},\n"
    "        {name: g2, address: 192.0.2.22, weight: 1}]}\n"
    "  fix: {port: 83, policy: fixed, instances: [{name: f1, address: 192.0.2.31}]}\n"
    "  v4only: {port: 84, instances: [{name: a, address: 192.0.2.41}]}\n"
    "  probed:\n"
    "    port: 85\n"
    "    check: {type: tcp}\n"
    "    panic_threshold: 0.5\n"
    "    instances: [{name: p1, address: 127.0.0.21}, {name: p2, address: 127.0.0.22},\n"
    "                {name: p3, address: 127.0.0.23}]\n"
    "  big:\n"
    "    port: 86\n"
    "    max_answers: 0\n"
    "    instances:\n"
    "      - {name: b00, address: 192.0.2.100}\n      - {name: b01, address: 192.0.2.101}\n"
    "      - {name: b02, address: 192.0.2.102}\n      - {name: b03, address: 192.0.2.103}\n"
    "      - {name: b04, address: 192.0.2.104}\n      - {name: b05, address: 192.0.2.105}\n"
    "      - {name: b06, address: 192.0.2.106}\n      - {name: b07, address: 192.0.2.107}\n"
    "      - {name: b08, address: 192.0.2.108}\n      - {name: b09, address: 192.0.2.109}\n"
    "      - {name: b10, address: 192.0.2.110}\n      - {name: b11, address: 192.0.2.111}\n"
    "      - {name: b12, address: 192.0.2.112}\n      - {name: b13, address: 192.0.2.113}\n"
    "      - {name: b14, address: 192.0.2.114}\n      - {name: b15, address: 192.0.2.115}\n"
    "      - {name: b16, address: 192.0.2.116}\n      - {name: b17, address: 192.0.2.117}\n"
    "      - {name: b18, address: 192.0.2.118}\n      - {name: b19, address: 192.0.2.119}\n"
    "      - {name: b20, address: 192.0.2.120}\n      - {name: b21, address: 192.0.2.121}\n"
    "      - {name: b22, address: 192.0.2.122}\n      - {name: b23, address: 192.0.2.123}\n"
    "      - {name: b24, address: 192.0.2.124}\n      - {name: b25, address: 192.0.2.125}\n"
    "      - {name: b26, address: 192.0.2.126}\n      - {name: b27, address: 192.0.2.127}\n"
    "      - {name: b28, address: 192.0.2.128}\n      - {name: b29, address: 192.0.2.129}\n"
    "      - {name: b30, address: 192.0.2.130}\n      - {name: b31, address: 192.0.2.131}\n"
    "      - {name: b32, address: 192.0.2.132}\n      - {name: b33, address: 192.0.2.133}\n"
    "      - {name: b34, address: 192.0.2.134}\n      - {name: b35, address: 192.0.2.135}\n"
    "      - {name: b36, address: 192.0.2.136}\n      - {name: b37, address: 192.0.2.137}\n"
    "      - {name: b38, address: 192.0.2.138}\n      - {name: b39, address: 192.0.2.139}\n"
    "  feat:\n"
    "    port: 87\n"
    "    policy: hashed\n"
    "    failover: true\n"
    "    ttl_min: 1\n"
    "    locality: prefer\n"
    "    instances: [{name: e1, address: 192.0.2.51, priority: 1},\n"
    "                {name: e2, address: 192.0.2.52, priority: 0, site: east},\n"
    "                {name: e3, address: 192.0.2.53, priority: 0}]\n"
    /* SPEC section 11 (README "More answers") */
    "  dual:\n"
    "    port: 87\n"
    "    ports: {http: 8087}\n"
    "    meta: {version: 1.4.2}\n"
    "    instances:\n"
    "      - {name: d1, address: [192.0.2.51, \"2001:db8::51\"], meta: {commit: ab12cd}}\n"
    "      - {name: d2, address: [\"2001:db8::52\", 192.0.2.51]}\n"
    "  gone: {port: 88, empty: nxdomain}\n";

struct q {
	const char *what;
	uint8_t *wire;
	size_t len;
	enum dns_transport tr;
	uint16_t rcode; /* expected extended rcode */
	int tc;         /* expected TC bit */
};

#define MAX_Q 64
static struct q qs[MAX_Q];
static size_t n_qs;

static void add(const char *what, const char *name, ldns_rr_type type, ldns_rr_class cls, int edns,
                enum dns_transport tr, uint16_t rcode, int tc)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, cls, 0);
	struct q *q = &qs[n_qs++];

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_lt(n_qs, MAX_Q);
	ldns_pkt_set_id(p, (uint16_t)(0x1000 + n_qs));
	if (edns)
		ldns_pkt_set_edns_udp_size(p, (uint16_t)edns);
	ck_assert_int_eq(ldns_pkt2wire(&q->wire, p, &q->len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	q->what = what;
	q->tr = tr;
	q->rcode = rcode;
	q->tc = tc;
}

static void add_raw(const char *what, const uint8_t *bytes, size_t len, uint16_t rcode)
{
	struct q *q = &qs[n_qs++];

	ck_assert_uint_lt(n_qs, MAX_Q);
	q->wire = LDNS_XMALLOC(uint8_t, len);
	ck_assert_ptr_nonnull(q->wire);
	memcpy(q->wire, bytes, len);
	q->len = len;
	q->what = what;
	q->tr = DNS_UDP;
	q->rcode = rcode;
	q->tc = 0;
}

/* A query with an EDNS Client Subnet option (code 8, IPv4 10.1.2.0/24). */
static void add_ecs(const char *what, const char *name)
{
	static const uint8_t ecs[] = {0, 8, 0, 7, 0, 1, 24, 0, 10, 1, 2};
	ldns_pkt *p =
	    ldns_pkt_query_new(ldns_dname_new_frm_str(name), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0);
	struct q *q = &qs[n_qs++];

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_lt(n_qs, MAX_Q);
	ldns_pkt_set_edns_udp_size(p, 1232);
	ldns_pkt_set_edns_data(p, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, sizeof(ecs), ecs));
	ck_assert_int_eq(ldns_pkt2wire(&q->wire, p, &q->len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	q->what = what;
	q->tr = DNS_UDP;
	q->rcode = 0;
	q->tc = 0;
}

static void build_queries(void)
{
	/* header with QDCOUNT 2: FORMERR */
	static const uint8_t two_questions[] = {0x12, 0x34, 0,   0,   0,   2, 0, 0, 0, 0, 0,
	                                        0,    3,    'w', 'e', 'b', 0, 0, 1, 0, 1};
	/* a question cut in the middle of its name: FORMERR */
	static const uint8_t cut[] = {0x12, 0x35, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w'};
	const enum dns_transport U = DNS_UDP, T = DNS_TCP;
	const ldns_rr_class IN = LDNS_RR_CLASS_IN;

	add("A", "web.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("A edns", "web.svc.example.", LDNS_RR_TYPE_A, IN, 1232, U, 0, 0);
	add("A mixed case", "WeB.SvC.eXample.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("AAAA", "web.svc.example.", LDNS_RR_TYPE_AAAA, IN, 0, U, 0, 0);
	add("SRV", "_web._tcp.svc.example.", LDNS_RR_TYPE_SRV, IN, 1232, U, 0, 0);
	add("SRV tcp", "_web._tcp.svc.example.", LDNS_RR_TYPE_SRV, IN, 0, T, 0, 0);
	add("tag A", "http.web.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("tag SRV", "_canary._tcp.web.svc.example.", LDNS_RR_TYPE_SRV, IN, 0, U, 0, 0);
	add("instance A", "w1.web.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("random A", "rnd.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("weighted SRV", "_wgt._tcp.svc.example.", LDNS_RR_TYPE_SRV, IN, 0, U, 0, 0);
	add("fixed A", "fix.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("probed A", "probed.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("NXDOMAIN", "nope.svc.example.", LDNS_RR_TYPE_A, IN, 1232, U, LDNS_RCODE_NXDOMAIN, 0);
	add("NXDOMAIN deep", "a.b.nope.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, LDNS_RCODE_NXDOMAIN,
	    0);
	add("NODATA", "v4only.svc.example.", LDNS_RR_TYPE_AAAA, IN, 0, U, 0, 0);
	add("NODATA MX", "web.svc.example.", LDNS_RR_TYPE_MX, IN, 0, U, 0, 0);
	add("SOA", "svc.example.", LDNS_RR_TYPE_SOA, IN, 0, U, 0, 0);
	add("NS", "svc.example.", LDNS_RR_TYPE_NS, IN, 0, U, 0, 0);
	add("static TXT", "docs.svc.example.", LDNS_RR_TYPE_TXT, IN, 0, U, 0, 0);
	add("static CNAME", "www.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("_health inst", "_health.p1.probed.svc.example.", LDNS_RR_TYPE_TXT, IN, 0, U, 0, 0);
	add("_health svc", "_health.probed.svc.example.", LDNS_RR_TYPE_TXT, IN, 0, U, 0, 0);
	add("_health none", "_health.w1.web.svc.example.", LDNS_RR_TYPE_TXT, IN, 0, U, 0, 0);
	add("_ready", "_ready.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("CH version", "version.server.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, U, 0, 0);
	add("CH id", "id.server.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, U, 0, 0);
	add("outside", "example.org.", LDNS_RR_TYPE_A, IN, 0, U, LDNS_RCODE_REFUSED, 0);
	add("truncated", "big.svc.example.", LDNS_RR_TYPE_SRV, IN, 0, U, 0, 1);
	add("big tcp", "big.svc.example.", LDNS_RR_TYPE_SRV, IN, 0, T, 0, 0);
	add("big edns", "big.svc.example.", LDNS_RR_TYPE_A, IN, 1232, U, 0, 0);
	add("tag pair A", "canary.http.web.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("hashed failover SRV", "feat.svc.example.", LDNS_RR_TYPE_SRV, IN, 0, U, 0, 0);
	add_ecs("hashed failover A ECS", "feat.svc.example.");
	add_ecs("plain A ECS", "web.svc.example.");
	add("dual-stack A", "dual.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, 0, 0);
	add("dual-stack AAAA", "dual.svc.example.", LDNS_RR_TYPE_AAAA, IN, 0, U, 0, 0);
	add("dual-stack SRV", "_dual._tcp.svc.example.", LDNS_RR_TYPE_SRV, IN, 0, U, 0, 0);
	add("named port", "_http._tcp.dual.svc.example.", LDNS_RR_TYPE_SRV, IN, 0, U, 0, 0);
	add("meta TXT", "d1.dual.svc.example.", LDNS_RR_TYPE_TXT, IN, 0, U, 0, 0);
	add("PTR", "51.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, IN, 0, U, 0, 0);
	add("empty: nxdomain", "gone.svc.example.", LDNS_RR_TYPE_A, IN, 0, U, LDNS_RCODE_NXDOMAIN,
	    0);
	add_raw("FORMERR qdcount", two_questions, sizeof(two_questions), LDNS_RCODE_FORMERR);
	add_raw("FORMERR cut", cut, sizeof(cut), LDNS_RCODE_FORMERR);
}

START_TEST(answers_allocate_nothing)
{
	static uint8_t out[DNS_MAX_MSG];
	struct dns_table *t = tu_table(yaml);
	struct tu_health *h = tu_health_bind(t);
	struct dns_ctx *ctx = dns_ctx_create(7);
	struct dns_answer_info info;
	long before;
	void *volatile p; /* or the compiler drops the malloc/free pair */

	ck_assert_ptr_nonnull(ctx);
	tu_health_set(h, 5, 1, 0); /* probed/p2 withdrawn: served set differs */
	dns_table_set_ready(t, 1);
	build_queries();
	counter_install();

	/* the counter itself works */
	atomic_store(&n_alloc, 0);
	atomic_store(&counting, 1);
	p = malloc(32);
	free(p);
	atomic_store(&counting, 0);
	ck_assert_int_eq(atomic_load(&n_alloc), 2);

	/* every answer is what the kind promises, so the loop below covers it */
	for (size_t i = 0; i < n_qs; i++) {
		size_t len =
		    dns_answer(ctx, t, qs[i].wire, qs[i].len, qs[i].tr, out, sizeof(out), &info);

		ck_assert_msg(len >= 12, "%s: no answer", qs[i].what);
		ck_assert_msg(info.rcode == qs[i].rcode, "%s: rcode %u, expected %u", qs[i].what,
		              info.rcode, qs[i].rcode);
		ck_assert_msg(!!(out[2] & 0x02) == qs[i].tc, "%s: TC %d", qs[i].what,
		              !!(out[2] & 0x02));
		if (qs[i].rcode == 0 && strncmp(qs[i].what, "NODATA", 6) != 0 &&
		    strncmp(qs[i].what, "truncated", 9) != 0)
			ck_assert_msg(out[6] || out[7], "%s: empty answer section", qs[i].what);
	}

	before = atomic_load(&n_alloc);
	atomic_store(&counting, 1);
	for (int round = 0; round < 2000; round++)
		for (size_t i = 0; i < n_qs; i++)
			dns_answer(ctx, t, qs[i].wire, qs[i].len, qs[i].tr, out, sizeof(out),
			           &info);
	atomic_store(&counting, 0);
	ck_assert_msg(atomic_load(&n_alloc) == before, "%ld allocator calls in %zu answers",
	              atomic_load(&n_alloc) - before, 2000 * n_qs);

	/* and one kind at a time, so a failure names the culprit */
	for (size_t i = 0; i < n_qs; i++) {
		before = atomic_load(&n_alloc);
		atomic_store(&counting, 1);
		dns_answer(ctx, t, qs[i].wire, qs[i].len, qs[i].tr, out, sizeof(out), NULL);
		atomic_store(&counting, 0);
		ck_assert_msg(atomic_load(&n_alloc) == before, "%s allocates", qs[i].what);
	}

	for (size_t i = 0; i < n_qs; i++)
		LDNS_FREE(qs[i].wire);
	n_qs = 0;
	dns_ctx_free(ctx);
	dns_table_free(t);
	tu_health_free(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("noalloc");
	TCase *tc = tcase_create("answer");

	tcase_add_test(tc, answers_allocate_nothing);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}

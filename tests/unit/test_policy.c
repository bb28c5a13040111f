/* SPDX-License-Identifier: BSD-3-Clause */
/* test_policy.c: answer ordering by policy (round-robin, random, weighted,
 * fixed) and max_answers, measured over many queries with fixed seeds. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/answer_util.h"
#include "tests/unit/check_main.h"

/* Services of 4 instances (weights 1, 2, 3, 4) for every policy, with
 * max_answers 0 and 2, and one with weight-0 instances. */
static const char *make_yaml(void)
{
	static const char *policies[4] = {"round-robin", "random", "weighted", "fixed"};
	static const char *names[4] = {"rr", "rnd", "wtd", "fix"};
	static char y[8192];
	size_t n = (size_t)snprintf(y, sizeof(y),
	                            "server: {zone: svc.example., max_answers: 0}\n"
	                            "defaults: {check: {type: none}}\n"
	                            "services:\n");
	for (int k = 0; k < 8; k++) {
		n += (size_t)snprintf(y + n, sizeof(y) - n,
		                      "  %s%s:\n    policy: %s\n    max_answers: %d\n"
		                      "    port: 1\n    instances:\n",
		                      names[k % 4], k < 4 ? "" : "2", policies[k % 4],
		                      k < 4 ? 0 : 2);
		for (int i = 1; i <= 4; i++)
			n += (size_t)snprintf(
			    y + n, sizeof(y) - n,
			    "      - {name: i%d, address: 192.0.2.%d, weight: %d}\n", i, i, i);
	}
	snprintf(y + n, sizeof(y) - n,
	         "  zero:\n    policy: weighted\n    port: 1\n    instances:\n"
	         "      - {name: z1, address: 192.0.2.1, weight: 0}\n"
	         "      - {name: z2, address: 192.0.2.2, weight: 5}\n"
	         "      - {name: z3, address: 192.0.2.3, weight: 0}\n");
	return y;
}

static struct dns_table *t;
static struct dns_ctx *ctx;

static void setup(void)
{
	t = tu_table(make_yaml());
	ctx = dns_ctx_create(12345);
}

static void teardown(void)
{
	dns_table_free(t);
	dns_ctx_free(ctx);
}

/* Asks name A (or SRV) and writes the instance numbers (1..4, from the last
 * address octet or the target's label) in answer order; returns the count. */
static size_t order(const char *name, ldns_rr_type type, int *out)
{
	ldns_pkt *p = tu_q(ctx, t, name, type);
	const ldns_rr_list *an;
	size_t n;
	ck_assert_ptr_nonnull(p);
	an = ldns_pkt_answer(p);
	n = tu_count(an);
	for (size_t i = 0; i < n; i++) {
		const ldns_rdf *rd;
		if (type == LDNS_RR_TYPE_A) {
			rd = ldns_rr_rdf(ldns_rr_list_rr(an, i), 0);
			out[i] = ldns_rdf_data(rd)[3];
		} else {
			rd = ldns_rr_rdf(ldns_rr_list_rr(an, i), 3);
			out[i] = ldns_rdf_data(rd)[2] - '0';
		}
	}
	ldns_pkt_free(p);
	return n;
}

/* Every answer holds each of 1..n exactly once. */
static void assert_permutation(const int *o, size_t n)
{
	int seen[8] = {0};
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_ge(o[i], 1);
		ck_assert_int_le(o[i], (int)n);
		ck_assert_int_eq(seen[o[i]]++, 0);
	}
}

/* |count - n p| <= 5 sigma of a binomial(n, p) */
static void assert_binomial(long count, long n, double p)
{
	double mean = (double)n * p, sigma = sqrt((double)n * p * (1 - p));
	if (fabs((double)count - mean) > 5 * sigma)
		ck_abort_msg("count %ld, expected %.1f +- %.1f (5 sigma)", count, mean, 5 * sigma);
}

START_TEST(round_robin)
{
	const long n = 250;
	long first[5] = {0};
	int o[8], prev = 0;
	for (long q = 0; q < 4 * n; q++) {
		ck_assert_uint_eq(order("rr.svc.example.", LDNS_RR_TYPE_A, o), 4);
		assert_permutation(o, 4);
		/* registry order, rotated */
		for (int i = 1; i < 4; i++)
			ck_assert_int_eq(o[i], (o[0] - 1 + i) % 4 + 1);
		if (prev)
			ck_assert_int_eq(o[0], prev % 4 + 1);
		prev = o[0];
		first[o[0]]++;
	}
	for (int i = 1; i <= 4; i++)
		ck_assert_int_eq(first[i], n);
}
END_TEST

START_TEST(random_uniform)
{
	const long n = 20000;
	long first[5] = {0}, pos[5][4] = {{0}};
	int o[8];
	for (long q = 0; q < n; q++) {
		ck_assert_uint_eq(order("rnd.svc.example.", LDNS_RR_TYPE_A, o), 4);
		assert_permutation(o, 4);
		first[o[0]]++;
		for (int i = 0; i < 4; i++)
			pos[o[i]][i]++;
	}
	for (int i = 1; i <= 4; i++) {
		assert_binomial(first[i], n, 0.25);
		for (int k = 0; k < 4; k++)
			assert_binomial(pos[i][k], n, 0.25);
	}
}
END_TEST

START_TEST(weighted_draw)
{
	const long n = 20000;
	long first[5] = {0}, second_after_4 = 0, after_4 = 0;
	int o[8];
	for (long q = 0; q < n; q++) {
		ck_assert_uint_eq(order("wtd.svc.example.", LDNS_RR_TYPE_A, o), 4);
		assert_permutation(o, 4);
		first[o[0]]++;
		if (o[0] == 4) {
			after_4++;
			second_after_4 += o[1] == 3;
		}
	}
	for (int i = 1; i <= 4; i++)
		assert_binomial(first[i], n, i / 10.0);
	/* without replacement: after 4 is drawn, 3 comes next with 3 / (1 + 2 + 3) */
	assert_binomial(second_after_4, after_4, 0.5);
}
END_TEST

START_TEST(weighted_zero_last)
{
	int o[8];
	long first_z1 = 0;
	for (int q = 0; q < 2000; q++) {
		ck_assert_uint_eq(order("zero.svc.example.", LDNS_RR_TYPE_A, o), 3);
		ck_assert_int_eq(o[0], 2);
		first_z1 += o[1] == 1;
	}
	assert_binomial(first_z1, 2000, 0.5);
}
END_TEST

START_TEST(fixed_order)
{
	int o[8];
	for (int q = 0; q < 100; q++) {
		ck_assert_uint_eq(order("fix.svc.example.", LDNS_RR_TYPE_A, o), 4);
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(o[i], i + 1);
		ck_assert_uint_eq(order("_fix._tcp.svc.example.", LDNS_RR_TYPE_SRV, o), 4);
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(o[i], i + 1);
	}
}
END_TEST

START_TEST(max_answers)
{
	static const char *names[4] = {"rr2.svc.example.", "rnd2.svc.example.", "wtd2.svc.example.",
	                               "fix2.svc.example."};
	for (int k = 0; k < 4; k++) {
		long first[5] = {0};
		for (int q = 0; q < 400; q++) {
			int o[8];
			ck_assert_uint_eq(order(names[k], LDNS_RR_TYPE_A, o), 2);
			ck_assert_int_ne(o[0], o[1]);
			first[o[0]]++;
			if (k == 3) {
				ck_assert_int_eq(o[0], 1);
				ck_assert_int_eq(o[1], 2);
			}
		}
		/* the cut comes after ordering: every instance can lead,
		 * except for fixed */
		for (int i = 1; i <= 4; i++)
			ck_assert(k == 3 ? (i == 1) == (first[i] == 400) : first[i] > 0);
	}
	{
		int o[8];
		ck_assert_uint_eq(order("_rnd2._tcp.svc.example.", LDNS_RR_TYPE_SRV, o), 2);
	}
}
END_TEST

START_TEST(seeded)
{
	/* the same seed gives the same sequence */
	struct dns_ctx *a = dns_ctx_create(99), *b = dns_ctx_create(99);
	struct dns_ctx *keep = ctx;
	int oa[8], ob[8];
	for (int q = 0; q < 50; q++) {
		ctx = a;
		order("rnd.svc.example.", LDNS_RR_TYPE_A, oa);
		ctx = b;
		order("rnd.svc.example.", LDNS_RR_TYPE_A, ob);
		ck_assert_mem_eq(oa, ob, sizeof(int) * 4);
	}
	ctx = keep;
	dns_ctx_free(a);
	dns_ctx_free(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_robin);
	tcase_add_test(tc, random_uniform);
	tcase_add_test(tc, weighted_draw);
	tcase_add_test(tc, weighted_zero_last);
	tcase_add_test(tc, fixed_order);
	tcase_add_test(tc, max_answers);
	tcase_add_test(tc, seeded);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* test_rrl.c: response rate limiting (dns/rrl.c) driven with a fake clock.
 *
 * Decisions are exact, so the tests count them: rate per prefix and second,
 * refill, prefix grouping, the slip sequence, collisions in a tiny table,
 * the truncated form of a response, and no allocation per decision (malloc
 * & co. are counted as in test_noalloc.c: wrappers in a plain build, the
 * sanitizer allocator's hooks under ASan). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <check.h>

#include "dns/answer/rrl.h"
#include "tests/unit/check_main.h"

#include "tests/unit/alloc_count.h"

#define SEED 0x5eed

static struct dns_rrl *make(uint32_t rate, uint32_t slip, uint32_t v4, uint32_t v6, uint32_t size)
{
	struct dns_rrl_config c = {rate, slip, v4, v6, size};
	struct dns_rrl *rrl = dns_rrl_create(&c, SEED);

	ck_assert_ptr_nonnull(rrl);
	ck_assert_mem_eq(dns_rrl_config(rrl), &c, sizeof(c));
	return rrl;
}

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(5353);
		ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(5353);
		ck_assert_int_eq(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return ss;
}

static enum dns_rrl_action decide(struct dns_rrl *rrl, const char *client, uint32_t now)
{
	struct sockaddr_storage ss = addr(client);
	return dns_rrl_decide(rrl, (struct sockaddr *)&ss, now);
}

/* Decides n times for client at now; returns how many were sent as is. */
static unsigned sent(struct dns_rrl *rrl, const char *client, uint32_t now, unsigned n)
{
	unsigned s = 0;

	for (unsigned i = 0; i < n; i++)
		s += decide(rrl, client, now) == DNS_RRL_SEND;
	return s;
}

START_TEST(rate_per_second)
{
	struct dns_rrl *rrl = make(5, 0, 24, 56, 65536);

	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(decide(rrl, "10.0.0.1", 100), DNS_RRL_SEND);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(decide(rrl, "10.0.0.1", 100), DNS_RRL_DROP);
	/* the next second refills, whatever the flood before */
	ck_assert_uint_eq(sent(rrl, "10.0.0.1", 101, 40), 5);
	/* and so does a jump of many seconds, or the clock's wrap */
	ck_assert_uint_eq(sent(rrl, "10.0.0.1", 5000, 40), 5);
	ck_assert_uint_eq(sent(rrl, "10.0.0.1", 0, 40), 5);
	dns_rrl_free(rrl);
}
END_TEST

START_TEST(prefixes_independent)
{
	struct dns_rrl *rrl = make(3, 0, 24, 56, 65536);

	ck_assert_uint_eq(sent(rrl, "10.0.0.1", 7, 100), 3);
	ck_assert_uint_eq(sent(rrl, "10.0.1.1", 7, 100), 3);
	ck_assert_uint_eq(sent(rrl, "192.0.2.9", 7, 100), 3);
	ck_assert_uint_eq(sent(rrl, "2001:db8::1", 7, 100), 3);
	/* the others' floods did not steal 10.0.0.1's bucket back */
	ck_assert_int_eq(decide(rrl, "10.0.0.1", 7), DNS_RRL_DROP);
	dns_rrl_free(rrl);
}
END_TEST

START_TEST(ipv4_prefix_groups)
{
	struct dns_rrl *rrl = make(4, 0, 24, 56, 65536);

	/* one /24: its clients share the rate */
	ck_assert_uint_eq(sent(rrl, "10.0.0.1", 1, 2), 2);
	ck_assert_uint_eq(sent(rrl, "10.0.0.200", 1, 2), 2);
	ck_assert_int_eq(decide(rrl, "10.0.0.77", 1), DNS_RRL_DROP);
	ck_assert_int_eq(decide(rrl, "10.0.0.1", 1), DNS_RRL_DROP);
	/* the neighbouring /24 does not */
	ck_assert_uint_eq(sent(rrl, "10.0.1.0", 1, 10), 4);
	dns_rrl_free(rrl);

	/* /32: every address on its own */
	rrl = make(4, 0, 32, 128, 65536);
	ck_assert_uint_eq(sent(rrl, "10.0.0.1", 1, 10), 4);
	ck_assert_uint_eq(sent(rrl, "10.0.0.2", 1, 10), 4);
	dns_rrl_free(rrl);

	/* /8 */
	rrl = make(4, 0, 8, 56, 65536);
	ck_assert_uint_eq(sent(rrl, "10.1.2.3", 1, 2), 2);
	ck_assert_uint_eq(sent(rrl, "10.200.0.1", 1, 10), 2);
	ck_assert_uint_eq(sent(rrl, "11.0.0.1", 1, 10), 4);
	dns_rrl_free(rrl);
}
END_TEST

START_TEST(ipv6_prefix_groups)
{
	struct dns_rrl *rrl = make(4, 0, 24, 56, 65536);

	/* 2001:db8:0:1xx::/56 is one client */
	ck_assert_uint_eq(sent(rrl, "2001:db8:0:100::1", 1, 2), 2);
	ck_assert_uint_eq(sent(rrl, "2001:db8:0:1ff:ffff::2", 1, 2), 2);
	ck_assert_int_eq(decide(rrl, "2001:db8:0:180::3", 1), DNS_RRL_DROP);
	/* the next /56 is another */
	ck_assert_uint_eq(sent(rrl, "2001:db8:0:200::1", 1, 10), 4);
	/* and an IPv4 address never shares an IPv6 prefix's bucket by its bits */
	ck_assert_uint_eq(sent(rrl, "0.0.0.0", 1, 10), 4);
	ck_assert_uint_eq(sent(rrl, "::", 1, 10), 4);
	dns_rrl_free(rrl);

	/* /64 needs the fourth group to match */
	rrl = make(4, 0, 24, 64, 65536);
	ck_assert_uint_eq(sent(rrl, "2001:db8:0:100::1", 1, 10), 4);
	ck_assert_uint_eq(sent(rrl, "2001:db8:0:101::1", 1, 10), 4);
	ck_assert_uint_eq(sent(rrl, "2001:db8:0:101:1:2:3:4", 1, 10), 0);
	dns_rrl_free(rrl);
}
END_TEST

/* The actions for the limited responses 1..n of one second, as a string
 * of 'D' and 'S'. */
static void limited_pattern(uint32_t slip, unsigned n, char *out)
{
	struct dns_rrl *rrl = make(2, slip, 24, 56, 1024);

	ck_assert_uint_eq(sent(rrl, "198.51.100.1", 42, 2), 2);
	for (unsigned i = 0; i < n; i++) {
		enum dns_rrl_action a = decide(rrl, "198.51.100.1", 42);
		ck_assert_int_ne(a, DNS_RRL_SEND);
		out[i] = a == DNS_RRL_SLIP ? 'S' : 'D';
	}
	out[n] = 0;
	dns_rrl_free(rrl);
}

START_TEST(slip_sequence)
{
	char p[16];

	limited_pattern(0, 9, p);
	ck_assert_str_eq(p, "DDDDDDDDD");
	limited_pattern(1, 9, p);
	ck_assert_str_eq(p, "SSSSSSSSS");
	limited_pattern(2, 9, p);
	ck_assert_str_eq(p, "DSDSDSDSD");
	limited_pattern(3, 9, p);
	ck_assert_str_eq(p, "DDSDDSDDS");
}
END_TEST

START_TEST(rate_zero_is_off)
{
	struct dns_rrl *rrl = make(0, 2, 24, 56, 64);

	ck_assert_uint_eq(sent(rrl, "10.0.0.1", 1, 1000), 1000);
	dns_rrl_free(rrl);
}
END_TEST

START_TEST(other_family_sent)
{
	struct dns_rrl *rrl = make(1, 0, 24, 56, 64);
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(dns_rrl_decide(rrl, (struct sockaddr *)&un, 1), DNS_RRL_SEND);
	dns_rrl_free(rrl);
}
END_TEST

START_TEST(table_size_bounds)
{
	struct dns_rrl_config c = {10, 2, 24, 56, (1u << 24) + 1};

	ck_assert_ptr_null(dns_rrl_create(&c, SEED));
	c.table_size = 0; /* one bucket: still works */
	struct dns_rrl *rrl = dns_rrl_create(&c, SEED);
	ck_assert_ptr_nonnull(rrl);
	ck_assert_uint_eq(sent(rrl, "10.0.0.1", 1, 20), 10);
	dns_rrl_free(rrl);
	dns_rrl_free(NULL);
}
END_TEST

/* 64 buckets, 20000 prefixes: they collide constantly. Nothing crashes,
 * a new prefix always starts with a fresh count (it takes the bucket
 * over), and a prefix alone in its bucket is still limited. */
START_TEST(collisions)
{
	struct dns_rrl *rrl = make(1, 2, 32, 128, 64);
	char text[64];

	for (unsigned i = 0; i < 20000; i++) {
		snprintf(text, sizeof(text), "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		ck_assert_int_eq(decide(rrl, text, 9), DNS_RRL_SEND);
		snprintf(text, sizeof(text), "2001:db8::%x:%x", i >> 16, i & 0xffff);
		ck_assert_int_eq(decide(rrl, text, 9), DNS_RRL_SEND);
	}
	ck_assert_int_eq(decide(rrl, "203.0.113.1", 9), DNS_RRL_SEND);
	ck_assert_int_ne(decide(rrl, "203.0.113.1", 9), DNS_RRL_SEND);
	dns_rrl_free(rrl);
}
END_TEST

START_TEST(no_allocation_per_decision)
{
	struct dns_rrl *rrl = make(3, 2, 24, 56, 4096);
	struct sockaddr_storage a4 = addr("10.1.2.3"), a6 = addr("2001:db8::9");
	uint8_t msg[64] = {0x12, 0x34, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1};
	void *volatile probe; /* volatile: the compiler may not drop the pair */
	long n;

	counter_install();
	/* the counter must see an allocation, or a broken one would pass */
	atomic_store(&n_alloc, 0);
	atomic_store(&counting, 1);
	probe = malloc(16);
	free(probe);
	atomic_store(&counting, 0);
	ck_assert_int_eq(atomic_load(&n_alloc), 2);

	atomic_store(&n_alloc, 0);
	atomic_store(&counting, 1);
	for (uint32_t t = 0; t < 100; t++)
		for (int i = 0; i < 100; i++) {
			dns_rrl_decide(rrl, (struct sockaddr *)&a4, t);
			dns_rrl_decide(rrl, (struct sockaddr *)&a6, t);
			dns_rrl_truncate(msg, 19);
		}
	atomic_store(&counting, 0);
	n = atomic_load(&n_alloc);
	ck_assert_int_eq(n, 0);
	dns_rrl_free(rrl);
}
END_TEST

/* A response: header, question web.svc. A IN, one answer, one additional. */
static size_t response(uint8_t *m)
{
	static const uint8_t r[] = {
	    0xab, 0xcd, 0x85, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
	    /* question: WeB.svc. A IN (client's case) */
	    3, 'W', 'e', 'B', 3, 's', 'v', 'c', 0, 0x00, 0x01, 0x00, 0x01,
	    /* answer: pointer to the question, A IN TTL 5, 192.0.2.1 */
	    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x04, 192, 0, 2, 1,
	    /* additional: OPT */
	    0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

	memcpy(m, r, sizeof(r));
	return sizeof(r);
}

START_TEST(truncate_keeps_question)
{
	uint8_t m[128], orig[128];
	size_t len = response(m), n;

	memcpy(orig, m, len);
	n = dns_rrl_truncate(m, len);
	ck_assert_uint_eq(n, 12 + 9 + 4);
	ck_assert_mem_eq(m, orig, 2);                   /* ID */
	ck_assert_uint_eq(m[2], orig[2] | 0x02);        /* QR, opcode, AA kept; TC set */
	ck_assert_uint_eq(m[3], orig[3]);               /* RA, rcode */
	ck_assert_mem_eq(m + 4, "\0\1\0\0\0\0\0\0", 8); /* QD 1, AN NS AR 0 */
	ck_assert_mem_eq(m + 12, orig + 12, 13);        /* question, case kept */
	/* an NXDOMAIN keeps its rcode */
	len = response(m);
	m[3] = 0x03;
	ck_assert_uint_eq(dns_rrl_truncate(m, len), 25);
	ck_assert_uint_eq(m[3] & 0x0f, 3);
}
END_TEST

START_TEST(truncate_malformed)
{
	uint8_t m[128];
	size_t len = response(m);

	ck_assert_uint_eq(dns_rrl_truncate(m, 11), 0);
	/* the question runs past the end */
	ck_assert_uint_eq(dns_rrl_truncate(m, 12 + 5), 0);
	ck_assert_uint_eq(dns_rrl_truncate(m, 12 + 9 + 3), 0);
	/* a label type that is neither length nor pointer */
	len = response(m);
	m[12] = 0x43;
	ck_assert_uint_eq(dns_rrl_truncate(m, len), 0);
	/* no question (a FORMERR): the header alone */
	len = response(m);
	m[5] = 0;
	ck_assert_uint_eq(dns_rrl_truncate(m, len), 12);
	ck_assert_uint_eq(m[2] & 0x02, 0x02);
	ck_assert_uint_eq(m[5], 0);
	/* a compressed question name ends at its pointer */
	len = response(m);
	m[12] = 0xc0;
	m[13] = 0x0c;
	ck_assert_uint_eq(dns_rrl_truncate(m, len), 12 + 2 + 4);
}
END_TEST

static Suite *rrl_suite(void)
{
	Suite *s = suite_create("rrl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, rate_per_second);
	tcase_add_test(tc, prefixes_independent);
	tcase_add_test(tc, ipv4_prefix_groups);
	tcase_add_test(tc, ipv6_prefix_groups);
	tcase_add_test(tc, slip_sequence);
	tcase_add_test(tc, rate_zero_is_off);
	tcase_add_test(tc, other_family_sent);
	tcase_add_test(tc, table_size_bounds);
	tcase_add_test(tc, collisions);
	tcase_add_test(tc, no_allocation_per_decision);
	tcase_add_test(tc, truncate_keeps_question);
	tcase_add_test(tc, truncate_malformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(rrl_suite());
}

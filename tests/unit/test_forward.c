/* SPDX-License-Identifier: BSD-3-Clause */
/* test_forward.c: the pure parts of server.forward (dns/forward.h): the pending
 * table, letter-case randomisation (dns-0x20), reply matching, failover
 * order, address parsing and SERVFAIL. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/addr.h"
#include "dns/listen/forward.h"
#include "tests/unit/check_main.h"

/* www.other.example A IN, ID 0x1234, RD, with an OPT record (EDNS 1232) */
/* clang-format off */
static const uint8_t QUERY[] = {
    0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
    3, 'w', 'w', 'w', 5, 'o', 't', 'h', 'e', 'r', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
    0, 1, 0, 1,
    0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
/* clang-format on */
#define QEND (12 + 19 + 4)

/* The upstream's reply to QUERY sent as up_id: one A record 192.0.2.7. */
static size_t make_reply(uint16_t up_id, uint8_t rcode, int tc, uint8_t *out)
{
	static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 192, 0, 2, 7};
	size_t len = QEND;

	memcpy(out, QUERY, QEND);
	out[0] = (uint8_t)(up_id >> 8);
	out[1] = (uint8_t)up_id;
	out[2] = (uint8_t)(0x81 | (tc ? 0x02 : 0)); /* QR, RD */
	out[3] = (uint8_t)(0x80 | rcode);
	out[7] = rcode == 0 ? 1 : 0;
	out[11] = 0;
	if (rcode == 0) {
		memcpy(out + len, rr, sizeof(rr));
		len += sizeof(rr);
	}
	return len;
}

static struct dns_fwd_table table;

static void setup(void)
{
	ck_assert_int_eq(dns_fwd_table_init(&table, 8, 42), 0);
}

static void teardown(void)
{
	dns_fwd_table_fini(&table);
}

START_TEST(table_ids_unique_and_bounded)
{
	struct dns_fwd_slot *s[8];

	for (int i = 0; i < 8; i++) {
		s[i] = dns_fwd_table_get(&table);
		ck_assert_ptr_nonnull(s[i]);
		for (int j = 0; j < i; j++) {
			ck_assert_ptr_ne(s[i], s[j]);
			ck_assert_uint_ne(s[i]->up_id, s[j]->up_id);
		}
		ck_assert_ptr_eq(dns_fwd_table_find(&table, s[i]->up_id), s[i]);
	}
	/* full: the caller answers SERVFAIL */
	ck_assert_ptr_null(dns_fwd_table_get(&table));
	ck_assert_uint_eq(table.used, 8);
	dns_fwd_table_put(&table, s[3]);
	ck_assert_ptr_null(dns_fwd_table_find(&table, s[3]->up_id));
	ck_assert_ptr_eq(dns_fwd_table_get(&table), s[3]);
	ck_assert_ptr_null(dns_fwd_table_get(&table));
}
END_TEST

START_TEST(table_ids_random)
{
	/* many gets and puts must not just count up from one value */
	uint16_t first = 0, same = 0;

	for (int i = 0; i < 200; i++) {
		struct dns_fwd_slot *s = dns_fwd_table_get(&table);
		ck_assert_ptr_nonnull(s);
		if (i == 0)
			first = s->up_id;
		else if (s->up_id == first || s->up_id == (uint16_t)(first + i))
			same++;
		dns_fwd_table_put(&table, s);
	}
	ck_assert_uint_lt(same, 3);
	ck_assert_uint_eq(table.used, 0);
}
END_TEST

START_TEST(rekey_drops_old_id)
{
	struct dns_fwd_slot *s = dns_fwd_table_get(&table);
	uint16_t old = s->up_id;

	dns_fwd_table_rekey(&table, s);
	ck_assert_uint_ne(s->up_id, old);
	ck_assert_ptr_null(dns_fwd_table_find(&table, old));
	ck_assert_ptr_eq(dns_fwd_table_find(&table, s->up_id), s);
}
END_TEST

START_TEST(question_parse)
{
	struct dns_fwd_slot *s = dns_fwd_table_get(&table);
	uint8_t bad[sizeof(QUERY)];

	ck_assert_uint_eq(dns_fwd_question_end(QUERY, sizeof(QUERY)), QEND);
	ck_assert_int_eq(dns_fwd_slot_set_query(s, QUERY, sizeof(QUERY)), 0);
	ck_assert_uint_eq(s->client_id, 0x1234);
	ck_assert_uint_eq(s->qend, QEND);
	ck_assert_uint_eq(s->qlen, sizeof(QUERY));
	/* cut in the name, two questions, a compression pointer: refused */
	ck_assert_uint_eq(dns_fwd_question_end(QUERY, 20), 0);
	memcpy(bad, QUERY, sizeof(bad));
	bad[5] = 2;
	ck_assert_uint_eq(dns_fwd_question_end(bad, sizeof(bad)), 0);
	memcpy(bad, QUERY, sizeof(bad));
	bad[12] = 0xc0;
	ck_assert_int_eq(dns_fwd_slot_set_query(s, bad, sizeof(bad)), -1);
	{
		static uint8_t big[DNS_FWD_QMAX + 1];
		memcpy(big, QUERY, sizeof(QUERY));
		ck_assert_int_eq(dns_fwd_slot_set_query(s, big, sizeof(big)), -1);
	}
}
END_TEST

START_TEST(judge_matches_id_and_question)
{
	struct dns_fwd_slot *s = dns_fwd_table_get(&table);
	uint8_t r[512];
	size_t len;

	ck_assert_int_eq(dns_fwd_slot_set_query(s, QUERY, sizeof(QUERY)), 0);
	len = make_reply(s->up_id, 0, 0, r);
	ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_ACCEPT);
	/* the name's letter case must be the one sent (dns-0x20) */
	r[13] = 'W';
	ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_CASE);
	/* a spoofed reply: wrong ID */
	len = make_reply((uint16_t)(s->up_id + 1), 0, 0, r);
	ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_DROP);
	/* right ID, other question: other name, type, or class */
	len = make_reply(s->up_id, 0, 0, r);
	r[14] = 'x';
	ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_DROP);
	len = make_reply(s->up_id, 0, 0, r);
	r[QEND - 3] = 28;
	ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_DROP);
	len = make_reply(s->up_id, 0, 0, r);
	r[QEND - 1] = 3;
	ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_DROP);
	/* a query, not a response */
	len = make_reply(s->up_id, 0, 0, r);
	r[2] &= 0x7f;
	ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_DROP);
	/* too short */
	ck_assert_int_eq(dns_fwd_judge(s, r, 11), DNS_FWD_DROP);
	ck_assert_int_eq(dns_fwd_judge(s, r, QEND - 1), DNS_FWD_DROP);
}
END_TEST

/* www.other.example with random case: what goes out, what comes back. */
START_TEST(case_randomised_per_try)
{
	struct dns_fwd_slot *s = dns_fwd_table_get(&table);
	uint8_t sent[sizeof(QUERY)], first[sizeof(QUERY)];
	unsigned flipped = 0, differ = 0;

	ck_assert_int_eq(dns_fwd_slot_set_query(s, QUERY, sizeof(QUERY)), 0);
	/* before recase: the client's bytes but for the ID */
	ck_assert_uint_eq(dns_fwd_encode(s, sent), sizeof(QUERY));
	ck_assert_uint_eq(sent[0], s->up_id >> 8);
	ck_assert_uint_eq(sent[1], s->up_id & 0xff);
	ck_assert_mem_eq(sent + 2, QUERY + 2, sizeof(QUERY) - 2);
	dns_fwd_table_recase(&table, s);
	dns_fwd_encode(s, first);
	for (int round = 0; round < 20; round++) {
		dns_fwd_table_rekey(&table, s);
		ck_assert_uint_eq(dns_fwd_encode(s, sent), sizeof(QUERY));
		/* only letters change, and only their case; the rest is the query */
		for (size_t i = 2; i < sizeof(QUERY); i++) {
			if (sent[i] == QUERY[i])
				continue;
			ck_assert_uint_ge(i, 12);
			ck_assert_uint_lt(i, QEND - 5);
			ck_assert_uint_eq(sent[i] ^ 0x20, QUERY[i]);
			ck_assert(QUERY[i] >= 'a' && QUERY[i] <= 'z');
			flipped++;
		}
		differ += memcmp(sent + 12, first + 12, QEND - 12) != 0;
		/* what was sent is accepted; the client's own case is not */
		{
			uint8_t r[512];
			size_t len = make_reply(s->up_id, 0, 0, r);
			memcpy(r + 12, sent + 12, QEND - 16);
			ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_ACCEPT);
			if (memcmp(sent + 12, QUERY + 12, QEND - 16) != 0) {
				memcpy(r + 12, QUERY + 12, QEND - 16);
				ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_CASE);
			}
		}
	}
	/* 15 letters x 20 tries: about half flipped, every try another case */
	ck_assert_uint_gt(flipped, 100);
	ck_assert_uint_lt(flipped, 200);
	ck_assert_uint_ge(differ, 19);
}
END_TEST

START_TEST(case_skips_lengths_and_non_letters)
{
	/* length bytes, digits, '-' and '_' keep their bytes: only letters flip */
	uint8_t q[12 + 1 + 65 + 6 + 1 + 4], sent[sizeof(q)];
	struct dns_fwd_slot *s = dns_fwd_table_get(&table);
	size_t p = 12;

	memset(q, 0, sizeof(q));
	q[5] = 1;
	q[p++] = 63; /* the longest label: 63 letters and digits */
	for (int i = 0; i < 63; i++)
		q[p++] = (uint8_t)(i % 3 ? 'a' + i % 26 : '0' + i % 10);
	q[p++] = 6;
	memcpy(q + p, "_x-1_Z", 6);
	p += 6;
	q[p++] = 0;
	q[p + 1] = 1;
	q[p + 3] = 1;
	p += 4;
	ck_assert_int_eq(dns_fwd_slot_set_query(s, q, p), 0);
	for (int round = 0; round < 10; round++) {
		dns_fwd_table_rekey(&table, s);
		dns_fwd_encode(s, sent);
		for (size_t i = 12; i < p; i++) {
			int letter = (q[i] >= 'a' && q[i] <= 'z') || (q[i] >= 'A' && q[i] <= 'Z');
			if (i == 12 || i == 12 + 64 || !letter)
				ck_assert_uint_eq(sent[i], q[i]);
			else
				ck_assert(sent[i] == q[i] || sent[i] == (q[i] ^ 0x20));
		}
	}
	/* a name longer than 255 bytes is not a question */
	{
		static uint8_t big[12 + 5 * 52 + 1 + 4];
		size_t n = 12;
		big[5] = 1;
		for (int l = 0; l < 5; l++) {
			big[n++] = 51;
			memset(big + n, 'a', 51);
			n += 51;
		}
		big[n++] = 0;
		n += 4;
		ck_assert_uint_eq(dns_fwd_question_end(big, n), 0);
		ck_assert_int_eq(dns_fwd_slot_set_query(s, big, n), -1);
	}
}
END_TEST

START_TEST(restore_gives_client_case)
{
	struct dns_fwd_slot *s = dns_fwd_table_get(&table);
	uint8_t sent[sizeof(QUERY)], r[512];
	size_t len;
	/* the client asked WwW.other.EXAMPLE */
	uint8_t q[sizeof(QUERY)];

	memcpy(q, QUERY, sizeof(q));
	q[13] = 'W';
	q[15] = 'W';
	for (size_t i = 23; i < 30; i++)
		q[i] ^= 0x20;
	ck_assert_int_eq(dns_fwd_slot_set_query(s, q, sizeof(q)), 0);
	dns_fwd_table_recase(&table, s);
	dns_fwd_encode(s, sent);
	len = make_reply(s->up_id, 0, 0, r);
	memcpy(r + 12, sent + 12, QEND - 16);
	ck_assert_int_eq(dns_fwd_judge(s, r, len), DNS_FWD_ACCEPT);
	dns_fwd_restore(s, r, len, r);
	ck_assert_mem_eq(r + 12, q + 12, QEND - 12);
	ck_assert_uint_eq(r[0], 0x12);
	ck_assert_uint_eq(r[1], 0x34);
	/* the SERVFAIL also repeats the client's question */
	len = dns_fwd_servfail(s, r);
	ck_assert_mem_eq(r + 12, q + 12, QEND - 12);
}
END_TEST

START_TEST(judge_failover_and_truncation)
{
	struct dns_fwd_slot *s = dns_fwd_table_get(&table);
	uint8_t r[512];

	ck_assert_int_eq(dns_fwd_slot_set_query(s, QUERY, sizeof(QUERY)), 0);
	ck_assert_int_eq(dns_fwd_judge(s, r, make_reply(s->up_id, 2, 0, r)), DNS_FWD_FAILOVER);
	ck_assert_int_eq(dns_fwd_judge(s, r, make_reply(s->up_id, 5, 0, r)), DNS_FWD_FAILOVER);
	/* NXDOMAIN is an answer */
	ck_assert_int_eq(dns_fwd_judge(s, r, make_reply(s->up_id, 3, 0, r)), DNS_FWD_ACCEPT);
	ck_assert_int_eq(dns_fwd_judge(s, r, make_reply(s->up_id, 0, 1, r)), DNS_FWD_TRUNCATED);
}
END_TEST

START_TEST(failover_order)
{
	struct dns_fwd_slot *s = dns_fwd_table_get(&table);

	ck_assert_int_eq(dns_fwd_slot_set_query(s, QUERY, sizeof(QUERY)), 0);
	ck_assert_uint_eq(s->upstream, 0);
	s->over_tcp = 1;
	ck_assert_int_eq(dns_fwd_next_upstream(s, 3), 0);
	ck_assert_uint_eq(s->upstream, 1);
	ck_assert_uint_eq(s->over_tcp, 0);
	ck_assert_int_eq(dns_fwd_next_upstream(s, 3), 0);
	ck_assert_uint_eq(s->upstream, 2);
	ck_assert_int_eq(dns_fwd_next_upstream(s, 3), -1);
	ck_assert_uint_eq(s->upstream, 2);
	/* one upstream: no second try */
	ck_assert_int_eq(dns_fwd_slot_set_query(s, QUERY, sizeof(QUERY)), 0);
	ck_assert_int_eq(dns_fwd_next_upstream(s, 1), -1);
}
END_TEST

START_TEST(restore_and_servfail)
{
	struct dns_fwd_slot *s = dns_fwd_table_get(&table);
	uint8_t r[512], out[512];
	size_t len;

	ck_assert_int_eq(dns_fwd_slot_set_query(s, QUERY, sizeof(QUERY)), 0);
	len = make_reply(s->up_id, 0, 0, r);
	dns_fwd_restore(s, r, len, r);
	ck_assert_uint_eq(r[0], 0x12);
	ck_assert_uint_eq(r[1], 0x34);
	ck_assert_uint_eq(r[3] & 0x80, 0x80); /* RA */
	ck_assert_uint_eq(r[3] & 0x0f, 0);
	ck_assert_uint_eq(r[7], 1);

	len = dns_fwd_servfail(s, out);
	ck_assert_uint_eq(len, QEND);
	ck_assert_uint_eq(out[0], 0x12);
	ck_assert_uint_eq(out[1], 0x34);
	ck_assert_uint_eq(out[2], 0x81); /* QR, RD */
	ck_assert_uint_eq(out[3], 0x82); /* RA, SERVFAIL */
	ck_assert_uint_eq(out[5], 1);
	ck_assert_uint_eq(out[11], 0); /* no OPT copied */
	ck_assert_mem_eq(out + 12, QUERY + 12, QEND - 12);

	memset(out, 0, sizeof(out));
	ck_assert_uint_eq(dns_fwd_servfail_raw(QUERY, sizeof(QUERY), out, sizeof(out)), QEND);
	ck_assert_uint_eq(out[0], 0x12);
	ck_assert_uint_eq(out[3], 0x82);
	ck_assert_uint_eq(dns_fwd_servfail_raw(QUERY, sizeof(QUERY), out, 20), 0);
}
END_TEST

START_TEST(parse_addresses)
{
	struct dns_fwd_upstream u, v;
	const struct sockaddr_in *s4 = (const void *)&u.addr;
	const struct sockaddr_in6 *s6 = (const void *)&u.addr;

	ck_assert_int_eq(dns_fwd_parse_addr("127.0.0.2:5399", &u), 0);
	ck_assert_int_eq(s4->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(s4->sin_port), 5399);
	ck_assert_uint_eq(ntohl(s4->sin_addr.s_addr), 0x7f000002);
	ck_assert_int_eq(dns_fwd_parse_addr("[::1]:53", &u), 0);
	ck_assert_int_eq(s6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(s6->sin6_port), 53);
	ck_assert_int_eq(u.len, sizeof(struct sockaddr_in6));
	static const char *const bad[] = {
	    "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",  "127.0.0.1:65536",
	    "::1:53",    "[::1]53",    "localhost:53", "127.0.0.1:5x",
	    ":53",       "[]:53"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dns_fwd_parse_addr(bad[i], &u) == -1, "accepted %s", bad[i]);

	ck_assert_int_eq(dns_fwd_parse_addr("127.0.0.1:53", &u), 0);
	ck_assert_int_eq(dns_fwd_parse_addr("127.0.0.1:53", &v), 0);
	ck_assert_int_eq(addr_same((void *)&u.addr, (void *)&v.addr), 1);
	ck_assert_int_eq(dns_fwd_parse_addr("127.0.0.1:54", &v), 0);
	ck_assert_int_eq(addr_same((void *)&u.addr, (void *)&v.addr), 0);
	ck_assert_int_eq(dns_fwd_parse_addr("127.0.0.2:53", &v), 0);
	ck_assert_int_eq(addr_same((void *)&u.addr, (void *)&v.addr), 0);
	ck_assert_int_eq(dns_fwd_parse_addr("[::1]:53", &v), 0);
	ck_assert_int_eq(addr_same((void *)&u.addr, (void *)&v.addr), 0);
}
END_TEST

static Suite *forward_suite(void)
{
	Suite *s = suite_create("forward");
	TCase *tc = tcase_create("pure");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, table_ids_unique_and_bounded);
	tcase_add_test(tc, table_ids_random);
	tcase_add_test(tc, rekey_drops_old_id);
	tcase_add_test(tc, question_parse);
	tcase_add_test(tc, judge_matches_id_and_question);
	tcase_add_test(tc, case_randomised_per_try);
	tcase_add_test(tc, case_skips_lengths_and_non_letters);
	tcase_add_test(tc, restore_gives_client_case);
	tcase_add_test(tc, judge_failover_and_truncation);
	tcase_add_test(tc, failover_order);
	tcase_add_test(tc, restore_and_servfail);
	tcase_add_test(tc, parse_addresses);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(forward_suite());
}

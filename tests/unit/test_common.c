/* SPDX-License-Identifier: BSD-3-Clause */
/* test_common.c: the leaf every folder uses (common/): address parsing,
 * formatting and comparison. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "common/addr.h"
#include "tests/unit/check_main.h"

START_TEST(test_parse_and_format)
{
	static const char *const good[] = {"127.0.0.1:53", "[::1]:5353", "192.0.2.1:0",
	                                   "[2001:db8::1]:65535"};
	static const char *const bad[] = {"127.0.0.1",    "127.0.0.1:", "127.0.0.1:65536",
	                                  "::1:53",       "[::1]53",    "localhost:53",
	                                  "127.0.0.1:5x", ":53",        "[]:53",
	                                  "1.2.3.4:-1",   "[::1]:",     "127.0.0.1:99999999999999"};
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port;
	char text[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(addr_parse_hostport(good[i], &ss, &len, &port) == 0, "%s", good[i]);
		addr_format((struct sockaddr *)&ss, text, sizeof(text));
		ck_assert_str_eq(text, good[i]);
	}
	ck_assert_int_eq(addr_parse_hostport("[::1]:5353", &ss, &len, &port), 0);
	ck_assert_uint_eq(port, 5353);
	ck_assert_int_eq(len, sizeof(struct sockaddr_in6));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(addr_parse_hostport(bad[i], &ss, &len, &port) == -1, "accepted %s",
		              bad[i]);
}
END_TEST

START_TEST(test_compare)
{
	struct sockaddr_storage a, b;
	socklen_t len;
	uint16_t port;

	ck_assert_int_eq(addr_parse_hostport("127.0.0.1:53", &a, &len, &port), 0);
	ck_assert_int_eq(addr_parse_hostport("127.0.0.1:54", &b, &len, &port), 0);
	ck_assert_int_eq(addr_same((struct sockaddr *)&a, (struct sockaddr *)&b), 0);
	ck_assert_int_eq(addr_same_host((struct sockaddr *)&a, (struct sockaddr *)&b), 1);
	ck_assert_int_eq(addr_parse_hostport("[::1]:53", &b, &len, &port), 0);
	ck_assert_int_eq(addr_same_host((struct sockaddr *)&a, (struct sockaddr *)&b), 0);
	ck_assert_int_eq(addr_parse_hostport("[::1]:53", &a, &len, &port), 0);
	ck_assert_int_eq(addr_same((struct sockaddr *)&a, (struct sockaddr *)&b), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("addr");

	tcase_add_test(tc, test_parse_and_format);
	tcase_add_test(tc, test_compare);
	suite_add_tcase(s, tc);
	return check_run(s);
}

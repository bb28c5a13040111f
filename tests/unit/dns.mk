# Unit tests of the answer table and dns_answer() (dns/table.c, dns/answer.c), and of
# answers following the health state (test_health_answer.c).
DNS_TEST_CPPFLAGS = $(AM_CPPFLAGS) -DSRCDIR='"$(abs_top_srcdir)"'
DNS_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
# the answer path links alone: these tests prove it (test_health_answer also drives the
# checker's panic rule, health/machine.c, so it takes the whole library)
DNS_TEST_LIBS = $(ANSWER_LIBS) $(CHECK_LIBS) -lm
DNS_TEST_UTIL = tests/unit/answer_util.c tests/unit/answer_util.h

check_PROGRAMS += tests/unit/test_answer tests/unit/test_protocol tests/unit/test_policy \
	tests/unit/test_health_answer tests/unit/bench_answer
TESTS += tests/unit/test_answer tests/unit/test_protocol tests/unit/test_policy \
	tests/unit/test_health_answer
# failover, locality, sticky order, tag pairs, adaptive TTL (dns/answer/select.c)
check_PROGRAMS += tests/unit/test_select
TESTS += tests/unit/test_select
tests_unit_test_select_SOURCES = tests/unit/test_select.c $(DNS_TEST_UTIL)
tests_unit_test_select_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_select_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_select_LDADD = $(DNS_TEST_LIBS)

tests_unit_test_answer_SOURCES = tests/unit/test_answer.c $(DNS_TEST_UTIL)
tests_unit_test_answer_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_answer_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_answer_LDADD = $(DNS_TEST_LIBS)

tests_unit_test_protocol_SOURCES = tests/unit/test_protocol.c $(DNS_TEST_UTIL)
tests_unit_test_protocol_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_protocol_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_protocol_LDADD = $(DNS_TEST_LIBS)

tests_unit_test_policy_SOURCES = tests/unit/test_policy.c $(DNS_TEST_UTIL)
tests_unit_test_policy_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_policy_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_policy_LDADD = $(DNS_TEST_LIBS)

tests_unit_test_health_answer_SOURCES = tests/unit/test_health_answer.c $(DNS_TEST_UTIL)
tests_unit_test_health_answer_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_health_answer_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_health_answer_LDADD = $(SRVD_LIBS) $(CHECK_LIBS) -lm

# answers/second of the pure function: make check builds it, run it by hand
tests_unit_bench_answer_SOURCES = tests/unit/bench_answer.c
tests_unit_bench_answer_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_bench_answer_LDADD = $(ANSWER_LIBS)

EXTRA_DIST += tests/unit/data/answer/static.zone tests/unit/data/answer/other.zone

# SPEC section 11 (README "More answers"): the pure function and the keys' errors
check_PROGRAMS += tests/unit/test_answer_more
TESTS += tests/unit/test_answer_more
tests_unit_test_answer_more_SOURCES = tests/unit/test_answer_more.c $(DNS_TEST_UTIL)
tests_unit_test_answer_more_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_answer_more_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_answer_more_LDADD = $(DNS_TEST_LIBS)

# Unit tests of zone transfers out (dns/transfer/xfr.c, xfr_acl.c).
check_PROGRAMS += tests/unit/test_xfr
TESTS += tests/unit/test_xfr
tests_unit_test_xfr_SOURCES = tests/unit/test_xfr.c $(DNS_TEST_UTIL)
tests_unit_test_xfr_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_xfr_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_xfr_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

# Tables built by change answer as tables built whole (dns/answer/table_delta.c):
# a property test that also compares zone transfers, hence here.
check_PROGRAMS += tests/unit/test_delta
TESTS += tests/unit/test_delta
tests_unit_test_delta_SOURCES = tests/unit/test_delta.c
tests_unit_test_delta_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_delta_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_delta_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

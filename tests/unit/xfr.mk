# Unit tests of zone transfers out (dns/transfer/xfr.c, xfr_acl.c).
check_PROGRAMS += tests/unit/test_xfr
TESTS += tests/unit/test_xfr
tests_unit_test_xfr_SOURCES = tests/unit/test_xfr.c $(DNS_TEST_UTIL)
tests_unit_test_xfr_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_xfr_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_xfr_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

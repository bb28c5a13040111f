# Unit tests of TSIG for transfers and NOTIFY (dns/transfer/tsig.c).
check_PROGRAMS += tests/unit/test_tsig
TESTS += tests/unit/test_tsig
tests_unit_test_tsig_SOURCES = tests/unit/test_tsig.c
tests_unit_test_tsig_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_tsig_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_tsig_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

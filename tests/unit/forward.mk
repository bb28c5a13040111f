# server.forward's pure parts (dns/forward.c): pending table, reply matching, failover order.
check_PROGRAMS += tests/unit/test_forward
TESTS += tests/unit/test_forward
tests_unit_test_forward_SOURCES = tests/unit/test_forward.c
tests_unit_test_forward_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_forward_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

# Unit tests of the listeners: TCP framing, and UDP/TCP end to end on 127.0.0.1.
check_PROGRAMS += tests/unit/test_server
TESTS += tests/unit/test_server
tests_unit_test_server_SOURCES = tests/unit/test_server.c
tests_unit_test_server_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_server_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

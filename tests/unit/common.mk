# The leaf (common/): it links with nothing of the other folders.
check_PROGRAMS += tests/unit/test_common
TESTS += tests/unit/test_common
tests_unit_test_common_SOURCES = tests/unit/test_common.c
tests_unit_test_common_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_common_LDADD = libsrvd-common.a $(LIBEVENT_LIBS) $(CHECK_LIBS)

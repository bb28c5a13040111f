# Response rate limiting (dns/rrl.c) with a fake clock; counts malloc like test_noalloc.
check_PROGRAMS += tests/unit/test_rrl
TESTS += tests/unit/test_rrl
tests_unit_test_rrl_SOURCES = tests/unit/test_rrl.c
tests_unit_test_rrl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_rrl_LDADD = $(ANSWER_LIBS) $(CHECK_LIBS)
if SANITIZERS
tests_unit_test_rrl_CPPFLAGS = $(AM_CPPFLAGS) -DSRVD_SANITIZERS
endif

# No allocation on the answer path: malloc & co. counted around dns_answer() (test_noalloc.c).
# Under --enable-sanitizers ASan owns the allocator, so the test counts through its hooks.
check_PROGRAMS += tests/unit/test_noalloc
TESTS += tests/unit/test_noalloc
tests_unit_test_noalloc_SOURCES = tests/unit/test_noalloc.c $(DNS_TEST_UTIL)
tests_unit_test_noalloc_CPPFLAGS = $(DNS_TEST_CPPFLAGS)
tests_unit_test_noalloc_CFLAGS = $(DNS_TEST_CFLAGS)
tests_unit_test_noalloc_LDADD = $(DNS_TEST_LIBS)
if SANITIZERS
tests_unit_test_noalloc_CPPFLAGS += -DSRVD_SANITIZERS
endif

# Unit tests of path_resolve() (common/path.c), shared by the file watcher and the root-file check.
check_PROGRAMS += tests/unit/test_paths
TESTS += tests/unit/test_paths
tests_unit_test_paths_SOURCES = tests/unit/test_paths.c
tests_unit_test_paths_CPPFLAGS = $(AM_CPPFLAGS)
tests_unit_test_paths_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_paths_LDADD = libsrvd-common.a $(LIBEVENT_LIBS) $(CHECK_LIBS)

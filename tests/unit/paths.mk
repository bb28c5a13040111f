# Unit tests of daemon_path_resolve() (daemon/watch.c), shared by the watch and privs.c.
check_PROGRAMS += tests/unit/test_paths
TESTS += tests/unit/test_paths
tests_unit_test_paths_SOURCES = tests/unit/test_paths.c
tests_unit_test_paths_CPPFLAGS = $(AM_CPPFLAGS)
tests_unit_test_paths_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_paths_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

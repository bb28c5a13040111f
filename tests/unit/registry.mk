# Unit tests of the YAML registry loader (data in tests/unit/data/registry/).
check_PROGRAMS += tests/unit/test_registry
TESTS += tests/unit/test_registry
tests_unit_test_registry_SOURCES = tests/unit/test_registry.c
tests_unit_test_registry_CPPFLAGS = $(AM_CPPFLAGS) -DSRCDIR='"$(abs_top_srcdir)"'
tests_unit_test_registry_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_registry_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)
EXTRA_DIST += tests/unit/data/registry

# The files registry source (registry/source_files.c): loads, writes, undo, change names.
check_PROGRAMS += tests/unit/test_source
TESTS += tests/unit/test_source
tests_unit_test_source_SOURCES = tests/unit/test_source.c
tests_unit_test_source_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_source_LDADD = libsrvd-registry.a libsrvd-common.a $(LDNS_LIBS) $(YAML_LIBS) \
	$(LIBEVENT_LIBS) $(CHECK_LIBS)

# The etcd source without etcd (registry/source_etcd.c, etcd_client.c): the gateway's JSON
# helpers and loads from the cache file; it lives in libsrvd.a (it talks HTTP and TLS).
check_PROGRAMS += tests/unit/test_etcd
TESTS += tests/unit/test_etcd
tests_unit_test_etcd_SOURCES = tests/unit/test_etcd.c
tests_unit_test_etcd_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_etcd_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

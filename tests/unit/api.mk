# Unit tests of the control API's parts (api/, dns/stats.c, registry/fragment.c).
check_PROGRAMS += tests/unit/test_api
TESTS += tests/unit/test_api
tests_unit_test_api_SOURCES = tests/unit/test_api.c
tests_unit_test_api_CPPFLAGS = $(AM_CPPFLAGS)
tests_unit_test_api_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_api_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

# The control API's HTTP server (api/http.c) over real loopback sockets.
check_PROGRAMS += tests/unit/test_http
TESTS += tests/unit/test_http
tests_unit_test_http_SOURCES = tests/unit/test_http.c
tests_unit_test_http_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_http_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

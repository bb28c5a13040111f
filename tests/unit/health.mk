# Unit tests of the health checker (health/): state machine, scheduler,
# probes and the checker against sockets on 127.0.0.1 and ::1.
check_PROGRAMS += tests/unit/test_health
TESTS += tests/unit/test_health
tests_unit_test_health_SOURCES = tests/unit/test_health.c
tests_unit_test_health_CPPFLAGS = $(AM_CPPFLAGS)
tests_unit_test_health_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_health_LDADD = $(SRVD_LIBS) $(CHECK_LIBS)

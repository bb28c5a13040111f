# health: the active checker: probes (the core, then one file per check type: a new type is
# a file here and a case in probe_ops_of()), schedule, rise/fall machine, the checker.
libsrvd_a_SOURCES += health/machine.c health/machine.h health/sched.c health/sched.h
libsrvd_a_SOURCES += health/probe.c health/probe.h health/probe_int.h health/probe_tcp.c \
	health/probe_http.c health/health.c health/health.h

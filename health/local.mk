# health: the active checker: probes (the core, then one file per check type: a new type is
# a file here and a case in probe_ops_of()), schedule, rise/fall machine, the checker.
# probe_stream.c is the TCP (+ TLS) stream under http, https, tls and grpc.
libsrvd_a_SOURCES += health/machine.c health/machine.h health/sched.c health/sched.h
libsrvd_a_SOURCES += health/probe.c health/probe.h health/probe_int.h health/probe_tcp.c \
	health/probe_stream.c health/probe_http.c health/probe_https.c health/probe_tls.c \
	health/probe_grpc.c health/probe_dns.c health/probe_exec.c \
	health/health.c health/health.h

libsrvd_a_SOURCES += health/check.c health/check.h
libsrvd_a_SOURCES += health/state.c health/state.h
libsrvd_a_SOURCES += health/machine.c health/machine.h health/sched.c health/sched.h
libsrvd_a_SOURCES += health/probe.c health/probe.h health/health.c health/health.h

libsrvd_a_SOURCES += health/check.c health/check.h

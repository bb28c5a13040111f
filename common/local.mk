libsrvd_a_SOURCES += common/log.c common/log.h

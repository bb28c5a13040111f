libsrvd_a_SOURCES += registry/registry.h

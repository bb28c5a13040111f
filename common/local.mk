# common: the ground every folder stands on and that uses none of them: logging, and the
# contract between the registry, the checker and the answer path (check configuration,
# health cells).
libsrvd_common_a_SOURCES += common/log.c common/log.h common/check.c common/check.h \
	common/addr.c common/addr.h common/path.c common/path.h \
	common/state.c common/state.h

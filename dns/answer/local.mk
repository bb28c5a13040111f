# dns/answer: the compiled answer table and the pure answer function, with its policies,
# wire helpers and rate-limit buckets. A library of its own that links with only
# libsrvd-registry.a and libsrvd-common.a: no prober, daemon, API or socket can creep in.
libsrvd_answer_a_SOURCES += dns/answer/answer.c dns/answer/answer.h dns/answer/table.c dns/answer/table_build.h \
	dns/answer/table_static.c dns/answer/table_service.c dns/answer/table_delta.c dns/answer/reverse.c \
	dns/answer/table.h dns/answer/table_impl.h dns/answer/policy.c dns/answer/policy.h \
	dns/answer/wire.c dns/answer/wire.h dns/answer/name.c dns/answer/name.h \
	dns/answer/rrl.c dns/answer/rrl.h \
	dns/answer/select.c dns/answer/select.h

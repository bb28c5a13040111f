libsrvd_a_SOURCES += dns/answer.h dns/table.h
# answer table and the pure answer function
libsrvd_a_SOURCES += dns/table.c dns/table_impl.h dns/answer.c dns/wire.c dns/wire.h \
	dns/policy.c dns/policy.h dns/name.c dns/name.h
# listeners and workers (UDP, TCP)
libsrvd_a_SOURCES += dns/server.c dns/server.h dns/server_int.h dns/udp.c dns/tcp.c \
	dns/tcpframe.c dns/tcpframe.h dns/forward.c dns/forward.h
# response rate limiting (server.rrl), used by the UDP path
libsrvd_a_SOURCES += dns/rrl.c dns/rrl.h
# zone transfers out: AXFR/IXFR, history, transfer.allow (issue 8)
libsrvd_a_SOURCES += dns/xfr.c dns/xfr.h dns/xfr_acl.c
# TSIG for transfers and NOTIFY (issue 8)
libsrvd_a_SOURCES += dns/tsig.c dns/tsig.h

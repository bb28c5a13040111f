# dns/listen: the UDP and TCP listeners and worker threads (bytes in, dns_answer(), bytes
# out), the TCP framing, forwarding to server.forward, and the workers' query counters.
libsrvd_a_SOURCES += dns/listen/server.c dns/listen/server.h dns/listen/server_int.h \
	dns/listen/udp.c dns/listen/tcp.c dns/listen/tcpframe.c dns/listen/tcpframe.h \
	dns/listen/forward.c dns/listen/forward.h dns/listen/stats.c dns/listen/stats.h

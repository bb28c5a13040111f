# daemon: the front door (start-up, signals, reloads through the registry source, serials,
# privileges); main.c, which wires the daemon and the control API, is srvd_SOURCES
# (Makefile.am).
libsrvd_a_SOURCES += daemon/daemon.h daemon/daemon_int.h daemon/daemon.c daemon/reload.c \
	daemon/privs.c daemon/serial.c daemon/deregister.c

# daemon: the front door (main, reload, signals, wiring)
libsrvd_a_SOURCES += daemon/daemon.h daemon/daemon_int.h daemon/daemon.c daemon/reload.c \
	daemon/watch.c daemon/privs.c daemon/serial.c daemon/notify.c

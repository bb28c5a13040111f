# registry: the model (services, instances, checks, server settings), its YAML schema and
# loader with file:line:col errors, static zone files, and the one-service fragment files
# the control API writes. A library of its own (libsrvd-registry.a) on libsrvd-common.a.
libsrvd_registry_a_SOURCES += registry/registry.h registry/loader.h registry/update.c \
	registry/ynode.c registry/ynode.h \
	registry/schema.c registry/schema.h registry/types.c \
	registry/tables.c registry/load.c registry/zone.c registry/digest.c \
	registry/fields.c registry/checkrules.c registry/answers.c registry/fragment.c registry/maintenance.c registry/source.h registry/source.c \
	registry/source_files.c registry/watch.c registry/watch.h \
	registry/meta.c registry/ports.c registry/reverse.c registry/addrs.c
# the etcd source (README "Running a fleet") talks HTTP through libevent's
# evhttp: it lives in libsrvd.a, so the answer path's programs, which link the
# registry library alone, do not carry it
libsrvd_a_SOURCES += registry/etcd_client.c registry/etcd_client.h registry/source_etcd.c

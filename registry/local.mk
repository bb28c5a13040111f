libsrvd_a_SOURCES += registry/registry.h registry/loader.h \
	registry/ynode.c registry/ynode.h \
	registry/schema.c registry/schema.h registry/types.c \
	registry/tables.c registry/load.c registry/zone.c registry/digest.c \
	registry/fields.c

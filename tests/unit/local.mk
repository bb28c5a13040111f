# unit test programs: see tests/unit/*.mk
include tests/unit/common.mk
include tests/unit/registry.mk
include tests/unit/dns.mk
include tests/unit/server.mk
include tests/unit/health.mk
include tests/unit/api.mk
include tests/unit/noalloc.mk
include tests/unit/rrl.mk
include tests/unit/forward.mk
EXTRA_DIST += tests/unit/check_main.h tests/unit/alloc_count.h
include tests/unit/xfr.mk
include tests/unit/tsig.mk
include tests/unit/paths.mk

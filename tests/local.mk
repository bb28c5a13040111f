# Unit tests (Check) and system tests (pytest + dnspython against the real daemon).
include tests/unit/local.mk
include tests/system/local.mk
include tests/bench/local.mk
include tests/valgrind.mk

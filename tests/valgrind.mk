# SPDX-License-Identifier: BSD-3-Clause
# make check-valgrind: the test programs (Check unit tests, fuzz corpus replays) and the
# system tests' daemon under valgrind memcheck.
# The tests of HAProxy, Prometheus and python3-consul (SRVD_TEST_TOOLS=0) test the tools' view of
# srvd, not its memory; `make check` runs them.
# Needs a plain build: ASan and valgrind both replace the allocator and cannot share a process.
VALGRIND = valgrind
# Only definite leaks fail (and are shown): threads and libevent keep "possibly lost" and
# "still reachable" blocks that are not bugs. --track-fds=no: the test harness's own pipes.
# --vgdb=no: the gdbserver FIFOs valgrind makes in /tmp as root cannot be unlinked once
# server.user has dropped root, and valgrind says so on stderr.
VALGRIND_FLAGS = -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-fds=no --num-callers=30 --vgdb=no \
	--suppressions=$(abs_top_srcdir)/tests/valgrind.supp
# Deadlines of the system tests (start-up, stop, queries, log lines) are multiplied by this.
VALGRIND_TIMEOUT_FACTOR = 10

# The checks come before the build so that a sanitizer build fails at once, not after it.
check-valgrind:
	@if test -n '$(SAN_CFLAGS)'; then \
		echo 'check-valgrind: this build has --enable-sanitizers; valgrind cannot run' \
			'ASan binaries. Configure a build without it.' >&2; exit 1; fi
	@command -v $(VALGRIND) >/dev/null || { echo 'check-valgrind: $(VALGRIND) not found' >&2; exit 1; }
	@$(MAKE) $(AM_MAKEFLAGS) $(check_PROGRAMS) srvd$(EXEEXT)
	@start=$$(date +%s); failed=0; \
	for t in $(TESTS); do \
		case $$t in *.sh|*.py) continue ;; esac; \
		log=$$t.valgrind.log; \
		if CK_FORK=no $(VALGRIND) $(VALGRIND_FLAGS) --log-file=$$log ./$$t >$$t.valgrind.out 2>&1 \
				&& ! test -s $$log; then \
			echo "PASS: $$t (valgrind)"; \
		else \
			echo "FAIL: $$t (valgrind; $$log, $$t.valgrind.out)"; cat $$log; \
			tail -n 20 $$t.valgrind.out; failed=1; \
		fi; \
	done; \
	echo "check-valgrind: test programs took $$(( $$(date +%s) - start )) s"; \
	start=$$(date +%s); \
	SRVD='$(abs_top_builddir)/srvd$(EXEEXT)' PYTHONDONTWRITEBYTECODE=1 \
		SRVD_WRAPPER='$(VALGRIND) $(VALGRIND_FLAGS)' SRVD_TEST_TOOLS=0 \
		SRVD_TIMEOUT_FACTOR='$(VALGRIND_TIMEOUT_FACTOR)' \
		timeout -k 10 3600 $(PYTHON3) -m pytest -q -p no:cacheprovider -rs \
		$(PYTEST_FLAGS) $(srcdir)/tests/system || failed=1; \
	echo "check-valgrind: system tests took $$(( $$(date +%s) - start )) s"; \
	exit $$failed

CLEANFILES += tests/*/*.valgrind.log tests/*/*.valgrind.out
EXTRA_DIST += tests/valgrind.supp tests/soak/soak.sh tests/soak/backends.py \
	tests/soak/soak.py
.PHONY: check-valgrind

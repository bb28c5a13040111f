# Benchmarks (scripts, not timed tests): `make bench` runs srvd against NSD, Knot and the
# zero-work ceiling (bench-peers); bench-health is separate. Results land in the build folder.
EXTRA_PROGRAMS = tests/bench/ceiling
tests_bench_ceiling_SOURCES = tests/bench/ceiling.c
CLEANFILES += $(EXTRA_PROGRAMS) bench-peers.md bench-peers.csv bench-peers-runs.csv \
	bench-peers.svg

bench-health: srvd$(EXEEXT)
	SRVD='$(abs_top_builddir)/srvd$(EXEEXT)' PYTHON3='$(PYTHON3)' \
		$(SHELL) $(srcdir)/tests/bench/health.sh

bench-peers: srvd$(EXEEXT) tests/bench/ceiling$(EXEEXT)
	SRVD='$(abs_top_builddir)/srvd$(EXEEXT)' \
		CEILING='$(abs_top_builddir)/tests/bench/ceiling$(EXEEXT)' \
		PYTHON3='$(PYTHON3)' BENCH_OUT='$(abs_top_builddir)' \
		$(SHELL) $(srcdir)/tests/bench/peers.sh

bench: bench-peers

# redraws bench-peers.svg from the bench-peers.csv of the last run (bench-peers draws it too)
bench-chart:
	$(PYTHON3) $(srcdir)/tests/bench/chart.py bench-peers.csv -o bench-peers.svg

EXTRA_DIST += tests/bench/health.sh tests/bench/health.py tests/bench/peers.sh \
	tests/bench/peers.py tests/bench/chart.py
.PHONY: bench bench-health bench-peers bench-chart

# bench-scale: load/compile time and peak RSS of large registries, QPS with 100,000
# services vs 100, reloads under load (scale.sh); callgrind.sh: instructions per query.
EXTRA_PROGRAMS += tests/bench/loadtime
tests_bench_loadtime_SOURCES = tests/bench/loadtime.c
tests_bench_loadtime_LDADD = $(ANSWER_LIBS)
bench-scale bench-callgrind: srvd$(EXEEXT) tests/bench/loadtime$(EXEEXT)
	SRVD='$(abs_top_builddir)/srvd$(EXEEXT)' LOADTIME='$(abs_top_builddir)/tests/bench/loadtime$(EXEEXT)' \
		PYTHON3='$(PYTHON3)' $(SHELL) $(srcdir)/tests/bench/$(@:bench-%=%).sh
EXTRA_DIST += tests/bench/scale.sh tests/bench/callgrind.sh tests/bench/genreg.py \
	tests/bench/loadtime.c
# hupburst.py: reloads and control API stall for a burst of SIGHUPs (run by hand:
# tests/bench/hupburst.py build/srvd)
EXTRA_DIST += tests/bench/hupburst.py
.PHONY: bench-scale bench-callgrind

# bench-changes: what one change costs with 100,000 x 10 in include files (issue 15): cold
# start, bytes per instance, API PUT/DELETE and file edit to new answer, 1,000 changes/s under
# dnsperf, full reload time and peak RSS (changes.sh; CHANGES_* variables; bench-changes.md).
bench-changes: srvd$(EXEEXT)
	SRVD='$(abs_top_builddir)/srvd$(EXEEXT)' PYTHON3='$(PYTHON3)' \
		CHANGES_OUT='$(abs_top_builddir)' $(SHELL) $(srcdir)/tests/bench/changes.sh
CLEANFILES += bench-changes.md
EXTRA_DIST += tests/bench/changes.sh tests/bench/changes.py
.PHONY: bench-changes
# etcd.py: a fleet of srvd on a real etcd cluster, write-to-answer p99 and cold start
# (run by hand: SRVD=build/srvd /usr/bin/python3 tests/bench/etcd.py)
EXTRA_DIST += tests/bench/etcd.py

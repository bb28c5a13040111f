# Benchmarks (scripts, not timed tests): `make bench` runs them all, each also has its own target.
bench-health: srvd$(EXEEXT)
	SRVD='$(abs_top_builddir)/srvd$(EXEEXT)' PYTHON3='$(PYTHON3)' \
		$(SHELL) $(srcdir)/tests/bench/health.sh

bench: bench-health

EXTRA_DIST += tests/bench/health.sh tests/bench/health.py
.PHONY: bench bench-health

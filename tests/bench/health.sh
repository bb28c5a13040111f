#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# health.sh: benchmark of the health checker (10,000 checked instances vs none); see health.py.
# `make bench-health` sets SRVD and PYTHON3; run by hand from a build dir:
#   SRVD=./srvd sh /path/to/tests/bench/health.sh
# Tunables (environment): BENCH_IDLE (10 s), BENCH_LOAD (10 s), BENCH_QPS (20000),
# BENCH_PAIRS (2), BENCH_OUTSTANDING (100), BENCH_TARPIT (1), BENCH_KEEP (keep the temp dir),
# BENCH_COST_TYPES ("tcp http https grpc grpc-tls"; "" skips the per-probe costs),
# BENCH_COST_N (1000), BENCH_COST_TLS_N (200).
here=$(dirname "$0")
SRVD=${SRVD:-$(pwd)/srvd}
PYTHON3=${PYTHON3:-/usr/bin/python3}
PYTHONDONTWRITEBYTECODE=1
export SRVD PYTHONDONTWRITEBYTECODE
for tool in dnsperf "$PYTHON3"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "health.sh: $tool is missing" >&2; exit 1; }
done
# about 4 minutes with the defaults; the hard limit only catches a hang
exec timeout -k 5 480 "$PYTHON3" "$here/health.py"

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# peers.sh: srvd against NSD, Knot and the zero-work ceiling (peers.py); installs what is missing.
# `make bench` sets SRVD, CEILING, PYTHON3 and BENCH_OUT; by hand from a build dir:
#   make tests/bench/ceiling && SRVD=./srvd CEILING=./tests/bench/ceiling sh /path/to/peers.sh
# Tunables (environment): BENCH_SERVICES (100), BENCH_INSTANCES (4), BENCH_LOAD (10 s),
# BENCH_REPS (3), BENCH_QPS (20000), BENCH_CLIENTS (4), BENCH_THREADS (1),
# BENCH_OUTSTANDING (100), BENCH_SERVERS (srvd,nsd,knot,ceiling), BENCH_MODES
# (udp,tcp,udp-pin,lat), BENCH_SERVER_CPU (0), BENCH_CLIENT_CPU (1), BENCH_OUT (.),
# BENCH_KEEP (keep the temp dir). Add srvd-base to BENCH_SERVERS and set SRVD_BASE to another
# srvd binary to compare a change with its base in one run. Only 127.0.0.1 is used.
here=$(dirname "$0")
PYTHON3=${PYTHON3:-/usr/bin/python3}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

# Debian packages: dnsperf, nsd, knot (knotd), python3-dnspython. Installed once, as root.
missing=
command -v dnsperf >/dev/null 2>&1 || missing="$missing dnsperf"
command -v nsd >/dev/null 2>&1 || [ -x /usr/sbin/nsd ] || missing="$missing nsd"
command -v knotd >/dev/null 2>&1 || [ -x /usr/sbin/knotd ] || missing="$missing knot"
"$PYTHON3" -c 'import dns.message' 2>/dev/null || missing="$missing python3-dnspython"
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "peers.sh: missing:$missing (install them as root: apt-get install$missing)" >&2
		exit 1
	fi
	echo "peers.sh: installing$missing" >&2
	# the packages' own services are not wanted here: the benchmark starts its own copies
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing \
		>&2 || exit 1
fi
PATH=$PATH:/usr/sbin
export PATH
# about 8.5 minutes with the defaults; the hard limit only catches a hang. --foreground keeps
# Ctrl-C reaching peers.py, which stops its servers.
exec timeout --foreground -k 10 1200 "$PYTHON3" "$here/peers.py"

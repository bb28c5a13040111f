#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# changes.sh: what one change costs with a large registry (changes.py; issue 15): cold start
# and bytes per instance, API PUT/DELETE and file edit to new answer (p50, p99, CPU per
# change), 1,000 changes/s under dnsperf at 50,000 QPS, full reload time and peak RSS.
#
# Usage: SRVD=./srvd tests/bench/changes.sh (`make bench-changes` sets SRVD and PYTHON3).
# Environment (defaults): CHANGES_SIZE (100000x10), CHANGES_FILES (1000),
# CHANGES_API_SERVICES (100), CHANGES_N (1000 PUTs), CHANGES_DELETES (100 DELETE + re-PUT),
# CHANGES_EDITS (100), CHANGES_RATE (1000/s), CHANGES_SUSTAIN (60 s), CHANGES_QPS (50000),
# CHANGES_CONNS (4), CHANGES_WORKERS (1: srvd -w), CHANGES_BUDGET (180 s per phase: then
# it reports what it completed), CHANGES_POLL_US (250), CHANGES_DNSPERF_ARGS ("-c 4 -T 1"),
# CHANGES_PHASES (cold,api,edit,sustain,reload), CHANGES_OUT (. : bench-changes.md),
# CHANGES_KEEP (keep the temp dir). CHANGES_QUICK=1: 1000x10 in 10 files, 100 PUTs, 20 of
# the rest, 10 s sustained, 60 s budgets (a check of the script, about a minute).
# Prints figures, asserts nothing. Only 127.0.0.1 is used.
here=$(dirname "$0")
PYTHON3=${PYTHON3:-/usr/bin/python3}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

# Debian packages: dnsperf, python3-dnspython (peers.py, whose helpers changes.py reuses)
missing=
command -v dnsperf >/dev/null 2>&1 || missing="$missing dnsperf"
"$PYTHON3" -c 'import dns.message' 2>/dev/null || missing="$missing python3-dnspython"
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "changes.sh: missing:$missing (install them as root: apt-get install$missing)" >&2
		exit 1
	fi
	echo "changes.sh: installing$missing" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing \
		>&2 || exit 1
fi
# the phases cap themselves (CHANGES_BUDGET); the hard limit only catches a hang.
# --foreground keeps Ctrl-C reaching changes.py, which stops srvd.
exec timeout --foreground -k 10 "${CHANGES_TIMEOUT:-3600}" "$PYTHON3" "$here/changes.py"

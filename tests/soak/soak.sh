#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# soak.sh: MINUTES (default 10) of dnsperf, a reload every second and flapping backends.
# Builds nothing: SRVD names the binary (default ./srvd, i.e. run it from a build folder).
# The figures and the verdict come from soak.py; exit 1 on a crash, an invalid sampled
# answer or RSS growth beyond SOAK_RSS_GROWTH_MB (default 4). SOAK_QPS: dnsperf rate
# (default 20000). The work folder (registries, srvd.log) is kept and named at the end.
set -eu
minutes=${1:-10}
SRVD=${SRVD:-./srvd}
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$SRVD" ] || { echo "soak.sh: no srvd at $SRVD (set SRVD)" >&2; exit 2; }
command -v dnsperf >/dev/null || { echo "soak.sh: dnsperf not found" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/srvd-soak.XXXXXX")
SRVD=$(cd "$(dirname "$SRVD")" && pwd)/$(basename "$SRVD")
exec "${PYTHON3:-/usr/bin/python3}" "$here/soak.py" "$((minutes * 60))" "$SRVD" "$work"

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# scale.sh: load/compile time and peak RSS of large registries, QPS with 100,000 services vs
# 100, and queries lost while the 100,000-service registry reloads (SIGHUP) under dnsperf.
#
# Usage: SRVD=./srvd LOADTIME=./tests/bench/loadtime tests/bench/scale.sh
# (`make bench-scale` sets both). Environment: SCALE_SIZES ("100x4 10000x10 100000x10"),
# ROUNDS (3), SECONDS_PER_RUN (5), DNSPERF_ARGS ("-c 4 -T 2 -q 100"), PORT (53535).
# Prints figures, asserts nothing: timings belong here, not in `make check`.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
SRVD=${SRVD:-./srvd}
LOADTIME=${LOADTIME:-./tests/bench/loadtime}
PYTHON3=${PYTHON3:-/usr/bin/python3}
SCALE_SIZES=${SCALE_SIZES:-"100x4 10000x10 100000x10"}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
DNSPERF_ARGS=${DNSPERF_ARGS:-"-c 4 -T 2 -q 100"}
PORT=${PORT:-53535}
ZONE=svc.example.

work=$(mktemp -d /tmp/srvd-scale.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

gen() { # gen N K -> $work/rN-K.yaml (+ queries for it)
	f=$work/r$1-$2.yaml
	[ -f "$f" ] || "$PYTHON3" "$here/genreg.py" -n "$1" -k "$2" -z $ZONE \
		-l 127.0.0.1:$PORT -o "$f" --queries "$work/q$1-$2.txt" --count 100000
	echo "$f"
}

start() { # start REGISTRY: srvd on 127.0.0.1:$PORT, one worker, until it answers
	"$SRVD" -c "$1" -l 127.0.0.1:$PORT -w 1 2>>"$work/srvd.log" &
	pid=$!
	i=0
	until dig +short +time=1 +tries=1 -p $PORT @127.0.0.1 _ready.$ZONE A 2>/dev/null |
		grep -qx "127.0.0.1"; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "srvd did not become ready with $1" >&2
			cat "$work/srvd.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

stop() { # SIGTERM, then SIGKILL after 20 s (a reload in progress delays the exit)
	kill "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
}

qps_run() { # qps_run QUERYFILE DNSPERF-ARGS...: dnsperf's report
	f=$1
	shift
	dnsperf -s 127.0.0.1 -p $PORT -d "$f" $DNSPERF_ARGS "$@" 2>&1
}

echo "== load + compile (tests/bench/loadtime: registry_load_file + dns_table_build)"
echo "machine: $(nproc) CPUs, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for size in $SCALE_SIZES; do
	n=${size%x*}
	k=${size#*x}
	f=$(gen "$n" "$k")
	printf '%-10s %s\n' "$size" "$("$LOADTIME" "$f")"
done

command -v dnsperf >/dev/null || { echo "dnsperf missing: skipping the QPS part"; exit 0; }

small=$(gen 100 4)
big=$(gen 100000 10)
echo
echo "== QPS, 100 x 4 vs 100000 x 10 (srvd -w 1; dnsperf $DNSPERF_ARGS -l $SECONDS_PER_RUN;" \
	"70% A, 20% SRV, 10% NXDOMAIN)"
small_all=
big_all=
r=1
while [ $r -le "$ROUNDS" ]; do
	for which in small big; do
		if [ $which = small ]; then f=$small; q=$work/q100-4.txt; else f=$big; q=$work/q100000-10.txt; fi
		start "$f"
		res=$(qps_run "$q" -l "$SECONDS_PER_RUN" |
			awk '/Queries per second/ {q=$4} /Queries lost/ {l=$3} END {print q, l}')
		stop
		echo "round $r $which: qps ${res% *} lost ${res#* }"
		if [ $which = small ]; then small_all="$small_all ${res% *}"; else big_all="$big_all ${res% *}"; fi
	done
	r=$((r + 1))
done
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ms=$(median $small_all)
mb=$(median $big_all)
echo "median qps: 100 services $ms, 100000 services $mb, ratio $(echo "$mb $ms" |
	awk '{printf "%.3f", $1 / $2}')"

echo
echo "== reload of the 100000 x 10 registry under dnsperf (-Q 20000 -l 10; 3 SIGHUPs, each"
echo "   after changing server.ttl so that a new table is built and swapped in)"
cp "$big" "$work/live.yaml"
: >"$work/srvd.log"
start "$work/live.yaml"
qps_run "$work/q100000-10.txt" -l 10 -Q 20000 >"$work/reload.out" &
perf=$!
for ttl in 6 7 8; do
	sleep 2.5
	sed -i "s/^  ttl: [0-9]*\$/  ttl: $ttl/" "$work/live.yaml"
	kill -HUP "$pid"
done
wait $perf || true
awk '/Queries sent|Queries completed|Queries lost|Queries per second/' "$work/reload.out"
# wait (up to RELOAD_WAIT s) for the reloads to finish, and say how long they took
i=0
while [ "$(grep -c 'reload (SIGHUP)' "$work/srvd.log")" -lt 3 ] && [ $i -lt "${RELOAD_WAIT:-120}" ]; do
	sleep 1
	i=$((i + 1))
done
echo "reloads finished: $(grep -c 'reload (SIGHUP)' "$work/srvd.log") of 3" \
	"(waited ${i} s after dnsperf; peak RSS $(grep VmHWM /proc/$pid/status | tr -s ' ' | cut -d' ' -f2-))"
grep -E 'reload' "$work/srvd.log" | tail -6 || true
stop

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# callgrind.sh: instructions per query of dns_answer() for A, SRV and NXDOMAIN, counted by
# `valgrind --tool=callgrind` inside loadtime's answer_all() only (no parsing, no setup).
#
# Usage: LOADTIME=./tests/bench/loadtime tests/bench/callgrind.sh  (or `make bench-callgrind`)
# Environment: SERVICES (100), INSTANCES (4), QUERIES (20000 per kind).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
LOADTIME=${LOADTIME:-./tests/bench/loadtime}
PYTHON3=${PYTHON3:-/usr/bin/python3}
SERVICES=${SERVICES:-100}
INSTANCES=${INSTANCES:-4}
QUERIES=${QUERIES:-20000}
ZONE=svc.example.

command -v valgrind >/dev/null || { echo "valgrind missing" >&2; exit 1; }
work=$(mktemp -d /tmp/srvd-callgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

"$PYTHON3" "$here/genreg.py" -n "$SERVICES" -k "$INSTANCES" -z $ZONE -o "$work/r.yaml"
# one file per kind, cycling over every service so that lookups are not all one bucket
awk -v n="$SERVICES" -v q="$QUERIES" -v z=$ZONE -v d="$work" 'BEGIN {
	for (i = 0; i < q; i++) {
		s = i % n
		print "s" s "." z " A" > (d "/A.txt")
		print "_s" s "._tcp." z " SRV" > (d "/SRV.txt")
		print "nx" s "." z " A" > (d "/NXDOMAIN.txt")
	}
}'

echo "instructions per query, dns_answer() over $QUERIES queries each," \
	"registry $SERVICES x $INSTANCES (UDP, EDNS 1232)"
for kind in A SRV NXDOMAIN; do
	valgrind --tool=callgrind --callgrind-out-file="$work/cg.$kind" \
		--toggle-collect=answer_all "$LOADTIME" "$work/r.yaml" "$work/$kind.txt" \
		>"$work/out.$kind" 2>"$work/err.$kind" ||
		{ cat "$work/err.$kind" >&2; exit 1; }
	ir=$(sed -n 's/^summary: *//p' "$work/cg.$kind")
	awk -v k=$kind -v ir="$ir" -v q="$QUERIES" \
		'BEGIN {printf "%-9s %8.0f instructions/query\n", k, ir / q}'
done

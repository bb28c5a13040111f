#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run.sh SECONDS [BUILD_DIR]: builds the libFuzzer targets with clang
# (--enable-fuzzers: ASan + UBSan) in BUILD_DIR (default ./build-fuzz),
# runs each for SECONDS seconds on a scratch copy of its corpus and regress
# inputs (the tree stays clean), prints executions per second, and exits 1
# on any crash, leak, timeout or broken property. A crash input is kept in
# BUILD_DIR/fuzz-crashes/TARGET/: copy it to tests/fuzz/regress/TARGET/.
set -eu

secs=${1:?usage: run.sh SECONDS [BUILD_DIR]}
build=${2:-build-fuzz}
src=$(cd "$(dirname "$0")/../.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

need_pkgs=""
command -v clang >/dev/null 2>&1 || need_pkgs="$need_pkgs clang"
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 &&
	! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer.a >/dev/null 2>&1; then
	need_pkgs="$need_pkgs libclang-rt-dev"
fi
if [ -n "$need_pkgs" ]; then
	echo "run.sh: installing$need_pkgs"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need_pkgs >/dev/null
fi

mkdir -p "$build"
build=$(cd "$build" && pwd)
cd "$build"
if [ ! -f Makefile ] || ! grep -q 'enable-fuzzers' config.status 2>/dev/null; then
	"$src/configure" CC=clang --enable-fuzzers >configure.log 2>&1 ||
		{ tail -20 configure.log; exit 1; }
fi
make -j"$jobs" tests/fuzz/fuzz_answer tests/fuzz/fuzz_registry tests/fuzz/fuzz_tcp >make.log 2>&1 ||
	{ tail -40 make.log; exit 1; }

# max_len per target: a DNS message over UDP rarely exceeds 4 KiB; a TCP
# stream needs room for several messages; registries are small texts
status=0
summary=""
for spec in answer:4096 registry:8192 tcp:16384; do
	t=${spec%%:*}
	maxlen=${spec#*:}
	work="$build/fuzz-work/$t"
	crashes="$build/fuzz-crashes/$t"
	rm -rf "$work"
	mkdir -p "$work" "$crashes"
	cp "$src/tests/fuzz/corpus/$t/"* "$work/"
	for f in "$src/tests/fuzz/regress/$t/"*; do
		[ -f "$f" ] && cp "$f" "$work/"
	done
	log="$build/fuzz-$t.log"
	echo "run.sh: fuzz_$t for ${secs}s (log: $log)"
	if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./tests/fuzz/fuzz_$t -max_total_time="$secs" -max_len="$maxlen" \
		-rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$work" >"$log" 2>&1; then
		result=ok
	else
		result=FAILED
		status=1
		grep -E 'ERROR|SUMMARY|fuzz:|Test unit written' "$log" | head -20
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
	line="fuzz_$t: $result, ${execs:-?} executions, ${eps:-?} exec/s, ${cov:-cov: ?}"
	echo "$line"
	summary="$summary$line
"
done
echo "---"
printf '%s' "$summary"
exit $status

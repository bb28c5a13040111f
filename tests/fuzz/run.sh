#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run.sh ci [BUILD_DIR]: CI's fuzz stage: each libFuzzer target for a fixed
#   number of executions with a fixed seed, so that a commit always passes
#   or always fails (30 to 60 s per target here, ASan + UBSan).
# run.sh explore SECONDS [BUILD_DIR] (or run.sh SECONDS [BUILD_DIR]): each
#   target for SECONDS with a fresh seed, to find new inputs.
# Both build the targets with clang (--enable-fuzzers: ASan + UBSan) in
# BUILD_DIR (default ./build-fuzz), start each from the committed corpus and
# regress inputs (read in name order, new inputs go to a scratch folder: the
# tree stays clean), print executions, exec/s and coverage, and exit 1 on any
# crash, leak, timeout or broken property. A failing input is kept in
# BUILD_DIR/fuzz-crashes/TARGET/: fix the bug, then copy the input to
# tests/fuzz/regress/TARGET/ so that `make check` replays it forever.
set -eu

usage="usage: run.sh ci [BUILD_DIR] | run.sh explore SECONDS [BUILD_DIR]"
case "${1:-}" in
ci)
	mode=ci
	build=${2:-build-fuzz}
	;;
explore)
	mode=explore
	secs=${2:?$usage}
	build=${3:-build-fuzz}
	;;
[0-9]*)
	mode=explore
	secs=$1
	build=${2:-build-fuzz}
	;;
*)
	echo "$usage" >&2
	exit 2
	;;
esac
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
# The checkout's path must reach neither the programs nor their inputs, as
# CI clones anywhere: a source path compiled in (ASan and UBSan keep each
# file's name as the compiler got it) moves the constants after it, and a
# longer seed path moves libFuzzer's heap; libFuzzer's comparison
# dictionary records such pointers, so every later mutation would differ.
# Hence configure and the seed inputs by their path from the build folder
# (".." for CI's build-fuzz, wherever the checkout is).
top=$(realpath --relative-to="$build" "$src")
if [ ! -f Makefile ] || ! grep -q 'enable-fuzzers' config.status 2>/dev/null ||
	! grep -qx "srcdir='$top'" config.status; then
	# objects built for another configuration would be kept
	if [ -f Makefile ]; then make clean >/dev/null 2>&1 || true; fi
	"$top/configure" CC=clang --enable-fuzzers >configure.log 2>&1 ||
		{ tail -20 configure.log; exit 1; }
fi
make -j"$jobs" tests/fuzz/fuzz_answer tests/fuzz/fuzz_registry tests/fuzz/fuzz_tcp >make.log 2>&1 ||
	{ tail -40 make.log; exit 1; }

# TARGET:MAX_LEN:RUNS. max_len: a DNS message over UDP rarely exceeds 4 KiB;
# a TCP stream needs room for several messages; registries are small texts.
# RUNS (ci): 30 to 60 s each on a shared 2-core machine under ASan + UBSan
# (measured: fuzz_answer 55,000-70,000 exec/s, fuzz_registry ~5,000,
# fuzz_tcp 15,000-28,000); raise them when the targets get faster, never
# lower them to pass.
# ci: libFuzzer's comparison dictionary records pointer values, which
# address randomization would change from run to run (and with them every
# later mutation): run without it, in a fixed environment, with paths
# relative to the build folder
norand=""
if [ "$mode" = ci ]; then
	if setarch "$(uname -m)" -R true 2>/dev/null; then
		norand="setarch $(uname -m) -R"
	else
		echo "run.sh: setarch -R unavailable: runs may differ from CI's"
	fi
fi
status=0
summary=""
for spec in answer:4096:2000000 registry:8192:180000 tcp:16384:900000; do
	t=${spec%%:*}
	rest=${spec#*:}
	maxlen=${rest%%:*}
	runs=${rest#*:}
	work="fuzz-work/$t"
	crashes="fuzz-crashes/$t"
	seeds="fuzz-work/$t.seeds"
	# the targets' scratch folder, by a fixed name (fuzz_util.c says why)
	scratch="fuzz-work/$t.scratch"
	rm -rf "$work" "$scratch"
	mkdir -p "$work" "$crashes"
	# the seed inputs as one list in name order: libFuzzer would read a
	# folder in the file system's order, which differs between machines
	ls -d "$top/tests/fuzz/corpus/$t/"* "$top/tests/fuzz/regress/$t/"* 2>/dev/null |
		LC_ALL=C sort | paste -s -d, - >"$seeds"
	if [ "$mode" = ci ]; then
		# -reload=0: no rereading of the corpus folder on a timer
		how="-seed=1 -runs=$runs -reload=0"
		what="$runs runs, seed 1"
	else
		how="-max_total_time=$secs"
		what="${secs}s, fresh seed"
	fi
	log="$build/fuzz-$t.log"
	echo "run.sh: fuzz_$t for $what (log: $log)"
	# shellcheck disable=SC2086 # $norand and $how are lists of words
	if env -i PATH=/usr/bin:/bin SRVD_FUZZ_SCRATCH="$scratch" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$norand ./tests/fuzz/fuzz_$t $how -max_len="$maxlen" \
		-rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$crashes/" -seed_inputs=@"$seeds" "$work" >"$log" 2>&1; then
		result=ok
	else
		result=FAILED
		status=1
		grep -E 'ERROR|SUMMARY|fuzz:|Test unit written' "$log" | head -20
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
	line="fuzz_$t: $result, ${execs:-?} executions, ${eps:-?} exec/s, ${cov:-cov: ?}"
	echo "$line"
	summary="$summary$line
"
done
echo "---"
printf '%s' "$summary"
exit $status
